"""The rule catalog: the troubleshooting manual of docs/method.md §9 as data.

A :class:`Rule` is a pattern over canonical signals plus what a practitioner would say about it:
diagnosis, probable causes (most likely first), fixes (parameter names and directions) and the
docs/method.md section it comes from. :func:`build_rules` instantiates the catalog for a
:class:`~pathrl.doctor.config.DoctorConfig`; `docs/doctor.md` is generated from the same data
(:func:`rules_markdown`), so the documentation cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pathrl.doctor.config import DoctorConfig
from pathrl.doctor.findings import Severity
from pathrl.doctor.patterns import (
    AllOf,
    AnyOf,
    Concurrent,
    Constant,
    DropFromPeak,
    EdgeLevel,
    Frequency,
    GainLost,
    Gap,
    Level,
    NonFinite,
    NoProgress,
    Oscillation,
    Pattern,
    Spike,
    Trend,
)
from pathrl.doctor.signals import RunLog

# Quality signals in order of trust: held-out accuracy, then training-batch accuracy.
QUALITY = ("eval_exact_match", "exact_match", "eval_score")
ACCURACY = ("eval_exact_match", "exact_match")
# A whole-run trend (window 0 = the whole series).
WHOLE_RUN = 0
# KL to the reference in either unit: per token (TRL GRPO, router) or summed over the response
# (TRL PPO). Only unit-free patterns (relative trends) may read the summed one.
KL_ANY_UNIT = ("kl", "kl_sequence")
# The task's real success measure, most trusted first.
SUCCESS = ("success", "eval_exact_match", "exact_match")

# The golden config (method §6.1), the standard cure for an unstable router PPO.
GOLDEN_CONFIG_FIXES = (
    "lower learning_rate 3e-4 -> 1e-6…5e-6 (PPO an order below SFT), with cosine decay",
    "lower vf_coef 0.5 -> 0.01…0.1 so the critic cannot drag the shared backbone",
    "lower clip_range 0.2 -> 0.1…0.15",
    "tighten target_kl 0.1 -> 0.02…0.05 (circuit breaker)",
    "reduce n_epochs 10 -> 2…4",
    "freeze the first ~10 backbone layers; use a larger batch (gradient accumulation)",
)


@dataclass(frozen=True)
class Rule:
    """A symptom pattern and the practitioner's reading of it."""

    id: str
    title: str
    severity: Severity
    pattern: Pattern
    diagnosis: str
    causes: tuple[str, ...]
    fixes: tuple[str, ...]
    source: str
    #: Only check logs of these trainer families (see signals.FLAVOR_MARKERS); None = all.
    flavors: frozenset[str] | None = None
    #: Never check logs of these families (e.g. GRPO's loss is meant to wobble).
    exclude_flavors: frozenset[str] = field(default_factory=frozenset)
    #: Rules whose findings this one replaces when both fire (the more specific wins).
    supersedes: tuple[str, ...] = ()

    def applies_to(self, log: RunLog) -> bool:
        if self.flavors is not None and not (self.flavors & log.flavors):
            return False
        if self.exclude_flavors & log.flavors:
            return False
        return self.pattern.applicable(log)

    def signal_names(self) -> list[str]:
        refs = self.pattern.required_signals()
        return [r if isinstance(r, str) else " | ".join(r) for r in refs]


def build_rules(config: DoctorConfig | None = None) -> list[Rule]:
    """The default rule set for `config` (default thresholds when None), minus disabled ids."""
    c = config or DoctorConfig()
    rules = [
        *_update_size_rules(c),
        *_kl_rules(c),
        *_reward_rules(c),
        *_quality_rules(c),
        *_router_rules(c),
        *_critic_rules(c),
        *_entropy_and_gradient_rules(c),
        *_generation_rules(c),
        *_dpo_rules(c),
        *_sft_rules(c),
        *_non_finite_rules(),
    ]
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids)), "rule ids must be unique"
    return [r for r in rules if r.id not in c.disabled]


