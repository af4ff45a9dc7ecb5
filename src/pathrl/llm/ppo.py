"""Token-level PPO for generative LLMs, RLHF with a reward model (docs/method.md §10.1–10.5,
docs/llm_rl.md), on the shared trainer skeleton (`pathrl.rl.trainer.Trainer`).

    policy = PolicyWithValueHead(load_policy("runs/sft/model").model)
    trainer = TokenPPOTrainer(policy, tokenizer, RewardScorer.load("runs/rm/model"),
                              train_rows, TokenPPOConfig(), "runs/ppo")
    summary = trainer.fit()

One step: sample one completion per prompt (fixed temperature, seeded from the trainer's
generator), keep the rollout's log-probs and values, score each completion once (a reward
model or any `(prompts, completions) -> scores` callable, or rule rewards), and build the
per-token reward: −β·KL(π ‖ π_ref) on every completion token plus the score on the last real
one (the EOS, or the last token of a truncated completion). GAE (γ = 1, λ = 0.95) over the
completion tokens gives advantages and returns (the value after the last token is 0);
advantages are whitened over the batch's tokens. Then `ppo_epochs` passes of shuffled
mini-batches: the clipped surrogate, the clipped value loss and an optional entropy bonus.
The target_kl circuit breaker ends the epochs of a step whose update moved too far
(`StepResult.kl_early_stop`; the skeleton stops the run after `max_kl_trips` in a row), and
β adapts to the measured KL (`AdaptiveKLController`, multiplicative and smooth).

The logged names are TRL PPOTrainer's where it has one (`objective/kl`, `policy/approxkl_avg`,
`loss/value_avg`, ...), which the doctor reads; `pathrl.rl.metrics.TOKEN_PPO_METRICS` lists
them all.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pathrl.config import ConfigChecks
from pathrl.errors import PathrlError
from pathrl.llm.models import (
    Generation,
    LoraSettings,
    PolicyWithValueHead,
    Prompt,
    ReferencePolicy,
    disable_dropout,
    generate,
    model_device,
    trainable_parameters,
)
from pathrl.llm.reward_model import RewardScorer
from pathrl.llm.rewards import RewardSet
from pathrl.llm.rollout import (
    Evaluator,
    GenerativeRLTrainer,
    ProgressFn,
    PromptPool,
    RLSummary,
    Row,
    TokenScores,
    check_prompt_lengths,
    completion_scores,
    doctor_callback,
    draw_seed,
    length_metrics,
    reward_inputs,
    rl_data,
    task_evaluator,
    write_summary,
)
from pathrl.llm.training import SCHEDULERS, TaskDataConfig, enable_gradient_checkpointing
from pathrl.rl.ppo_core import (
    AdaptiveKLController,
    explained_variance,
    masked_mean,
    normalize,
    value_loss,
)
from pathrl.rl.registry import ADVANTAGE_ESTIMATORS, KL_ESTIMATORS, POLICY_LOSSES
from pathrl.rl.trainer import LoopSettings, StepResult, TrainerCallback, seed_everything

Scorer = Callable[[list[Prompt], list[str]], Sequence[float]]
"""(prompts, completions) -> one score per completion: any function of the texts (a
reward model's `RewardScorer` is used through its `score`)."""


@dataclass
class TokenPPOConfig:
    """Token-level PPO settings (TRL PPOConfig's names where it has them; the losses and the
    KL control of docs/method.md §10.3–10.4)."""

    model: str = "smollm2"
    """Policy to start from (PPO starts from an SFT model, method §10.5): smollm2, a local
    Hugging Face directory or a directory a pathrl trainer saved."""
    device: str = "auto"
    """auto (cuda, then mps, else cpu), cpu, cuda, cuda:N, mps."""
    dtype: str = "auto"
    """auto (bfloat16 on CUDA, else float32), float32, bfloat16, float16."""
    lora: LoraSettings | None = None
    """A LoRA adapter for the actor (null: full fine-tuning); the value head always trains.
    The reference is then the same weights with the adapter off."""
    reward_model: str | None = None
    """A directory `pathrl llm rm` saved (its `RewardScorer` scores the completions); None:
    the rule rewards of `rewards` (the task's verifiable reward)."""
    rewards: str = "standard"
    """Rule-reward preset (`pathrl.llm.rewards.reward_set`) used when reward_model is None."""
    data: TaskDataConfig = field(default_factory=TaskDataConfig)
    """Training prompts and held-out evaluation problems."""

    prompts_per_step: int = 16
    """Prompts per rollout (one completion each): the batch of one PPO step."""
    max_prompt_length: int = 512
    """Longest prompt in tokens (a longer one is an error, not a silent cut)."""
    max_completion_length: int = 256
    """Tokens sampled per completion at most (TRL: response_length)."""
    temperature: float = 0.7
    """Sampling temperature of the rollouts (TRL's default); log-probs use the same."""
    top_p: float = 1.0
    """Nucleus sampling (1: off)."""
    top_k: int = 0
    """Top-k sampling (0: off)."""
    generation_batch_size: int = 64
    """Prompts per `generate` call."""
    missing_eos_penalty: float | None = None
    """Subtract this from the score of a completion that did not end on EOS (truncated),
    TRL's missing_eos_penalty; None: no penalty."""

    learning_rate: float = 3e-6
    """Actor learning rate (AdamW; TRL's default; method §6.1: an order below SFT)."""
    value_head_learning_rate: float = 1e-3
    """The value head starts at zero: at the actor's rate Adam would leave it near zero for
    the whole run, so it has its own (the shared body learns at learning_rate)."""
    lr_scheduler: str = "constant"
    """transformers scheduler name (linear, cosine, constant, ...), stepped per optimiser
    step."""
    warmup_ratio: float = 0.0
    """Fraction of the optimiser steps with a linear warm-up."""
    weight_decay: float = 0.0
    """AdamW weight decay (matrices only)."""
    max_grad_norm: float = 1.0
    """Gradient clipping (global norm); `grad_norm` is logged before clipping."""

    ppo_epochs: int = 4
    """Passes over each rollout (TRL: num_ppo_epochs)."""
    num_mini_batches: int = 1
    """Optimiser steps per epoch, each over a shuffled share of the rollout."""
    micro_batch_size: int = 8
    """Completions per forward/backward (gradients accumulate over the mini-batch)."""
    clip_range: float = 0.2
    """Ratio clip ε of the surrogate (TRL: cliprange; method §10.4: ~0.1–0.2)."""
    clip_range_value: float | None = 0.2
    """Values may move at most this far from the rollout's (TRL: cliprange_value); None: no
    value clipping."""
    vf_coef: float = 0.1
    """Weight of the value loss (TRL's default; keeps it from dominating the actor)."""
    ent_coef: float = 0.0
    """Entropy bonus weight (0: none)."""
    gamma: float = 1.0
    """Discount over the completion tokens (1: the score reaches every token undiscounted)."""
    lam: float = 0.95
    """GAE λ (method §10.4)."""
    whiten_advantages: bool = True
    """Normalise the advantages over the rollout's tokens (zero mean, unit variance)."""
    whiten_rewards: bool = False
    """Normalise the per-token rewards before GAE (TRL's whiten_rewards)."""
    init_kl_coef: float = 0.05
    """Initial β of the per-token KL penalty in the reward (TRL's kl_coef)."""
    kl_target: float | None = 6.0
    """Target of the adaptive β in nats per completion (the summed KL, Ziegler et al.'s 6);
    None keeps β fixed."""
    kl_horizon: int = 10_000
    """Horizon (completions) of the adaptive KL controller: how fast β moves."""
    kl_penalty: str = "k1"
    """Per-token KL estimator in the reward: k1 (log π − log π_ref, TRL's), k2 or k3."""
    target_kl: float | None = 0.1
    """Circuit breaker: end a step's epochs when a mini-batch's approx_kl exceeds
    1.5 × target_kl (method §6.1); None: never."""
    max_kl_trips: int = 4
    """Stop training when the breaker trips on this many consecutive steps."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass (less memory, ~30% slower)."""
    bf16: bool = False
    """bfloat16 mixed precision: generation and forward passes under torch.autocast (the
    value head stays float32), weights and optimiser state in float32."""

    total_steps: int = 100
    """PPO steps (rollout + optimisation) to run."""
    eval_every: int = 10
    """Greedy evaluation on the held-out problems every N steps, at the start and at the
    last step (0: never)."""
    eval_batch_size: int = 32
    """Prompts per greedy evaluation batch."""
    checkpoint_every: int = 10
    """Checkpoint every N steps (0: only on Ctrl-C and at the end)."""
    save_total_limit: int = 2
    """Checkpoints kept on disk (oldest deleted first); 0: keep all."""
    keep_best: bool = False
    """Ship the policy of the best evaluation (exact rate) instead of the last."""
    merge_lora: bool = False
    """Save a LoRA actor merged into full weights instead of the adapter alone."""
    seed: int = 7
    """Seeds torch, Python, NumPy, the prompt order and the sampling seeds."""
    doctor: bool = True
    """Run `pathrl doctor`'s rules live on the metrics."""
    stop_on_critical: bool = False
    """Stop training when the doctor raises a critical finding."""

    def __post_init__(self) -> None:
        checks = ConfigChecks(self)
        checks.at_least(1, "prompts_per_step", "max_prompt_length", "max_completion_length",
                        "generation_batch_size", "ppo_epochs", "num_mini_batches",
                        "micro_batch_size", "total_steps", "eval_batch_size", "max_kl_trips",
                        "kl_horizon")
        checks.at_least(0, "eval_every", "checkpoint_every", "save_total_limit", "top_k")
        checks.sampling()
        checks.schedule(SCHEDULERS)
        checks.require(self.value_head_learning_rate > 0,
                       f"value_head_learning_rate must be > 0, got "
                       f"{self.value_head_learning_rate}")
        checks.require(0 < self.clip_range < 1,
                       f"clip_range must be in (0, 1), got {self.clip_range}")
        checks.require(self.clip_range_value is None or self.clip_range_value > 0,
                       "clip_range_value must be > 0 or None")
        checks.require(min(self.vf_coef, self.ent_coef, self.init_kl_coef,
                           self.weight_decay) >= 0,
                       "vf_coef, ent_coef, init_kl_coef and weight_decay must be >= 0")
        checks.require(self.max_grad_norm > 0, "max_grad_norm must be > 0")
        checks.require(0 < self.gamma <= 1 and 0 <= self.lam <= 1,
                       f"gamma must be in (0, 1] and lam in [0, 1], got {self.gamma}, "
                       f"{self.lam}")
        for name in ("kl_target", "target_kl"):
            value = getattr(self, name)
            checks.require(value is None or value > 0, f"{name} must be > 0 or None, got {value}")
        checks.require(self.kl_penalty in KL_ESTIMATORS,
                       f"kl_penalty must be one of {', '.join(sorted(KL_ESTIMATORS))}, "
                       f"got '{self.kl_penalty}'")
        checks.require(self.num_mini_batches <= self.prompts_per_step,
                       "num_mini_batches must be <= prompts_per_step")
        checks.raise_if_any("bad token PPO config")

    @property
    def optimizer_steps(self) -> int:
        return self.total_steps * self.ppo_epochs * self.num_mini_batches


@dataclass
class PPORollout:
    """One rollout batch and what the PPO epochs need of it; per-token tensors are [N, C]
    over the completion columns, 0 where `mask` is."""

    rows: list[Row]
    generation: Generation
    mask: torch.Tensor
    """1 on completion tokens up to and including EOS."""
    logps: torch.Tensor
    """Log-probs under the rollout policy (the old policy of every epoch)."""
    ref_logps: torch.Tensor
    values: torch.Tensor
    """V(s) before each completion token, from the rollout's value head."""
    scores: torch.Tensor
    """[N] the reward model's score (after the missing-EOS penalty)."""
    kl: torch.Tensor
    """Per-token KL estimate (the penalty's estimator) to the reference."""
    rewards: torch.Tensor
    """−β·KL per token plus the score on the last real token."""
    advantages: torch.Tensor
    returns: torch.Tensor
    entropy: torch.Tensor
    """Entropy of the rollout policy's next-token distribution."""
    kl_coef: float
    """β used for this rollout's rewards."""

    @property
    def input_ids(self) -> torch.Tensor:
        return self.generation.input_ids

    @property
    def attention_mask(self) -> torch.Tensor:
        return self.generation.attention_mask


def last_token_rewards(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[N, C] zeros with each row's score on its last real completion token (the EOS, or the
    last token of a truncated completion): the sequence reward of method §10.3."""
    lengths = mask.sum(dim=1).long()
    out = torch.zeros(mask.shape, dtype=scores.dtype)
    rows = torch.arange(mask.shape[0])
    has_tokens = lengths > 0
    out[rows[has_tokens], (lengths - 1)[has_tokens]] = scores[has_tokens]
    return out


class TokenPPOTrainer(GenerativeRLTrainer):
    """Token-level PPO with a value head on the shared skeleton. `train()` (or `fit()`)
    logs to `<out_dir>/metrics.jsonl`, checkpoints to `<out_dir>/checkpoints/` and saves the
    policy with its value head to `<out_dir>/model`."""

    curve_keys = ("objective/scores", "objective/kl", "kl_coef", "objective/rlhf_reward",
                  "kl", "policy/approxkl_avg", "policy/clipfrac_avg", "explained_variance",
                  "loss/value_avg", "completions/mean_length", "eval/reward_model_score",
                  "eval/exact_match", "eval/format_rate")

    def curve_targets(self) -> dict[str, float]:
        return ({"objective/kl": self.config.kl_target}
                if self.config.kl_target is not None else {})

    def __init__(self, policy: PolicyWithValueHead, tokenizer: Any,
                 reward: Scorer | RewardScorer | RewardSet,
                 train_rows: Sequence[Row], config: TokenPPOConfig, out_dir: str | Path, *,
                 evaluator: Evaluator | None = None,
                 callbacks: Sequence[TrainerCallback] = ()):
        """`reward`: a `RewardScorer` or any `(prompts, completions) -> scores` callable; a
        `RewardSet` scores with the dataset's columns (TRL's convention) and its weighted
        total is the score. `evaluator`: held-out metrics of the policy (None: none)."""
        if not isinstance(policy, PolicyWithValueHead):
            raise PathrlError("token PPO needs a PolicyWithValueHead (the policy with its "
                              "value head)")
        self.config = config
        self.reward = reward
        self.pool = PromptPool(train_rows, config.seed)
        check_prompt_lengths(tokenizer, self.pool.rows, config.max_prompt_length, "training")
        self.evaluator = evaluator
        eval_every = config.eval_every if evaluator is not None else 0
        super().__init__(out_dir, LoopSettings(
            total_steps=config.total_steps, seed=config.seed, eval_every=eval_every,
            eval_metric=self.eval_metric, keep_best=config.keep_best and bool(eval_every),
            checkpoint_every=config.checkpoint_every, checkpoint_prefix="step",
            keep_checkpoints=config.save_total_limit,
            max_kl_trips=config.max_kl_trips if config.target_kl is not None else None),
            callbacks)
        self.model, self.tokenizer = policy, tokenizer
        disable_dropout(policy)  # the ratio must compare the same function
        if config.gradient_checkpointing:
            enable_gradient_checkpointing(policy.policy)
        # The reference is the frozen starting policy (method §10.5): every KL is against it.
        self.reference = ReferencePolicy(policy.policy)
        head = list(policy.value_head.parameters())
        head_ids = {id(p) for p in head}
        actor = [p for p in trainable_parameters(policy) if id(p) not in head_ids]
        groups = [
            {"params": [p for p in actor if p.ndim >= 2], "weight_decay": config.weight_decay,
             "lr": config.learning_rate},
            {"params": [p for p in actor if p.ndim < 2], "weight_decay": 0.0,
             "lr": config.learning_rate},
            {"params": head, "weight_decay": 0.0, "lr": config.value_head_learning_rate},
        ]
        self.optimizer = torch.optim.AdamW([g for g in groups if g["params"]])
        from transformers import get_scheduler

        self.scheduler = get_scheduler(
            config.lr_scheduler, self.optimizer,
            num_warmup_steps=math.ceil(config.warmup_ratio * config.optimizer_steps),
            num_training_steps=config.optimizer_steps)
        self.kl_ctl = AdaptiveKLController(config.init_kl_coef, config.kl_target,
                                           config.kl_horizon)
        self.doctor = doctor_callback(config.doctor, config.stop_on_critical,
                                      config.max_grad_norm)
        if self.doctor is not None:
            self.callbacks.append(self.doctor)
        self._init_eval_state()

    @property
    def eval_model(self) -> Any:
        return self.model.policy

    # -- scoring -------------------------------------------------------------------------------
    def score(self, rows: Sequence[Row], texts: Sequence[str]) -> torch.Tensor:
        """One score per completion, from the reward model / callable / rule rewards."""
        prompts = [row["prompt"] for row in rows]
        try:
            if isinstance(self.reward, RewardSet):
                completions, kwargs = reward_inputs(rows, texts, [[] for _ in texts])
                totals = self.reward.score(completions, **kwargs).total
                values = [0.0 if math.isnan(t) else t for t in totals]
            elif isinstance(self.reward, RewardScorer):
                values = self.reward.score(prompts, list(texts)).tolist()
            else:
                values = list(self.reward(prompts, list(texts)))
        except (TypeError, ValueError, KeyError) as exc:
            raise PathrlError(f"the reward failed: {exc}") from None
        scores = torch.as_tensor(values, dtype=torch.float32).reshape(-1)
        if scores.numel() != len(texts):
            raise PathrlError(f"the reward returned {scores.numel()} scores for {len(texts)} "
                              "completions")
        return scores

    # -- rollout -------------------------------------------------------------------------------
    def _forward(self, ids: torch.Tensor, mask: torch.Tensor, width: int,
                 entropy_grad: bool = False) -> tuple[TokenScores, torch.Tensor]:
        """Completion log-probs, entropies and values (V before each completion token)."""
        scores = completion_scores(self.model.policy, ids, mask, width, self.config.temperature,
                                   with_entropy=True, with_hidden=True,
                                   entropy_grad=entropy_grad)
        with torch.autocast(scores.hidden.device.type, enabled=False):  # the head: float32
            values = self.model.value_head(scores.hidden.float()).squeeze(-1)
        return scores, values

    def _reference_logps(self, ids: torch.Tensor, mask: torch.Tensor,
                         width: int) -> torch.Tensor:
        temperature = self.config.temperature
        if self.reference.shared:  # the LoRA policy with its adapter off
            with self.model.policy.disable_adapter():
                return completion_scores(self.model.policy, ids, mask, width,
                                         temperature).logps
        return completion_scores(self.reference.model, ids, mask, width, temperature).logps

    @torch.no_grad()
    def rollout(self, rows: Sequence[Row]) -> PPORollout:
        cfg = self.config
        device = model_device(self.model)
        generation = generate(
            self.model.policy, self.tokenizer, [row["prompt"] for row in rows],
            max_new_tokens=cfg.max_completion_length, temperature=cfg.temperature,
            top_p=cfg.top_p, top_k=cfg.top_k, seed=draw_seed(self.generator),
            batch_size=cfg.generation_batch_size)
        self.model.eval()
        ids, attention = generation.input_ids, generation.attention_mask
        width = generation.completion_ids.shape[1]
        logps, ref_logps, values, entropy = [], [], [], []
        for start in range(0, ids.shape[0], cfg.micro_batch_size):
            chunk = slice(start, start + cfg.micro_batch_size)
            chunk_ids, chunk_mask = ids[chunk].to(device), attention[chunk].to(device)
            scores, value = self._forward(chunk_ids, chunk_mask, width)
            logps.append(scores.logps.cpu())
            entropy.append(scores.entropy.cpu())
            values.append(value.cpu())
            ref_logps.append(self._reference_logps(chunk_ids, chunk_mask, width).cpu())
        mask = generation.completion_mask.float()
        logp, ref_logp = torch.cat(logps) * mask, torch.cat(ref_logps) * mask
        value = torch.cat(values) * mask
        score = self.score(list(rows), generation.texts)
        if cfg.missing_eos_penalty is not None:
            score = score - cfg.missing_eos_penalty * generation.truncated.float()
        kl = KL_ESTIMATORS[cfg.kl_penalty](logp, ref_logp) * mask
        beta = self.kl_ctl.value
        rewards = -beta * kl + last_token_rewards(score, mask)
        if cfg.whiten_rewards:
            rewards = normalize(rewards, mask, shift_mean=False)
        advantages, returns = ADVANTAGE_ESTIMATORS["gae"](rewards, value, mask, gamma=cfg.gamma,
                                                          lam=cfg.lam)
        if cfg.whiten_advantages:
            advantages = normalize(advantages, mask)
        return PPORollout(rows=list(rows), generation=generation, mask=mask, logps=logp,
                          ref_logps=ref_logp, values=value, scores=score, kl=kl,
                          rewards=rewards, advantages=advantages, returns=returns,
                          entropy=torch.cat(entropy) * mask, kl_coef=beta)

    # -- optimisation --------------------------------------------------------------------------
    def optimise(self, batch: PPORollout) -> dict[str, float]:
        cfg = self.config
        device = model_device(self.model)
        n = batch.input_ids.shape[0]
        prompt_width = batch.generation.prompt_ids.shape[1]
        names = ("policy", "value", "approxkl", "clipfrac", "vf_clipfrac", "ratio", "entropy")
        sums = dict.fromkeys(names, 0.0)
        weights = 0.0
        grad_norms: list[float] = []
        tripped = False
        lr = self.optimizer.param_groups[0]["lr"]
        self.model.train()
        for _epoch in range(cfg.ppo_epochs):
            order = torch.randperm(n, generator=self.generator).tolist()
            size = math.ceil(n / cfg.num_mini_batches)
            for start in range(0, n, size):
                minibatch = order[start:start + size]
                mb_tokens = max(float(batch.mask[minibatch].sum()), 1.0)
                mb_approx_kl = 0.0
                for m0 in range(0, len(minibatch), cfg.micro_batch_size):
                    micro = minibatch[m0:m0 + cfg.micro_batch_size]
                    width = max(1, int(batch.mask[micro].sum(1).max()))
                    ids = batch.input_ids[micro, :prompt_width + width].to(device)
                    attention = batch.attention_mask[micro, :prompt_width + width].to(device)
                    mask = batch.mask[micro, :width].to(device)
                    with self.autocast():
                        scores, values = self._forward(ids, attention, width,
                                                       entropy_grad=cfg.ent_coef > 0)

                    def old(t: torch.Tensor, micro=micro, width=width) -> torch.Tensor:
                        return t[micro, :width].to(device)

                    advantages = old(batch.advantages)
                    pl = POLICY_LOSSES["ppo_clip"](scores.logps, old(batch.logps), advantages,
                                                   clip_range=cfg.clip_range, mask=mask)
                    old_values, returns = old(batch.values), old(batch.returns)
                    vl = value_loss(values, returns, old_values, cfg.clip_range_value, mask)
                    entropy = masked_mean(scores.entropy, mask)
                    loss = pl.loss + cfg.vf_coef * vl - cfg.ent_coef * entropy
                    weight = float(mask.sum()) / mb_tokens
                    (loss * weight).backward()
                    mb_approx_kl += float(pl.approx_kl) * weight
                    with torch.no_grad():
                        if cfg.clip_range_value is not None:
                            clipped = old_values + torch.clamp(values - old_values,
                                                               -cfg.clip_range_value,
                                                               cfg.clip_range_value)
                            vf_clipped = ((clipped - returns) ** 2 > (values - returns) ** 2)
                            vf_clipfrac = float(masked_mean(vf_clipped.float(), mask))
                        else:
                            vf_clipfrac = 0.0
                    tokens = float(mask.sum())
                    for key, value in (("policy", float(pl.loss.detach())),
                                       ("value", float(vl.detach())),
                                       ("approxkl", float(pl.approx_kl)),
                                       ("clipfrac", float(pl.clip_fraction)),
                                       ("vf_clipfrac", vf_clipfrac),
                                       ("ratio", float(pl.ratio_mean)),
                                       ("entropy", float(entropy.detach()))):
                        sums[key] += value * tokens
                    weights += tokens
                if cfg.target_kl is not None and mb_approx_kl > 1.5 * cfg.target_kl:
                    tripped = True  # method §6.1's circuit breaker: drop this step, end the epochs
                    self.optimizer.zero_grad(set_to_none=True)
                    break
                grad_norm = torch.nn.utils.clip_grad_norm_(trainable_parameters(self.model),
                                                           cfg.max_grad_norm)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                grad_norms.append(float(grad_norm))
            if tripped:
                break
        self.model.eval()
        out = {k: v / max(weights, 1.0) for k, v in sums.items()}
        out["grad_norm"] = sum(grad_norms) / len(grad_norms) if grad_norms else float("nan")
        out["lr"] = lr
        out["kl_early_stop"] = float(tripped)
        return out

    # -- one step ------------------------------------------------------------------------------
    def run_step(self) -> StepResult:
        cfg = self.config
        rows = self.pool.batch(self.step, cfg.prompts_per_step)
        with self.autocast():
            batch = self.rollout(rows)
        opt = self.optimise(batch)
        mask = batch.mask
        sequence_kl = batch.kl.sum(dim=1)
        non_score = (-batch.kl_coef * batch.kl).sum(dim=1)
        valid = mask.bool()
        metrics: dict[str, Any] = {
            "objective/scores": float(batch.scores.mean()),
            "objective/scores_std": float(batch.scores.std()) if len(batch.scores) > 1 else 0.0,
            "objective/kl": float(sequence_kl.mean()),
            "objective/entropy": float((-batch.logps * mask).sum(dim=1).mean()),
            "objective/non_score_reward": float(non_score.mean()),
            "objective/rlhf_reward": float((batch.scores + non_score).mean()),
            "kl": float(masked_mean(batch.kl, mask)),
            "kl_coef": batch.kl_coef,
            "policy/entropy_avg": float(masked_mean(batch.entropy, mask)),
            "policy/approxkl_avg": opt["approxkl"],
            "policy/clipfrac_avg": opt["clipfrac"],
            "loss/policy_avg": opt["policy"],
            "loss/value_avg": opt["value"],
            "val/clipfrac_avg": opt["vf_clipfrac"],
            "val/ratio": opt["ratio"],
            "val/num_eos_tokens": float((~batch.generation.truncated).sum()),
            "explained_variance": explained_variance(batch.values[valid],
                                                     batch.returns[valid]),
            "grad_norm": opt["grad_norm"],
            "lr": opt["lr"],
            "kl_early_stop": opt["kl_early_stop"],
            **length_metrics(batch.generation.completion_lengths, batch.generation.truncated),
        }
        # β adapts to the summed KL of this rollout, for the next one (Ziegler et al.).
        self.kl_ctl.update(float(sequence_kl.mean()), len(rows))
        metrics.update(self.step_evaluation())
        self.last_metrics = metrics
        return StepResult(metrics=metrics, kl_early_stop=bool(opt["kl_early_stop"]))

    # -- saving -----------------------------------------------------------------------------
    def save_model(self, directory: Path) -> None:
        self.model.save_pretrained(directory, self.tokenizer, merge_lora=self.config.merge_lora)


def run_token_ppo(config: TokenPPOConfig, out_dir: str | Path, resume: bool = False,
                  progress: ProgressFn | None = None,
                  callbacks: Sequence[TrainerCallback] = ()) -> RLSummary:
    """Load the policy with a value head (read back when the start directory has one), the
    reward model (or the rule rewards), the data; train; save OUT/model (with
    value_head.safetensors), OUT/config.yaml and OUT/summary.json."""
    from pathrl.llm.rewards import reward_set
    from pathrl.llm.training import write_config

    seed_everything(config.seed)  # LoRA's initialisation draws from the global RNG
    policy, tokenizer = PolicyWithValueHead.from_pretrained(
        config.model, device=config.device, dtype=config.dtype, lora=config.lora)
    reward: RewardScorer | RewardSet
    if config.reward_model is not None:
        reward = RewardScorer.from_pretrained(config.reward_model, device=config.device,
                                              dtype=config.dtype)
    else:
        reward = reward_set(config.rewards)
    rows, held_out = rl_data(config.data)
    rm_score = reward.score if isinstance(reward, RewardScorer) else None
    evaluator = (task_evaluator(held_out, config.max_completion_length, config.eval_batch_size,
                                scorer=rm_score)
                 if held_out and config.eval_every else None)
    trainer = TokenPPOTrainer(policy, tokenizer, reward, rows, config, out_dir,
                              evaluator=evaluator, callbacks=callbacks)
    write_config(out_dir, config)
    summary = trainer.fit(resume=resume, progress=progress)
    write_summary(out_dir, summary)
    return summary
