"""Evaluation of a trained policy on the environment's own reward, and GIF recording."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pathrl.errors import PathrlError
from pathrl.warmup.envs import SOLVED_RETURN, make_env, make_vec_env
from pathrl.warmup.rewards import REWARD_PRESETS


@dataclass
class EvalResult:
    """Deterministic-policy evaluation over ``n_episodes`` episodes (env reward, not shaped)."""

    n_episodes: int
    mean_reward: float
    std_reward: float
    success_rate: float
    """Fraction of episodes with return ≥ 200 (gymnasium's "solved" threshold)."""
    mean_main_firings: float
    """Main-engine firings per episode (steps with the main engine on)."""
    mean_side_firings: float
    """Side-engine firings per episode."""
    mean_fuel: float
    """All engine firings per episode (main + side)."""
    mean_touchdown_speed: float | None
    """Speed (env's normalised units) at the first leg contact, over episodes that touched."""
    touchdown_rate: float
    """Fraction of episodes in which at least one leg touched the ground."""
    mean_episode_length: float
    episode_rewards: list[float]
    episode_lengths: list[int]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_model(
    model: Any,
    *,
    n_episodes: int,
    seed: int,
    continuous: bool = False,
    max_episode_steps: int | None = None,
) -> EvalResult:
    """SB3's ``evaluate_policy`` on a log-only env, plus fuel / touchdown stats from ``info``.

    Evaluation always uses the env's own reward (the log-only config): a policy trained on a
    custom reward is judged by the task's score, which is the point of the comparison.
    """
    from stable_baselines3.common.evaluation import evaluate_policy

    if n_episodes < 1:
        raise PathrlError(f"evaluation needs at least 1 episode, got {n_episodes}")
    env = make_vec_env(
        REWARD_PRESETS["default"],
        n_envs=1,
        seed=seed,
        continuous=continuous,
        max_episode_steps=max_episode_steps,
    )
    stats: list[dict[str, Any]] = []

    def collect(local_vars: dict[str, Any], _globals: dict[str, Any]) -> None:
        info = local_vars["info"]
        if local_vars["done"] and "episode_stats" in info:
            stats.append(info["episode_stats"])

    try:
        rewards, lengths = evaluate_policy(
            model,
            env,
            n_eval_episodes=n_episodes,
            deterministic=True,
            return_episode_rewards=True,
            callback=collect,
        )
    finally:
        env.close()

    rewards_arr = np.asarray(rewards, dtype=np.float64)
    touchdowns = [s["touchdown_speed"] for s in stats if s["touchdown_speed"] is not None]
    main = [s["main_firings"] for s in stats]
    side = [s["side_firings"] for s in stats]
    return EvalResult(
        n_episodes=len(rewards),
        mean_reward=float(rewards_arr.mean()),
        std_reward=float(rewards_arr.std()),
        success_rate=float((rewards_arr >= SOLVED_RETURN).mean()),
        mean_main_firings=float(np.mean(main)),
        mean_side_firings=float(np.mean(side)),
        mean_fuel=float(np.mean(main) + np.mean(side)),
        mean_touchdown_speed=float(np.mean(touchdowns)) if touchdowns else None,
        touchdown_rate=len(touchdowns) / max(len(stats), 1),
        mean_episode_length=float(np.mean(lengths)),
        episode_rewards=[float(r) for r in rewards],
        episode_lengths=[int(n) for n in lengths],
    )


def record_gif(
    model: Any,
    gif_path: Path,
    *,
    seed: int,
    continuous: bool = False,
    max_steps: int = 1000,
    fps: int = 25,
    frame_skip: int = 2,
    downscale: int = 2,
) -> dict[str, Any]:
    """Roll out one deterministic episode headless (``rgb_array``) and save it as a GIF.

    Every ``frame_skip``-th frame is kept and frames are shrunk ``downscale`` times so a
    1000-step episode stays a few MB. Returns the episode's env return and length.
    """
    import imageio.v3 as iio

    if max_steps < 1:
        raise PathrlError(f"--max-steps must be positive, got {max_steps}")
    env = make_env(REWARD_PRESETS["default"], continuous=continuous, render_mode="rgb_array")
    frames: list[np.ndarray] = []
    episode_return, steps = 0.0, 0
    try:
        obs, _ = env.reset(seed=seed)
        frames.append(env.render())
        for step in range(1, max_steps + 1):
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _info = env.step(action)
            episode_return, steps = episode_return + float(reward), step
            if step % frame_skip == 0 or terminated or truncated:
                frames.append(env.render())
            if terminated or truncated:
                break
    finally:
        env.close()

    gif_path.parent.mkdir(parents=True, exist_ok=True)
    small = [frame[::downscale, ::downscale] for frame in frames]
    iio.imwrite(gif_path, small, duration=math.ceil(1000 / fps), loop=0)
    return {"gif_return": episode_return, "gif_steps": steps, "gif_frames": len(small)}
