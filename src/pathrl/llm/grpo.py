"""GRPO for generative LLMs (docs/method.md §10.6, docs/llm_rl.md), on the shared trainer
skeleton (`pathrl.rl.trainer.Trainer`: loop, checkpoints, exact resume, keep-best, doctor).

    trainer = GRPOTrainer(model, tokenizer, reward_set("standard"), train_rows, config,
                          "runs/grpo", eval_rows=eval_rows)
    summary = trainer.fit()

One step: draw `prompts_per_step` prompts, sample `num_generations` (G) completions of each
(left-padded batches with the KV cache, seeded from the trainer's generator), score them
with the reward functions (TRL's signature: `f(completions, **kwargs)`, the dataset's other
columns as keyword lists), turn each group's rewards into advantages (`grpo`: (r − mean) /
(std + 1e-4), or `rloo`), then `num_iterations` passes of the clipped surrogate plus β·KL to
the frozen reference, aggregated over the completion tokens by the registry's mode. Tokens
after a completion's EOS carry no loss; a completion cut at max_completion_length keeps its
tokens unless `mask_truncated_completions`. The metrics carry TRL GRPOTrainer's names, which
the doctor reads (`pathrl.rl.metrics.GRPO_METRICS`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pathrl.config import ConfigChecks
from pathrl.errors import PathrlError
from pathrl.llm.models import (
    Generation,
    LoraSettings,
    ReferencePolicy,
    disable_dropout,
    generate,
    model_device,
    save_policy,
    trainable_parameters,
)
from pathrl.llm.rewards import RewardFunction, RewardScores, RewardSet
from pathrl.llm.rollout import (
    Evaluator,
    GenerativeRLTrainer,
    ProgressFn,
    PromptPool,
    RLSummary,
    Row,
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
from pathrl.rl.registry import (
    ADVANTAGE_ESTIMATORS,
    AGGREGATIONS,
    KL_ESTIMATORS,
    aggregate,
)
from pathrl.rl.trainer import LoopSettings, StepResult, TrainerCallback, seed_everything


@dataclass
class GRPOConfig:
    """GRPO settings (TRL GRPOConfig's names where it has them). Defaults: a conservative run
    of the seed's recipe (G = 8, k3 KL to the reference, clip 0.2, one update per batch)."""

    model: str = "smollm2"
    """Policy to start from: smollm2 (packaged, offline), a local Hugging Face directory, or
    a directory a pathrl trainer saved (an SFT cold start: `pathrl llm sft`)."""
    device: str = "auto"
    """auto (cuda, then mps, else cpu), cpu, cuda, cuda:N, mps."""
    dtype: str = "auto"
    """auto (bfloat16 on CUDA, else float32), float32, bfloat16, float16."""
    lora: LoraSettings | None = None
    """A LoRA adapter to train instead of every weight (null: full fine-tuning). The
    reference is then the same weights with the adapter off (no copy)."""
    rewards: str = "standard"
    """Reward preset of `pathrl.llm.rewards.reward_set` (simple, standard, dense) used by
    `run_grpo`; a `GRPOTrainer` takes any reward functions."""
    data: TaskDataConfig = field(default_factory=TaskDataConfig)
    """Training prompts and held-out evaluation problems."""

    num_generations: int = 8
    """G: completions sampled per prompt (the group whose rewards are normalised)."""
    prompts_per_step: int = 4
    """Prompts per step; a step samples prompts_per_step × G completions (TRL:
    per_device_train_batch_size × gradient_accumulation_steps / num_generations)."""
    max_prompt_length: int = 512
    """Longest prompt in tokens; a longer one is an error (a cut prompt loses its
    instructions), not a silent truncation."""
    max_completion_length: int = 256
    """Tokens sampled per completion at most; one that reaches it without EOS is truncated
    (`completions/clipped_ratio`)."""
    temperature: float = 1.0
    """Sampling temperature (> 0); log-probs are taken at the same temperature."""
    top_p: float = 1.0
    """Nucleus sampling (1: off)."""
    top_k: int = 0
    """Top-k sampling (0: off)."""
    generation_batch_size: int = 64
    """Completions per `generate` call (a multiple of G is used: whole groups)."""

    learning_rate: float = 1e-6
    """Peak learning rate (AdamW). TRL's default; a small model on a toy task takes ~1e-5,
    LoRA ~10x more."""
    lr_scheduler: str = "constant"
    """transformers scheduler name: linear, cosine, cosine_with_restarts, polynomial,
    constant, constant_with_warmup; stepped once per optimiser step."""
    warmup_ratio: float = 0.0
    """Fraction of the optimiser steps with a linear warm-up."""
    weight_decay: float = 0.0
    """AdamW weight decay (matrices only)."""
    max_grad_norm: float = 1.0
    """Gradient clipping (global norm); the logged `grad_norm` is the norm before it."""

    beta: float = 0.04
    """Coefficient of the KL to the frozen reference (the seed's recipe: the KL anchor);
    0 disables the reference altogether (no copy, no reference pass, no `kl` metric)."""
    kl_estimator: str = "k3"
    """Per-token estimator of KL(π ‖ π_ref) on the sampled tokens: k1, k2 or k3 (TRL: k3)."""
    epsilon: float = 0.2
    """Lower clip of the ratio: clip(r, 1 − epsilon, 1 + epsilon_high)."""
    epsilon_high: float | None = None
    """Upper clip (DAPO's clip-higher, e.g. 0.28); None: epsilon."""
    num_iterations: int = 1
    """Policy updates per generation batch (TRL's μ). 1: on-policy, the ratio is exactly 1
    and the clip never binds; > 1 reuses the batch, with the rollout's log-probs as the old
    policy."""
    mini_batches: int = 1
    """Optimiser steps per pass over a generation batch (TRL's steps_per_generation); each
    takes 1/mini_batches of the completions (whole rows, shuffled)."""
    micro_batch_size: int = 8
    """Completions per forward/backward; gradients accumulate over the mini-batch, so this
    changes memory, not the result."""
    advantage_estimator: str = "grpo"
    """`grpo` (group-normalised) or `rloo` (leave-one-out baseline), from the registry."""
    scale_rewards: bool = True
    """grpo: divide by the group's standard deviation (False: Dr. GRPO, centring only)."""
    loss_aggregation: str = "token_mean"
    """How per-token losses reduce (registry `aggregate`): token_mean (every token weighs the
    same, TRL's dapo/bnpo), seq_mean_token_mean (the original GRPO), seq_mean_token_sum."""
    mask_truncated_completions: bool = False
    """Leave completions cut at max_completion_length out of the loss (DAPO)."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass (less memory, ~30% slower)."""
    share_prompt_pass: bool = True
    """Run each prompt's columns once per micro-batch and copy its KV cache to its
    completions (gradients flow back through the copies), in the reference pass and the
    updates: the same loss at (G − 1)·P fewer token positions per group (TRL runs every row
    whole). False: one pass per row. Off by itself under gradient checkpointing."""
    bf16: bool = False
    """bfloat16 mixed precision: generation and forward passes under torch.autocast, weights
    and optimiser state in float32 (TRL's bf16; fast on CUDA and on AMX CPUs)."""

    total_steps: int = 100
    """Steps to run (one generation batch + its updates each)."""
    eval_every: int = 10
    """Greedy evaluation on the held-out problems every N steps, at the start and at the
    last step (0: never)."""
    eval_batch_size: int = 32
    """Prompts per greedy evaluation batch."""
    checkpoint_every: int = 10
    """Checkpoint every N steps (0: only on Ctrl-C and at the end); `--resume` continues
    from the latest."""
    save_total_limit: int = 2
    """Checkpoints kept on disk (oldest deleted first); 0: keep all."""
    keep_best: bool = False
    """Ship the policy of the best evaluation (exact rate) instead of the last."""
    merge_lora: bool = False
    """Save a LoRA policy merged into full weights instead of the adapter alone."""
    seed: int = 7
    """Seeds torch, Python, NumPy, the prompt order and the sampling seeds."""
    doctor: bool = True
    """Run `pathrl doctor`'s rules live on the metrics; findings go to the summary."""
    stop_on_critical: bool = False
    """Stop training when the doctor raises a critical finding."""

    def __post_init__(self) -> None:
        checks = ConfigChecks(self)
        checks.at_least(1, "num_generations", "prompts_per_step", "max_prompt_length",
                        "max_completion_length", "generation_batch_size", "num_iterations",
                        "mini_batches", "micro_batch_size", "total_steps", "eval_batch_size")
        checks.at_least(0, "eval_every", "checkpoint_every", "save_total_limit", "top_k")
        checks.sampling()
        checks.schedule(SCHEDULERS)
        checks.require(self.beta >= 0 and self.weight_decay >= 0 and self.max_grad_norm > 0,
                       "beta and weight_decay must be >= 0, max_grad_norm > 0")
        checks.require(0 < self.epsilon < 1, f"epsilon must be in (0, 1), got {self.epsilon}")
        checks.require(self.epsilon_high is None or self.epsilon_high > 0,
                       f"epsilon_high must be > 0 or None, got {self.epsilon_high}")
        checks.require(self.kl_estimator in KL_ESTIMATORS,
                       f"kl_estimator must be one of {', '.join(sorted(KL_ESTIMATORS))}, "
                       f"got '{self.kl_estimator}'")
        checks.require(self.advantage_estimator in ("grpo", "rloo"),
                       "advantage_estimator must be grpo or rloo, got "
                       f"'{self.advantage_estimator}'")
        checks.require(not (self.advantage_estimator == "rloo" and self.num_generations < 2),
                       "rloo needs num_generations >= 2")
        checks.require(self.loss_aggregation in AGGREGATIONS,
                       f"loss_aggregation must be one of {', '.join(AGGREGATIONS)}, got "
                       f"'{self.loss_aggregation}'")
        checks.require(self.mini_batches <= self.prompts_per_step * self.num_generations,
                       "mini_batches must be <= prompts_per_step × num_generations")
        checks.raise_if_any("bad GRPO config")

    @property
    def completions_per_step(self) -> int:
        return self.prompts_per_step * self.num_generations

    @property
    def optimizer_steps(self) -> int:
        """Optimiser steps over the whole run."""
        return self.total_steps * self.num_iterations * self.mini_batches


@dataclass
class GRPORollout:
    """One generation batch and what the updates need of it (rows are prompt-major: the G
    completions of a prompt are consecutive)."""

    rows: list[Row]
    """The dataset row of every completion (each prompt's row repeated G times)."""
    generation: Generation
    scores: RewardScores
    rewards: torch.Tensor
    """[N] weighted total reward (NaN where no reward function applied)."""
    advantages: torch.Tensor
    """[N] one advantage per completion, shared by its tokens (0 for an unscorable one)."""
    loss_mask: torch.Tensor
    """[N, C] 1 on the completion tokens that carry loss (up to and including EOS)."""
    old_logps: torch.Tensor | None
    """[N, C] log-probs under the rollout policy; None when every update is on-policy
    (num_iterations = mini_batches = 1: the current log-probs, detached, are the old ones)."""
    ref_logps: torch.Tensor | None
    """[N, C] log-probs under the reference; None when beta = 0."""

    @property
    def input_ids(self) -> torch.Tensor:
        return self.generation.input_ids

    @property
    def attention_mask(self) -> torch.Tensor:
        return self.generation.attention_mask


def as_reward_set(rewards: RewardSet | Sequence[RewardFunction | tuple[RewardFunction, float]]
                  ) -> RewardSet:
    """A `RewardSet` as it is; a list of TRL reward functions (or (function, weight) pairs)
    becomes one."""
    if isinstance(rewards, RewardSet):
        return rewards
    try:
        return RewardSet(list(rewards))
    except (TypeError, ValueError) as exc:
        raise PathrlError(f"bad reward functions: {exc}") from None


def group_advantages(rewards: torch.Tensor, group_size: int, estimator: str = "grpo",
                     scale: bool = True) -> torch.Tensor:
    """Advantages from the registry's estimator, group by group. A completion no reward
    applied to (NaN) takes its group's mean for the others' statistics and gets advantage 0
    (no signal), as in TRL."""
    finite = torch.isfinite(rewards)
    grouped = rewards.reshape(-1, group_size)
    counts = finite.reshape(-1, group_size).sum(dim=1, keepdim=True).clamp_min(1)
    means = torch.where(finite.reshape(-1, group_size), grouped, 0.0).sum(
        dim=1, keepdim=True) / counts
    filled = torch.where(finite.reshape(-1, group_size), grouped, means).reshape(-1)
    if estimator == "grpo":
        advantages = ADVANTAGE_ESTIMATORS["grpo"](filled, group_size=group_size, scale=scale)
    elif estimator == "rloo":
        advantages = ADVANTAGE_ESTIMATORS["rloo"](filled, group_size=group_size)
    else:
        raise PathrlError(f"unknown GRPO advantage estimator '{estimator}' (grpo, rloo)")
    return torch.where(finite, advantages, torch.zeros_like(advantages))


class GRPOTrainer(GenerativeRLTrainer):
    """GRPO on the shared skeleton. `train()` (or `fit()`, which also returns the summary)
    logs every step to `<out_dir>/metrics.jsonl` (+ TensorBoard), checkpoints to
    `<out_dir>/checkpoints/`, and saves the shipped policy to `<out_dir>/model`."""

    curve_keys = ("reward", "reward_std", "frac_reward_zero_std", "kl", "entropy",
                  "completions/mean_length", "completions/clipped_ratio", "grad_norm",
                  "clip_ratio/region_mean", "eval/exact_match", "eval/format_rate")

    def __init__(self, model: Any, tokenizer: Any,
                 rewards: RewardSet | Sequence[RewardFunction | tuple[RewardFunction, float]],
                 train_rows: Sequence[Row], config: GRPOConfig, out_dir: str | Path, *,
                 evaluator: Evaluator | None = None,
                 callbacks: Sequence[TrainerCallback] = ()):
        """`train_rows`: TRL rows (`prompt` plus the columns the rewards read). `evaluator`:
        held-out metrics of the current policy (see `task_evaluator`); None: no evaluation."""
        self.config = config
        self.rewards = as_reward_set(rewards)
        self.pool = PromptPool(train_rows, config.seed)
        check_prompt_lengths(tokenizer, self.pool.rows, config.max_prompt_length, "training")
        self.evaluator = evaluator
        eval_every = config.eval_every if evaluator is not None else 0
        super().__init__(out_dir, LoopSettings(
            total_steps=config.total_steps, seed=config.seed, eval_every=eval_every,
            eval_metric=self.eval_metric, keep_best=config.keep_best and bool(eval_every),
            checkpoint_every=config.checkpoint_every, checkpoint_prefix="step",
            keep_checkpoints=config.save_total_limit), callbacks)
        self.model, self.tokenizer = model, tokenizer
        # Dropout off: the ratio must compare the same function, exactly 1 before an update.
        disable_dropout(model)
        if config.gradient_checkpointing:
            enable_gradient_checkpointing(model)
        self.reference = ReferencePolicy(model) if config.beta > 0 else None
        params = trainable_parameters(model)
        if not params:
            raise PathrlError("the policy has no trainable parameters")
        decay = [p for p in params if p.ndim >= 2]
        no_decay = [p for p in params if p.ndim < 2]
        groups = [{"params": decay, "weight_decay": config.weight_decay},
                  {"params": no_decay, "weight_decay": 0.0}]
        self.optimizer = torch.optim.AdamW([g for g in groups if g["params"]],
                                           lr=config.learning_rate)
        from transformers import get_scheduler

        self.scheduler = get_scheduler(
            config.lr_scheduler, self.optimizer,
            num_warmup_steps=math.ceil(config.warmup_ratio * config.optimizer_steps),
            num_training_steps=config.optimizer_steps)
        self.doctor = doctor_callback(config.doctor, config.stop_on_critical,
                                      config.max_grad_norm)
        if self.doctor is not None:
            self.callbacks.append(self.doctor)
        self._init_eval_state()

    # -- rollout -------------------------------------------------------------------------------
    @torch.no_grad()
    def rollout(self, rows: Sequence[Row]) -> GRPORollout:
        """Sample G completions of each row's prompt, score and normalise them, and take the
        log-probs the updates need (old policy, reference)."""
        cfg = self.config
        group = cfg.num_generations
        generation = generate(
            self.model, self.tokenizer, [row["prompt"] for row in rows],
            max_new_tokens=cfg.max_completion_length, temperature=cfg.temperature,
            top_p=cfg.top_p, top_k=cfg.top_k, num_return_sequences=group,
            seed=draw_seed(self.generator),
            batch_size=max(1, cfg.generation_batch_size // group))
        expanded = [rows[i] for i in generation.prompt_index]
        lengths = generation.completion_lengths.tolist()
        ids = [row[:n] for row, n in zip(generation.completion_ids.tolist(), lengths,
                                         strict=True)]
        completions, kwargs = reward_inputs(expanded, generation.texts, ids)
        try:
            scores = self.rewards.score(completions, num_generations=group, **kwargs)
        except (TypeError, ValueError, KeyError) as exc:
            raise PathrlError(f"a reward function failed: {exc}") from None
        rewards = torch.tensor(scores.total, dtype=torch.float32)
        advantages = group_advantages(rewards, group, cfg.advantage_estimator,
                                      cfg.scale_rewards)
        loss_mask = generation.completion_mask.float()
        if cfg.mask_truncated_completions:
            loss_mask = loss_mask * (~generation.truncated).float().unsqueeze(1)
        needs_old = cfg.num_iterations > 1 or cfg.mini_batches > 1
        old = self._scores_in_chunks(generation, self.model) if needs_old else None
        ref = self._scores_in_chunks(generation, None) if self.reference is not None else None
        return GRPORollout(rows=expanded, generation=generation, scores=scores, rewards=rewards,
                           advantages=advantages, loss_mask=loss_mask, old_logps=old,
                           ref_logps=ref)

    def _scores_in_chunks(self, generation: Generation, model: Any | None) -> torch.Tensor:
        """[N, C] completion log-probs under `model` (None: the reference), micro-batched."""
        device = model_device(self.model)
        ids, mask = generation.input_ids, generation.attention_mask
        width = generation.completion_ids.shape[1]
        out = []
        for start in range(0, ids.shape[0], self.config.micro_batch_size):
            chunk = slice(start, start + self.config.micro_batch_size)
            out.append(self._logps(model, ids[chunk].to(device), mask[chunk].to(device),
                                   width).cpu())
        return torch.cat(out)

    def _prompt_width(self, rows_width: int, completion_width: int) -> int | None:
        """What `completion_scores` needs to run shared prompts once (None: off)."""
        return rows_width - completion_width if self.config.share_prompt_pass else None

    def _logps(self, model: Any | None, ids: torch.Tensor, mask: torch.Tensor,
               width: int) -> torch.Tensor:
        options = {"temperature": self.config.temperature,
                   "prompt_width": self._prompt_width(ids.shape[1], width)}
        if model is not None:
            return completion_scores(model, ids, mask, width, **options).logps
        assert self.reference is not None
        if self.reference.shared:  # the LoRA policy with its adapter off
            with self.model.disable_adapter():
                return completion_scores(self.model, ids, mask, width, **options).logps
        return completion_scores(self.reference.model, ids, mask, width, **options).logps

    # -- optimisation --------------------------------------------------------------------------
    def micro_batch_loss(self, batch: GRPORollout, micro: Sequence[int],
                         weight: float) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of completions `micro` (with gradients), times `weight` (its share of the
        mini-batch under the aggregation mode), and the token sums of the step's metrics."""
        cfg = self.config
        device = model_device(self.model)
        eps_low, eps_high = cfg.epsilon, cfg.epsilon_high or cfg.epsilon
        prompt_width = batch.generation.prompt_ids.shape[1]
        # Only the micro-batch's longest completion is scored (rows are right-padded after
        # it): a batch of short completions costs less.
        width = max(1, int(batch.generation.completion_mask[micro].sum(1).max()))
        ids = batch.input_ids[micro, :prompt_width + width].to(device)
        attention = batch.attention_mask[micro, :prompt_width + width].to(device)
        mask = batch.loss_mask[micro, :width].to(device)
        scores = completion_scores(self.model, ids, attention, width, cfg.temperature,
                                   with_entropy=True,
                                   prompt_width=self._prompt_width(ids.shape[1], width))
        logps = scores.logps
        old = (batch.old_logps[micro, :width].to(device) if batch.old_logps is not None
               else logps.detach())
        ratio = torch.exp(logps - old)
        advantages = batch.advantages[micro].to(device).unsqueeze(1)
        clipped = torch.clamp(ratio, 1 - eps_low, 1 + eps_high)
        per_token = -torch.min(ratio * advantages, clipped * advantages)
        sums: dict[str, float] = {}
        if batch.ref_logps is not None:
            kl = KL_ESTIMATORS[cfg.kl_estimator](logps, batch.ref_logps[micro, :width].to(device))
            per_token = per_token + cfg.beta * kl
            sums["kl"] = float((kl.detach() * mask).sum())
        loss = aggregate(per_token, mask, cfg.loss_aggregation) * weight
        with torch.no_grad():
            low = (ratio < 1 - eps_low) & (advantages < 0)
            high = (ratio > 1 + eps_high) & (advantages > 0)
            sums["low"] = float((low.float() * mask).sum())
            sums["high"] = float((high.float() * mask).sum())
            sums["region"] = float(((low | high).float() * mask).sum())
            sums["entropy"] = float((scores.entropy * mask).sum())
            sums["tokens"] = float(mask.sum())
            if batch.old_logps is not None:  # how far the updates moved from the rollout
                log_ratio = logps.detach() - old
                sums["approx_kl"] = float(((torch.expm1(log_ratio) - log_ratio) * mask).sum())
        return loss, sums

    def optimise(self, batch: GRPORollout) -> dict[str, float]:
        """`num_iterations` passes over the batch, `mini_batches` optimiser steps each."""
        cfg = self.config
        n = batch.input_ids.shape[0]
        sums = dict.fromkeys(("kl", "approx_kl", "entropy", "low", "high", "region", "tokens"),
                             0.0)
        losses, grad_norms = [], []
        lr = self.optimizer.param_groups[0]["lr"]
        self.model.train()
        for _iteration in range(cfg.num_iterations):
            if cfg.mini_batches > 1:
                order = torch.randperm(n, generator=self.generator).tolist()
            else:
                order = list(range(n))
            size = math.ceil(n / cfg.mini_batches)
            for start in range(0, n, size):
                minibatch = order[start:start + size]
                mb_tokens = max(float(batch.loss_mask[minibatch].sum()), 1.0)
                step_loss = 0.0
                for m0 in range(0, len(minibatch), cfg.micro_batch_size):
                    micro = minibatch[m0:m0 + cfg.micro_batch_size]
                    # Each micro-batch's share of the mini-batch's aggregate, so accumulation
                    # gives the gradient of the whole mini-batch whatever micro_batch_size is.
                    if cfg.loss_aggregation == "token_mean":
                        weight = float(batch.loss_mask[micro].sum()) / mb_tokens
                    else:
                        weight = len(micro) / len(minibatch)
                    with self.autocast():
                        loss, micro_sums = self.micro_batch_loss(batch, micro, weight)
                    loss.backward()
                    step_loss += float(loss.detach())
                    for key, value in micro_sums.items():
                        sums[key] += value
                grad_norm = torch.nn.utils.clip_grad_norm_(trainable_parameters(self.model),
                                                           cfg.max_grad_norm)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                losses.append(step_loss)
                grad_norms.append(float(grad_norm))
        self.model.eval()
        tokens = max(sums["tokens"], 1.0)
        out = {
            "loss": sum(losses) / len(losses),
            "grad_norm": sum(grad_norms) / len(grad_norms),
            "learning_rate": lr,
            "entropy": sums["entropy"] / tokens,
            "clip_ratio/low_mean": sums["low"] / tokens,
            "clip_ratio/high_mean": sums["high"] / tokens,
            "clip_ratio/region_mean": sums["region"] / tokens,
        }
        if batch.ref_logps is not None:
            out["kl"] = sums["kl"] / tokens
        if batch.old_logps is not None:
            out["approx_kl"] = sums["approx_kl"] / tokens
        return out

    # -- one step ------------------------------------------------------------------------------
    def run_step(self) -> StepResult:
        cfg = self.config
        rows = self.pool.batch(self.step, cfg.prompts_per_step)
        with self.autocast():
            batch = self.rollout(rows)
        metrics: dict[str, Any] = {}
        metrics.update(batch.scores.metrics(group_size=cfg.num_generations))
        metrics.update(length_metrics(batch.generation.completion_lengths,
                                      batch.generation.truncated))
        metrics.update(self.optimise(batch))
        metrics["num_tokens"] = float(batch.attention_mask.sum())
        metrics.update(self.step_evaluation())
        self.last_metrics = metrics
        return StepResult(metrics=metrics)

    # -- saving -----------------------------------------------------------------------------
    def save_model(self, directory: Path) -> None:
        save_policy(self.model, self.tokenizer, directory, merge_lora=self.config.merge_lora)


def run_grpo(config: GRPOConfig, out_dir: str | Path, resume: bool = False,
             progress: ProgressFn | None = None,
             callbacks: Sequence[TrainerCallback] = ()) -> RLSummary:
    """Load the policy (and its LoRA adapter), build the data and the reward preset, train,
    save OUT/model, OUT/config.yaml and OUT/summary.json (checkpoints in OUT/checkpoints,
    the log in OUT/metrics.jsonl)."""
    from pathrl.llm.models import load_policy
    from pathrl.llm.rewards import reward_set
    from pathrl.llm.training import write_config

    seed_everything(config.seed)  # LoRA's initialisation draws from the global RNG
    model, tokenizer = load_policy(config.model, device=config.device, dtype=config.dtype,
                                   lora=config.lora)
    rows, held_out = rl_data(config.data)
    evaluator = (task_evaluator(held_out, config.max_completion_length, config.eval_batch_size)
                 if held_out and config.eval_every else None)
    trainer = GRPOTrainer(model, tokenizer, reward_set(config.rewards), rows, config, out_dir,
                          evaluator=evaluator, callbacks=callbacks)
    write_config(out_dir, config)
    summary = trainer.fit(resume=resume, progress=progress)
    write_summary(out_dir, summary)
    return summary
