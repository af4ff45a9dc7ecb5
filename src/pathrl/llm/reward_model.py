"""A Bradley–Terry reward model (docs/method.md §10.2) and the scorer PPO calls.

    summary = run_reward_model(RewardModelConfig(max_steps=100), "runs/rm")
    scorer = RewardScorer.from_pretrained("runs/rm/model")
    rewards = scorer.score(prompts, completions)          # tensor [N]

The model is the policy's transformer body (`AutoModel`, no LM head) plus a scalar head read
at each row's last real token, the end-of-turn token closing the completion (the position
comes from the attention mask, so it holds even when the pad token is the EOS). Training
pairs are (prompt, chosen, rejected); the loss is

    L = −log σ(r(x, y⁺) − r(x, y⁻) − margin) + c · (r(x, y⁺) + r(x, y⁻))²

(the second term, `center_rewards_coefficient`, keeps the rewards centred on zero, as TRL's
RewardTrainer does). Held-out pairwise accuracy (r⁺ > r⁻) is the evaluation score. A saved
reward model is always merged (a LoRA adapter is folded in): it is used frozen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pathrl.errors import PathrlError
from pathrl.llm.models import (
    CompletionBatch,
    Prompt,
    add_lora,
    collate_completions,
    encode_completion,
    encode_prompt,
    is_peft,
    load_base,
    model_device,
    position_ids_from_mask,
    resolve_device,
    resolve_dtype,
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
from pathrl.rl.trainer import TrainerCallback, seed_everything

HEAD_FILE = "reward_head.safetensors"
KIND = "reward_model"


class RewardModel(nn.Module):
    """A transformer body and a scalar head on the last real token of each row."""

    def __init__(self, backbone: Any, head: nn.Linear | None = None):
        super().__init__()
        self.backbone = backbone
        config = backbone.get_base_model().config if is_peft(backbone) else backbone.config
        hidden = int(config.hidden_size)
        if head is None:
            head = nn.Linear(hidden, 1, device=model_device(backbone))
            nn.init.normal_(head.weight, std=1.0 / math.sqrt(hidden + 1))
            nn.init.zeros_(head.bias)
        self.head = head

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Rewards [B] (float32)."""
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask,
                            position_ids=position_ids_from_mask(attention_mask),
                            use_cache=False)
        last = CompletionBatch(input_ids, attention_mask, attention_mask).last_token_index
        hidden = out.last_hidden_state[torch.arange(input_ids.shape[0]), last]
        return self.head(hidden.float()).squeeze(-1)

    @classmethod
    def from_backbone(cls, name_or_dir: str = "smollm2", device: str | None = None,
                      dtype: str | None = None, lora: Any = None) -> tuple[RewardModel, Any]:
        """A new reward model on a policy's body (an alias, a HF directory, a pathrl policy
        directory), its head freshly initialised; (model, tokenizer)."""
        from transformers import AutoModel

        backbone, tokenizer, base = load_base(name_or_dir, AutoModel)
        target = resolve_device(device)
        backbone = backbone.to(device=target, dtype=resolve_dtype(dtype, target))
        if lora is not None:
            backbone = add_lora(backbone, lora, task_type="FEATURE_EXTRACTION")
        model = cls(backbone)
        model.base = base
        return model.eval(), tokenizer

    def save_pretrained(self, directory: str | Path, tokenizer: Any) -> Path:
        from pathrl.llm.models import save_policy

        return save_policy(self.backbone, tokenizer, directory, merge_lora=True,
                           base=getattr(self, "base", None),
                           extra_tensors={HEAD_FILE: self.head.state_dict()},
                           meta={"kind": KIND})

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | None = None,
                        dtype: str | None = None) -> tuple[RewardModel, Any]:
        """A reward model `save_pretrained` wrote; (model, tokenizer)."""
        from safetensors.torch import load_file
        from transformers import AutoModel

        directory = Path(directory)
        head_file = directory / HEAD_FILE
        if not head_file.is_file():
            raise PathrlError(f"{directory} is not a reward model directory (no {HEAD_FILE}; "
                              "train one with `pathrl llm rm`)")
        backbone, tokenizer, base = load_base(str(directory), AutoModel)
        target = resolve_device(device)
        backbone = backbone.to(device=target, dtype=resolve_dtype(dtype, target))
        model = cls(backbone)
        model.head.load_state_dict(load_file(str(head_file)))
        model.base = base
        return model.eval(), tokenizer


def bradley_terry_loss(chosen: torch.Tensor, rejected: torch.Tensor, margin: float = 0.0,
                       center_coefficient: float = 0.0) -> torch.Tensor:
    """Per-pair loss −log σ(r⁺ − r⁻ − margin) + c (r⁺ + r⁻)²."""
    loss = -nn.functional.logsigmoid(chosen - rejected - margin)
    if center_coefficient:
        loss = loss + center_coefficient * (chosen + rejected) ** 2
    return loss


