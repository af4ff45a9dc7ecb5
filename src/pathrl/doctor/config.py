"""Thresholds of the doctor's rules, with the docs/method.md section each default comes from.

Sections (the troubleshooting manual, method §9): §5.3 (collapse signature), §6.1 (golden
config), §7 (router reward), §9.1 (quick table), §9.2 (detailed table), §9.4 (flat reward at the
start), §9.5 (RLHF's five failure modes), §9.6 (GRPO log table). Where the method names a symptom
but no number, the default is a conservative practitioner's choice and says so. Thresholds added
after running the doctor on real public logs (docs/doctor.md, "Lessons from real logs") say which
log showed why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pathrl.errors import PathrlError


@dataclass
class DoctorConfig:
    """Every threshold and window of the default rule set (override any field)."""

    # --- windows -------------------------------------------------------------------------
    #: Points in a sliding window for trends, oscillations and frequencies.
    window: int = 20
    #: Consecutive points a level must hold before it counts (no alarms from single spikes).
    min_consecutive: int = 3
    #: Minimum points before "flat over the run" judgements are made.
    min_points_flat: int = 20

    # --- update size (method §9.1, §9.3: "approx_kl > 0.1 -> stop and look") -------------------
    #: approx_kl above this is a too-large policy update (method §9.1, §9.3 "watch approx_kl").
    approx_kl_max: float = 0.1
    #: ... and it is critical only when above it in at least this share of a `window`: real
    #: runs (SB3 PPO, 1,953 updates) cross 0.1 for a handful of updates and recover; that blip
    #: is a warning (`approx_kl_episode`), a sustained excess is method §9.3's "stop and look".
    approx_kl_sustained_fraction: float = 0.5
    #: ... of this many consecutive updates (live: flagged at the 5th of 5 consecutive).
    approx_kl_sustained_window: int = 10
    #: approx_kl below this with a flat reward: the policy is not moving (method §9.5).
    approx_kl_stalled: float = 1e-5
    #: clip_fraction above this: most samples hit the clip (rule of thumb for clip_range 0.1–0.2).
    clip_fraction_max: float = 0.3
    #: Mean policy ratio outside [1/x, x]: consecutive policies too far apart (TRL PPO docs).
    policy_ratio_band: float = 2.0
    #: target_kl circuit breaker firing in more than this share of updates (method §6.1).
    kl_early_stop_fraction: float = 0.5

    # --- KL to the reference (method §9.6: 0.05–0.25 safe, > 0.4 divergent) ------------------
    kl_safe_max: float = 0.25
    kl_divergent: float = 0.4
    #: KL below this is "very low" (method §9.2 names no number; a fifth of §9.6's 0.05).
    kl_low_max: float = 0.01
    #: Relative KL rise that counts as "keeps rising" (method §5.3: 0.02 -> 0.15 -> 0.35).
    kl_rise_rel: float = 1.0
    #: ... and the absolute rise it must also reach.
    kl_rise_abs: float = 0.05
    #: A KL point this many times its trailing median is a jump (method §9.6: "if KL jumps").
    kl_spike_factor: float = 3.0

    # --- reward ---------------------------------------------------------------------------
    #: Relative reward gain under which the reward counts as flat (method §9.1 "reward flat").
    reward_flat_rel_gain: float = 0.05
    #: Share of the run whose first points are the "start level" of a flat-reward check: a run
    #: that learned in its first 5% (1.9 -> 13.6) and then held its level is not flat.
    reward_flat_head_fraction: float = 0.05
    #: Relative reward rise that counts as "rising" for reward-vs-quality divergences.
    reward_rise_rel: float = 0.1
    #: Share of its gain the reward gives back, up to the end of the run, to count as "fell from
    #: its peak" (practitioner's choice: half of what was learned is lost).
    reward_gain_lost: float = 0.5
    #: Points of the trailing median that smooths the reward before peak-and-drop is judged.
    reward_smooth: int = 10
    #: The success measure gaining less than this (absolute, rates in 0..1) is "flat" next to a
    #: rising shaped reward (practitioner's choice: two points of success rate).
    success_min_gain: float = 0.02
    #: Share of the points that must show no learning signal at all (every group zero-std, zero
    #: gradient) for the run to be declared dead rather than sparse.
    no_signal_fraction: float = 0.95
    #: Consecutive points with every group zero-std *and* the reward at least
    #: `signal_lost_reward_drop` below its peak: the signal was there and the policy lost it
    #: (a collapse; a learning rate far too high kills a GRPO policy in one or two updates).
    signal_lost_points: int = 4
    signal_lost_reward_drop: float = 0.5
    #: reward_std above this: rewards fluctuate a lot (method §9.6: 0.3–0.8 normal, > 1 large).
    reward_std_max: float = 1.0
    #: frac_reward_zero_std above this: sparse gradient (method §9.6: < 0.3 means dense).
    frac_reward_zero_std_max: float = 0.3

    # --- quality (exact match / accuracy) ---------------------------------------------------
    #: Quality this far below its peak: "worse the longer it trains" (method §9.1).
    quality_drop_rel: float = 0.2
    #: Quality this far below its peak together with a KL blow-up: policy collapse
    #: (method §5.3: accuracy 97% -> 15% -> 8%).
    collapse_drop_rel: float = 0.5
    #: Relative fall of exact match / eval that counts as "falling" in divergences.
    quality_fall_rel: float = 0.1
    #: RL should start from a high point (method §9.4: "Acc ~80%/90%"); below this it did not.
    low_start_accuracy: float = 0.5
    #: A flat reward is harmless when the run started at or above this accuracy (method §9.4).
    high_start_accuracy: float = 0.8
    #: SFT should reach this before PPO (method §5.1: "bring accuracy to ~80%+ with SFT").
    sft_target_accuracy: float = 0.8
    #: test − deployment quality gap that counts as "test good, deployment bad" (method §9.2).
    deploy_gap: float = 0.1

    # --- router reward hacking (method §7.4, §9.1 "Via all null") -----------------------------
    #: Predicted Via-null rate minus label rate above this: the router over-predicts null.
    via_null_gap: float = 0.15
    #: Predicted Via-null rate at or above this while labels are not: "Via all null".
    via_all_null: float = 0.95

    # --- critic (method §9.1 "value loss oscillating", §9.5) ----------------------------------
    #: A value-loss jump larger than this multiple of its median level is a swing.
    value_swing_ratio: float = 1.0
    #: ... and it must also multiply or divide the value loss by this factor: healthy SB3 PPO
    #: value losses wobble 0.02 <-> 0.13 (about their whole level, up to ~6×) from batch to
    #: batch; method §5.3's oscillation is 0.1 <-> 2–3 (20–30×).
    value_swing_fold: float = 8.0
    #: Alternating swings within `window` that make an oscillation (a single spike makes 2).
    min_swings: int = 5
    #: Explained variance below this in the second half of the run: the critic does not learn.
    explained_variance_min: float = 0.0

    # --- entropy (method §9.2 "entropy falls fast"; §9.5 "output homogeneous") -----------------
    #: Relative entropy drop within `window` points that counts as a collapse.
    entropy_drop_rel: float = 0.6

    # --- gradients (method §9.6: grad_norm <= 1 stable, > 5 needs clipping) -------------------
    grad_norm_max: float = 5.0
    #: A grad_norm this many times its trailing median is an explosion (method §9.2).
    grad_norm_spike_factor: float = 10.0

    # --- generation (method §9.6 GRPO table; §9.2 "abnormal length") ---------------------------
    #: completions/clipped_ratio above this: max_completion_length too short (method §9.6: > 0.4).
    clipped_ratio_max: float = 0.4
    #: Mean completion length below this many tokens: too short to reason (method §9.6: < 50).
    completion_min_length: float = 50.0
    #: Relative length change over the run that counts as drift (method §9.2 length bias).
    length_drift_rel: float = 1.0
    #: Share of repetitive completions that counts as degenerate output (method §9.2).
    repetition_max: float = 0.3

    # --- DPO (method §9.2, last two rows) ------------------------------------------------------
    #: rewards/margins gaining less than this over the run: margin grows slowly (beta too high).
    dpo_margin_min_gain: float = 0.5
    #: DPO loss (starts at ln 2 = 0.693) below this early in the run: it drops too fast.
    dpo_loss_floor: float = 0.1

    #: Rule ids to switch off.
    disabled: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> DoctorConfig:
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise PathrlError(
                f"unknown doctor config keys: {', '.join(unknown)}; known: {', '.join(known)}"
            )
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key == "disabled":
                if value is not None and (not isinstance(value, list)
                                          or not all(isinstance(v, str) for v in value)):
                    raise PathrlError(f"doctor config: disabled must be a list of rule ids, "
                                      f"got {value!r:.60}")
                values[key] = frozenset(value or ())
                continue
            values[key] = _number(key, value, isinstance(getattr(cls, key, None), int))
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path) -> DoctorConfig:
        import yaml

        path = Path(path)
        if not path.is_file():
            raise PathrlError(f"doctor config not found: {path}")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except UnicodeDecodeError:
            raise PathrlError(f"{path}: not a text file (a doctor config is YAML)") from None
        except yaml.MarkedYAMLError as exc:  # one line: where, then what
            mark = exc.problem_mark
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            what = " ".join(str(part) for part in (exc.context, exc.problem) if part)
            raise PathrlError(f"{path}: not valid YAML{where}: {what}") from None
        except yaml.YAMLError as exc:
            raise PathrlError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
        if not isinstance(data, dict):
            raise PathrlError(f"{path}: expected a mapping of threshold names to values")
        return cls.from_mapping(data)


def _number(key: str, value: Any, wants_int: bool) -> int | float:
    """A threshold value. Numeric strings count (PyYAML reads `1e-3` as a string); words,
    booleans, lists and fractional windows are refused with the key named."""
    kind = "an integer" if wants_int else "a number"
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None or math.isnan(number) or (wants_int and not number.is_integer()):
        raise PathrlError(f"doctor config: {key} must be {kind}, got {value!r:.60}")
    return int(number) if wants_int else number