def _update_size_rules(c: DoctorConfig) -> list[Rule]:
    return [
        Rule(
            id="approx_kl_high",
            title="approx_kl above threshold: updates too large",
            severity="critical",
            pattern=AllOf(
                required=[
                    Level("approx_kl", ">", c.approx_kl_max, c.min_consecutive),
                    Frequency(
                        "approx_kl",
                        ">",
                        c.approx_kl_max,
                        c.approx_kl_sustained_fraction,
                        c.approx_kl_sustained_window,
                        min_points=c.approx_kl_sustained_window,
                    ),
                ]
            ),
            diagnosis=(
                f"Each PPO update moves the policy too far: approx_kl stays above "
                f"{c.approx_kl_max:g} in at least {c.approx_kl_sustained_fraction:.0%} of "
                f"{c.approx_kl_sustained_window} consecutive updates. If you watch one "
                f"metric, watch approx_kl; above {c.approx_kl_max:g}, stop and look."
            ),
            causes=(
                "learning_rate too high for fine-tuning a pretrained policy",
                "clip_range too wide",
                "no target_kl circuit breaker, or one set too loose",
                "too many n_epochs over the same rollout batch",
            ),
            fixes=(
                "stop the bleeding first: pause and roll back to the last good checkpoint",
                "lower learning_rate (PPO ~10× below SFT: 1e-6…5e-6)",
                "lower clip_range to 0.1…0.15",
                "tighten target_kl to 0.02…0.05",
                "reduce n_epochs to 2…4",
            ),
            source="docs/method.md §9.1 (quick table, row 1), §9.3 'watch approx_kl', §6.1",
            supersedes=("approx_kl_episode",),
        ),
        Rule(
            id="approx_kl_episode",
            title="approx_kl briefly above threshold",
            severity="warning",
            pattern=Level("approx_kl", ">", c.approx_kl_max, c.min_consecutive),
            diagnosis=(
                f"approx_kl went above {c.approx_kl_max:g} for a few consecutive updates and came "
                "back: one stretch of large updates, not a sustained excess. Look at what happened "
                "there (a learning-rate warmup peak, an outlier batch)."
            ),
            causes=(
                "learning_rate peak (warmup end) or an outlier rollout batch",
                "no target_kl circuit breaker",
            ),
            fixes=(
                "set target_kl 0.02…0.05 so such updates stop early",
                "if it recurs: lower learning_rate or clip_range",
            ),
            source="docs/method.md §9.1 row 1 (threshold 0.1); brief episodes: real SB3 PPO logs",
        ),
        Rule(
            id="clip_fraction_high",
            title="clip fraction high",
            severity="warning",
            pattern=Level("clip_fraction", ">", c.clip_fraction_max, c.min_consecutive),
            diagnosis=(
                f"More than {c.clip_fraction_max:.0%} of the samples hit the PPO clip: the "
                "surrogate is mostly clipped, updates are at the edge of the trust region."
            ),
            causes=("learning_rate too high", "too many n_epochs per batch", "batch too small"),
            fixes=(
                "lower learning_rate",
                "reduce n_epochs to 2…4",
                "tighten target_kl to 0.02…0.05",
                "increase the batch size",
            ),
            source=(
                "docs/method.md §9.5 (monitor clip fraction); "
                "threshold: practitioner rule of thumb"
            ),
        ),
        Rule(
            id="policy_ratio_drift",
            title="policy ratio far from 1",
            severity="warning",
            pattern=AnyOf(
                [
                    Level("policy_ratio", ">", c.policy_ratio_band, c.min_consecutive),
                    Level("policy_ratio", "<", 1 / c.policy_ratio_band, c.min_consecutive),
                ]
            ),
            diagnosis=(
                "The mean new/old policy ratio leaves "
                f"[{1 / c.policy_ratio_band:g}, {c.policy_ratio_band:g}]: consecutive policies "
                "are too far apart for the clipped objective to be meaningful."
            ),
            causes=(
                "old log-probs recomputed instead of stored at rollout time",
                "rollouts sampled in train mode (dropout) or with changing temperature/top-p",
                "learning_rate too high",
            ),
            fixes=(
                "store old log-probs at rollout time; sample in eval mode with fixed temperature",
                "lower learning_rate; reduce n_epochs",
            ),
            source="docs/method.md §10.4; band: TRL PPO logging docs (val/ratio)",
        ),
        Rule(
            id="kl_early_stop_frequent",
            title="target_kl circuit breaker trips on most updates",
            severity="warning",
            pattern=Frequency(
                "kl_early_stop", ">", 0.5, c.kl_early_stop_fraction, c.window, c.window // 2
            ),
            diagnosis=(
                "The target_kl circuit breaker stops most updates early: the breaker is doing the "
                "job the step size should do."
            ),
            causes=("learning_rate too high", "n_epochs too many", "target_kl too tight"),
            fixes=(
                "lower learning_rate so updates stay under target_kl on their own",
                "reduce n_epochs to 2…4",
                "only if updates are otherwise healthy: relax target_kl within 0.02…0.05",
            ),
            source="docs/method.md §6.1 (target_kl as a circuit breaker)",
        ),
        Rule(
            id="policy_not_moving",
            title="training does not move",
            severity="warning",
            pattern=AllOf(
                required=[
                    EdgeLevel("approx_kl", "<", c.approx_kl_stalled, at="end", points=5),
                    _reward_no_progress(c),
                ],
                gates=[
                    EdgeLevel(ACCURACY, "<", c.high_start_accuracy, at="start"),
                    # Every group zero-std: the advantage, not the KL penalty, holds it still.
                    EdgeLevel(
                        "frac_reward_zero_std",
                        "<",
                        c.frac_reward_zero_std_max,
                        at="end",
                        points=c.window,
                    ),
                ],
            ),
            diagnosis=(
                "The policy barely changes between updates and the reward does not improve: "
                "training is standing still."
            ),
            causes=(
                "KL coefficient beta far too high: the penalty pins the policy to the reference",
                "learning_rate ~0 (schedule bug) or all trainable layers frozen",
                "gradients do not reach the policy heads",
            ),
            fixes=(
                "lower kl_coef / beta (adaptive control: multiplicative, smooth)",
                "check the lr schedule and the set of trainable parameters",
            ),
            source="docs/method.md §9.5 ('training does not move: beta too high')",
        ),
    ]


def _reward_no_progress(c: DoctorConfig) -> NoProgress:
    return NoProgress(
        "reward",
        c.min_points_flat,
        min_rel_gain=c.reward_flat_rel_gain,
        head_fraction=c.reward_flat_head_fraction,
    )


