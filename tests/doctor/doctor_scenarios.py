"""One synthetic run per rule, each showing exactly that rule's symptom."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from doctor_synth import (
    ONSET,
    N,
    after,
    alternate,
    healthy_dpo,
    healthy_grpo,
    healthy_router_ppo,
    healthy_router_sft,
    modify,
    ramp,
)

Records = list[dict[str, float]]


def _chain(records: Records, *changes: tuple[str, Callable[[int, float], float]]) -> Records:
    for key, fn in changes:
        records = modify(records, key, fn)
    return records


def _const(value: float) -> Callable[[int, float], float]:
    return lambda step, old: value


def _jitter(base: float, scale: float, seed: int = 7) -> Callable[[int, float], float]:
    noise = np.random.default_rng(seed).standard_normal(1000)
    return lambda step, old: base * (1 + scale * noise[step])


def _collapsing_accuracy(step: int, old: float) -> float:
    """Method §5.3: accuracy 97% -> 15% -> 8% once the collapse starts."""
    return old if step < ONSET else max(0.9 - 0.06 * (step - ONSET), 0.08)


def _ppo(*changes: tuple[str, Callable[[int, float], float]]) -> Records:
    return _chain(healthy_router_ppo(), *changes)


def _grpo(*changes: tuple[str, Callable[[int, float], float]]) -> Records:
    return _chain(healthy_grpo(), *changes)


SCENARIOS: dict[str, Callable[[], Records]] = {
    "approx_kl_high": lambda: _ppo(("approx_kl", after(ONSET, ramp(0.15, 0.3, ONSET)))),
    # A 4-point blip (real SB3 run: 4 of 1,953 updates): a warning, not a critical stop.
    "approx_kl_episode": lambda: _ppo(
        ("approx_kl", lambda s, old: 0.2 if ONSET <= s < ONSET + 4 else old)
    ),
    "clip_fraction_high": lambda: _ppo(("clip_fraction", after(ONSET, lambda s: 0.45))),
    "policy_ratio_drift": lambda: _chain(
        [{"step": r["step"], "objective/kl": r["kl_to_ref"], "policy/approxkl_avg": r["approx_kl"],
          "objective/scores": r["reward_mean"]} for r in healthy_router_ppo()],
        ("val/ratio", lambda s, old: 3.0 if s >= ONSET else 1.0),
    ),
    "kl_early_stop_frequent": lambda: _ppo(("kl_early_stop", lambda s, old: float(s % 4 != 0))),
    "policy_not_moving": lambda: _ppo(
        ("approx_kl", _const(1e-7)),
        ("reward_mean", _jitter(1.0, 0.05)),
        ("exact_match", _const(0.55)),
        ("greedy_exact_match", _const(0.55)),
        ("kl_to_ref", _const(0.03)),
    ),
    "kl_divergent": lambda: _ppo(("kl_to_ref", after(ONSET, lambda s: 0.5 + 0.01 * (s % 3)))),
    "kl_above_safe": lambda: _ppo(("kl_to_ref", after(ONSET, lambda s: 0.3 + 0.01 * (s % 3)))),
    "kl_rising": lambda: _ppo(("kl_to_ref", lambda s, old: ramp(0.01, 0.2, 20, 45)(s))),
    "kl_spike": lambda: _ppo(
        ("kl_to_ref", lambda s, old: 0.3 if s in (ONSET, ONSET + 4) else 0.03)
    ),
    "reward_up_kl_exploding": lambda: _ppo(
        ("reward_mean", lambda s, old: ramp(3.0, 6.0)(s)),
        ("kl_to_ref", lambda s, old: ramp(0.02, 0.6)(s)),
    ),
    "kl_low_reward_flat": lambda: _ppo(
        ("kl_to_ref", _const(0.001)),
        ("reward_mean", _jitter(1.0, 0.05)),
        ("exact_match", _jitter(0.55, 0.03)),
        ("greedy_exact_match", _const(0.55)),
    ),
    "reward_flat": lambda: _ppo(
        ("reward_mean", _jitter(1.0, 0.05)),
        ("exact_match", _jitter(0.6, 0.03)),
        ("greedy_exact_match", _const(0.6)),
    ),
    # Every step: identical rewards in every group, zero loss and gradient (a dead run).
    "no_learning_signal": lambda: _grpo(
        ("reward", _const(0.0)),
        ("reward_std", _const(0.0)),
        ("frac_reward_zero_std", _const(1.0)),
        ("loss", _const(0.0)),
        ("grad_norm", _const(0.0)),
        ("kl", _const(0.0)),
    ),
    # Midway through a healthy GRPO run the policy breaks: reward to 0, every group zero-std.
    "learning_signal_lost": lambda: _grpo(
        ("reward", lambda s, old: 0.0 if s >= ONSET else old),
        ("reward_std", lambda s, old: 0.0 if s >= ONSET else old),
        ("frac_reward_zero_std", lambda s, old: 1.0 if s >= ONSET else old),
        ("grad_norm", lambda s, old: 0.0 if s >= ONSET else old),
    ),
    "reward_gain_lost": lambda: _ppo(
        ("reward_mean", lambda s, old: old * (ramp(1.0, 3.0, 0, ONSET)(s) if s <= ONSET
                                              else ramp(3.0, 1.2, ONSET, N - 10)(s))),
    ),
    # Format reward farmed (total reward up), accuracy reward flat.
    "reward_up_success_flat": lambda: _grpo(
        ("rewards/format_reward/mean", lambda s, old: ramp(0.1, 0.9)(s)),
        ("rewards/accuracy_reward/mean", _jitter(0.2, 0.05)),
    ),
    "reward_std_high": lambda: _grpo(("reward_std", after(ONSET, lambda s: 1.4))),
    "frac_reward_zero_std_high": lambda: _grpo(("frac_reward_zero_std", _const(0.6))),
    "policy_collapse": lambda: _ppo(
        ("greedy_exact_match", _collapsing_accuracy),
        ("exact_match", _collapsing_accuracy),
        ("kl_to_ref", lambda s, old: ramp(0.02, 0.35, ONSET - 10)(s)),
        ("approx_kl", after(ONSET, lambda s: 0.2)),
        ("value_loss", after(ONSET, alternate(0.1, 3.0))),
    ),
    "degrading_over_time": lambda: _ppo(
        ("greedy_exact_match", lambda s, old: old if s < ONSET else 0.88 - 0.008 * (s - ONSET)),
    ),
    "late_quality_drop": lambda: _ppo(
        ("greedy_exact_match", lambda s, old: old if s < 40 else 0.88 - 0.015 * (s - 40)),
        ("kl_to_ref", after(ONSET, lambda s: 0.3 + 0.01 * (s % 3))),
    ),
    "reward_up_eval_down": lambda: _ppo(
        ("reward_mean", lambda s, old: ramp(3.0, 5.0)(s)),
        ("human_eval", lambda s, old: ramp(0.8, 0.5)(s)),
    ),
    "test_deploy_gap": lambda: _ppo(("deploy_score", _const(0.7))),
    "via_all_null": lambda: _ppo(("via_null_rate_pred", after(ONSET, lambda s: 1.0))),
    "via_null_above_label": lambda: _ppo(("via_null_rate_pred", after(ONSET, lambda s: 0.9))
                                         , ("via_null_rate_label", _const(0.7))),
    "reward_up_exact_match_down": lambda: _ppo(
        ("reward_mean", lambda s, old: ramp(3.0, 5.0)(s)),
        ("exact_match", lambda s, old: ramp(0.9, 0.65, 20, 45)(s)),
        ("greedy_exact_match", lambda s, old: ramp(0.9, 0.65, 20, 45)(s)),
    ),
    "low_start_accuracy": lambda: _ppo(
        ("exact_match", lambda s, old: ramp(0.2, 0.5)(s)),
        ("greedy_exact_match", lambda s, old: ramp(0.2, 0.5)(s)),
        ("reward_mean", lambda s, old: ramp(0.0, 2.0)(s)),
    ),
    "value_loss_oscillation": lambda: _ppo(("value_loss", after(ONSET, alternate(0.1, 2.0)))),
    "value_loss_reward_variance": lambda: _ppo(
        ("value_loss", after(ONSET, alternate(0.1, 2.0))),
        ("reward_std", after(ONSET, lambda s: 1.6)),
    ),
    "loss_unstable": lambda: _chain(
        healthy_router_sft(n=40), ("train_loss", lambda s, old: 2.0 if s % 2 else 0.3)
    ),
    "explained_variance_low": lambda: _ppo(("explained_variance", _jitter(-0.4, 0.2))),
    "entropy_collapse": lambda: _ppo(
        ("entropy", lambda s, old: old if s < ONSET else max(3.0 - 0.2 * (s - ONSET), 0.3))
    ),
    "early_degenerate_output": lambda: _grpo(
        ("repetition_rate", lambda s, old: 0.6 if s < 12 else 0.05)
    ),
    "grad_norm_explosion": lambda: _ppo(
        ("grad_norm", lambda s, old: 40.0 if s in (ONSET, ONSET + 3) else old)
    ),
    "grad_norm_high": lambda: _ppo(
        ("grad_norm", lambda s, old: ramp(0.6, 7.0, ONSET - 15, ONSET)(s) + 0.3 * (s % 3))
    ),
    "completions_truncated": lambda: _grpo(
        ("completions/clipped_ratio", after(ONSET, lambda s: 0.55))
    ),
    "completions_too_short": lambda: _grpo(("completions/mean_length", _jitter(35, 0.05))),
    "abnormal_length": lambda: _grpo(
        ("completions/mean_length", lambda s, old: ramp(100, 320)(s) * (1 + 0.03 * (s % 3)))
    ),
    "dpo_margin_slow": lambda: _chain(
        healthy_dpo(), ("rewards/margins", lambda s, old: 0.05 + 0.002 * s + 0.01 * (s % 2))
    ),
    "dpo_loss_fast_drop": lambda: _chain(
        healthy_dpo(), ("loss", lambda s, old: max(0.693 - 0.2 * s, 0.01))
    ),
    "sft_below_target": lambda: _chain(
        healthy_router_sft(), ("val_exact_match", lambda s, old: old * 0.65)
    ),
    "sft_overfitting": lambda: _chain(
        healthy_router_sft(),
        ("val_exact_match", lambda s, old: ramp(0.9, 0.7, 0, 11)(s)),
    ),
    # KL never computed (beta = 0): NaN from the first step is not a divergence.
    "metric_never_finite": lambda: _grpo(("kl", _const(float("nan")))),
    "non_finite_metrics": lambda: _ppo(
        ("value_loss", lambda s, old: float("nan") if s >= 40 else old)
    ),
}

HEALTHY: dict[str, Callable[[], Records]] = {
    "router_ppo": healthy_router_ppo,
    "grpo": healthy_grpo,
    "dpo": healthy_dpo,
    "router_sft": healthy_router_sft,
}

assert N > ONSET
