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