@dataclass
class RewardModelConfig(TrainConfig):
    """Reward-model settings (every field of `TrainConfig`, RM defaults)."""

    learning_rate: float = 1e-5
    """Peak learning rate (AdamW); the head learns at the same rate."""
    margin: float = 0.0
    """Required reward gap: the loss is −log σ(r⁺ − r⁻ − margin)."""
    center_rewards_coefficient: float = 0.0
    """Weight of (r⁺ + r⁻)² (TRL's centring term; 0.01 is usual), keeps rewards near 0."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.center_rewards_coefficient < 0:
            raise PathrlError("center_rewards_coefficient must be >= 0")


class RewardModelTrainer(SupervisedTrainer[EncodedPair]):
    """Bradley–Terry training on preference pairs (checkpoints, exact resume, Ctrl-C)."""

    eval_metric = "eval_accuracy"

    def __init__(self, model: RewardModel, tokenizer: Any, config: RewardModelConfig,
                 train: Sequence[Any], eval_set: Sequence[Any], out_dir: str | Path,
                 callbacks: Sequence[TrainerCallback] = ()):
        self.pad_id = tokenizer.pad_token_id
        super().__init__(model, tokenizer, config, encode_pairs(tokenizer, train,
                                                                config.max_length),
                         encode_pairs(tokenizer, eval_set, config.max_length), out_dir,
                         callbacks)
        self.rm_config = config

    def example_weight(self, example: EncodedPair) -> float:
        return 1.0

    def _rewards(self, pairs: Sequence[EncodedPair]) -> tuple[torch.Tensor, torch.Tensor]:
        batch = pair_batch(pairs, self.pad_id, model_device(self.model))
        rewards = self.model(batch.input_ids, batch.attention_mask)
        return rewards[:len(pairs)], rewards[len(pairs):]

    def _sums(self, chosen: torch.Tensor, rejected: torch.Tensor,
              losses: torch.Tensor) -> dict[str, float]:
        return {"loss": losses.sum().item(),
                "accuracy": (chosen > rejected).float().sum().item(),
                "margin": (chosen - rejected).sum().item(),
                "rewards/chosen": chosen.sum().item(),
                "rewards/rejected": rejected.sum().item()}

    def batch_loss(self, examples: Sequence[EncodedPair]) -> BatchLoss:
        cfg = self.rm_config
        chosen, rejected = self._rewards(examples)
        losses = bradley_terry_loss(chosen, rejected, cfg.margin, cfg.center_rewards_coefficient)
        return BatchLoss(losses.sum(), self._sums(chosen.detach(), rejected.detach(), losses))

    def eval_metrics(self) -> dict[str, float]:
        cfg = self.rm_config
        totals: dict[str, float] = {}
        for batch in self.eval_batches():
            chosen, rejected = self._rewards(batch)
            losses = bradley_terry_loss(chosen, rejected, cfg.margin,
                                        cfg.center_rewards_coefficient)
            for key, value in self._sums(chosen, rejected, losses).items():
                totals[key] = totals.get(key, 0.0) + value
        n = max(len(self.eval_set), 1)
        return {f"eval_{key}": value / n for key, value in totals.items()}

    def save_model(self, directory: Path) -> None:
        self.model.save_pretrained(directory, self.tokenizer)


def run_reward_model(config: RewardModelConfig, out_dir: str | Path, resume: bool = False,
                     progress: ProgressFn | None = None,
                     callbacks: Sequence[TrainerCallback] = ()) -> TrainSummary:
    """Build the reward model on `config.model`'s body, train it on the preference pairs,
    save OUT/model (merged), OUT/config.yaml and OUT/summary.json."""
    seed_everything(config.seed)  # the head's and LoRA's initialisation
    model, tokenizer = RewardModel.from_backbone(config.model, config.device, config.dtype,
                                                 config.lora)
    train, eval_set = preference_examples(config.data)
    trainer = RewardModelTrainer(model, tokenizer, config, train, eval_set, out_dir, callbacks)
    write_config(out_dir, config)
    summary = trainer.fit(resume=resume, progress=progress)
    write_summary(out_dir, summary)
    return summary


class RewardScorer:
    """A frozen reward model as a scorer: `score(prompts, completions)` gives a tensor of
    rewards (PPO); calling it like a TRL reward function, `scorer(completions,
    prompts=...)`, gives a list of floats (a `pathrl.llm.rewards.RewardSet` member)."""

    __name__ = "reward_model"

    def __init__(self, model: RewardModel, tokenizer: Any, batch_size: int = 16,
                 max_length: int = 1024):
        self.model = model.eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_length = max_length

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | None = None,
                        dtype: str | None = None, batch_size: int = 16) -> RewardScorer:
        model, tokenizer = RewardModel.from_pretrained(directory, device, dtype)
        return cls(model, tokenizer, batch_size)

    def score(self, prompts: Sequence[Prompt], completions: Sequence[str]) -> torch.Tensor:
        """Rewards [N] (float32, CPU) of each prompt's completion, the completion closed by
        the end-of-turn token as in training."""
        if len(prompts) != len(completions):
            raise PathrlError(f"{len(prompts)} prompts for {len(completions)} completions")
        tok = self.tokenizer
        out = []
        with torch.no_grad():
            for start in range(0, len(prompts), self.batch_size):
                chunk = range(start, min(start + self.batch_size, len(prompts)))
                batch = collate_completions(
                    [encode_prompt(tok, prompts[i]) for i in chunk],
                    [encode_completion(tok, completions[i]) for i in chunk],
                    tok.pad_token_id, self.max_length).to(model_device(self.model))
                out.append(self.model(batch.input_ids, batch.attention_mask).cpu())
        return torch.cat(out) if out else torch.zeros(0)

    def __call__(self, completions: Sequence[Any], prompts: Sequence[Prompt] | None = None,
                 **kwargs: Any) -> list[float]:
        from pathrl.llm.rewards import completion_text

        if prompts is None:
            raise PathrlError("the reward model scores completions of prompts: pass prompts=")
        return self.score(list(prompts), [completion_text(c) for c in completions]).tolist()
