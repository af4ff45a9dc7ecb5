"""Every metric pathrl's trainers log, in one place (name -> meaning).

Run logs are JSONL files (`metrics.jsonl`, one object per update with a `step` key) plus the same
scalars in TensorBoard under the same names. The doctor (`pathrl.doctor`) reads these names.
"""

from __future__ import annotations

ROUTER_PPO_METRICS: dict[str, str] = {
    "step": "PPO update index (0-based).",
    "samples": "Questions consumed so far.",
    "reward_mean": "Mean total (clipped) reward of the sampled routes in the rollout batch.",
    "reward_std": "Standard deviation of that reward.",
    "reward/anchor": "Mean L1 reward of the anchor component (+1 right / -0.5 wrong).",
    "reward/target": "Mean L1 reward of the target component.",
    "reward/via": "Mean L1 reward of the via component (dynamic weight, conditional granting).",
    "reward/legal": "Mean L2 legality reward (+0.2 legal / -2 illegal).",
    "reward/exact": "Mean L3 exact-match reward (+10 when the whole triple is right).",
    "reward/exec": "Mean execution-feedback reward (0 when disabled).",
    "exact_match": "Fraction of sampled triples equal to the label.",
    "greedy_exact_match": "Exact match of the constrained greedy route on the validation split.",
    "approx_kl": "Mean (ratio - 1) - log ratio between the rollout policy and the updated policy.",
    "kl_to_ref": "Mean KL from the current policy to the frozen SFT reference.",
    "kl_coef": "Current coefficient of the KL-to-reference penalty (adaptive).",
    "clip_fraction": "Fraction of samples whose ratio left [1 - clip_range, 1 + clip_range].",
    "entropy/anchor": "Mean entropy of the anchor head.",
    "entropy/target": "Mean entropy of the target head.",
    "entropy/via": "Mean entropy of the via head.",
    "entropy": "Sum of the three head entropies.",
    "policy_loss": "Clipped surrogate loss.",
    "value_loss": "Value-head MSE loss (clipped when value clipping is on).",
    "explained_variance": "1 - Var(return - value) / Var(return).",
    "grad_norm": "Global gradient norm before clipping.",
    "lr": "Actor learning rate.",
    "critic_lr": "Learning rate of the value head (a separate critic backbone uses "
                 "critic_learning_rate).",
    "via_null_rate_pred": "Fraction of sampled routes whose via is empty.",
    "via_null_rate_label": "Fraction of labels whose via is empty.",
    "kl_early_stop": "1 when the target_kl circuit breaker stopped this update's epochs.",
}

ROUTER_SFT_METRICS: dict[str, str] = {
    "epoch": "Epoch index (0-based); also written as `step`.",
    "train_loss": "Mean cross-entropy (sum of the three heads) over the epoch.",
    "val_exact_match": "Exact match of the constrained greedy route on the validation split.",
    "val_anchor_accuracy": "Anchor accuracy on validation.",
    "val_target_accuracy": "Target accuracy on validation.",
    "val_via_accuracy": "Via accuracy on validation.",
    "lr": "Learning rate at the end of the epoch.",
}

# Shared by the supervised-style LLM trainers (pathrl.llm.training): every step's line.
_LLM_STEP_METRICS: dict[str, str] = {
    "step": "Optimiser step index (0-based); one step = gradient_accumulation_steps "
            "micro-batches.",
    "lr": "Learning rate used for this step (warm-up, then the schedule).",
    "grad_norm": "Global gradient norm before clipping to max_grad_norm.",
    "epoch": "Passes over the training data completed after this step (fractional).",
    "examples": "Training examples in this step (pairs for the reward model and DPO).",
}

LLM_SFT_METRICS: dict[str, str] = {
    **_LLM_STEP_METRICS,
    "loss": "Cross-entropy per completion token (prompt tokens carry no loss), mean over the "
            "step's tokens.",
    "token_accuracy": "Share of completion tokens the model predicted greedily (argmax).",
    "eval_loss": "Cross-entropy per completion token on the held-out examples (logged on "
                 "evaluation steps).",
    "eval_token_accuracy": "Greedy next-token accuracy on held-out completion tokens; the "
                           "evaluation score, also logged with every step (latest value).",
}

