"""LunarLander environment factories.

Gymnasium 1.x only ships ``LunarLander-v3`` (``-v2`` was removed); the discrete and the
continuous variants share that id and differ by ``continuous=True``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from pathrl.warmup.rewards import RewardConfig, RewardShapingWrapper

ENV_ID = "LunarLander-v3"
#: Gymnasium's "solved" threshold for LunarLander: an episode return of at least 200.
SOLVED_RETURN = 200.0


def make_env(
    reward_config: RewardConfig,
    *,
    continuous: bool = False,
    render_mode: str | None = None,
    max_episode_steps: int | None = None,
    monitor_file: str | Path | None = None,
) -> gym.Env:
    """One LunarLander-v3 env: raw env → Monitor → RewardShapingWrapper.

    The Monitor sits *inside* the shaping wrapper on purpose: it records the environment's own
    episode return, so learning curves and evaluation scores stay comparable across reward
    configs, while the agent learns from whatever the wrapper returns.
    """
    env = gym.make(
        ENV_ID, continuous=continuous, render_mode=render_mode, max_episode_steps=max_episode_steps
    )
    env = Monitor(env, filename=None if monitor_file is None else str(monitor_file))
    return RewardShapingWrapper(env, reward_config)


def make_vec_env(
    reward_config: RewardConfig,
    *,
    n_envs: int,
    seed: int,
    continuous: bool = False,
    max_episode_steps: int | None = None,
    monitor_dir: Path | None = None,
) -> VecEnv:
    """``n_envs`` sequential copies (DummyVecEnv: deterministic, and this box has 2 cores)."""

    def factory(rank: int) -> Callable[[], gym.Env]:
        def _init() -> gym.Env:
            monitor_file = None if monitor_dir is None else monitor_dir / f"{rank}"
            return make_env(
                reward_config,
                continuous=continuous,
                max_episode_steps=max_episode_steps,
                monitor_file=monitor_file,
            )

        return _init

    vec_env = DummyVecEnv([factory(rank) for rank in range(n_envs)])
    vec_env.seed(seed)
    return vec_env
