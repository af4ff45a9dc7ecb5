"""Canonical signals: one name per quantity, whatever the trainer that logged it.

Rules speak only canonical names (``kl``, ``approx_kl``, ``value_loss`` ...). A log's raw metric
names are mapped onto them through :data:`SIGNAL_ALIASES` (first alias present wins), so one rule
covers pathrl's router trainers, stable-baselines3 and TRL (GRPO / PPO / DPO) alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

import numpy as np

from pathrl.errors import PathrlError


@dataclass(frozen=True)
class Alias:
    """A raw metric name and the factor that turns its value into the canonical signal.

    A name with `*` is a glob (TRL's per-function `rewards/<fn>/mean`); the first matching raw
    name in sorted order wins, so the choice is reproducible.
    """

    name: str
    scale: float = 1.0

    @property
    def is_glob(self) -> bool:
        return "*" in self.name


def _aliases(*names: str | Alias) -> tuple[Alias, ...]:
    return tuple(n if isinstance(n, Alias) else Alias(n) for n in names)


# Canonical signal -> raw names, in order of preference. `train/` prefixes written by W&B / HF
# Trainer exports are also tried stripped (see `_lookup`).
SIGNAL_ALIASES: dict[str, tuple[Alias, ...]] = {
    # Per-update KL between the rollout policy and the updated policy (PPO's step size).
    "approx_kl": _aliases(
        "approx_kl", "train/approx_kl", "policy/approxkl_avg", "approxkl", "actor/ppo_kl"
    ),
    # Per-token KL from the current policy to the frozen reference (SFT) policy: the unit of the
    # seed-002 bands (0.05–0.25 safe, > 0.4 divergent). verl's `actor/kl_loss` is per token.
    "kl": _aliases("kl_to_ref", "kl", "kl_ref", "train/kl", "actor/kl_loss"),
    # TRL PPO's `objective/kl` is summed over the response tokens (old and new PPOTrainer alike):
    # tens of nats on a healthy run, so it gets its own signal and only unit-free rules.
    "kl_sequence": _aliases("objective/kl", "actor/reward_kl_penalty"),
    "kl_coef": _aliases("kl_coef", "beta", "objective/kl_coef", "actor/kl_coef"),
    "reward": _aliases(
        "reward_mean",
        "reward",
        "rollout/ep_rew_mean",
        "env/reward_mean",
        "objective/scores",
        "objective/rlhf_reward",
        "ep_rew_mean",
        "rewards/mean",
        # verl: the task score before the KL penalty, then the penalised reward.
        "critic/score/mean",
        "critic/rewards/mean",
        # SB3 Monitor CSV, smoothed by the reader over 100 episodes like rollout/ep_rew_mean.
        "monitor/ep_rew_mean",
    ),
    "reward_std": _aliases(
        "reward_std", "env/reward_std", "objective/scores_std", "rewards/std", "critic/score/std"
    ),
    # The task's real success measure, next to a shaped reward that may be farmed: SB3's
    # success rate, TRL's per-function accuracy / correctness reward.
    "success": _aliases(
        "rollout/success_rate",
        "success_rate",
        "eval/success_rate",
        "rewards/accuracy_reward/mean",
        "rewards/*accuracy*/mean",
        "rewards/*correct*/mean",
        "rewards/accuracy_reward",
        "rewards/*accuracy*",
        "rewards/*correct*",
    ),
    # TRL PPO: the KL-penalty part of the reward (-beta * KL, summed over the sequence).
    "non_score_reward": _aliases("objective/non_score_reward"),
    "frac_reward_zero_std": _aliases("frac_reward_zero_std"),
    # Accuracy of the sampled routes in the training batch (router PPO).
    "exact_match": _aliases("exact_match", "train/exact_match"),
    # Held-out accuracy: the quality signal rules trust most.
    "eval_exact_match": _aliases(
        "greedy_exact_match",
        "val_exact_match",
        "eval/exact_match",
        "eval_exact_match",
        "eval/accuracy",
        "eval_accuracy",
        "test/accuracy",
    ),
    # Human / judge evaluation (method §9.2: "reward up but human eval down").
    "eval_score": _aliases(
        "human_eval", "eval/human_score", "human_score", "eval/win_rate", "win_rate", "eval/score"
    ),
    # Quality measured in deployment (method §9.2: "test good but deployment bad").
    "deploy_score": _aliases(
        "deploy_score", "deploy/accuracy", "online/accuracy", "prod/accuracy", "online_accuracy"
    ),
    "value_loss": _aliases(
        "value_loss", "train/value_loss", "loss/value_avg", "vf_loss", "critic/vf_loss"
    ),
    "policy_loss": _aliases(
        "policy_loss", "train/policy_gradient_loss", "loss/policy_avg", "actor/pg_loss"
    ),
    "loss": _aliases("loss", "train/loss", "train_loss"),
    "eval_loss": _aliases("eval_loss", "eval/loss"),
    # SB3 logs the entropy *loss* (= -entropy), hence the scale.
    "entropy": _aliases(
        "entropy",
        "policy/entropy_avg",
        "objective/entropy",
        "train/entropy",
        "actor/entropy",
        Alias("train/entropy_loss", -1.0),
        Alias("entropy_loss", -1.0),
    ),
    "grad_norm": _aliases("grad_norm", "train/grad_norm", "gradient_norm", "actor/grad_norm"),
    # TRL GRPO logs the clipped share per side; the region mean is both sides together.
    "clip_fraction": _aliases(
        "clip_fraction",
        "train/clip_fraction",
        "policy/clipfrac_avg",
        "clip_ratio/region_mean",
        "clip_ratio",
        "actor/pg_clipfrac",
    ),
    "clip_fraction_low": _aliases("clip_ratio/low_mean"),
    "clip_fraction_high": _aliases("clip_ratio/high_mean"),
    "explained_variance": _aliases(
        "explained_variance", "train/explained_variance", "critic/vf_explained_var"
    ),
    "policy_ratio": _aliases("val/ratio", "policy_ratio", "ratio_mean"),
    "lr": _aliases("lr", "learning_rate", "train/learning_rate"),
    "via_null_rate_pred": _aliases("via_null_rate_pred"),
    "via_null_rate_label": _aliases("via_null_rate_label"),
    "kl_early_stop": _aliases("kl_early_stop"),
    "completion_length": _aliases(
        "completions/mean_length",
        "completion_length",
        "tokens/responses_len_mean",
        "response_length/mean",
    ),
    # Mean length of the completions that ended on EOS (the truncated ones left out).
    "terminated_length": _aliases("completions/mean_terminated_length"),
    "clipped_ratio": _aliases(
        "completions/clipped_ratio", "completions/clip_ratio", "response_length/clip_ratio"
    ),
    "repetition": _aliases("repetition_rate", "completions/repetition_rate", "rep_rate"),
    "dpo_margin": _aliases("rewards/margins"),
    "dpo_accuracy": _aliases("rewards/accuracies"),
}

SIGNAL_DESCRIPTIONS: dict[str, str] = {
    "approx_kl": "KL between rollout and updated policy per PPO update (step size)",
    "kl": "per-token KL from the current policy to the frozen reference policy",
    "kl_sequence": "KL to the reference summed over the response (TRL PPO objective/kl)",
    "kl_coef": "coefficient (beta) of the KL penalty",
    "reward": "mean reward of the rollout batch",
    "reward_std": "standard deviation of the reward in the batch",
    "success": "the task's real success measure (success rate, accuracy reward)",
    "non_score_reward": "KL-penalty part of the reward (TRL PPO)",
    "frac_reward_zero_std": "fraction of GRPO groups whose rewards are all equal",
    "exact_match": "exact match of the sampled routes (training batch)",
    "eval_exact_match": "held-out exact match / accuracy",
    "eval_score": "human or judge evaluation score",
    "deploy_score": "quality measured in deployment",
    "value_loss": "critic (value head) loss",
    "policy_loss": "clipped surrogate loss",
    "loss": "total training loss",
    "eval_loss": "held-out loss",
    "entropy": "policy entropy",
    "grad_norm": "global gradient norm before clipping",
    "clip_fraction": "fraction of samples whose ratio was clipped",
    "clip_fraction_low": "fraction clipped at 1 - epsilon (TRL GRPO)",
    "clip_fraction_high": "fraction clipped at 1 + epsilon (TRL GRPO)",
    "explained_variance": "explained variance of the value head",
    "policy_ratio": "mean policy ratio new/old",
    "lr": "learning rate",
    "via_null_rate_pred": "fraction of predicted routes with an empty Via",
    "via_null_rate_label": "fraction of labels with an empty Via",
    "kl_early_stop": "1 when the target_kl circuit breaker stopped the update",
    "completion_length": "mean completion length in tokens",
    "terminated_length": "mean length of the completions that ended on EOS",
    "clipped_ratio": "fraction of completions truncated at max_completion_length",
    "repetition": "fraction of repetitive completions",
    "dpo_margin": "DPO reward margin chosen - rejected",
    "dpo_accuracy": "DPO preference accuracy",
}

STEP_KEYS: tuple[str, ...] = (
    "step",
    "global_step",
    "_step",
    # LLaMA-Factory's trainer_log.jsonl (ahead of its fractional `epoch`).
    "current_steps",
    "update",
    "iteration",
    "epoch",
    # TRL PPO counts episodes; verl logs `training/global_step`.
    "episode",
    "training/global_step",
    "time/total_timesteps",
    "timesteps",
)

# Which trainer wrote a log, guessed from names only that trainer writes. Some rules only make
# sense for one family (GRPO's loss is *meant* to wobble, method §9.6).
FLAVOR_MARKERS: dict[str, tuple[str, ...]] = {
    "router_ppo": ("via_null_rate_pred", "kl_to_ref", "reward/exact", "greedy_exact_match"),
    "router_sft": ("val_exact_match", "val_via_accuracy"),
    "trl_grpo": ("frac_reward_zero_std", "completions/mean_length", "completion_length"),
    "trl_dpo": ("rewards/margins", "rewards/chosen"),
    # ORPO logs DPO's names too, but its rewards are beta × mean log-prob: margins of ~0.003
    # on a run whose preference accuracy climbs 0.46 -> 0.76.
    "trl_orpo": ("log_odds_ratio", "log_odds_chosen", "odds_ratio_loss"),
    "trl_ppo": ("objective/kl", "policy/approxkl_avg", "val/ratio"),
    "sb3": ("train/approx_kl", "rollout/ep_rew_mean", "train/value_loss", "monitor/r"),
    "verl": ("actor/ppo_kl", "critic/score/mean", "actor/pg_loss", "response_length/clip_ratio"),
}

# Flavors that need several names together. HF Trainer (`trainer_state.json`, TRL's trainers)
# logs `grad_norm` *before* clipping to max_grad_norm (default 1.0).
FLAVOR_ALL_MARKERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "hf_trainer": (("epoch", "learning_rate", "grad_norm"), ("total_flos",), ("train_runtime",)),
}


@dataclass
class Series:
    """One signal over time: steps ascending, values may contain NaN/inf (kept for the rules)."""

    name: str
    raw_name: str
    steps: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.steps)

    def finite(self) -> Series:
        """The same series without its non-finite points."""
        mask = np.isfinite(self.values)
        return Series(self.name, self.raw_name, self.steps[mask], self.values[mask])


@dataclass
class RunLog:
    """A run's metrics as canonical signals, plus where they came from."""

    source: str
    signals: dict[str, Series]
    raw_names: list[str]
    flavors: frozenset[str] = frozenset()
    notes: list[str] = field(default_factory=list)

    def has(self, name: str) -> bool:
        return name in self.signals and len(self.signals[name]) > 0

    def get(self, name: str) -> Series | None:
        return self.signals.get(name)

    def resolve(self, ref: SignalRef) -> Series | None:
        """The first present signal of `ref` (one name or alternatives in preference order)."""
        for name in (ref,) if isinstance(ref, str) else ref:
            series = self.signals.get(name)
            if series is not None and len(series.finite()) > 0:
                return series
        return None

    @property
    def n_points(self) -> int:
        return max((len(s) for s in self.signals.values()), default=0)


SignalRef = str | tuple[str, ...]


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """Parse `RAW=SIGNAL` strings (CLI `--map`) into a raw-name -> canonical-signal dict."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        raw, sep, canonical = pair.partition("=")
        if not sep or not raw.strip() or not canonical.strip():
            raise PathrlError(f"--map expects RAW=SIGNAL, got {pair!r}")
        canonical = canonical.strip()
        if canonical not in SIGNAL_ALIASES:
            known = ", ".join(sorted(SIGNAL_ALIASES))
            raise PathrlError(f"unknown signal {canonical!r} in --map; known signals: {known}")
        mapping[raw.strip()] = canonical
    return mapping


def _lookup(
    raw_columns: Mapping[str, object], aliases: Sequence[Alias]
) -> tuple[str, float] | None:
    for alias in aliases:
        if alias.is_glob:
            matches = sorted(n for n in raw_columns if fnmatchcase(n, alias.name))
            if matches:
                return matches[0], alias.scale
        elif alias.name in raw_columns:
            return alias.name, alias.scale
    # W&B / HF Trainer exports prefix everything with `train/`.
    for alias in aliases:
        prefixed = f"train/{alias.name}"
        if not alias.name.startswith("train/") and prefixed in raw_columns:
            return prefixed, alias.scale
    return None


def detect_flavors(raw_names: Iterable[str]) -> frozenset[str]:
    names = set(raw_names)
    names |= {n.removeprefix("train/") for n in names}
    found = {f for f, markers in FLAVOR_MARKERS.items() if names & set(markers)}
    found |= {
        flavor
        for flavor, groups in FLAVOR_ALL_MARKERS.items()
        if any(set(group) <= names for group in groups)
    }
    return frozenset(found)


def build_run_log(
    columns: Mapping[str, Sequence[tuple[float, float]]],
    source: str,
    extra_aliases: Mapping[str, str] | None = None,
    notes: Sequence[str] = (),
    flavor_hints: frozenset[str] = frozenset(),
) -> RunLog:
    """Map raw columns (name -> [(step, value)]) onto canonical signals.

    `extra_aliases` (raw name -> canonical) take precedence over the built-in table.
    """
    signals: dict[str, Series] = {}
    explicit = dict(extra_aliases or {})
    for raw, canonical in explicit.items():
        if raw in columns:
            signals[canonical] = _to_series(canonical, raw, columns[raw], 1.0)
    for canonical, aliases in SIGNAL_ALIASES.items():
        if canonical in signals:
            continue
        found = _lookup(columns, aliases)
        if found is not None:
            raw, scale = found
            signals[canonical] = _to_series(canonical, raw, columns[raw], scale)
    signals = {k: v for k, v in signals.items() if len(v) > 0}
    return RunLog(
        source=source,
        signals=signals,
        raw_names=sorted(columns),
        flavors=detect_flavors(columns) | flavor_hints,
        notes=list(notes),
    )


def _to_series(
    canonical: str, raw: str, points: Sequence[tuple[float, float]], scale: float
) -> Series:
    data = np.asarray(points, dtype=float).reshape(-1, 2)
    # Keep the last value when a step repeats (TensorBoard restarts, resumed runs): np.unique
    # returns the first occurrence, so search the reversed array.
    reversed_steps = data[::-1, 0]
    steps, first_in_reversed = np.unique(reversed_steps, return_index=True)
    values = data[::-1, 1][first_in_reversed] * scale
    return Series(canonical, raw, steps, values)