def _kl_rules(c: DoctorConfig) -> list[Rule]:
    kl_rising = Trend(
        KL_ANY_UNIT, "up", c.window, min_abs_change=c.kl_rise_abs, min_rel_change=c.kl_rise_rel
    )
    return [
        Rule(
            id="kl_divergent",
            title="KL to reference divergent",
            severity="critical",
            pattern=Level("kl", ">", c.kl_divergent, c.min_consecutive),
            diagnosis=(
                f"Per-token KL to the reference policy is above {c.kl_divergent:g}: the policy "
                "has left the region where the reward (and the language) can be trusted; "
                "training may diverge."
            ),
            causes=(
                "KL penalty beta too low or missing",
                "learning_rate too high",
                "reward hacking pulls the policy away",
            ),
            fixes=(
                "stop and roll back to the last checkpoint with KL in 0.05…0.25",
                "raise kl_coef / beta (or use an adaptive KL controller)",
                "lower learning_rate",
            ),
            source="docs/method.md §9.6 GRPO log table (kl: 0.05–0.25 safe, > 0.4 may diverge)",
            supersedes=("kl_above_safe", "kl_spike"),
        ),
        Rule(
            id="kl_above_safe",
            title="KL to reference above the safe band",
            severity="warning",
            pattern=Level("kl", ">", c.kl_safe_max, c.min_consecutive),
            diagnosis=f"KL to the reference policy is above the safe band (≤ {c.kl_safe_max:g}).",
            causes=("KL penalty beta too low", "learning_rate too high"),
            fixes=("raise kl_coef / beta", "lower learning_rate"),
            source="docs/method.md §9.6 GRPO log table (kl 0.05–0.25 safe) and notes (kl < 0.3)",
        ),
        Rule(
            id="kl_rising",
            title="KL keeps rising",
            severity="warning",
            pattern=kl_rising,
            diagnosis=(
                "KL to the reference keeps rising: the policy drifts further from the reference "
                "every update (method §5.3's collapse went 0.02 -> 0.15 -> 0.35)."
            ),
            causes=("KL penalty beta too low", "learning_rate too high"),
            fixes=("raise kl_coef / beta", "lower learning_rate", "tighten target_kl"),
            source="docs/method.md §9.5 ('KL keeps rising'), §5.3",
        ),
        Rule(
            id="kl_spike",
            title="KL jumps",
            severity="warning",
            pattern=Spike("kl", c.kl_spike_factor, min_value=0.1, min_count=2, window=c.window),
            diagnosis=(
                "KL to the reference jumps suddenly, repeatedly: single updates move the policy "
                "a lot."
            ),
            causes=("learning_rate too high", "KL penalty beta too low", "outlier batches"),
            fixes=("lower learning_rate", "raise kl_coef / beta", "enable gradient clipping"),
            source="docs/method.md §9.6 notes ('if KL jumps, lower the learning rate / beta')",
        ),
        Rule(
            id="reward_up_kl_exploding",
            title="reward up while KL explodes",
            severity="critical",
            pattern=AllOf(
                required=[
                    Level("kl", ">", c.kl_safe_max, c.min_consecutive),
                    kl_rising,
                    Trend("reward", "up", c.window, min_rel_change=c.reward_rise_rel),
                ]
            ),
            diagnosis=(
                "Reward rises while KL to the reference explodes: the policy buys reward by "
                "leaving the reference distribution (over-optimisation / reward hacking)."
            ),
            causes=("KL penalty coefficient too low, or no KL penalty at all",),
            fixes=(
                "add / raise the KL penalty (kl_coef / beta); start around 0.001 and tune up",
                "use adaptive KL control towards a target KL",
                "lower learning_rate",
            ),
            source="docs/method.md §9.2 (detailed table, 'reward up + KL explodes')",
            supersedes=("kl_rising", "kl_above_safe"),
        ),
        Rule(
            id="kl_low_reward_flat",
            title="KL very low and reward flat",
            severity="warning",
            pattern=AllOf(
                required=[
                    EdgeLevel("kl", "<", c.kl_low_max, at="end", points=5),
                    _reward_no_progress(c),
                ],
                gates=[
                    EdgeLevel(ACCURACY, "<", c.high_start_accuracy, at="start"),
                    # Every group zero-std: the advantage, not the KL penalty, holds it still.
                    EdgeLevel(
                        "frac_reward_zero_std",
                        "<",
                        c.frac_reward_zero_std_max,
                        at="end",
                        points=c.window,
                    ),
                ],
            ),
            diagnosis=(
                "KL to the reference stays tiny and the reward does not rise: the policy is held "
                "too tightly to the reference to learn."
            ),
            causes=(
                "KL penalty too strong (kl_coef / beta too high)",
                "learning_rate too low",
            ),
            fixes=("lower kl_coef / beta", "check learning_rate (and its schedule)"),
            source="docs/method.md §9.2 ('KL very low + reward flat'), §9.5",
            supersedes=("reward_flat", "policy_not_moving"),
        ),
    ]


def _no_learning_signal(c: DoctorConfig) -> Rule:
    # Judged over at least `min_points_flat` logged steps: a hard task can give all-zero-std
    # groups for the first few steps of a healthy GRPO run, and live this rule stops training.
    n = c.min_points_flat
    every_group_zero_std = Frequency(
        "frac_reward_zero_std", ">", 0.999, c.no_signal_fraction, WHOLE_RUN, min_points=n
    )
    zero_gradient = Frequency("grad_norm", "<", 1e-12, c.no_signal_fraction, WHOLE_RUN, n)
    constant_reward_and_loss = AllOf(
        required=[Constant("reward", min_points=n), Constant("loss", min_points=n)]
    )
    symptoms = [every_group_zero_std, zero_gradient, constant_reward_and_loss]
    return Rule(
        id="no_learning_signal",
        title="no learning signal at all",
        severity="critical",
        pattern=AnyOf(
            [
                AllOf(required=[s], supporting=[o for o in symptoms if o is not s])
                for s in symptoms
            ]
        ),
        diagnosis=(
            "There is nothing to learn from: every group has identical rewards (zero advantage), "
            "the gradient is zero, or reward and loss never change. The optimiser steps are "
            "no-ops; a low KL or a flat reward here is a consequence, not a tuning problem."
        ),
        causes=(
            "the reward function returns the same value for every completion (a parsing or "
            "format bug, the wrong dataset column, an answer key that never matches)",
            "the task is far too hard (all fail) or too easy (all succeed) for the policy",
            "num_generations = 1 or temperature 0: groups of identical completions",
            "no trainable parameters reach the loss (frozen model, LoRA not attached)",
        ),
        fixes=(
            "print a few completions with their rewards: check the reward function by hand",
            "check that the reward varies within a group (num_generations ≥ 2, temperature ~1)",
            "check the trainable parameter count and that the loss has a grad_fn",
            "pick prompts the policy solves sometimes (curriculum), add partial credit",
        ),
        source="docs/method.md §9.6 (frac_reward_zero_std, grad_norm); real TRL GRPO logs",
        supersedes=(
            "reward_flat",
            "kl_low_reward_flat",
            "policy_not_moving",
            "frac_reward_zero_std_high",
            "loss_unstable",
        ),
    )


