"""Configurable reward shaping for LunarLander (docs/method.md §11.2).

The wrapper always *decomposes* each step into interpretable components and records them in
``info["reward_components"]``; whether the agent sees the environment's reward or the shaped one
is a config switch (``replace_reward``). That makes "the reward decides the behaviour" an
experiment with one variable: same algorithm, same seed, different reward.

Observation layout of ``LunarLander-v3`` (gymnasium 1.x; ``-v2`` was removed):
``[x, y, vx, vy, angle, angular_velocity, left_leg_contact, right_leg_contact]``, where the
landing pad is at ``(0, 0)`` and velocities are in the env's normalised units.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from pathrl.errors import PathrlError

#: Component names, in the order they are written to ``info["reward_components"]``.
COMPONENT_NAMES = ("distance", "velocity", "angle", "legs", "pen_main", "pen_side")


@dataclass(frozen=True)
class RewardConfig:
    """Weights of the shaped reward. All zero + ``replace_reward=False`` = log-only."""

    w_distance: float = 0.0
    """Weight of ``-sqrt(x² + y²)``: distance to the landing pad (closer is better)."""
    w_velocity: float = 0.0
    """Weight of ``-sqrt(vx² + vy²)``: speed (slower is better)."""
    w_angle: float = 0.0
    """Weight of ``-|angle|``: tilt (upright is better)."""
    w_legs: float = 0.0
    """Weight of the number of legs touching the ground (0, 1 or 2)."""
    penalty_main: float = 0.0
    """Cost per step of main-engine power (1 when fired in the discrete env, 0.5..1 continuous)."""
    penalty_side: float = 0.0
    """Cost per step of side-engine power (1 when fired in the discrete env, 0.5..1 continuous)."""
    replace_reward: bool = False
    """If true the agent is trained on the shaped reward; otherwise the shaped value is only
    logged and the agent sees the environment's own reward."""
    scale: float = 1.0
    """Multiplier applied to the whole shaped reward (keeps value targets in a sane range)."""
    potential_difference: bool = False
    """If true the four state terms are used as a potential Φ and the agent gets
    ``Φ(s') − Φ(s)`` (Ng et al. 1999; this is how the env itself shapes). If false (method
    §11.2's choice) they are paid as levels every step, which is denser but changes the optimum:
    e.g. hovering with legs down can pay more than landing and ending the episode."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise PathrlError(f"reward config: {f.name} must be a finite number, got {value}")
        if self.scale == 0.0 and self.replace_reward:
            raise PathrlError("reward config: scale=0 with replace_reward=True gives no signal")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RewardConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise PathrlError(
                f"reward config: unknown key(s) {', '.join(unknown)}; "
                f"known keys are {', '.join(sorted(known))}"
            )
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            wants_bool = f.type in ("bool", bool)
            ok = isinstance(value, bool) if wants_bool else (
                isinstance(value, int | float) and not isinstance(value, bool))
            if not ok:  # "100" or a list would fail (or be misread) after training
                kind = "true or false" if wants_bool else "a number"
                raise PathrlError(f"reward config: {f.name} must be {kind}, got {value!r:.60}")
        return cls(**{k: v if isinstance(v, bool) else float(v) for k, v in data.items()})


#: Named reward configurations. ``custom`` is method §11.2's "steady, slow, fuel-saving" setting.
REWARD_PRESETS: dict[str, RewardConfig] = {
    "default": RewardConfig(),
    "custom": RewardConfig(
        w_distance=100.0,
        w_velocity=150.0,
        w_angle=50.0,
        w_legs=10.0,
        penalty_main=0.3,
        penalty_side=0.03,
        replace_reward=True,
    ),
    # The env's own shaping coefficients, paid as a potential difference; the agent gets no
    # ±100 landing/crash bonus, so this isolates "dense shaping only".
    "potential": RewardConfig(
        w_distance=100.0,
        w_velocity=100.0,
        w_angle=100.0,
        w_legs=10.0,
        penalty_main=0.3,
        penalty_side=0.03,
        replace_reward=True,
        potential_difference=True,
    ),
}


def resolve_reward_config(spec: str) -> tuple[str, RewardConfig]:
    """``spec`` is a preset name or a path to a JSON file with RewardConfig fields."""
    if spec in REWARD_PRESETS:
        return spec, REWARD_PRESETS[spec]
    path = Path(spec)
    if path.suffix == ".json" or path.exists():
        if not path.is_file():
            raise PathrlError(f"reward config file not found: {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # JSONDecodeError, UnicodeDecodeError
            raise PathrlError(f"reward config {path}: cannot read JSON ({exc})") from None
        if not isinstance(data, dict):
            raise PathrlError(f"reward config {path}: expected a JSON object")
        return path.stem, RewardConfig.from_dict(data)
    raise PathrlError(
        f"unknown reward config {spec!r}: use one of {', '.join(REWARD_PRESETS)} "
        "or a path to a .json file"
    )


def engine_power(action: Any, continuous: bool) -> tuple[float, float]:
    """(main, side) engine power for ``action``, exactly as LunarLander computes fuel cost."""
    if continuous:
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        main = (float(np.clip(a[0], 0.0, 1.0)) + 1.0) * 0.5 if a[0] > 0.0 else 0.0
        side = float(np.clip(abs(a[1]), 0.5, 1.0)) if abs(a[1]) > 0.5 else 0.0
        return main, side
    a = int(np.asarray(action).reshape(-1)[0])
    return float(a == 2), float(a in (1, 3))


def decompose(obs: np.ndarray, action: Any, continuous: bool = False) -> dict[str, float]:
    """Reward components of one step; state terms are signed so that larger is better."""
    x, y, vx, vy, angle, _angular_velocity, left_leg, right_leg = (float(v) for v in obs[:8])
    main, side = engine_power(action, continuous)
    return {
        "distance": -math.hypot(x, y),
        "velocity": -math.hypot(vx, vy),
        "angle": -abs(angle),
        "legs": float(left_leg > 0.5) + float(right_leg > 0.5),
        "pen_main": main,
        "pen_side": side,
    }


def potential(components: dict[str, float], cfg: RewardConfig) -> float:
    """Weighted sum of the state terms (the part that can be paid as a potential difference)."""
    return (
        cfg.w_distance * components["distance"]
        + cfg.w_velocity * components["velocity"]
        + cfg.w_angle * components["angle"]
        + cfg.w_legs * components["legs"]
    )


class RewardShapingWrapper(gym.Wrapper):
    """Records reward components in ``info`` and optionally trains on the shaped reward.

    Per step, ``info["reward_components"]`` holds the six components, ``env_reward`` (what the
    environment returned), ``shaped`` (the configured combination) and ``agent_reward`` (what
    this wrapper returned). At the end of an episode ``info["episode_stats"]`` adds episode
    totals: the env's return, the agent's return, main / side engine firings and the
    touchdown speed (speed at the first step with a leg on the ground, ``None`` if never).
    """

    def __init__(self, env: gym.Env, config: RewardConfig) -> None:
        super().__init__(env)
        self.config = config
        self.continuous = isinstance(env.action_space, gym.spaces.Box)
        self._prev_potential: float | None = None
        self._reset_episode_stats()

    def _reset_episode_stats(self) -> None:
        self._env_return = 0.0
        self._agent_return = 0.0
        self._main_firings = 0
        self._side_firings = 0
        self._touchdown_speed: float | None = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._reset_episode_stats()
        # Potential of the initial state, so the first difference is well defined.
        state_terms = decompose(obs, 0 if not self.continuous else np.zeros(2), self.continuous)
        self._prev_potential = potential(state_terms, self.config)
        return obs, info

    def shaped_reward(self, components: dict[str, float]) -> float:
        """The configured reward for one step (updates the stored potential)."""
        cfg = self.config
        phi = potential(components, cfg)
        if cfg.potential_difference:
            prev = phi if self._prev_potential is None else self._prev_potential
            dense = phi - prev
        else:
            dense = phi
        self._prev_potential = phi
        costs = (
            cfg.penalty_main * components["pen_main"] + cfg.penalty_side * components["pen_side"]
        )
        return (dense - costs) * cfg.scale

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, env_reward, terminated, truncated, info = self.env.step(action)
        components = decompose(obs, action, self.continuous)
        shaped = self.shaped_reward(components)
        agent_reward = shaped if self.config.replace_reward else float(env_reward)
        info["reward_components"] = {
            **components,
            "env_reward": float(env_reward),
            "shaped": shaped,
            "agent_reward": agent_reward,
        }

        self._env_return += float(env_reward)
        self._agent_return += agent_reward
        self._main_firings += components["pen_main"] > 0.0
        self._side_firings += components["pen_side"] > 0.0
        if self._touchdown_speed is None and components["legs"] > 0:
            self._touchdown_speed = -components["velocity"]
        if terminated or truncated:
            info["episode_stats"] = {
                "env_return": self._env_return,
                "agent_return": self._agent_return,
                "main_firings": int(self._main_firings),
                "side_firings": int(self._side_firings),
                "touchdown_speed": self._touchdown_speed,
            }
        return obs, agent_reward, terminated, truncated, info
