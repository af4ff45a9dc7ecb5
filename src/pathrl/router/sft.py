"""SFT cold start (docs/method.md §5.1): cross-entropy on the three heads.

Pure RL from scratch "guesses" for ~20k steps; SFT first brings the Router to a usable start
(method §5.1: ~80%+), then PPO refines. The via head's "none" class is down-weighted so the majority
label (~80% of examples) does not dominate. Early stopping on validation exact match; the best
epoch's weights are kept.
"""

from __future__ import annotations

import math
import pickle
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from pathrl.errors import PathrlError
from pathrl.io import atomic_torch_save
from pathrl.rl.interrupt import GracefulInterrupt
from pathrl.rl.logging import RunLogger
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
    patience: int = 6
    """Stop after this many epochs without a better validation exact match."""
    checkpoint_every_epoch: bool = True
    """Write `OUT/checkpoints/sft_last.pt` after every epoch (for `--resume`); off, only
    Ctrl-C writes it."""
    seed: int = 7

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience"):
            if getattr(self, name) < 1:
                raise PathrlError(f"sft {name} must be >= 1, got {getattr(self, name)}")
        for name in ("lr", "head_lr", "link_lr"):
            if not getattr(self, name) > 0:
                raise PathrlError(f"sft {name} must be > 0, got {getattr(self, name)}")
        if not 0 < self.via_null_weight <= 10:
            raise PathrlError(f"via_null_weight must be in (0, 10], got {self.via_null_weight}")


@dataclass
class BestEpoch:
    """The best validated epoch so far, and how many epochs have not beaten it."""

    exact_match: float = -1.0
    state: dict[str, torch.Tensor] | None = None  # the trained parameters (see below)
    epoch: int = -1
    stale: int = 0