REWARD_MODEL_METRICS: dict[str, str] = {
    **_LLM_STEP_METRICS,
    "loss": "Bradley-Terry loss -log sigmoid(r_chosen - r_rejected - margin) (+ the centring "
            "term), mean over pairs.",
    "accuracy": "Share of pairs with r_chosen > r_rejected.",
    "margin": "Mean r_chosen - r_rejected.",
    "rewards/chosen": "Mean reward of the chosen completions.",
    "rewards/rejected": "Mean reward of the rejected completions.",
    "eval_loss": "The loss on held-out pairs.",
    "eval_accuracy": "Pairwise accuracy on held-out pairs; the evaluation score, also logged "
                     "with every step (latest value).",
    "eval_margin": "Mean r_chosen - r_rejected on held-out pairs.",
    "eval_rewards/chosen": "Mean held-out chosen reward.",
    "eval_rewards/rejected": "Mean held-out rejected reward.",
}

DPO_METRICS: dict[str, str] = {
    **_LLM_STEP_METRICS,
    "loss": "DPO loss (sigmoid, ipo or hinge), mean over pairs; ln 2 = 0.693 at the start "
            "for sigmoid.",
    "rewards/chosen": "Mean implicit reward beta * (log pi(y+|x) - log pi_ref(y+|x)).",
    "rewards/rejected": "Mean implicit reward of the rejected completions.",
    "rewards/margins": "Mean rewards/chosen - rewards/rejected.",
    "rewards/accuracies": "Share of pairs whose chosen implicit reward is the higher.",
    "logps/chosen": "Mean policy log-prob of the chosen completions (sum over tokens; per-token "
                    "mean for ipo).",
    "logps/rejected": "Mean policy log-prob of the rejected completions.",
    **{f"eval_{name}": f"{name} on held-out pairs." for name in (
        "loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "logps/chosen",
        "logps/rejected")},
    "eval_rewards/accuracies": "Held-out preference accuracy; the evaluation score, also "
                               "logged with every step (latest value).",
}

# The greedy evaluation block of the arithmetic task (pathrl.llm.evaluate, EvalReport.metrics),
# logged by GRPO and token PPO on evaluation steps; `<lang>` is each language of the held-out
# problems (en, zh). `eval/exact_match` also rides along every step (latest value).
_LLM_EVAL_METRICS: dict[str, str] = {
    **{f"eval/{scope}{name}": text for scope in ("", "<lang>/") for name, text in (
        ("format_rate", "Share of greedy held-out completions in the strict "
                        "<reasoning>/<answer> format."),
        ("plausible_rate", "Share whose answer block holds an integer."),
        ("exact_match", "Share whose answer integer equals the gold answer (the evaluation "
                        "score; keep_best maximises it)."),
        ("loose_exact_match", "Share whose last number anywhere equals the gold answer."),
        ("completion_length", "Mean greedy completion length in tokens."),
    )},
}

# TRL GRPOTrainer's names (the doctor reads them: reward_std, frac_reward_zero_std, kl,
# completions/clipped_ratio, completions/mean_length, clip_ratio/*, entropy, grad_norm).
GRPO_METRICS: dict[str, str] = {
    "step": "GRPO step index (0-based): one generation batch and its num_iterations × "
            "mini_batches optimiser steps.",
    "reward": "Mean weighted total reward of the step's completions (NaN rows left out).",
    "reward_std": "Standard deviation (n - 1) of that total over the step's completions.",
    "rewards/<func>/mean": "Mean of reward function <func> (its __name__), unweighted, over "
                           "the completions it applied to.",
    "rewards/<func>/std": "Standard deviation of reward function <func>.",
    "frac_reward_zero_std": "Share of groups (the G completions of a prompt) whose totals "
                            "are all equal: zero advantage, no gradient.",
    "completions/mean_length": "Mean completion length in tokens (up to and including EOS).",
    "completions/min_length": "Shortest completion.",
    "completions/max_length": "Longest completion.",
    "completions/clipped_ratio": "Share of completions cut at max_completion_length "
                                 "(no EOS).",
    "completions/mean_terminated_length": "Mean length of the completions that ended on EOS "
                                          "(NaN when none did).",
    "completions/min_terminated_length": "Shortest completion that ended on EOS.",
    "completions/max_terminated_length": "Longest completion that ended on EOS.",
    "kl": "Mean per-token KL estimate (kl_estimator, k3 by default) of the policy to the "
          "frozen reference over the step's loss tokens (absent when beta = 0).",
    "entropy": "Mean per-token entropy of the policy's next-token distribution (at the "
               "sampling temperature) over the loss tokens.",
    "approx_kl": "Token mean of (r - 1) - log r between the rollout policy and the policy "
                 "being updated, over the step's micro-batches; logged only when a batch is "
                 "reused (num_iterations > 1 or mini_batches > 1; on-policy it is 0). Not a "
                 "TRL name: the doctor's approx_kl rules read it.",
    "clip_ratio/low_mean": "Share of loss tokens with ratio < 1 - epsilon and a negative "
                           "advantage (clipped from below).",
    "clip_ratio/high_mean": "Share of loss tokens with ratio > 1 + epsilon_high and a positive "
                            "advantage (clipped from above).",
    "clip_ratio/region_mean": "Share of loss tokens clipped on either side (0 when "
                              "num_iterations = mini_batches = 1: the ratio is exactly 1).",
    "loss": "Mean over the step's optimiser steps of the aggregated loss: clipped surrogate "
            "+ beta · KL (trend only: it wobbles by design).",
    "grad_norm": "Mean over the step's optimiser steps of the global gradient norm before "
                 "clipping.",
    "learning_rate": "Learning rate of the step's first optimiser step.",
    "num_tokens": "Prompt + completion tokens of the step's batch (attention mask).",
    **_LLM_EVAL_METRICS,
}