def _learning_signal_lost(c: DoctorConfig) -> Rule:
    # Both at once: all-zero-std groups alone are a hard or easy batch, a reward drop alone
    # is noise or a harder curriculum; a reward that fell from its peak and left no group
    # with different rewards is a policy that stopped producing anything the reward tells apart.
    n = c.signal_lost_points
    return Rule(
        id="learning_signal_lost",
        title="the policy collapsed: reward fell and the learning signal vanished",
        severity="critical",
        pattern=AllOf(
            required=[
                Level("frac_reward_zero_std", ">", 0.999, min_consecutive=n),
                DropFromPeak("reward", min_rel_drop=c.signal_lost_reward_drop,
                             min_consecutive=n, smooth=1, min_points=n + 1),
            ],
            supporting=[
                Trend("entropy", "down", c.window, min_rel_change=c.entropy_drop_rel,
                      min_points=n + 1),
                Level("completions/clipped_ratio", ">", 0.4, min_consecutive=n),
                Level("approx_kl", ">", 1.0, min_consecutive=1),
            ],
        ),
        diagnosis=(
            f"After a start with a learning signal, the reward fell at least "
            f"{c.signal_lost_reward_drop:.0%} below its peak and for {n}+ steps every group's "
            "completions got identical rewards: zero advantage, zero gradient. The policy will "
            "not recover on its own; every further step is wasted compute."
        ),
        causes=(
            "learning_rate far too high, or too many updates per batch (num_iterations): one "
            "or two steps broke the policy (look for approx_kl ≫ 0.1 at the first steps)",
            "no KL anchor (beta 0) to keep the policy near a working reference",
            "a reward or prompt bug introduced mid-run (a data shard with no valid answers)",
        ),
        fixes=(
            "restart from the last good checkpoint with a 10x lower learning_rate",
            "set beta > 0 (e.g. 0.04) and num_iterations 1",
            "print the last completions: truncated gibberish means collapse, valid ones a "
            "reward bug",
        ),
        source="docs/method.md §9.2 ('worse the longer it trains'), §9.6; docs/llm_rl.md "
               "(the broken GRPO run)",
        supersedes=("frac_reward_zero_std_high", "reward_gain_lost", "no_learning_signal",
                    "early_degenerate_output", "abnormal_length", "completions_truncated"),
    )


def _reward_rules(c: DoctorConfig) -> list[Rule]:
    return [
        _no_learning_signal(c),
        _learning_signal_lost(c),
        Rule(
            id="reward_gain_lost",
            title="reward fell from its peak",
            severity="warning",
            pattern=GainLost(
                "reward",
                min_lost=c.reward_gain_lost,
                min_rel_gain=c.reward_rise_rel,
                smooth=c.reward_smooth,
                min_consecutive=c.min_consecutive + 2,
                min_points=c.min_points_flat,
            ),
            diagnosis=(
                f"The reward rose, peaked and then gave back at least {c.reward_gain_lost:.0%} "
                "of its gain by the end of the run: training undid what it had learned."
            ),
            causes=(
                "learning_rate too high late in training (no decay) or too many n_epochs",
                "policy drift / catastrophic forgetting after the peak",
                "entropy collapse: the policy stopped exploring and locked onto a worse mode",
            ),
            fixes=(
                "keep the checkpoint at the reward peak (early stop on the reward)",
                "decay the learning rate (cosine / linear); lower it",
                "tighten target_kl / clip_range; check entropy around the peak",
            ),
            source="docs/method.md §9.1 ('worse with time') applied to the reward; real SB3 runs",
        ),
        Rule(
            id="reward_up_success_flat",
            title="shaped reward up, real success flat",
            severity="warning",
            pattern=AllOf(
                required=[
                    Trend("reward", "up", WHOLE_RUN, min_rel_change=c.reward_rise_rel),
                    NoProgress(
                        SUCCESS,
                        c.min_points_flat,
                        min_abs_gain=c.success_min_gain,
                        min_rel_gain=c.reward_flat_rel_gain,
                        head_fraction=c.reward_flat_head_fraction,
                    ),
                ]
            ),
            diagnosis=(
                "The reward the optimiser sees rises while the real success measure (success "
                "rate, accuracy reward) does not: the policy farms the shaped part of the reward "
                "(format, length, proximity) without solving the task."
            ),
            causes=(
                "the shaping terms outweigh the success term",
                "a shaping term can be collected without progress (reward hacking)",
            ),
            fixes=(
                "weight the success term above the shaping terms; cap or anneal the shaping",
                "make shaping potential-based (it cannot add reward without progress)",
                "early stop / select checkpoints on the success measure, not the reward",
            ),
            source="docs/method.md §7 (reward hacking), §9.2 ('reward up but quality not')",
        ),
        Rule(
            id="reward_flat",
            title="reward does not rise",
            severity="warning",
            pattern=AllOf(
                required=[_reward_no_progress(c)],
                gates=[EdgeLevel(ACCURACY, "<", c.high_start_accuracy, at="start")],
            ),
            diagnosis=(
                "The reward does not rise over the run. RL should start from a high point; "
                "from scratch it guesses for tens of thousands of steps."
            ),
            causes=(
                "SFT weights not loaded (the policy starts from scratch)",
                "the base model's ceiling: rollouts from the pre-RL model all score low",
                "learning_rate too low / KL penalty too strong",
            ),
            fixes=(
                "check initialisation: load the SFT checkpoint and confirm the run starts at "
                "~80–90% accuracy",
                "roll out several answers per case with the pre-RL model; if all score low, "
                "change the base model or improve SFT",
                "check learning_rate and kl_coef",
            ),
            source="docs/method.md §9.1 (quick table, 'reward flat'), §9.4",
        ),
        Rule(
            id="reward_std_high",
            title="reward fluctuates a lot within the batch",
            severity="warning",
            pattern=Level("reward_std", ">", c.reward_std_max, c.min_consecutive),
            diagnosis=(
                f"reward_std stays above {c.reward_std_max:g} (0.3–0.8 is normal): the reward "
                "signal is noisy, gradients will be too."
            ),
            causes=("unnormalised / unclipped reward", "reward scale too large", "small groups"),
            fixes=(
                "normalise and clip the reward (e.g. to [-2, 2])",
                "increase num_generations / the batch",
            ),
            source="docs/method.md §9.6 (reward_std 0.3–0.8 normal, > 1 large swings)",
            flavors=frozenset({"trl_grpo"}),
        ),
        Rule(
            id="frac_reward_zero_std_high",
            title="most groups have identical rewards",
            severity="warning",
            pattern=Level(
                "frac_reward_zero_std", ">", c.frac_reward_zero_std_max, c.min_consecutive
            ),
            diagnosis=(
                f"frac_reward_zero_std stays above {c.frac_reward_zero_std_max:g}: in most "
                "groups every completion gets the same reward, so the advantage is zero and "
                "there is no gradient."
            ),
            causes=(
                "reward too sparse (all-or-nothing correctness)",
                "task too hard or too easy for the current policy",
                "too few generations per prompt / temperature too low",
            ),
            fixes=(
                "add partial credit (e.g. +1 off by one, max(0, 2 − diff)) and a format reward",
                "increase num_generations or the sampling temperature",
                "SFT first, or a curriculum of easier prompts",
            ),
            source="docs/method.md §9.6 (frac_reward_zero_std < 0.3 = dense gradient)",
        ),
    ]


