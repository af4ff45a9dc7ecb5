"""Train one LunarLander agent, evaluate it, record a GIF: one *run* of the lab.

A run lives in its own folder::

    <run_dir>/model.zip          the SB3 model (saved also on Ctrl-C)
    <run_dir>/monitor/*.csv      per-env Monitor logs (env's own episode returns)
    <run_dir>/curve.png          learning curve
    <run_dir>/episode.gif        one deterministic evaluation episode
    <run_dir>/run.json           everything below, as written to report.json
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pathrl.errors import PathrlError
from pathrl.io import atomic_write_text
from pathrl.warmup.algos import AlgoSpec, build_kwargs, get_algo, validate_hyperparams
from pathrl.warmup.rewards import RewardConfig, resolve_reward_config


@dataclass
class TrainConfig:
    """Everything that defines one training run (defaults: the zoo's values, seed 0)."""

    algo: str = "ppo"
    """Algorithm name (see ``pathrl.warmup.algos.ALGOS``)."""
    timesteps: int = 100_000
    """Environment steps to train for, summed over all parallel envs."""
    reward: str = "default"
    """Reward preset (``default``, ``custom``, ``potential``) or path to a JSON RewardConfig."""
    seed: int = 0
    """Seed of the model, the training envs and (offset by 1000) the evaluation env."""
    n_envs: int | None = None
    """Parallel training envs; ``None`` uses the zoo's value for the algorithm."""
    hyperparams: dict[str, Any] = field(default_factory=dict)
    """Overrides of the zoo constructor kwargs, e.g. ``{"n_steps": 256}``."""
    eval_episodes: int = 20
    """Episodes of the deterministic evaluation (env reward)."""
    max_episode_steps: int | None = None
    """Cap on episode length (``None`` keeps the env's 1000); tests use a small cap."""
    gif: bool = True
    """Record one evaluation episode as a GIF."""
    gif_max_steps: int = 1000
    """Longest GIF episode, in env steps."""
    progress: bool = True
    """Show a Rich progress bar while training."""
    torch_threads: int = 1
    """``torch.set_num_threads``: 1 leaves the other core free and keeps CPU runs reproducible."""
    device: str = "cpu"
    """Torch device; these MLPs are faster on CPU than on a GPU."""
    select_every: int | None = None
    """Timesteps between checkpoint-selection evaluations; the run keeps the checkpoint that
    scored best (the last one included). Each is a deterministic evaluation on the env reward
    over `select_episodes` episodes seeded from `seed + 2000`, never the final evaluation's
    seeds, so the reported score is not the one that chose. ``None``: the algorithm's default
    (PPO 25,000; the others 0 = keep the last model) with the env's own reward, 0 with any
    other reward (selecting on the env reward would hide what that reward teaches)."""
    select_episodes: int = 10
    """Episodes of each checkpoint-selection evaluation."""

    def validate(self) -> tuple[AlgoSpec, str, RewardConfig]:
        spec = get_algo(self.algo)
        if self.timesteps <= 0:
            raise PathrlError(f"--timesteps must be positive, got {self.timesteps}")
        if self.n_envs is not None and self.n_envs < 1:
            raise PathrlError(f"--n-envs must be at least 1, got {self.n_envs}")
        if self.eval_episodes < 1:
            raise PathrlError(f"--eval-episodes must be at least 1, got {self.eval_episodes}")
        if self.max_episode_steps is not None and self.max_episode_steps < 1:
            raise PathrlError(f"--max-episode-steps must be positive, got {self.max_episode_steps}")
        if self.select_every is not None and self.select_every < 0:
            raise PathrlError(f"--select-every must be >= 0, got {self.select_every}")
        if self.select_episodes < 1:
            raise PathrlError(f"--select-episodes must be at least 1, got {self.select_episodes}")
        if self.torch_threads < 1:
            raise PathrlError(f"--threads must be at least 1, got {self.torch_threads}")
        reward_name, reward_config = resolve_reward_config(self.reward)
        validate_hyperparams(spec, self.hyperparams)
        return spec, reward_name, reward_config

    def run_name(self) -> str:
        reward_name = Path(self.reward).stem if self.reward.endswith(".json") else self.reward
        return f"{self.algo.lower()}-{reward_name}"


def ensure_writable_dir(path: Path) -> Path:
    """Create ``path`` (and parents) or explain why not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PathrlError(f"cannot create output directory {path}: {exc.strerror}") from None
    if not path.is_dir() or not os.access(path, os.W_OK):
        raise PathrlError(f"output directory {path} is not writable")
    return path


def _progress_callback(total: int, description: str) -> Any:
    """A Rich progress bar fed by SB3 callbacks; shows the recent mean env return."""
    import numpy as np
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from stable_baselines3.common.callbacks import BaseCallback

    class RichProgressCallback(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[score]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )
            self.task_id: Any = None

        def _on_training_start(self) -> None:
            self.progress.start()
            self.task_id = self.progress.add_task(description, total=total, score="")

        def _on_step(self) -> bool:
            # Rich redraws ~10x/s anyway; refreshing the score every ~1k steps is plenty.
            if self.n_calls % max(1, 1000 // self.training_env.num_envs) == 0:
                buffer = self.model.ep_info_buffer
                score = f"return {np.mean([e['r'] for e in buffer]):7.1f}" if buffer else ""
                self.progress.update(self.task_id, score=score)
            self.progress.update(self.task_id, completed=min(self.num_timesteps, total))
            return True

        def _on_training_end(self) -> None:
            self.close()

        def close(self) -> None:
            """Stop the live display (also after Ctrl-C, when SB3 skips training_end)."""
            self.progress.stop()

    return RichProgressCallback()


EVALUATION_SEED_OFFSET = 1000  # the final evaluation's episodes
SELECTION_SEED_OFFSET = 2000  # checkpoint selection's: never the final evaluation's


def _keep_best_callback(every: int, evaluate: Any) -> Any:
    """An SB3 callback that evaluates the policy every `every` timesteps and at the end of
    training (`evaluate(model) -> EvalResult`) and keeps a copy of the best weights."""
    from stable_baselines3.common.callbacks import BaseCallback

    class KeepBest(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.history: list[tuple[int, float]] = []
            self.best_score = float("-inf")
            self.best_timesteps = 0
            self.best_weights: Any = None
            self.env_steps = 0  # evaluation only: not training steps, but env time all the same
            self._next = every

        def _check(self) -> None:
            result = evaluate(self.model)
            score = float(result.mean_reward)
            self.env_steps += int(sum(result.episode_lengths))
            self.history.append((int(self.num_timesteps), round(score, 2)))
            if score > self.best_score:  # ties keep the earlier checkpoint
                self.best_score, self.best_timesteps = score, int(self.num_timesteps)
                self.best_weights = copy.deepcopy(self.model.policy.state_dict())

        def _on_step(self) -> bool:
            if self.num_timesteps >= self._next:
                self._next += every
                self._check()
            return True

        def _on_training_end(self) -> None:
            if not self.history or self.history[-1][0] != self.num_timesteps:
                self._check()

    return KeepBest()


def train_run(config: TrainConfig, run_dir: Path) -> dict[str, Any]:
    """Train, save, evaluate and (optionally) record one run; returns its report record.

    Ctrl-C during ``learn`` saves the model trained so far and a ``run.json`` marked
    ``interrupted`` before the KeyboardInterrupt propagates.
    """
    spec, reward_name, reward_config = config.validate()
    run_dir = ensure_writable_dir(run_dir)

    import torch
    from stable_baselines3.common.utils import set_random_seed

    from pathrl.warmup.envs import make_vec_env
    from pathrl.warmup.evaluate import evaluate_model, record_gif
    from pathrl.warmup.report import plot_learning_curves

    torch.set_num_threads(config.torch_threads)
    set_random_seed(config.seed)
    n_envs = config.n_envs or spec.n_envs
    monitor_dir = run_dir / "monitor"
    monitor_dir.mkdir(exist_ok=True)
    for stale in monitor_dir.glob("*.monitor.csv"):  # a re-run must not mix old episodes in
        stale.unlink()

    env = make_vec_env(
        reward_config,
        n_envs=n_envs,
        seed=config.seed,
        continuous=spec.continuous,
        max_episode_steps=config.max_episode_steps,
        monitor_dir=monitor_dir,
    )
    algo_class = spec.load_class()
    try:
        model = algo_class(
            "MlpPolicy",
            env,
            seed=config.seed,
            device=config.device,
            verbose=0,
            **build_kwargs(spec, config.hyperparams),
        )
    except TypeError as exc:  # an override the algorithm does not accept
        env.close()
        raise PathrlError(f"{spec.class_name}: invalid hyperparameter ({exc})") from None

    record: dict[str, Any] = {
        "name": run_dir.name,
        "algo": spec.name,
        "env_id": "LunarLander-v3",
        "continuous": spec.continuous,
        "reward_name": reward_name,
        "reward_config": reward_config.to_dict(),
        "timesteps": config.timesteps,
        "seed": config.seed,
        "n_envs": n_envs,
        "hyperparams": {**spec.kwargs, **config.hyperparams},
        "zoo_source": spec.zoo_source,
        "zoo_score": spec.zoo_score,
        "zoo_timesteps": spec.zoo_timesteps,
        "changes_from_zoo": spec.changes_from_zoo,
        "config": asdict(config),
        "interrupted": False,
    }
    model_path = run_dir / "model.zip"
    callback = (
        _progress_callback(config.timesteps, f"{spec.name}/{reward_name}")
        if config.progress
        else None
    )
    # On-policy algorithms collect whole rollouts and would overshoot `timesteps` by up to one
    # rollout (300,000 asked -> 303,104 trained with 16 x 256): stop at the last whole rollout
    # that fits, so `--timesteps` is a budget that is never exceeded.
    rollout = int(getattr(model, "n_steps", 0) or 0) * n_envs
    budget = (max(rollout, config.timesteps // rollout * rollout) if rollout
              else config.timesteps)
    record["timesteps_budgeted"] = budget
    if config.select_every is not None:
        select_every = config.select_every
    else:  # selection scores the env reward: by default only for agents that train on it
        select_every = spec.select_every if reward_name == "default" else 0
    keep_best = None
    if select_every > 0:
        def selection_score(policy_model: Any) -> Any:
            return evaluate_model(policy_model, n_episodes=config.select_episodes,
                                  seed=config.seed + SELECTION_SEED_OFFSET,
                                  continuous=spec.continuous,
                                  max_episode_steps=config.max_episode_steps)

        keep_best = _keep_best_callback(select_every, selection_score)
    callbacks = [c for c in (callback, keep_best) if c is not None]
    last_weights: Any = None  # the final weights, when an earlier checkpoint is kept
    learned_s: float | None = None
    start = time.perf_counter()
    try:
        model.learn(total_timesteps=budget, callback=callbacks or None)  # SB3 chains a list
        learned_s = time.perf_counter() - start  # includes the selection evaluations
        if keep_best is not None and keep_best.best_weights is not None:
            if keep_best.best_timesteps != model.num_timesteps:
                last_weights = copy.deepcopy(model.policy.state_dict())
            model.policy.load_state_dict(keep_best.best_weights)
            record["selection"] = {
                "every": select_every, "episodes": config.select_episodes,
                "seed": config.seed + SELECTION_SEED_OFFSET,
                "history": keep_best.history, "kept_timesteps": keep_best.best_timesteps,
                "kept_score": round(keep_best.best_score, 2),
                "last_score": keep_best.history[-1][1],
                "env_steps": keep_best.env_steps}
    except KeyboardInterrupt:
        record["interrupted"] = True
        raise
    finally:
        record["wall_s"] = round(learned_s if learned_s is not None
                                 else time.perf_counter() - start, 2)
        record["trained_timesteps"] = int(model.num_timesteps)
        if callback is not None and hasattr(callback, "close"):
            callback.close()
        model.save(model_path)
        env.close()
        record["model_path"] = str(model_path.resolve())
        record["curve_path"] = str(
            plot_learning_curves({record["name"]: monitor_dir}, run_dir / "curve.png").resolve()
        )
        write_json(run_dir / "run.json", record)

    start = time.perf_counter()
    result = evaluate_model(
        model,
        n_episodes=config.eval_episodes,
        seed=config.seed + EVALUATION_SEED_OFFSET,
        continuous=spec.continuous,
        max_episode_steps=config.max_episode_steps,
    )
    record.update(result.to_dict())
    record["eval_s"] = round(time.perf_counter() - start, 2)
    if "selection" in record:
        # What keeping a checkpoint bought: the last model on the same final-evaluation seeds.
        last = result
        if last_weights is not None:
            kept_weights = copy.deepcopy(model.policy.state_dict())
            model.policy.load_state_dict(last_weights)
            last = evaluate_model(model, n_episodes=config.eval_episodes,
                                  seed=config.seed + EVALUATION_SEED_OFFSET,
                                  continuous=spec.continuous,
                                  max_episode_steps=config.max_episode_steps)
            model.policy.load_state_dict(kept_weights)
        record["selection"]["last_eval"] = {
            "mean_reward": last.mean_reward, "std_reward": last.std_reward,
            "success_rate": last.success_rate, "n_episodes": last.n_episodes}
    if config.gif:
        gif_path = run_dir / "episode.gif"
        record.update(
            record_gif(
                model,
                gif_path,
                seed=config.seed + EVALUATION_SEED_OFFSET,
                continuous=spec.continuous,
                max_steps=min(config.gif_max_steps, config.max_episode_steps or 1000),
            )
        )
        record["gif_path"] = str(gif_path.resolve())
    else:
        record["gif_path"] = None
    write_json(run_dir / "run.json", record)
    return record


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a crash never leaves half a report)."""
    text = json.dumps(data, indent=2, default=_json_default, allow_nan=False)
    atomic_write_text(path, text + "\n")


def clean_floats(value: Any) -> Any:
    """NaN / inf are not JSON: map them to None recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_floats(v) for v in value]
    return value
