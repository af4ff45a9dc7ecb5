"""Multi-process data parallelism for pathrl's trainers, launched by `accelerate`.

    accelerate launch --multi_gpu --num_processes 2 -m pathrl.cli llm sft --config sft.yaml \
        --out runs/x

(`--multi_gpu` is accelerate's torchrun path; on a machine without GPUs the processes run on
the CPU with gloo — `--cpu` would start a single process.) The launcher starts the processes
and sets their rank and world size; `DataParallel` joins the process group (gloo on CPU, NCCL
on GPUs). A trainer then splits each step's micro-batches between the processes (`shard`),
runs backward on its share with the step's *global* normaliser, and sums the gradients across
processes (`sum_gradients`) before the optimiser step: every process applies the same update,
so the parameters stay identical, and the gradient equals one process's on the same global
batch (up to the order of float additions). Logged sums are all-reduced the same way
(`sum_values`), and only the main process writes logs, checkpoints and the model.

This is DDP's arithmetic without wrapping the model (the trainers call model methods directly);
FSDP and DeepSpeed, which shard the model itself, are not wired (docs/llm.md says how they would
go through an accelerate config file).
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterable, Sequence
from typing import TypeVar

import torch

T = TypeVar("T")


def _leave_group() -> None:
    """Destroy the process group. No barrier: after an error one process would wait there
    for peers stuck in another collective, and nothing would exit."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


class DataParallel:
    """This process's place among `world_size` data-parallel processes."""

    def __init__(self) -> None:
        import torch.distributed as dist

        if not dist.is_initialized():
            # The launcher (accelerate launch / torchrun) set MASTER_ADDR, RANK, WORLD_SIZE.
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
            # Leave the group before the interpreter exits: a process that exits while its
            # group's threads still run aborts ("terminate called without an active
            # exception"), e.g. a worker done while the main process still saves the model.
            atexit.register(_leave_group)
        self.world_size = dist.get_world_size()
        self.rank = dist.get_rank()

    @classmethod
    def from_environment(cls) -> DataParallel | None:
        """A `DataParallel` when launched with several processes (WORLD_SIZE > 1), else
        None (one process: nothing to do)."""
        if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
            return None
        return cls()

    @property
    def is_main_process(self) -> bool:
        return self.rank == 0

    def shard(self, items: Sequence[T]) -> list[T]:
        """This process's share of a step's micro-batches (round robin)."""
        return list(items[self.rank::self.world_size])

    def sum_gradients(self, parameters: Iterable[torch.nn.Parameter]) -> None:
        """Sum every gradient across the processes (one flat buffer, one all-reduce); a
        parameter without a gradient on this process contributes zeros."""
        import torch.distributed as dist

        params = list(parameters)
        if not params:
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        offset = 0
        for p, g in zip(params, grads, strict=True):
            n = g.numel()
            p.grad = flat[offset:offset + n].view_as(p).to(p.dtype)
            offset += n

    def sum_values(self, values: dict[str, float]) -> dict[str, float]:
        """Sum float values across the processes; a key some process lacks (it had no
        micro-batch this step) counts 0 there."""
        import torch.distributed as dist

        every: list[list[str] | None] = [None] * self.world_size
        dist.all_gather_object(every, sorted(values))
        keys = sorted({k for part in every for k in (part or [])})
        if not keys:
            return {}
        buffer = torch.tensor([float(values.get(k, 0.0)) for k in keys], dtype=torch.float64)
        dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
        return dict(zip(keys, buffer.tolist(), strict=True))

    def barrier(self) -> None:
        import torch.distributed as dist

        dist.barrier()