def _quality_rules(c: DoctorConfig) -> list[Rule]:
    kl_out_of_band = AnyOf(
        [
            Level("kl", ">", c.kl_safe_max, c.min_consecutive),
            Trend("kl", "up", c.window, min_abs_change=c.kl_rise_abs, min_rel_change=c.kl_rise_rel),
        ]
    )
    return [
        Rule(
            id="policy_collapse",
            title="policy collapse",
            severity="critical",
            pattern=AllOf(
                required=[
                    DropFromPeak(QUALITY, c.collapse_drop_rel, min_consecutive=c.min_consecutive),
                    AnyOf(
                        [
                            Trend(
                                KL_ANY_UNIT,
                                "up",
                                c.window,
                                min_abs_change=c.kl_rise_abs,
                                min_rel_change=c.kl_rise_rel,
                            ),
                            Level("kl", ">", c.kl_safe_max, c.min_consecutive),
                            Level("approx_kl", ">", c.approx_kl_max, c.min_consecutive),
                        ]
                    ),
                ],
                supporting=[
                    Level("approx_kl", ">", c.approx_kl_max, c.min_consecutive),
                    Oscillation(
                        "value_loss",
                        c.value_swing_ratio,
                        c.min_swings,
                        c.window,
                        min_fold=c.value_swing_fold,
                    ),
                ],
            ),
            diagnosis=(
                "Policy collapse: accuracy falls far below its peak while the policy races away "
                "(KL up / approx_kl above threshold), often with the value loss oscillating — "
                "method §5.3's signature: accuracy 97% -> 15% -> 8%, KL 0.02 -> 0.15 -> 0.35."
            ),
            causes=(
                "critic gradients through the shared backbone destroy the actor's features "
                "(vf_coef too high, no frozen layers)",
                "critic randomly initialised instead of from the SFT model",
                "aggressive config: learning_rate, clip_range, target_kl, n_epochs",
            ),
            fixes=(
                "stop the bleeding: halt and restore the best checkpoint",
                *GOLDEN_CONFIG_FIXES,
                "initialise the critic from the SFT model",
            ),
            source="docs/method.md §5.3–§5.4, §6.1",
            supersedes=("degrading_over_time", "late_quality_drop"),
        ),
        Rule(
            id="degrading_over_time",
            title="worse the longer it trains",
            severity="warning",
            pattern=DropFromPeak(QUALITY, c.quality_drop_rel, min_consecutive=c.min_consecutive),
            diagnosis=(
                "Quality peaked and then declined: the longer it trains, the worse it gets "
                "(catastrophic forgetting)."
            ),
            causes=(
                "catastrophic forgetting: updates overwrite what SFT taught",
                "too many n_epochs over the same data",
            ),
            fixes=(
                "early stop: keep the checkpoint at the peak",
                "reduce n_epochs to 2…4",
                "lower learning_rate with cosine decay; freeze more backbone layers",
            ),
            source="docs/method.md §9.1 (quick table, 'worse with time')",
        ),
        Rule(
            id="late_quality_drop",
            title="quality drops late in training with KL out of band",
            severity="warning",
            pattern=AllOf(
                required=[
                    DropFromPeak(
                        QUALITY,
                        c.quality_drop_rel,
                        min_consecutive=c.min_consecutive,
                        region="late",
                    ),
                    kl_out_of_band,
                ]
            ),
            diagnosis=(
                "Quality drops in the second half of training while KL leaves its safe band: "
                "the policy over-fits the reward and the KL constraint no longer holds it."
            ),
            causes=("over-fitting the reward model", "KL constraint ineffective (beta too low)"),
            fixes=(
                "early stop at the quality peak",
                "check that KL stays in 0.05…0.25; raise kl_coef / tighten target_kl",
            ),
            source="docs/method.md §9.2 ('quality drops late')",
            supersedes=("degrading_over_time",),
        ),
        Rule(
            id="reward_up_eval_down",
            title="reward up, human/judge evaluation down",
            severity="critical",
            pattern=Concurrent(
                Trend("reward", "up", c.window, min_rel_change=c.reward_rise_rel),
                Trend("eval_score", "down", c.window, min_rel_change=c.quality_fall_rel, z=2.0),
            ),
            diagnosis=(
                "The reward rises while the human / judge evaluation falls: the policy optimises "
                "the reward model, not the goal (reward hacking)."
            ),
            causes=(
                "reward model over-fitted, or biased preference data",
                "a single scalar reward mixes several qualities",
            ),
            fixes=(
                "split the reward into several dimensions, annotate and weight them separately",
                "early stop at the best evaluation; raise the KL penalty",
            ),
            source="docs/method.md §9.2 ('reward up but human eval bad'), §9.5",
        ),
        Rule(
            id="test_deploy_gap",
            title="good on the test set, bad in deployment",
            severity="warning",
            pattern=Gap(("eval_exact_match", "eval_score"), "deploy_score", c.deploy_gap),
            diagnosis=(
                f"Deployment quality trails the test set by more than {c.deploy_gap:g}: the "
                "training data does not look like real traffic."
            ),
            causes=("distribution shift between the training data and real requests",),
            fixes=(
                "add domain and style data from real requests (fuzzy phrasings, long tail)",
                "evaluate on a set sampled from deployment traffic",
            ),
            source="docs/method.md §9.2 ('test good but deployment bad')",
        ),
    ]


