"""Micro-batching of router calls: questions of concurrent requests share one model call.

    batcher = RouteBatcher(service.route, window_s=0.005, max_questions=256)
    await batcher.start()
    routings = await batcher.route(["contracts of project Riyadh Railway"], top_k=3)
    await batcher.stop()

Requests put their questions on an asyncio queue; one consumer task takes the first, waits
`window_s` for more, and routes everything queued (up to `max_questions`) in a single call on
a one-thread executor. So the model is never called from two threads at once (the scorer
switches train/eval mode and is not thread-safe), the event loop never blocks on a forward
pass, and a forward over 16 questions costs far less than 16 forwards. Each request gets its
own routings back, cut to its own `top_k` (the top k of the top K are the same routes).
A request that gave up (timeout, client gone) before its turn is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pathrl.router.protocol import Routing

RouteFn = Callable[[Sequence[str], int], list[Routing]]


@dataclass
class _Pending:
    questions: list[str]
    top_k: int
    future: asyncio.Future[list[Routing]]


@dataclass
class BatchStats:
    """What the consumer has done so far (for tests and the health of a running server)."""

    calls: int = 0
    questions: int = 0
    largest: int = 0


class RouteBatcher:
    """One consumer task in front of a router (see module doc)."""

    def __init__(self, route: RouteFn, window_s: float, max_questions: int):
        self._route = route
        self.window_s = window_s
        self.max_questions = max_questions
        self.stats = BatchStats()
        self._queue: asyncio.Queue[_Pending] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pathrl-router")
        self._task = asyncio.create_task(self._consume(), name="pathrl-route-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._task = self._executor = self._queue = None

    async def route(self, questions: Sequence[str], top_k: int) -> list[Routing]:
        """The routings of `questions` (at most `top_k` routes each), batched with whatever
        other requests arrive within the window."""
        if self._queue is None:
            raise RuntimeError("RouteBatcher.start() was not awaited (the app's lifespan "
                               "starts it)")
        future: asyncio.Future[list[Routing]] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(list(questions), top_k, future))
        return await future

    async def _consume(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        carry: _Pending | None = None  # the request that did not fit in the last batch
        while True:
            batch = [carry if carry is not None else await self._queue.get()]
            carry = None
            await asyncio.sleep(self.window_s)
            size = len(batch[0].questions)
            while not self._queue.empty():
                item = self._queue.get_nowait()
                if size + len(item.questions) > self.max_questions:
                    carry = item  # opens the next batch
                    break
                batch.append(item)
                size += len(item.questions)
            batch = [p for p in batch if not p.future.done()]  # gave up while queued
            if not batch:
                continue
            questions = [q for p in batch for q in p.questions]
            top_k = max(p.top_k for p in batch)
            try:
                routings = await loop.run_in_executor(self._executor, self._route, questions,
                                                      top_k)
            except Exception as exc:  # every request of the batch fails the same way
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(exc)
                continue
            self.stats.calls += 1
            self.stats.questions += len(questions)
            self.stats.largest = max(self.stats.largest, len(questions))
            start = 0
            for p in batch:
                mine = routings[start:start + len(p.questions)]
                start += len(p.questions)
                if not p.future.done():
                    p.future.set_result([Routing(r.question, r.routes[:p.top_k]) for r in mine])