# TRL PPOTrainer's names where it has one (the doctor reads objective/*, policy/approxkl_avg,
# policy/clipfrac_avg, loss/*_avg, val/ratio); `kl`, `explained_variance`, `grad_norm` and the
# completion lengths are added under the names the doctor reads.
TOKEN_PPO_METRICS: dict[str, str] = {
    "step": "PPO step index (0-based): one rollout and its ppo_epochs × num_mini_batches "
            "optimiser steps.",
    "objective/scores": "Mean reward-model score of the rollout's completions (after the "
                        "missing-EOS penalty).",
    "objective/scores_std": "Standard deviation of those scores.",
    "objective/kl": "Mean over completions of the KL to the reference summed over the "
                    "completion's tokens (the penalty's estimator; TRL's unit: nats per "
                    "completion).",
    "objective/entropy": "Mean over completions of -sum log pi of the sampled tokens (TRL's "
                         "sequence-level entropy estimate).",
    "objective/non_score_reward": "Mean over completions of the summed KL penalty "
                                  "-kl_coef · KL.",
    "objective/rlhf_reward": "objective/scores + objective/non_score_reward.",
    "kl": "Mean per-token KL to the reference (the unit of the doctor's KL bands).",
    "kl_coef": "beta used for this rollout's KL penalty (adaptive when kl_target is set).",
    "policy/entropy_avg": "Mean per-token entropy of the rollout policy's next-token "
                          "distribution.",
    "policy/approxkl_avg": "Token-weighted mean of the k3 estimate E[(r - 1) - log r] between "
                           "the rollout policy and the policy being updated (the circuit "
                           "breaker watches it per mini-batch).",
    "policy/clipfrac_avg": "Share of tokens whose ratio left [1 - clip_range, 1 + clip_range].",
    "loss/policy_avg": "Mean clipped-surrogate loss over the micro-batches.",
    "loss/value_avg": "Mean value loss 0.5 · MSE(V, return) (clipped when clip_range_value "
                      "is set).",
    "val/clipfrac_avg": "Share of tokens whose clipped value error was the larger (value "
                        "clipping bound).",
    "val/ratio": "Mean policy ratio pi / pi_old over the updates.",
    "val/num_eos_tokens": "Completions of the rollout that ended on EOS.",
    "explained_variance": "1 - Var(return - V) / Var(return) over the rollout's tokens "
                          "(rollout values; NaN when the returns are constant).",
    "grad_norm": "Mean global gradient norm before clipping over the step's optimiser steps.",
    "lr": "Actor learning rate of the step's first optimiser step.",
    "kl_early_stop": "1 when the target_kl circuit breaker ended this step's epochs.",
    **{name: GRPO_METRICS[name] for name in (
        "completions/mean_length", "completions/min_length", "completions/max_length",
        "completions/clipped_ratio", "completions/mean_terminated_length",
        "completions/min_terminated_length", "completions/max_terminated_length")},
    **_LLM_EVAL_METRICS,
    "eval/reward_model_score": "With a reward model: its mean score of the greedy held-out "
                               "completions (the same prompts at every evaluation).",
}


def metric_documented(name: str, table: dict[str, str]) -> bool:
    """Whether `name` is in `table`, a `<placeholder>` standing for one path segment
    (`rewards/<func>/mean` documents `rewards/correctness_reward/mean`)."""
    if name in table:
        return True
    parts = name.split("/")
    return any(len(key.split("/")) == len(parts) and all(
        k == p or (k.startswith("<") and k.endswith(">"))
        for k, p in zip(key.split("/"), parts, strict=True)) for key in table)