def _router_rules(c: DoctorConfig) -> list[Rule]:
    return [
        Rule(
            id="via_all_null",
            title="Via all null (reward hacking)",
            severity="critical",
            pattern=AllOf(
                required=[
                    Level("via_null_rate_pred", ">", c.via_all_null, c.min_consecutive),
                    Gap("via_null_rate_pred", "via_null_rate_label", 0.0, c.min_consecutive),
                ]
            ),
            diagnosis=(
                "The router predicts an empty Via almost always, more often than the labels: "
                "reward hacking — Via is null in ~80% of labels, so 'always null' scores well."
            ),
            causes=(
                "dynamic weighting of the Via reward is off",
                "conditional granting is off (Via rewarded even with a wrong Anchor)",
            ),
            fixes=(
                "enable dynamic weighting: a correct non-null Via counts 10×",
                "enable conditional granting: no Via reward when the Anchor is wrong",
                "check reward/via and exact_match per hop count",
            ),
            source="docs/method.md §9.1 ('Via all null'), §7.4",
            supersedes=("via_null_above_label",),
        ),
        Rule(
            id="via_null_above_label",
            title="router over-predicts an empty Via",
            severity="warning",
            pattern=Gap("via_null_rate_pred", "via_null_rate_label", c.via_null_gap),
            diagnosis=(
                f"The predicted Via-null rate exceeds the label rate by more than "
                f"{c.via_null_gap:g}: the router is drifting towards the 'always null' hack."
            ),
            causes=("Via reward not dynamically weighted", "conditional granting off"),
            fixes=(
                "enable dynamic weighting (non-null Via ×10) and conditional granting",
                "check reward/via and multi-hop exact match",
            ),
            source="docs/method.md §7.4 (anti-hacking), §9.1",
        ),
        Rule(
            id="reward_up_exact_match_down",
            title="reward up, exact match down",
            severity="critical",
            pattern=Concurrent(
                Trend("reward", "up", c.window, min_rel_change=c.reward_rise_rel),
                Trend(ACCURACY, "down", c.window, min_rel_change=c.quality_fall_rel, z=2.0),
            ),
            diagnosis=(
                "The reward rises while exact match falls: the policy found a way to score "
                "without being right (reward hacking)."
            ),
            causes=(
                "a reward component can be farmed (e.g. always-null Via, legality bonus)",
                "dynamic weighting or conditional granting off",
            ),
            fixes=(
                "inspect reward/anchor, reward/target, reward/via, reward/legal per update",
                "enable dynamic weighting and conditional granting",
                "early stop at the best exact match",
            ),
            source="docs/method.md §9.5 ('reward explodes, quality drops'), §7",
        ),
        Rule(
            id="low_start_accuracy",
            title="PPO starts from a low point",
            severity="warning",
            pattern=EdgeLevel(ACCURACY, "<", c.low_start_accuracy, at="start"),
            diagnosis=(
                f"Accuracy at the start of PPO is below {c.low_start_accuracy:.0%}: RL should "
                "start from a high point (~80–90%) set by SFT."
            ),
            causes=("SFT weights not loaded into the actor", "SFT under-trained"),
            fixes=(
                "load the SFT checkpoint (heads identical between SFT and PPO)",
                "train SFT to ~80%+ exact match first",
            ),
            source="docs/method.md §9.1 ('reward flat: SFT not loaded'), §9.4, §5.1",
            flavors=frozenset({"router_ppo"}),
        ),
    ]


def _critic_rules(c: DoctorConfig) -> list[Rule]:
    oscillation = Oscillation(
        "value_loss", c.value_swing_ratio, c.min_swings, c.window, 1e-3, c.value_swing_fold
    )
    return [
        Rule(
            id="value_loss_oscillation",
            title="value loss oscillates violently",
            severity="warning",
            pattern=oscillation,
            diagnosis=(
                "The value loss swings violently: the critic is unsettled and, through a shared "
                "backbone, disturbs the actor."
            ),
            causes=(
                "vf_coef too high: critic gradients dominate the shared backbone",
                "critic learning rate too high, or no value clipping",
                "critic randomly initialised",
                "reward variance too high",
            ),
            fixes=(
                "lower vf_coef 0.5 -> 0.01…0.1",
                "freeze more backbone layers (first ~10)",
                "enable value clipping; lower critic_lr",
                "initialise the critic from the SFT model; normalise reward / advantages",
            ),
            source="docs/method.md §9.1 ('value loss oscillates'), §5.3, §9.5",
        ),
        Rule(
            id="value_loss_reward_variance",
            title="value loss oscillates with a high reward variance",
            severity="warning",
            pattern=AllOf(
                required=[
                    oscillation,
                    Level("reward_std", ">", c.reward_std_max, c.min_consecutive),
                ],
            ),
            diagnosis=(
                "The value loss swings while the reward variance is high: the critic chases a "
                "noisy target."
            ),
            causes=("reward variance too large (unnormalised reward)",),
            fixes=(
                "normalise the reward or the advantages (whitening)",
                "clip the reward (e.g. to [-2, 2])",
                "lower vf_coef",
            ),
            source="docs/method.md §9.2 ('critic value loss fluctuates: reward variance')",
            supersedes=("value_loss_oscillation",),
        ),
        Rule(
            id="loss_unstable",
            title="loss swings violently",
            severity="warning",
            pattern=Oscillation(
                "loss", c.value_swing_ratio, c.min_swings, c.window, 1e-3, nonnegative_only=True
            ),
            diagnosis="The training loss swings violently from update to update.",
            causes=("batch_size too small", "reward not normalised", "learning_rate too high"),
            fixes=(
                "increase the batch (gradient accumulation if memory is short)",
                "normalise and clip the reward",
                "lower learning_rate",
            ),
            source="docs/method.md §9.2 ('training unstable, loss swings')",
            # GRPO's loss (beta·KL − reward) is expected to wobble (method §9.6); DPO has its own.
            # SB3 / TRL PPO / verl log a signed sum of policy, value and entropy terms near
            # zero: no level to swing against (and non-negative only guards the rest).
            exclude_flavors=frozenset({"trl_grpo", "trl_dpo", "sb3", "trl_ppo", "verl"}),
        ),
        Rule(
            id="explained_variance_low",
            title="critic explains nothing",
            severity="info",
            pattern=EdgeLevel(
                "explained_variance",
                "<",
                c.explained_variance_min,
                at="end",
                points=c.window,
                min_points=c.window,
            ),
            diagnosis=(
                "Explained variance stays below zero late in training: the value head predicts "
                "returns worse than their mean, so advantages are mostly noise."
            ),
            causes=("critic randomly initialised", "critic learning rate too low or too high"),
            fixes=(
                "initialise the critic from the SFT model",
                "tune critic_lr (method §6.2: above the actor's, e.g. 5e-6 vs 1e-6); "
                "normalise rewards",
            ),
            source="docs/method.md §4.2 (critic from SFT), §6.2 (critic lr); threshold: EV < 0",
        ),
    ]


