"""The one trainer skeleton of pathrl: step → evaluate → log → checkpoint, with exact resume.

Every RL trainer (the router's PPO, GRPO and token-level PPO for generative models) is a small
subclass that says what one step is; the loop, the logs, checkpoints, resume, Ctrl-C, the KL
circuit breaker's stop rule, keeping the best validated policy and the callbacks (the doctor)
live here once.

    class MyTrainer(Trainer):
        def run_step(self) -> StepResult:            # one whole rollout + optimisation
            batch = self.rollout()
            ...
            return StepResult(metrics={"reward_mean": ..., "approx_kl": ...},
                              kl_early_stop=tripped)

        def evaluate(self) -> float: ...              # optional: a validation score
        def save_model(self, directory: Path) -> None: ...

    trainer = MyTrainer(out_dir, settings=LoopSettings(total_steps=30, eval_every=5))
    result = trainer.train(resume=False, progress=callback)

A subclass creates `self.model`, `self.optimizer` and optionally `self.scheduler` and
`self.kl_ctl` (anything with `state_dict`/`load_state_dict`); the checkpoint holds them with the
step counter, the RNG states (torch, Python, NumPy, the trainer's `generator`), the callbacks'
states, the best policy so far and whatever `extra_state()` adds, so `train(resume=True)`
continues to the same numbers as an uninterrupted run. Checkpoints are written atomically
(`pathrl.io.atomic_torch_save`) every `checkpoint_every` steps, on Ctrl-C (honoured at the end
of the running step, see `pathrl.rl.interrupt`) and at the end.

The per-step order (what a resumed run must repeat exactly): `run_step()`; the KL-trip count;
`evaluate()` when due (and remember the policy if it is the best); log the metrics; advance the
step; progress; callbacks' `on_update`; periodic checkpoint (old ones pruned to
`keep_checkpoints`); Ctrl-C; a callback's `should_stop`; the circuit breaker's stop after
`max_kl_trips` consecutive trips.
"""

from __future__ import annotations

import copy
import math
import pickle
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from pathrl.errors import PathrlError
from pathrl.io import atomic_torch_save
from pathrl.rl.interrupt import GracefulInterrupt
from pathrl.rl.logging import RunLogger

Metrics = dict[str, float | None]
ProgressFn = Callable[[int, int, Metrics], None]


@runtime_checkable
class TrainerCallback(Protocol):
    """What the loop calls after every logged step. `pathrl.doctor.DoctorCallback` is one;
    `state_dict`/`load_state_dict` and `findings` are optional."""

    should_stop: bool

    def on_update(self, step: int, metrics: dict[str, float]) -> Any: ...


@dataclass
class LoopSettings:
    """What the loop itself needs (each trainer's config fills it from its own fields)."""

    total_steps: int
    """Steps to run (a step is one rollout + optimisation)."""
    seed: int = 7
    """Seeds torch, Python, NumPy and the trainer's `generator`."""
    eval_every: int = 0
    """Call `evaluate()` every N steps, at the start and at the last step (0 = never)."""
    eval_metric: str = "eval_score"
    """Name under which the latest evaluation is logged with every step."""
    eval_at_start: bool = True
    """Also evaluate (and remember as a candidate best) the starting policy."""
    keep_best: bool = False
    """Ship the policy of the best evaluation, not the last."""
    prefer_later_ties: bool = True
    """On an evaluation tie keep the later policy (it has seen more of the reward); False
    keeps the earlier one (SFT: fewer epochs, less over-fitting)."""
    checkpoint_every: int = 0
    """Write a checkpoint every N steps (0 = only on Ctrl-C and at the end)."""
    max_kl_trips: int | None = None
    """Stop when the KL circuit breaker trips on this many consecutive steps (None: never)."""
    checkpoint_prefix: str = "update"
    """Checkpoint files are `<out>/checkpoints/<prefix>_<step:05d>.pt`."""
    keep_checkpoints: int = 0
    """Keep only the latest N step checkpoints on disk (0 = keep all)."""
    checkpoint_name: str | None = None
    """One file `<out>/checkpoints/<name>` replaced at every checkpoint instead (the router's
    SFT: `sft_last.pt`)."""
    metrics_name: str = "metrics"
    """The JSONL log is `<out>/<metrics_name>.jsonl` (+ TensorBoard under `<out>/tb`)."""

    def __post_init__(self) -> None:
        if self.total_steps < 1:
            raise PathrlError(f"total steps must be >= 1, got {self.total_steps}")
        for name in ("eval_every", "checkpoint_every", "keep_checkpoints"):
            if getattr(self, name) < 0:
                raise PathrlError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_kl_trips is not None and self.max_kl_trips < 1:
            raise PathrlError(f"max_kl_trips must be >= 1 or None, got {self.max_kl_trips}")


