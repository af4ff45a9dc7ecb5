"""Direct Preference Optimisation (docs/method.md §10.7): the policy learns from (prompt,
chosen, rejected) pairs against a frozen reference, no reward model.

    summary = run_dpo(DPOConfig(beta=0.1, lora=LoraSettings(), max_steps=100), "runs/dpo")

With log-ratios ρ(y) = log π_θ(y|x) − log π_ref(y|x) (sums over the completion's tokens) and
h = ρ(y⁺) − ρ(y⁻), the losses (`DPO_LOSSES`, a registry: `loss_type`) are

    sigmoid  −(1 − ε) log σ(β h) − ε log σ(−β h)     (DPO; ε = label_smoothing, cDPO)
    ipo      (h − 1/(2β))²   on per-token mean log-probs (IPO, as TRL computes it)
    hinge    max(0, 1 − β h)                         (SLiC)

The implicit rewards are β ρ(y): TRL's `rewards/chosen`, `rewards/rejected`, `rewards/margins`
(their difference) and `rewards/accuracies` (the share of pairs whose chosen reward is the
higher). The reference is the starting policy: the same weights with the LoRA adapter off,
a frozen copy for full fine-tuning, or another model (`reference`); with
`precompute_ref_logprobs` its log-probs are computed once before training and the model is
dropped. Held-out preference accuracy (`eval_rewards/accuracies`) is the evaluation score.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pathrl.errors import PathrlError
from pathrl.llm.models import (
    ReferencePolicy,
    disable_dropout,
    load_policy,
    model_device,
    save_policy,
    sequence_logprobs,
)
from pathrl.llm.training import (
    BatchLoss,
    EncodedPair,
    ProgressFn,
    SupervisedTrainer,
    TrainConfig,
    TrainSummary,
    encode_pairs,
    pair_batch,
    preference_examples,
    write_config,
    write_summary,
)
from pathrl.rl.registry import lookup, register
from pathrl.rl.trainer import TrainerCallback, seed_everything

DPOLossFn = Callable[[torch.Tensor, float, float], torch.Tensor]


@dataclass(frozen=True)
class DPOLoss:
    """A preference loss of h = ρ(y⁺) − ρ(y⁻) (per pair), with how ρ sums its tokens."""

    fn: DPOLossFn
    mean_over_tokens: bool = False
    """ρ from per-token mean log-probs instead of sums (IPO)."""

    def __call__(self, logits: torch.Tensor, beta: float,
                 label_smoothing: float = 0.0) -> torch.Tensor:
        return self.fn(logits, beta, label_smoothing)


DPO_LOSSES: dict[str, DPOLoss] = {}


def _sigmoid(h: torch.Tensor, beta: float, label_smoothing: float) -> torch.Tensor:
    return (-(1 - label_smoothing) * nn.functional.logsigmoid(beta * h)
            - label_smoothing * nn.functional.logsigmoid(-beta * h))


def _ipo(h: torch.Tensor, beta: float, label_smoothing: float) -> torch.Tensor:
    return (h - 1 / (2 * beta)) ** 2


def _hinge(h: torch.Tensor, beta: float, label_smoothing: float) -> torch.Tensor:
    return torch.relu(1 - beta * h)


register(DPO_LOSSES, "sigmoid")(DPOLoss(_sigmoid))
register(DPO_LOSSES, "ipo")(DPOLoss(_ipo, mean_over_tokens=True))
register(DPO_LOSSES, "hinge")(DPOLoss(_hinge))


@dataclass
class DPOTerms:
    """Per-pair loss and implicit rewards β ρ(y)."""

    losses: torch.Tensor
    chosen_rewards: torch.Tensor
    rejected_rewards: torch.Tensor

    @property
    def margins(self) -> torch.Tensor:
        return self.chosen_rewards - self.rejected_rewards

    @property
    def accuracies(self) -> torch.Tensor:
        return (self.chosen_rewards > self.rejected_rewards).float()


def dpo_terms(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor,
              reference_chosen: torch.Tensor, reference_rejected: torch.Tensor, beta: float,
              loss_type: str = "sigmoid", label_smoothing: float = 0.0) -> DPOTerms:
    """The loss and implicit rewards from sequence log-probs (sums, or per-token means for a
    `mean_over_tokens` loss) of the chosen and rejected completions under policy and
    reference."""
    loss = lookup(DPO_LOSSES, loss_type, "DPO loss")
    chosen_ratio = policy_chosen - reference_chosen
    rejected_ratio = policy_rejected - reference_rejected
    losses = loss(chosen_ratio - rejected_ratio, beta, label_smoothing)
    return DPOTerms(losses, beta * chosen_ratio.detach(), beta * rejected_ratio.detach())


@dataclass
class DPOConfig(TrainConfig):
    """DPO settings (every field of `TrainConfig`, DPO defaults)."""

    learning_rate: float = 1e-6
    """Peak learning rate (AdamW); TRL's default for full fine-tuning. LoRA takes 50-500x
    more (5e-5 to 5e-4)."""
    beta: float = 0.1
    """Strength of the KL anchor to the reference (0.1–0.5 usual; higher: stays closer)."""
    loss_type: str = "sigmoid"
    """sigmoid (DPO), ipo or hinge (`DPO_LOSSES`)."""
    label_smoothing: float = 0.0
    """Probability that a label is flipped (conservative DPO; sigmoid only)."""
    reference: str | None = None
    """Reference model (alias or directory); None: the starting policy."""
    precompute_ref_logprobs: bool = False
    """Compute the reference log-probs once before training and free the reference (one
    forward per pair instead of one per pair per epoch)."""
    disable_dropout: bool = True
    """Turn dropout off in the policy (as TRL does): its log-probs then match the
    reference's exactly at step 0."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.beta > 0:
            raise PathrlError(f"beta must be > 0, got {self.beta}")
        lookup(DPO_LOSSES, self.loss_type, "DPO loss")
        if not 0 <= self.label_smoothing < 0.5:
            raise PathrlError(f"label_smoothing must be in [0, 0.5), got {self.label_smoothing}")
        if self.label_smoothing and self.loss_type != "sigmoid":
            raise PathrlError("label_smoothing applies to loss_type sigmoid only")