def _entropy_and_gradient_rules(c: DoctorConfig) -> list[Rule]:
    return [
        Rule(
            id="entropy_collapse",
            title="entropy collapses",
            severity="warning",
            pattern=Trend("entropy", "down", c.window, min_rel_change=c.entropy_drop_rel),
            diagnosis=(
                f"Policy entropy fell by more than {c.entropy_drop_rel:.0%} within "
                f"{c.window} updates: outputs become homogeneous (mode collapse)."
            ),
            causes=("entropy coefficient too low: not enough exploration", "KL target too loose"),
            fixes=(
                "increase ent_coef (entropy bonus)",
                "add / raise the KL penalty towards the reference",
            ),
            source="docs/method.md §9.2 ('entropy drops fast'), §9.5",
        ),
        Rule(
            id="early_degenerate_output",
            title="degenerate output early in training",
            severity="warning",
            pattern=AnyOf(
                [
                    Level("repetition", ">", c.repetition_max, c.min_consecutive, region="early"),
                    AllOf(
                        required=[
                            Trend(
                                "entropy",
                                "down",
                                c.window,
                                min_rel_change=c.entropy_drop_rel,
                                region="early",
                            ),
                            EdgeLevel("lr", ">", 1e-5, at="start", points=1, min_points=1),
                        ]
                    ),
                ]
            ),
            diagnosis=(
                "Early in training the outputs turn repetitive / meaningless (repetition up or "
                "entropy crashing with a high learning rate)."
            ),
            causes=("learning_rate too high: parameters updated too violently", "no warmup"),
            fixes=("lower learning_rate to 1e-6…1e-5", "add warmup (e.g. warmup_ratio 0.05)"),
            source="docs/method.md §9.2 ('repetitive / meaningless output early')",
            supersedes=("entropy_collapse",),
        ),
        Rule(
            id="grad_norm_explosion",
            title="gradient norm explodes",
            severity="critical",
            pattern=Spike(
                "grad_norm",
                c.grad_norm_spike_factor,
                min_value=c.grad_norm_max,
                min_count=2,
                window=c.window * 2,
            ),
            diagnosis=(
                f"The gradient norm spikes to > {c.grad_norm_spike_factor:g}× its recent level "
                f"(and > {c.grad_norm_max:g}) repeatedly: gradients are exploding."
            ),
            causes=("learning_rate too high", "no gradient clipping"),
            fixes=(
                "lower learning_rate",
                "enable gradient clipping (max_grad_norm 0.5…1.0)",
            ),
            source="docs/method.md §9.2 ('gradient norm explodes'), §9.6 (grad_norm > 5)",
            supersedes=("grad_norm_high",),
        ),
        Rule(
            id="grad_norm_high",
            title="gradient norm high",
            severity="warning",
            pattern=Level("grad_norm", ">", c.grad_norm_max, c.min_consecutive),
            diagnosis=(
                f"grad_norm stays above {c.grad_norm_max:g} (≤ 1 is stable): updates are large "
                "and unclipped."
            ),
            causes=("no gradient clipping", "learning_rate too high"),
            fixes=("enable gradient clipping (max_grad_norm 1.0)", "lower learning_rate"),
            source="docs/method.md §9.6 GRPO log table (grad_norm ≤ 1 stable, > 5 needs clipping)",
            # HF Trainer (and every TRL trainer on it) logs the norm *before* clipping to
            # max_grad_norm (default 1.0): a high level there is already clipped. Explosions
            # (grad_norm_explosion) still count.
            exclude_flavors=frozenset({"hf_trainer"}),
        ),
    ]


def _generation_rules(c: DoctorConfig) -> list[Rule]:
    return [
        Rule(
            id="completions_truncated",
            title="completions truncated",
            severity="warning",
            pattern=Level("clipped_ratio", ">", c.clipped_ratio_max, c.min_consecutive),
            diagnosis=(
                f"More than {c.clipped_ratio_max:.0%} of completions hit max_completion_length "
                "(< 20% is best): answers are cut off before they finish."
            ),
            causes=("max_completion_length too short", "the policy learned to ramble"),
            fixes=(
                "increase max_completion_length",
                "add a length penalty / format reward if lengths keep growing",
            ),
            source="docs/method.md §9.6 GRPO log table (clipped_ratio < 0.2 best, > 0.4 lengthen)",
        ),
        Rule(
            id="completions_too_short",
            title="completions too short",
            severity="warning",
            pattern=Level(
                "completion_length", "<", c.completion_min_length, c.min_consecutive
            ),
            diagnosis=(
                f"Mean completion length stays below {c.completion_min_length:g} tokens "
                "(80–110 normal for reasoning tasks): not enough reasoning."
            ),
            causes=("reward favours short answers", "SFT data with short answers"),
            fixes=("reward the reasoning format", "check the reward for length bias"),
            source="docs/method.md §9.6 (completions/mean_length 80–110 normal, < 50)",
            flavors=frozenset({"trl_grpo"}),
        ),
        Rule(
            id="abnormal_length",
            title="response length drifts",
            severity="warning",
            pattern=AnyOf(
                [
                    Trend(
                        "completion_length", "up", WHOLE_RUN, min_rel_change=c.length_drift_rel
                    ),
                    Trend(
                        "completion_length",
                        "down",
                        WHOLE_RUN,
                        min_rel_change=c.length_drift_rel / 2,
                    ),
                ]
            ),
            diagnosis=(
                "The response length drifts strongly over training (too long or too short): the "
                "reward favours a length, not quality."
            ),
            causes=("the reward model has a length bias",),
            fixes=(
                "add a length penalty / reward in the RL stage",
                "check the reward model on length-matched pairs",
            ),
            source="docs/method.md §9.2 ('abnormal response length: RM length bias')",
        ),
    ]


