"""Synthetic training logs for the doctor tests: healthy curves plus one symptom at a time.

Healthy curves are deliberately noisy (multiplicative noise of 10–20%) so the tests also show
that noise alone does not raise alarms.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

N = 60
ONSET = 30  # step at which injected symptoms start


def _noise(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    return 1.0 + scale * rng.standard_normal(n)


def healthy_router_ppo(n: int = N, seed: int = 0) -> list[dict[str, float]]:
    """A golden-config router PPO run: starts high (SFT loaded), improves slowly, calm KL."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n)
    columns = {
        "samples": np.arange(1, n + 1) * 64.0,
        "reward_mean": (3.0 + 0.1 * t) * _noise(rng, n, 0.05),
        "reward_std": 0.8 * _noise(rng, n, 0.1),
        "exact_match": np.clip((0.85 + 0.04 * t) * _noise(rng, n, 0.03), 0, 1),
        "greedy_exact_match": np.clip((0.88 + 0.02 * t) * _noise(rng, n, 0.01), 0, 1),
        "approx_kl": 0.01 * _noise(rng, n, 0.3),
        "kl_to_ref": 0.02 + 0.02 * t * _noise(rng, n, 0.2),
        "kl_coef": np.full(n, 0.05),
        "clip_fraction": 0.08 * _noise(rng, n, 0.2),
        "entropy": (3.0 - 0.3 * t) * _noise(rng, n, 0.02),
        "policy_loss": 0.01 * rng.standard_normal(n),
        "value_loss": (0.5 - 0.2 * t) * _noise(rng, n, 0.15),
        "explained_variance": 0.3 + 0.3 * t + 0.05 * rng.standard_normal(n),
        "grad_norm": 0.6 * _noise(rng, n, 0.2),
        "lr": np.full(n, 2e-6),
        "critic_lr": np.full(n, 1e-5),
        "via_null_rate_pred": 0.8 + 0.02 * rng.standard_normal(n),
        "via_null_rate_label": np.full(n, 0.8),
        "kl_early_stop": (rng.random(n) < 0.1).astype(float),
    }
    return _records(columns)


def healthy_grpo(n: int = N, seed: int = 1) -> list[dict[str, float]]:
    """A TRL GRPO run with every value inside the 'good' bands of method §9.6."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n)
    columns = {
        "reward": (1.2 + 0.8 * t) * _noise(rng, n, 0.05),
        "reward_std": 0.5 * _noise(rng, n, 0.1),
        "frac_reward_zero_std": 0.1 * _noise(rng, n, 0.3),
        "kl": 0.02 + 0.1 * t * _noise(rng, n, 0.1),
        "loss": 0.002 * rng.standard_normal(n),
        "grad_norm": 0.5 * _noise(rng, n, 0.2),
        "learning_rate": np.full(n, 5e-6),
        "completions/mean_length": 95 * _noise(rng, n, 0.05),
        "completions/clipped_ratio": 0.1 * _noise(rng, n, 0.2),
    }
    return _records(columns)


def healthy_dpo(n: int = N, seed: int = 2) -> list[dict[str, float]]:
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n)
    columns = {
        "loss": 0.693 - 0.35 * t + 0.02 * rng.standard_normal(n),
        "rewards/margins": 0.05 + 1.5 * t + 0.05 * rng.standard_normal(n),
        "rewards/chosen": 0.2 * t,
        "rewards/rejected": -0.8 * t,
        "rewards/accuracies": 0.55 + 0.3 * t,
        "grad_norm": 1.0 * _noise(rng, n, 0.2),
        "learning_rate": np.full(n, 5e-7),
    }
    return _records(columns)


def healthy_router_sft(n: int = 12, seed: int = 3) -> list[dict[str, float]]:
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n)
    columns = {
        "epoch": np.arange(n, dtype=float),
        "train_loss": 3.0 * np.exp(-3 * t) + 0.1,
        "val_exact_match": np.clip(
            0.3 + 0.6 * (1 - np.exp(-4 * t)) + 0.01 * rng.standard_normal(n), 0, 1
        ),
        "val_anchor_accuracy": np.full(n, 0.95),
        "val_target_accuracy": np.full(n, 0.93),
        "val_via_accuracy": np.full(n, 0.9),
        "lr": np.full(n, 2e-5),
    }
    return _records(columns)


def _records(columns: dict[str, np.ndarray]) -> list[dict[str, float]]:
    n = len(next(iter(columns.values())))
    return [{"step": i, **{k: float(v[i]) for k, v in columns.items()}} for i in range(n)]


def modify(
    records: list[dict[str, float]], key: str, fn: Callable[[int, float], float]
) -> list[dict[str, float]]:
    """A copy of `records` with `key` replaced by fn(step, old value or 0)."""
    out = []
    for record in records:
        copy = dict(record)
        copy[key] = float(fn(int(record["step"]), record.get(key, 0.0)))
        out.append(copy)
    return out


def after(onset: int, value: Callable[[int], float]) -> Callable[[int, float], float]:
    """Keep the old value before `onset`, then `value(step)`."""
    return lambda step, old: value(step) if step >= onset else old


def ramp(start: float, end: float, first: int = 0, last: int = N - 1) -> Callable[[int], float]:
    def value(step: int) -> float:
        fraction = min(max((step - first) / max(last - first, 1), 0.0), 1.0)
        return start + (end - start) * fraction

    return value


def alternate(low: float, high: float) -> Callable[[int], float]:
    return lambda step: high if step % 2 else low
