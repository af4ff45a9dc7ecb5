"""The layered, rule-based Router reward (docs/method.md §7.3-7.4).

| level | kind                                  | value                            |
|-------|---------------------------------------|----------------------------------|
| L1    | per component (anchor, target, via)   | right +1.0 / wrong -0.5          |
| L2    | legality against the enumerated paths | legal +0.2 / illegal -2.0        |
| L3    | exact match of the whole triple       | +10.0                            |

Anti-hacking (method §7.4): (1) dynamic weighting: the via component of an example whose label via
is non-null counts `nonnull_via_weight` (10x) times, so "always predict none" stops paying;
(2) conditional granting: when the anchor is wrong the via component earns nothing (no credit,
and no penalty either: method §7.4's `reward += 0`).

Clipping (method §7.3 "limit the reward to [-2, 2] so abnormal rewards do not dominate the
gradient") is read as: the raw layered reward is divided by `scale` (default: half the largest
achievable raw reward, so an exact match with a non-null via maps to +2) and then clipped to
[-clip, clip]. The layers keep their order of importance and clipping only cuts outliers (e.g.
execution feedback). Every component is reported raw for logging.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from pathrl.errors import PathrlError
from pathrl.paths import PathVocab, Triple


@dataclass
class RewardConfig:
    """Values of the layered reward (defaults: method §7.3)."""

    component_right: float = 1.0
    """L1: reward of a right anchor/target/via."""
    component_wrong: float = -0.5
    """L1: reward of a wrong component."""
    legal: float = 0.2
    """L2: the triple is one of the enumerated legal paths."""
    illegal: float = -2.0
    """L2: the triple is not a legal path."""
    exact: float = 10.0
    """L3: the whole triple equals the label."""
    nonnull_via_weight: float = 10.0
    """Dynamic weighting: multiplier of the via component when the label via is non-null."""
    dynamic_weighting: bool = True
    conditional_granting: bool = True
    """Anchor wrong -> the via component is 0."""
    clip: float | None = 2.0
    """Clip the scaled reward to [-clip, clip]; None disables."""
    scale: float | None = None
    """Divide the raw reward by this before clipping; None = half the largest raw reward."""
    exec_nonempty: float = 0.5
    """Execution feedback (only when an executor is given): the routed query returned rows."""
    exec_empty: float = -0.5
    exec_error: float = -1.0

    def __post_init__(self) -> None:
        if self.clip is not None and self.clip <= 0:
            raise PathrlError(f"reward clip must be > 0, got {self.clip}")
        if self.scale is not None and self.scale <= 0:
            raise PathrlError(f"reward scale must be > 0, got {self.scale}")

    @property
    def max_raw(self) -> float:
        via_weight = self.nonnull_via_weight if self.dynamic_weighting else 1.0
        return (2 + via_weight) * self.component_right + self.legal + self.exact

    @property
    def effective_scale(self) -> float:
        return self.scale if self.scale is not None else (
            self.max_raw / self.clip if self.clip else 1.0)


COMPONENTS = ("anchor", "target", "via", "legal", "exact", "exec")

# (predicted triple, example index) -> execution status ok | empty | error
Executor = Callable[[Triple, int], str]


class LayeredReward:
    """Computes the reward of predicted triples against labels, component by component."""

    def __init__(self, config: RewardConfig, vocab: PathVocab, executor: Executor | None = None):
        self.config = config
        self.vocab = vocab
        self.executor = executor

    def components(self, predicted: Triple, label: Triple, index: int = 0) -> dict[str, float]:
        cfg = self.config
        (pa, pt, pv), (la, lt, lv) = predicted, label

        def l1(right: bool) -> float:
            return cfg.component_right if right else cfg.component_wrong

        via = l1(pv == lv)
        if cfg.dynamic_weighting and lv:
            via *= cfg.nonnull_via_weight
        if cfg.conditional_granting and pa != la:
            via = 0.0
        legal = self.vocab.is_legal(pa, pt, pv)
        out = {
            "anchor": l1(pa == la),
            "target": l1(pt == lt),
            "via": via,
            "legal": cfg.legal if legal else cfg.illegal,
            "exact": cfg.exact if predicted == label else 0.0,
            "exec": 0.0,
        }
        if self.executor is not None and legal:
            status = self.executor(predicted, index)
            out["exec"] = {"ok": cfg.exec_nonempty, "empty": cfg.exec_empty}.get(
                status, cfg.exec_error)
        return out

    def raw(self, predicted: Triple, label: Triple, index: int = 0) -> float:
        return sum(self.components(predicted, label, index).values())

    def __call__(self, predicted: Sequence[Triple], labels: Sequence[Triple],
                 indices: Sequence[int] | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """Scaled and clipped rewards [batch], plus the batch mean of each raw component."""
        indices = list(indices) if indices is not None else list(range(len(labels)))
        rows = [self.components(p, lab, i)
                for p, lab, i in zip(predicted, labels, indices, strict=True)]
        raw = torch.tensor([sum(r.values()) for r in rows], dtype=torch.float32)
        reward = raw / self.config.effective_scale
        if self.config.clip is not None:
            reward = reward.clamp(-self.config.clip, self.config.clip)
        means = {k: sum(r[k] for r in rows) / max(len(rows), 1) for k in COMPONENTS}
        means["raw"] = float(raw.mean()) if len(rows) else 0.0
        return reward, means