class SFTTrainer:
    """Supervised cold start of either router (three heads or path scorer).

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
        self.train_set, self.val_set = list(train), list(val)
        self.out_dir = Path(out_dir)
        self.group_of = group_of or (lambda _ex: None)
        self.bind = bind or (lambda _key: None)

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

    def _batches(self, groups: dict[Hashable, list[int]],
                 generator: torch.Generator) -> list[tuple[Hashable, list[int]]]:
        size = self.config.batch_size
        batches = []
        for key, idx in groups.items():
            order = [idx[j] for j in torch.randperm(len(idx), generator=generator).tolist()]
            batches.extend((key, order[i:i + size]) for i in range(0, len(order), size))
        if len(groups) > 1:
            batches = [batches[j] for j in torch.randperm(len(batches),
                                                          generator=generator).tolist()]
        return batches

    def evaluate(self, examples: Sequence) -> dict[str, float]:
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

    def _train_epoch(self, groups, generator, questions, labels, optimizer, scheduler) -> float:
        """One pass over the training questions; returns the summed loss."""
        cfg, model = self.config, self.model
        model.train()
        total_loss = 0.0
        bound: Hashable = object()
        for key, idx in self._batches(groups, generator):
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

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / "checkpoints" / "sft_last.pt"

    def _save_checkpoint(self, state: dict[str, Any]) -> None:
        """The whole training state after an epoch (atomic: a crash never leaves half a file)."""
        atomic_torch_save(self.checkpoint_path, state)

    def _load_checkpoint(self) -> dict[str, Any]:
        if not self.checkpoint_path.is_file():
            raise PathrlError(f"--resume: no SFT checkpoint at {self.checkpoint_path}")
        try:
            return torch.load(self.checkpoint_path, weights_only=False)
        except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
            raise PathrlError(f"cannot read the SFT checkpoint {self.checkpoint_path} "
                              f"({exc.__class__.__name__}): it is truncated or not a "
                              "checkpoint; start again with --force") from None

    def train(self, progress: Callable[[int, int, dict], None] | None = None,
              resume: bool = False) -> dict:
        """Train, keep the best epoch (validation exact match), save it to `out_dir`.

        Every epoch ends with a checkpoint (model, optimiser, scheduler, RNG, best epoch so
        far); `resume=True` continues from it to the same numbers as an uninterrupted run.
        Ctrl-C is honoured at the end of the running epoch (`pathrl.rl.interrupt`)."""
        from transformers import get_cosine_schedule_with_warmup

        cfg, model = self.config, self.model
        torch.manual_seed(cfg.seed)
        generator = torch.Generator().manual_seed(cfg.seed)
        fresh, link = model.fresh_parameters(), model.link_parameters()
        own_rate = {id(p) for p in (*fresh, *link)}
        body = [p for p in model.actor_parameters() if id(p) not in own_rate]
        param_groups = [{"params": body, "lr": cfg.lr}, {"params": fresh, "lr": cfg.head_lr}]
        if link:
            param_groups.append({"params": link, "lr": cfg.link_lr, "weight_decay": 0.0})
        optimizer = torch.optim.AdamW(param_groups, weight_decay=cfg.weight_decay)
        groups = self._groups(self.train_set)
        steps_per_epoch = sum(math.ceil(len(idx) / cfg.batch_size) for idx in groups.values())
        total = steps_per_epoch * cfg.epochs
        scheduler = get_cosine_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total),
                                                    total)
        logger = RunLogger(self.out_dir, "sft_metrics")
        questions = [ex.question for ex in self.train_set]
        labels = self._labels(groups)
        best = BestEpoch()
        start = time.perf_counter()
        history: list[dict] = []
        first_epoch = 0
        if resume:
            state = self._load_checkpoint()
            try:
                self._load_trainable_state(state["model"])
                optimizer.load_state_dict(state["optimizer"])
                scheduler.load_state_dict(state["scheduler"])
            except (RuntimeError, ValueError, KeyError) as exc:
                raise PathrlError(f"the SFT checkpoint {self.checkpoint_path} does not fit this "
                                  f"router or config ({exc.__class__.__name__}); start again "
                                  "with --force") from None
            generator.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng"])
            best, history, first_epoch = state["best"], state["history"], state["epoch"]
            logger.truncate_after(first_epoch - 1)
        else:
            logger.path.unlink(missing_ok=True)
        try:
            with GracefulInterrupt() as interrupt:
                for epoch in range(first_epoch, cfg.epochs):
                    total_loss = self._train_epoch(groups, generator, questions, labels,
                                                   optimizer, scheduler)
                    metrics = self.evaluate(self.val_set or self.train_set)
                    record = {"epoch": epoch, "train_loss": total_loss / len(questions),
                              "val_exact_match": metrics["exact_match"],
                              "val_anchor_accuracy": metrics["anchor_accuracy"],
                              "val_target_accuracy": metrics["target_accuracy"],
                              "val_via_accuracy": metrics["via_accuracy"],
                              "lr": scheduler.get_last_lr()[0]}
                    logger.log(epoch, record)
                    history.append(record)
                    if progress:
                        progress(epoch + 1, cfg.epochs, record)
                    if metrics["exact_match"] > best.exact_match:
                        best = BestEpoch(metrics["exact_match"], self._trainable_state(), epoch)
                    else:
                        best.stale += 1
                    done = best.stale >= cfg.patience or epoch + 1 == cfg.epochs
                    if cfg.checkpoint_every_epoch or interrupt.requested:
                        self._save_checkpoint({
                            "epoch": epoch + 1, "model": self._trainable_state(),
                            "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict(),
                            "generator": generator.get_state(),
                            "torch_rng": torch.get_rng_state(), "best": best,
                            "history": history, "config": asdict(cfg)})
                    if interrupt.requested and not done:
                        raise KeyboardInterrupt
                    if best.stale >= cfg.patience:
                        break
        except KeyboardInterrupt:
            logger.close()
            raise
        logger.close()
        if best.state is not None:
            self._load_trainable_state(best.state)
        model.save_pretrained(self.out_dir / "model")
        summary = {"best_epoch": best.epoch, "best_val_exact_match": best.exact_match,
                   # Without a validation split the "best epoch" was picked on train data.
                   "selected_on": "val" if self.val_set else "train",
                   "epochs_run": len(history), "wall_s": time.perf_counter() - start,
                   "samples_per_s": len(questions) * len(history)
                   / max(time.perf_counter() - start, 1e-9),
                   "config": asdict(cfg)}
        return summary
