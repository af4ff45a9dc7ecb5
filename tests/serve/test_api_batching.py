"""`RouteBatcher`: requests queued together share one router call, each gets its own answer."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from pathrl.demo import demo_schema
from pathrl.paths import PathVocab
from pathrl.router.protocol import RankedRoute, Routing
from pathrl.serve.batching import RouteBatcher

VOCAB = PathVocab.from_schema(demo_schema())


class Recorder:
    """A router function that records its calls and the threads they ran on."""

    def __init__(self, fail: bool = False):
        self.calls: list[tuple[list[str], int]] = []
        self.threads: set[str] = set()
        self.fail = fail

    def __call__(self, questions: Sequence[str], top_k: int) -> list[Routing]:
        self.calls.append((list(questions), top_k))
        self.threads.add(threading.current_thread().name)
        if self.fail:
            raise ValueError("router broke")
        paths = VOCAB.paths[:top_k]
        return [Routing(q, [RankedRoute(p, 0.5 ** (i + 1)) for i, p in enumerate(paths)])
                for q in questions]


async def _with_batcher(route, coro_factory, window_s=0.01, max_questions=64):
    batcher = RouteBatcher(route, window_s=window_s, max_questions=max_questions)
    await batcher.start()
    try:
        return await coro_factory(batcher), batcher
    finally:
        await batcher.stop()


def test_requests_queued_together_share_one_call_and_keep_their_top_k():
    recorder = Recorder()

    async def fire(batcher):
        return await asyncio.gather(batcher.route(["a"], 1), batcher.route(["b", "c"], 3),
                                    batcher.route(["d"], 2))

    (first, second, third), batcher = asyncio.run(_with_batcher(recorder, fire))
    assert recorder.calls == [(["a", "b", "c", "d"], 3)]
    assert [r.question for r in first] == ["a"] and len(first[0].routes) == 1
    assert [r.question for r in second] == ["b", "c"]
    assert all(len(r.routes) == 3 for r in second)
    assert len(third[0].routes) == 2
    assert [r.path.id for r in third[0].routes] == [p.id for p in VOCAB.paths[:2]]
    assert batcher.stats.calls == 1 and batcher.stats.largest == 4
    assert all(name.startswith("pathrl-router") for name in recorder.threads)


def test_a_batch_never_exceeds_max_questions():
    recorder = Recorder()

    async def fire(batcher):
        return await asyncio.gather(*(batcher.route([f"q{i}a", f"q{i}b", f"q{i}c"], 1)
                                      for i in range(3)))

    results, _ = asyncio.run(_with_batcher(recorder, fire, max_questions=6))
    assert [len(questions) for questions, _k in recorder.calls] == [6, 3]
    assert [[r.question for r in res] for res in results] == [
        [f"q{i}a", f"q{i}b", f"q{i}c"] for i in range(3)]


def test_a_router_failure_reaches_every_request_of_the_batch():
    async def fire(batcher):
        return await asyncio.gather(batcher.route(["a"], 1), batcher.route(["b"], 1),
                                    return_exceptions=True)

    results, batcher = asyncio.run(_with_batcher(Recorder(fail=True), fire))
    assert all(isinstance(r, ValueError) and str(r) == "router broke" for r in results)
    assert batcher.stats.calls == 0


def test_a_request_that_gave_up_is_not_routed():
    recorder = Recorder()

    async def fire(batcher):
        gone = asyncio.ensure_future(batcher.route(["gone"], 1))
        await asyncio.sleep(0)  # queued
        gone.cancel()
        return await batcher.route(["kept"], 1)

    kept, _ = asyncio.run(_with_batcher(recorder, fire))
    assert [r.question for r in kept] == ["kept"]
    assert recorder.calls == [(["kept"], 1)]


def test_route_before_start_is_a_clear_error():
    batcher = RouteBatcher(Recorder(), window_s=0.0, max_questions=8)
    with pytest.raises(RuntimeError, match="start"):
        asyncio.run(batcher.route(["a"], 1))
