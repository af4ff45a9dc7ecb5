"""RewardConfig / RewardShapingWrapper: decomposition, replace vs log-only, episode stats."""

from __future__ import annotations

import json
import math

import gymnasium as gym
import numpy as np
import pytest

from pathrl.errors import PathrlError
from pathrl.warmup.rewards import (
    COMPONENT_NAMES,
    REWARD_PRESETS,
    RewardConfig,
    RewardShapingWrapper,
    decompose,
    engine_power,
    resolve_reward_config,
)


class ScriptedLander(gym.Env):
    """Replays hand-set LunarLander observations and rewards (no physics, no Box2D)."""

    def __init__(self, observations: list[list[float]], rewards: list[float]) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(8,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(4)
        self._obs = [np.asarray(o, dtype=np.float32) for o in observations]
        self._rewards = rewards
        self._t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        return self._obs[0], {}

    def step(self, action):
        self._t += 1
        terminated = self._t == len(self._obs) - 1
        return self._obs[self._t], self._rewards[self._t - 1], terminated, False, {}


# x, y, vx, vy, angle, angular velocity, left leg, right leg
START = [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
MID = [0.3, 0.4, 0.6, -0.8, -0.2, 0.1, 0.0, 0.0]
TOUCH = [0.0, 0.0, 0.06, -0.08, 0.05, 0.0, 1.0, 0.0]
LANDED = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
ENV_REWARDS = [1.5, -2.0, 100.0]


def scripted(config: RewardConfig) -> RewardShapingWrapper:
    return RewardShapingWrapper(ScriptedLander([START, MID, TOUCH, LANDED], ENV_REWARDS), config)


def test_decompose_hand_set_observation() -> None:
    comps = decompose(np.array(MID), action=2)
    assert list(comps) == list(COMPONENT_NAMES)
    assert comps["distance"] == pytest.approx(-0.5)  # 3-4-5 triangle
    assert comps["velocity"] == pytest.approx(-1.0)
    assert comps["angle"] == pytest.approx(-0.2)
    assert comps["legs"] == 0.0
    assert (comps["pen_main"], comps["pen_side"]) == (1.0, 0.0)
    assert decompose(np.array(LANDED), action=0)["legs"] == 2.0
    assert decompose(np.array(TOUCH), action=3)["legs"] == 1.0


@pytest.mark.parametrize(
    ("action", "expected"),
    [(0, (0.0, 0.0)), (1, (0.0, 1.0)), (2, (1.0, 0.0)), (3, (0.0, 1.0)), (np.int64(2), (1.0, 0.0))],
)
def test_engine_power_discrete(action, expected) -> None:
    assert engine_power(action, continuous=False) == expected


def test_engine_power_continuous_matches_env_fuel_rule() -> None:
    # main fires above 0 with power (clip(a,0,1)+1)/2; side fires beyond ±0.5 with |a| power
    assert engine_power(np.array([0.5, -0.7]), continuous=True) == pytest.approx((0.75, 0.7))
    assert engine_power(np.array([-0.1, 0.3]), continuous=True) == (0.0, 0.0)
    assert engine_power(np.array([2.0, 0.5]), continuous=True) == (1.0, 0.0)


def test_log_only_passes_env_reward_and_logs_components() -> None:
    env = scripted(RewardConfig(w_distance=100.0))  # weights set, but replace_reward=False
    env.reset(seed=0)
    _, reward, _, _, info = env.step(2)
    assert reward == ENV_REWARDS[0]
    comps = info["reward_components"]
    assert comps["env_reward"] == ENV_REWARDS[0]
    assert comps["agent_reward"] == ENV_REWARDS[0]
    assert comps["shaped"] == pytest.approx(-50.0)  # logged even though not used
    assert set(COMPONENT_NAMES) <= set(comps)


def test_replace_uses_level_shaping_with_penalties_and_scale() -> None:
    cfg = RewardConfig(
        w_distance=100.0,
        w_velocity=150.0,
        w_angle=50.0,
        w_legs=10.0,
        penalty_main=0.3,
        penalty_side=0.03,
        replace_reward=True,
        scale=0.5,
    )
    env = scripted(cfg)
    env.reset(seed=0)
    _, r1, _, _, info1 = env.step(2)  # MID, main engine
    expected1 = (100 * -0.5 + 150 * -1.0 + 50 * -0.2 + 0 - 0.3) * 0.5
    assert r1 == pytest.approx(expected1)
    assert info1["reward_components"]["env_reward"] == ENV_REWARDS[0]
    _, r2, _, _, _ = env.step(1)  # TOUCH, side engine, one leg down
    expected2 = (100 * 0.0 + 150 * -0.1 + 50 * -0.05 + 10 * 1 - 0.03) * 0.5
    assert r2 == pytest.approx(expected2)


def test_potential_difference_pays_only_the_change() -> None:
    cfg = RewardConfig(w_distance=100.0, replace_reward=True, potential_difference=True)
    env = scripted(cfg)
    env.reset(seed=0)
    _, r1, _, _, _ = env.step(0)  # distance 1.0 -> 0.5: potential -100 -> -50
    _, r2, _, _, _ = env.step(0)  # distance 0.5 -> 0.0: -50 -> 0
    _, r3, _, _, _ = env.step(0)  # no change
    assert (r1, r2, r3) == pytest.approx((50.0, 50.0, 0.0))


def test_episode_stats_count_firings_and_touchdown_speed() -> None:
    env = scripted(REWARD_PRESETS["custom"])
    env.reset(seed=0)
    env.step(2)
    env.step(1)
    _, _, terminated, _, info = env.step(3)
    assert terminated
    stats = info["episode_stats"]
    assert stats["env_return"] == pytest.approx(sum(ENV_REWARDS))
    assert (stats["main_firings"], stats["side_firings"]) == (1, 2)
    assert stats["touchdown_speed"] == pytest.approx(0.1)  # speed at first leg contact (TOUCH)
    assert stats["agent_return"] != pytest.approx(stats["env_return"])


def test_real_lunarlander_log_only_is_transparent_and_custom_is_not() -> None:
    actions = [2, 2, 1, 0, 3, 2] * 10
    raw = gym.make("LunarLander-v3")
    raw.reset(seed=7)
    raw_rewards = [raw.step(a)[1] for a in actions]
    raw.close()

    for name, expect_env in (("default", True), ("custom", False)):
        env = RewardShapingWrapper(gym.make("LunarLander-v3"), REWARD_PRESETS[name])
        env.reset(seed=7)
        steps = [env.step(a) for a in actions]
        env.close()
        rewards = [s[1] for s in steps]
        logged_env = [s[4]["reward_components"]["env_reward"] for s in steps]
        assert logged_env == pytest.approx(raw_rewards)  # same physics either way
        if expect_env:
            assert rewards == pytest.approx(raw_rewards)
        else:
            shaped = [s[4]["reward_components"]["shaped"] for s in steps]
            assert rewards == pytest.approx(shaped)
            assert not np.allclose(rewards, raw_rewards)


def test_resolve_reward_config(tmp_path) -> None:
    assert resolve_reward_config("custom") == ("custom", REWARD_PRESETS["custom"])
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"w_velocity": 2.0, "replace_reward": True}))
    name, cfg = resolve_reward_config(str(path))
    assert name == "mine" and cfg.w_velocity == 2.0 and cfg.replace_reward

    path.write_text(json.dumps({"w_speed": 1.0}))
    with pytest.raises(PathrlError, match="unknown key"):
        resolve_reward_config(str(path))
    with pytest.raises(PathrlError, match="unknown reward config"):
        resolve_reward_config("nope")
    with pytest.raises(PathrlError, match="not found"):
        resolve_reward_config(str(tmp_path / "missing.json"))
    with pytest.raises(PathrlError, match="finite"):
        RewardConfig(w_angle=math.nan)