def _dpo_rules(c: DoctorConfig) -> list[Rule]:
    return [
        Rule(
            id="dpo_margin_slow",
            title="DPO margin grows slowly",
            severity="warning",
            pattern=NoProgress(
                "dpo_margin", c.min_points_flat, min_abs_gain=c.dpo_margin_min_gain, min_rel_gain=0
            ),
            diagnosis=(
                "The DPO chosen/rejected reward margin grows slowly: updates are too "
                "conservative."
            ),
            causes=("beta too high",),
            fixes=("lower beta (within 0.1…0.5, towards 0.1)",),
            source="docs/method.md §9.2 ('DPO chosen/rejected margin grows slowly'), §10.7",
            flavors=frozenset({"trl_dpo"}),
            exclude_flavors=frozenset({"trl_orpo"}),
        ),
        Rule(
            id="dpo_loss_fast_drop",
            title="DPO loss drops too fast",
            severity="warning",
            pattern=Level("loss", "<", c.dpo_loss_floor, c.min_consecutive, region="early"),
            diagnosis=(
                f"The DPO loss falls below {c.dpo_loss_floor:g} early in training (it starts at "
                "ln 2 ≈ 0.69): the policy drifts far from the reference fast and often ends "
                "worse than SFT."
            ),
            causes=("beta too low", "learning_rate too high"),
            fixes=("raise beta", "lower learning_rate", "compare with SFT on the fixed eval set"),
            source="docs/method.md §9.2 ('DPO loss drops fast but worse than SFT')",
            flavors=frozenset({"trl_dpo"}),
            # ORPO's loss adds the SFT NLL: it does not start at ln 2.
            exclude_flavors=frozenset({"trl_orpo"}),
        ),
    ]


def _sft_rules(c: DoctorConfig) -> list[Rule]:
    return [
        Rule(
            id="sft_below_target",
            title="SFT ends below the cold-start target",
            severity="info",
            pattern=EdgeLevel("eval_exact_match", "<", c.sft_target_accuracy, at="end"),
            diagnosis=(
                f"SFT ends below {c.sft_target_accuracy:.0%} validation exact match: PPO would "
                "start from a low point."
            ),
            causes=("too few epochs or samples", "learning rate or frozen layers ill-suited"),
            fixes=(
                "train SFT longer or on more (augmented) data",
                "build a cold-start set by rejection-sampling an RL policy",
            ),
            source="docs/method.md §5.1 ('bring accuracy to ~80%+ with SFT, then PPO')",
            flavors=frozenset({"router_sft"}),
        ),
        Rule(
            id="sft_overfitting",
            title="SFT over-fits",
            severity="warning",
            pattern=Concurrent(
                Trend("loss", "down", WHOLE_RUN, min_rel_change=0.1, z=2.0, min_points=5),
                Trend(
                    "eval_exact_match", "down", WHOLE_RUN, min_rel_change=0.05, z=2.0, min_points=5
                ),
            ),
            diagnosis=(
                "Training loss keeps falling while validation exact match falls: SFT memorises "
                "the training set."
            ),
            causes=("too many epochs on a small dataset",),
            fixes=("early stop at the best validation epoch", "augment the data; fewer epochs"),
            source="docs/method.md §5.1 (SFT cold start), §9.1 ('early stop')",
            flavors=frozenset({"router_sft"}),
        ),
    ]


def _non_finite_rules() -> list[Rule]:
    return [_non_finite_rule(), _never_finite_rule()]


def _never_finite_rule() -> Rule:
    return Rule(
        id="metric_never_finite",
        title="a metric is NaN / inf from its first point",
        severity="info",
        pattern=NonFinite(after_finite=False),
        diagnosis=(
            "A metric is NaN or infinite from the first logged step: it was never computed "
            "(not a divergence). The rules that need it cannot judge the run."
        ),
        causes=(
            "the quantity does not exist in this setup (KL with beta = 0 / no reference model, "
            "a std over groups of one)",
            "the logger averages an empty tensor (nanmean over no tokens)",
        ),
        fixes=(
            "ignore it if the setup has no such quantity; otherwise fix how it is computed",
            "map another metric onto the signal with --map RAW=SIGNAL",
        ),
        source="real TRL logs (kl NaN from step 1 with beta = 0)",
    )


def _non_finite_rule() -> Rule:
    return Rule(
        id="non_finite_metrics",
        title="NaN / inf in the metrics",
        severity="critical",
        pattern=NonFinite(),
        diagnosis=(
            "Some metrics were finite and then became NaN or infinite: training diverged "
            "numerically (or the logger wrote garbage). Every later update is suspect."
        ),
        causes=(
            "learning_rate too high / exploding gradients",
            "division by zero in reward or advantage normalisation (std = 0)",
            "fp16 overflow",
        ),
        fixes=(
            "stop and restore the last finite checkpoint",
            "enable gradient clipping; lower learning_rate",
            "add an epsilon to normalisations; use bf16 or loss scaling",
        ),
        source="docs/method.md §9 ('stop the bleeding first'); §9.2 gradient explosion",
    )


def rules_markdown(config: DoctorConfig | None = None) -> str:
    """The rule catalog as Markdown (docs/doctor.md embeds this)."""
    lines = []
    for rule in build_rules(config):
        lines += [
            f"### `{rule.id}` — {rule.title} ({rule.severity})",
            "",
            f"- **Pattern:** {rule.pattern.describe()}",
            f"- **Diagnosis:** {rule.diagnosis}",
            "- **Probable causes:** " + "; ".join(rule.causes),
            "- **Fixes:** " + "; ".join(rule.fixes),
            f"- **Source:** {rule.source}",
        ]
        if rule.flavors:
            lines.append("- **Only for:** " + ", ".join(sorted(rule.flavors)))
        if rule.exclude_flavors:
            lines.append("- **Not for:** " + ", ".join(sorted(rule.exclude_flavors)))
        if rule.supersedes:
            lines.append("- **Replaces when both fire:** " + ", ".join(rule.supersedes))
        lines.append("")
    return "\n".join(lines)
