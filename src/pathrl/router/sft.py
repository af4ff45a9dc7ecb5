"""SFT cold start (docs/method.md §5.1): cross-entropy on the three heads.

Pure RL from scratch "guesses" for ~20k steps; SFT first brings the Router to a usable start
(method §5.1: ~80%+), then PPO refines. The via head's "none" class is down-weighted so the majority
label (~80% of examples) does not dominate. Early stopping on validation exact match; the best
epoch's weights are kept. The loop, checkpoints, exact resume and Ctrl-C are the shared
skeleton's (`pathrl.rl.trainer`): one step is one epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from pathrl.devices import resolve_device
from pathrl.errors import PathrlError
from pathrl.rl.batching import length_grouped_batches, token_lengths
from pathrl.rl.trainer import LoopSettings, Patience, StepResult, Trainer
from pathrl.router.model import RouterModel
from pathrl.router.types import LabelledQuestion


@dataclass
class SFTConfig:
    """SFT hyperparameters (defaults tuned on the demo's validation split, never its test)."""

    epochs: int = 30
    """Maximum epochs; early stopping usually ends sooner."""
    batch_size: int = 32
    lr: float = 1e-4
    """Learning rate of the backbone (or LoRA adapters)."""
    head_lr: float = 2e-3
    """Learning rate of what starts from nothing: the heads and the embeddings of characters
    added by `extend_vocab`."""
    link_lr: float = 5e-2
    """Learning rate of the path scorer's scalar schema-linking weights (`link_parameters`):
    at `head_lr` they stay near zero in a few hundred steps, and the linking evidence (the
    question names this table, a column or a value of it) goes unused. No weight decay."""
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    """Fraction of steps of linear warm-up before the cosine decay."""
    via_null_weight: float = 0.3
    """Class weight of via = none in the via cross-entropy (1.0 = no re-weighting)."""
    max_grad_norm: float = 1.0
    group_by_length: int = 8
    """Batches are cut from spans of this many shuffled batches sorted by question length,
    so a batch is little padding (`pathrl.rl.batching`; the demo's epochs run about 1.6x
    faster); 1: plain shuffled batches."""
    patience: int = 6
    """Stop after this many epochs without a better validation exact match."""
    checkpoint_every_epoch: bool = True
    """Write `OUT/checkpoints/sft_last.pt` after every epoch (for `--resume`); off, only
    Ctrl-C writes it."""
    seed: int = 7
    device: str = "auto"
    """Where the router trains: auto (cuda, then mps, else cpu), cpu, cuda, cuda:N, mps."""

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "group_by_length", "patience"):
            if getattr(self, name) < 1:
                raise PathrlError(f"sft {name} must be >= 1, got {getattr(self, name)}")
        for name in ("lr", "head_lr", "link_lr"):
            if not getattr(self, name) > 0:
                raise PathrlError(f"sft {name} must be > 0, got {getattr(self, name)}")
        if not 0 < self.via_null_weight <= 10:
            raise PathrlError(f"via_null_weight must be in (0, 10], got {self.via_null_weight}")


CHECKPOINT_NAME = "sft_last.pt"