@dataclass
class StepResult:
    """What one step measured, and whether the KL circuit breaker cut its epochs short."""

    metrics: Metrics
    kl_early_stop: bool = False


@dataclass
class KeptPolicy:
    """The best evaluated policy so far (its parameters are in memory and checkpoints)."""

    score: float
    step: int
    state: dict[str, torch.Tensor] = field(repr=False)


@dataclass
class TrainResult:
    steps: int
    """The step counter at the end (resumed runs count the steps before the resume)."""
    steps_run: int
    """Steps this call ran."""
    wall_s: float
    stop_reason: str | None
    """None: all steps ran; else why the loop stopped early (doctor, circuit breaker)."""
    kept: KeptPolicy | None
    findings: list[dict[str, Any]]
    """The callbacks' findings (the doctor's), as dicts."""

    @property
    def steps_per_s(self) -> float:
        return self.steps_run / max(self.wall_s, 1e-9)


class Trainer(ABC):
    """The loop shared by every pathrl RL trainer (see the module doc)."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any = None
    kl_ctl: Any = None
    is_main_process: bool = True
    """False on the other processes of a data-parallel run (`pathrl.rl.parallel`): they
    train alike but write no log, checkpoint or model."""

    def __init__(self, out_dir: str | Path, settings: LoopSettings,
                 callbacks: Sequence[TrainerCallback] = ()):
        self.out_dir = Path(out_dir)
        self.settings = settings
        self.callbacks: list[TrainerCallback] = list(callbacks)
        self.step = 0
        self.kl_trips = 0
        self.best: KeptPolicy | None = None
        self.last_eval: float | None = None
        self.stop_reason: str | None = None
        self.steps_run = 0
        seed_everything(settings.seed)
        self.generator = torch.Generator().manual_seed(settings.seed)
        self._interrupt = GracefulInterrupt()

    # -- what a trainer says -------------------------------------------------------------------
    @abstractmethod
    def run_step(self) -> StepResult:
        """One whole step (rollout + optimisation); the state after it must be checkpointable."""

    def evaluate(self) -> float:
        """A validation score, higher is better (NaN: nothing to evaluate)."""
        return float("nan")

    @abstractmethod
    def save_model(self, directory: Path) -> None:
        """Save the policy that ships (after `keep_best` restored the best one)."""

    def extra_state(self) -> dict[str, Any]:
        """More state for the checkpoint (a subclass's own counters)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Restore what `extra_state()` saved."""

    def model_state(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_model_state(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state)

    # -- checkpoints ---------------------------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path:
        return self.out_dir / "checkpoints"

    def checkpoint_path(self, step: int) -> Path:
        name = (self.settings.checkpoint_name
                or f"{self.settings.checkpoint_prefix}_{step:05d}.pt")
        return self.checkpoint_dir / name

    def save_checkpoint(self) -> Path:
        path = self.checkpoint_path(self.step)
        if not self.is_main_process:
            return path
        state = {
            "step": self.step, "kl_trips": self.kl_trips, "last_eval": self.last_eval,
            "model": self.model_state(), "optimizer": self.optimizer.state_dict(),
            "scheduler": _state_of(self.scheduler), "kl_ctl": _state_of(self.kl_ctl),
            "generator": self.generator.get_state(), "rng": rng_state(),
            "callbacks": [_state_of(c) for c in self.callbacks],
            "best": (self.best.score, self.best.step, self.best.state) if self.best else None,
            "extra": self.extra_state(),
        }
        atomic_torch_save(path, state)  # an interrupted save never leaves a corrupt "latest"
        keep = self.settings.keep_checkpoints
        if keep and not self.settings.checkpoint_name:
            found = sorted(self.checkpoint_dir.glob(f"{self.settings.checkpoint_prefix}_*.pt"))
            for old in found[:-keep]:
                old.unlink(missing_ok=True)
        return path

    def latest_checkpoint(self) -> Path | None:
        if self.settings.checkpoint_name:
            path = self.checkpoint_dir / self.settings.checkpoint_name
            return path if path.is_file() else None
        found = sorted(self.checkpoint_dir.glob(f"{self.settings.checkpoint_prefix}_*.pt"))
        return found[-1] if found else None

    def load_checkpoint(self, path: str | Path) -> None:
        try:
            # On the CPU: a checkpoint written on a GPU resumes anywhere (the optimiser
            # moves its state to the parameters' device when it loads it).
            state = torch.load(path, weights_only=False, map_location="cpu")
        except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
            raise PathrlError(f"cannot read the checkpoint {path} ({exc.__class__.__name__}): "
                              "it is truncated or not a checkpoint; start again with "
                              "--force") from None
        if not isinstance(state, dict) or "step" not in state:
            raise PathrlError(f"{path} is not a pathrl trainer checkpoint; start again with "
                              "--force")
        try:
            self.load_model_state(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            _load_into(self.scheduler, state["scheduler"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise PathrlError(f"the checkpoint {path} does not fit this model or config "
                              f"({exc.__class__.__name__}); resume with the run's own "
                              "settings, or start again with --force") from None
        _load_into(self.kl_ctl, state["kl_ctl"])
        self.generator.set_state(state["generator"])
        set_rng_state(state["rng"])
        for callback, saved in zip(self.callbacks, state["callbacks"], strict=False):
            _load_into(callback, saved)
        self.step, self.kl_trips = state["step"], state["kl_trips"]
        self.last_eval = state.get("last_eval")
        best = state.get("best")
        self.best = KeptPolicy(*best) if best else None
        self.load_extra_state(state.get("extra") or {})

    # -- the loop ------------------------------------------------------------------------------
    def remember_if_best(self, score: float, step: int) -> None:
        """Keep (in memory) the policy with the best evaluation; on ties the later one (it has
        seen more of the reward)."""
        if not self.settings.keep_best or math.isnan(score):
            return
        better = (score >= self.best.score if self.settings.prefer_later_ties
                  else score > self.best.score) if self.best is not None else True
        if better:
            self.best = KeptPolicy(score, step, copy.deepcopy(self.model_state()))

    def train(self, resume: bool = False, progress: ProgressFn | None = None) -> TrainResult:
        """Run until `total_steps` (or an early stop); save the shipped policy to
        `<out>/model`. `resume=True` continues from the latest checkpoint exactly."""
        settings = self.settings
        logger = (RunLogger(self.out_dir, settings.metrics_name) if self.is_main_process
                  else _NoLog())
        if resume:
            latest = self.latest_checkpoint()
            if latest is None:
                raise PathrlError(f"--resume: no checkpoint in {self.checkpoint_dir}")
            self.load_checkpoint(latest)
            logger.truncate_after(self.step - 1)
        elif self.is_main_process:
            logger.path.unlink(missing_ok=True)
        start = time.perf_counter()
        if settings.eval_every and settings.eval_at_start and self.step == 0:
            self.last_eval = self.evaluate()
            if not resume:
                self.remember_if_best(self.last_eval, 0)
        self.steps_run = 0
        try:
            with GracefulInterrupt() as self._interrupt:
                self._loop(logger, progress)
        except KeyboardInterrupt:
            # Ctrl-C is honoured at the end of the running step, where the state is whole:
            # that checkpoint resumes exactly. A second Ctrl-C stops at once and keeps only
            # the last whole-step checkpoint (a mid-step state would not resume exactly).
            logger.close()
            raise
        # The final state is a checkpoint too: resuming with more steps extends the run.
        self.save_checkpoint()
        logger.close()
        wall = time.perf_counter() - start
        if settings.keep_best and self.best is not None:
            self.load_model_state(self.best.state)
        if self.is_main_process:
            self.save_model(self.out_dir / "model")
        findings = [f.to_dict() for c in self.callbacks for f in getattr(c, "findings", [])]
        return TrainResult(steps=self.step, steps_run=self.steps_run, wall_s=wall,
                           stop_reason=self.stop_reason, kept=self.best, findings=findings)

    def _evaluation_due(self) -> bool:
        every = self.settings.eval_every
        return bool(every) and ((self.step + 1) % every == 0
                                or self.step + 1 == self.settings.total_steps)

    def _loop(self, logger: RunLogger, progress: ProgressFn | None) -> None:
        settings = self.settings
        while self.step < settings.total_steps:
            result = self.run_step()
            self.kl_trips = self.kl_trips + 1 if result.kl_early_stop else 0
            if self._evaluation_due():
                self.last_eval = self.evaluate()
                self.remember_if_best(self.last_eval, self.step + 1)
            metrics: Metrics = {**result.metrics, settings.eval_metric: self.last_eval}
            logger.log(self.step, metrics)
            self.step += 1
            self.steps_run += 1
            if progress:
                progress(self.step, settings.total_steps, metrics)
            # Only what was measured this step: a NaN means divergence to the doctor. The
            # callbacks see the step before it is checkpointed, so their saved state (the
            # doctor's, early stopping's count) includes it and a resume continues exactly.
            measured = {k: float(v) for k, v in metrics.items()
                        if v is not None and math.isfinite(v)}
            for callback in self.callbacks:
                callback.on_update(self.step - 1, measured)
            if settings.checkpoint_every and self.step % settings.checkpoint_every == 0:
                self.save_checkpoint()
            if self._interrupt.requested:
                self.save_checkpoint()
                raise KeyboardInterrupt
            stopping = [c for c in self.callbacks if c.should_stop]
            if stopping:
                self.stop_reason = "; ".join(_stop_reason(c) for c in stopping)
                break
            if settings.max_kl_trips is not None and self.kl_trips >= settings.max_kl_trips:
                self.stop_reason = (f"target_kl circuit breaker tripped on {self.kl_trips} "
                                    "consecutive updates")
                break


class Patience:
    """Early stopping as a callback: stop after `patience` logged steps in a row whose
    `metric` did not beat the best so far (steps without the metric do not count)."""

    def __init__(self, metric: str, patience: int):
        if patience < 1:
            raise PathrlError(f"patience must be >= 1, got {patience}")
        self.metric, self.patience = metric, patience
        self.best = -math.inf
        self.stale = 0
        self.should_stop = False

    def on_update(self, step: int, metrics: dict[str, float]) -> None:
        if self.metric not in metrics:
            return
        if metrics[self.metric] > self.best:
            self.best, self.stale = metrics[self.metric], 0
        else:
            self.stale += 1
        self.should_stop = self.stale >= self.patience

    def state_dict(self) -> dict[str, float]:
        return {"best": self.best, "stale": self.stale}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.best, self.stale = state["best"], int(state["stale"])
        self.should_stop = self.stale >= self.patience


class _NoLog:
    """The log of a data-parallel process other than the main one: nothing is written."""

    def log(self, step: int, metrics: Any) -> None:
        pass

    def truncate_after(self, step: int) -> None:
        pass

    def close(self) -> None:
        pass


def _stop_reason(callback: TrainerCallback) -> str:
    critical = [f.rule for f in getattr(callback, "findings", [])
                if getattr(f, "severity", None) == "critical"]
    if critical:
        return "doctor: critical finding " + ", ".join(critical)
    if isinstance(callback, Patience):
        return (f"no better {callback.metric} in {callback.patience} evaluations "
                "(early stopping)")
    return f"{type(callback).__name__} asked to stop"


# -- state helpers ---------------------------------------------------------------------------
def _state_of(obj: Any) -> Any:
    return obj.state_dict() if obj is not None and hasattr(obj, "state_dict") else None


def _load_into(obj: Any, state: Any) -> None:
    if obj is not None and state is not None and hasattr(obj, "load_state_dict"):
        obj.load_state_dict(state)


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), Python and NumPy."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