@dataclass(frozen=True)
class ScoredPair(EncodedPair):
    """A pair with its reference log-probs (precomputed), or None."""

    reference_chosen: float | None = None
    reference_rejected: float | None = None


class DPOTrainer(SupervisedTrainer[ScoredPair]):
    """DPO on `pathrl.rl.trainer.Trainer` (checkpoints, exact resume, Ctrl-C, RunLogger)."""

    eval_metric = "eval_rewards/accuracies"

    def __init__(self, model: Any, tokenizer: Any, config: DPOConfig, train: Sequence[Any],
                 eval_set: Sequence[Any], out_dir: str | Path,
                 reference: ReferencePolicy | None = None,
                 callbacks: Sequence[TrainerCallback] = ()):
        self.pad_id = tokenizer.pad_token_id
        self.dpo_config = config
        self.mean_over_tokens = DPO_LOSSES[config.loss_type].mean_over_tokens
        if config.disable_dropout:
            disable_dropout(model)
        self.reference: ReferencePolicy | None = reference or ReferencePolicy(model)
        self.model = model
        train_pairs = self._scored(encode_pairs(tokenizer, train, config.max_length))
        eval_pairs = self._scored(encode_pairs(tokenizer, eval_set, config.max_length))
        if config.precompute_ref_logprobs:
            self.reference = None  # every pair carries its reference log-probs now
        super().__init__(model, tokenizer, config, train_pairs, eval_pairs, out_dir, callbacks)

    def _scored(self, pairs: list[EncodedPair]) -> list[ScoredPair]:
        scored = [ScoredPair(p.prompt_ids, p.chosen_ids, p.rejected_ids) for p in pairs]
        if not self.dpo_config.precompute_ref_logprobs:
            return scored
        size = self.dpo_config.eval_batch_size
        out = []
        autocast = torch.autocast(model_device(self.model).type, dtype=torch.bfloat16,
                                  enabled=self.dpo_config.bf16)
        for start in range(0, len(scored), size):
            chunk = scored[start:start + size]
            with autocast:
                chosen, rejected = self._sequence_logps(chunk, reference=True)
            out += [replace(p, reference_chosen=c, reference_rejected=r)
                    for p, c, r in zip(chunk, chosen.tolist(), rejected.tolist(), strict=True)]
        return out

    def example_weight(self, example: ScoredPair) -> float:
        return 1.0

    def _sequence_logps(self, pairs: Sequence[EncodedPair],
                        reference: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Sequence log-probs (chosen, rejected) under the policy or the reference."""
        batch = pair_batch(pairs, self.pad_id, model_device(self.model))
        args = (batch.input_ids, batch.attention_mask, batch.completion_mask)
        if reference:
            token_logps = self.reference.logprobs(*args)
        else:
            token_logps = sequence_logprobs(self.model, *args)
        totals = token_logps.sum(dim=1)
        if self.mean_over_tokens:
            totals = totals / batch.completion_mask.sum(dim=1).clamp_min(1)
        return totals[:len(pairs)], totals[len(pairs):]

    def _terms(self, pairs: Sequence[ScoredPair]) -> tuple[DPOTerms, torch.Tensor,
                                                           torch.Tensor]:
        cfg = self.dpo_config
        policy_chosen, policy_rejected = self._sequence_logps(pairs)
        if pairs[0].reference_chosen is not None:
            device = policy_chosen.device
            ref_chosen = torch.tensor([p.reference_chosen for p in pairs], device=device)
            ref_rejected = torch.tensor([p.reference_rejected for p in pairs], device=device)
        else:
            ref_chosen, ref_rejected = self._sequence_logps(pairs, reference=True)
        terms = dpo_terms(policy_chosen, policy_rejected, ref_chosen, ref_rejected, cfg.beta,
                          cfg.loss_type, cfg.label_smoothing)
        return terms, policy_chosen.detach(), policy_rejected.detach()

    @staticmethod
    def _sums(terms: DPOTerms, chosen: torch.Tensor, rejected: torch.Tensor) -> dict[str, float]:
        return {"loss": terms.losses.detach().sum().item(),
                "rewards/chosen": terms.chosen_rewards.sum().item(),
                "rewards/rejected": terms.rejected_rewards.sum().item(),
                "rewards/margins": terms.margins.sum().item(),
                "rewards/accuracies": terms.accuracies.sum().item(),
                "logps/chosen": chosen.sum().item(), "logps/rejected": rejected.sum().item()}

    def batch_loss(self, examples: Sequence[ScoredPair]) -> BatchLoss:
        terms, chosen, rejected = self._terms(examples)
        return BatchLoss(terms.losses.sum(), self._sums(terms, chosen, rejected))

    def eval_metrics(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for batch in self.eval_batches():
            terms, chosen, rejected = self._terms(batch)
            for key, value in self._sums(terms, chosen, rejected).items():
                totals[key] = totals.get(key, 0.0) + value
        n = max(len(self.eval_set), 1)
        return {f"eval_{key}": value / n for key, value in totals.items()}

    def save_model(self, directory: Path) -> None:
        save_policy(self.model, self.tokenizer, directory, merge_lora=self.config.merge_lora)


def run_dpo(config: DPOConfig, out_dir: str | Path, resume: bool = False,
            progress: ProgressFn | None = None,
            callbacks: Sequence[TrainerCallback] = ()) -> TrainSummary:
    """Load the policy (and the reference), train on the preference pairs, save OUT/model,
    OUT/config.yaml and OUT/summary.json."""
    seed_everything(config.seed)  # LoRA's initialisation draws from the global RNG
    model, tokenizer = load_policy(config.model, device=config.device, dtype=config.dtype,
                                   lora=config.lora)
    reference = None
    if config.reference is not None:
        ref_model, _ = load_policy(config.reference, device=config.device, dtype=config.dtype)
        reference = ReferencePolicy.of_model(ref_model)
    train, eval_set = preference_examples(config.data)
    trainer = DPOTrainer(model, tokenizer, config, train, eval_set, out_dir, reference,
                         callbacks)
    write_config(out_dir, config)
    summary = trainer.fit(resume=resume, progress=progress)
    write_summary(out_dir, summary)
    return summary