class SFTTrainer(Trainer):
    """Supervised cold start of either router (three heads or path scorer), one epoch per
    step of the shared skeleton (`pathrl.rl.trainer.Trainer`).

    A path scorer can learn from several schemas at once: give `group_of` (example -> schema
    key) and `bind` (key -> bind the model to that schema). Batches then never mix schemas
    (each question competes only with its own schema's legal paths) and arrive in a shuffled
    order; validation exact match is pooled over the schemas."""

    def __init__(self, model: RouterModel, config: SFTConfig, train: Sequence[LabelledQuestion],
                 val: Sequence[LabelledQuestion], out_dir: str | Path,
                 group_of: Callable[[Any], Hashable] | None = None,
                 bind: Callable[[Hashable], None] | None = None):
        if not train:
            raise PathrlError("SFT needs at least one training example")
        if (group_of is None) != (bind is None):
            raise PathrlError("SFTTrainer: give both group_of and bind, or neither")
        self.model, self.config = model, config
        self.device = resolve_device(config.device)
        model.to(self.device)
        self.train_set, self.val_set = list(train), list(val)
        self.group_of = group_of or (lambda _ex: None)
        self.bind = bind or (lambda _key: None)
        super().__init__(out_dir, LoopSettings(
            total_steps=config.epochs, seed=config.seed, eval_every=1,
            eval_metric="val_exact_match", eval_at_start=False, keep_best=True,
            prefer_later_ties=False, checkpoint_every=1 if config.checkpoint_every_epoch else 0,
            checkpoint_name=CHECKPOINT_NAME, metrics_name="sft_metrics"),
            callbacks=[Patience("val_exact_match", config.patience)])
        from transformers import get_cosine_schedule_with_warmup

        fresh, link = model.fresh_parameters(), model.link_parameters()
        own_rate = {id(p) for p in (*fresh, *link)}
        body = [p for p in model.actor_parameters() if id(p) not in own_rate]
        param_groups = [{"params": body, "lr": config.lr},
                        {"params": fresh, "lr": config.head_lr}]
        if link:
            param_groups.append({"params": link, "lr": config.link_lr, "weight_decay": 0.0})
        self.optimizer = torch.optim.AdamW(param_groups, weight_decay=config.weight_decay)
        self.groups = self._groups(self.train_set)
        steps_per_epoch = sum(math.ceil(len(idx) / config.batch_size)
                              for idx in self.groups.values())
        total = steps_per_epoch * config.epochs
        self.scheduler = get_cosine_schedule_with_warmup(
            self.optimizer, int(config.warmup_ratio * total), total)
        self.questions = [ex.question for ex in self.train_set]
        self.labels = self._labels(self.groups)
        self.lengths = self._lengths(self.groups)
        self.history: list[dict] = []
        self._last_val: dict[str, float] = {}

    def _groups(self, examples: Sequence) -> dict[Hashable, list[int]]:
        groups: dict[Hashable, list[int]] = {}
        for i, ex in enumerate(examples):
            groups.setdefault(self.group_of(ex), []).append(i)
        return groups

    def _labels(self, groups: dict[Hashable, list[int]]) -> dict[str, torch.Tensor]:
        """Label indices of every training example, computed schema by schema."""
        labels: dict[str, torch.Tensor] = {}
        for key, idx in groups.items():
            self.bind(key)
            part = self.model.label_tensors([self.train_set[i] for i in idx])
            for head, values in part.items():
                labels.setdefault(head, torch.zeros(len(self.train_set), dtype=torch.long))
                labels[head][idx] = values
        return labels

    def _lengths(self, groups: dict[Hashable, list[int]], chunk: int = 256) -> list[int]:
        """Tokens of every training question as the model reads it (value hints included)."""
        lengths = [0] * len(self.train_set)
        for key, idx in groups.items():
            self.bind(key)
            for start in range(0, len(idx), chunk):
                rows = idx[start:start + chunk]
                encoded = self.model.tokenize([self.train_set[i].question for i in rows])
                for row, length in zip(rows, token_lengths(encoded), strict=True):
                    lengths[row] = length
        return lengths

    def _batches(self, groups: dict[Hashable, list[int]],
                 generator: torch.Generator) -> list[tuple[Hashable, list[int]]]:
        batches = []
        for key, idx in groups.items():
            batches.extend((key, batch) for batch in length_grouped_batches(
                idx, self.lengths, self.config.batch_size, generator,
                self.config.group_by_length))
        if len(groups) > 1:
            batches = [batches[j] for j in torch.randperm(len(batches),
                                                          generator=generator).tolist()]
        return batches

    def evaluate_on(self, examples: Sequence) -> dict[str, float]:
        """Greedy metrics on `examples`, pooled over their schemas (weighted by size)."""
        from pathrl.router.evaluate import triple_metrics

        pooled: dict[str, float] = {}
        for key, idx in self._groups(examples).items():
            self.bind(key)
            chunk = [examples[i] for i in idx]
            metrics = triple_metrics(self.model.predict([ex.question for ex in chunk]),
                                     [ex.triple for ex in chunk], self.model.vocab)
            for name in ("exact_match", "anchor_accuracy", "target_accuracy", "via_accuracy"):
                pooled[name] = pooled.get(name, 0.0) + metrics[name] * len(idx) / len(examples)
        return pooled

    def _train_epoch(self) -> float:
        """One pass over the training questions; returns the summed loss."""
        cfg, model = self.config, self.model
        questions, labels = self.questions, self.labels
        optimizer, scheduler = self.optimizer, self.scheduler
        model.train()
        total_loss = 0.0
        bound: Hashable = object()
        for key, idx in self._batches(self.groups, self.generator):
            if key != bound:
                self.bind(key)
                bound = key
            enc = model.tokenize([questions[j] for j in idx])
            out = model.policy(enc, with_value=False)
            batch_labels = {h: labels[h][idx] for h in model.action_heads}
            loss = model.supervised_loss(out.logits, batch_labels, cfg.via_null_weight)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.actor_parameters(), cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            total_loss += loss.item() * len(idx)
        return total_loss

    def _trainable_state(self) -> dict[str, torch.Tensor]:
        """Copies of the parameters SFT changes. The frozen rest (pretrained layers, the
        scorer's table encoder) is rebuilt identically from the backbone and the seed, so
        checkpoints and the kept best epoch stay a fraction of the model's size."""
        trainable = {name for name, p in self.model.named_parameters() if p.requires_grad}
        return {name: value.detach().clone() for name, value in self.model.state_dict().items()
                if name in trainable}

    def _load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        missing = set(state) - set(self.model.state_dict())
        if missing:
            raise KeyError(f"unknown parameters {sorted(missing)[:3]}")
        self.model.load_state_dict(state, strict=False)

    # -- the skeleton's hooks ----------------------------------------------------------------
    def model_state(self) -> dict[str, torch.Tensor]:
        return self._trainable_state()

    def load_model_state(self, state: dict[str, torch.Tensor]) -> None:
        self._load_trainable_state(state)

    def extra_state(self) -> dict[str, Any]:
        return {"history": self.history, "config": asdict(self.config)}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.history = list(state.get("history", []))

    def run_step(self) -> StepResult:
        """One epoch, then greedy metrics on validation (train when there is none)."""
        total_loss = self._train_epoch()
        self._last_val = self.evaluate_on(self.val_set or self.train_set)
        record = {"epoch": self.step, "train_loss": total_loss / len(self.questions),
                  "val_exact_match": self._last_val["exact_match"],
                  "val_anchor_accuracy": self._last_val["anchor_accuracy"],
                  "val_target_accuracy": self._last_val["target_accuracy"],
                  "val_via_accuracy": self._last_val["via_accuracy"],
                  "lr": self.scheduler.get_last_lr()[0]}
        self.history.append(record)
        return StepResult(record)

    def evaluate(self) -> float:
        return self._last_val["exact_match"]

    def save_model(self, directory: Path) -> None:
        self.model.save_pretrained(directory)

    def train(self, progress: Callable[[int, int, dict], None] | None = None,
              resume: bool = False) -> dict:
        """Train, keep the best epoch (validation exact match), save it to `out_dir/model`.

        Every epoch ends with a checkpoint (`OUT/checkpoints/sft_last.pt`: the trained
        parameters, optimiser, scheduler, RNG, best epoch so far); `resume=True` continues
        from it to the same numbers as an uninterrupted run. Ctrl-C is honoured at the end of
        the running epoch (`pathrl.rl.interrupt`)."""
        result = super().train(resume=resume, progress=progress)
        kept = result.kept
        return {"best_epoch": kept.step - 1 if kept else -1,
                "best_val_exact_match": kept.score if kept else -1.0,
                # Without a validation split the "best epoch" was picked on train data.
                "selected_on": "val" if self.val_set else "train",
                "epochs_run": len(self.history), "wall_s": result.wall_s,
                "samples_per_s": len(self.questions) * result.steps_run
                / max(result.wall_s, 1e-9),
                "stop_reason": result.stop_reason, "config": asdict(self.config)}
