"""What the Router trainers need from a dataset row (pathrl.data.Example satisfies it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch

from pathrl.errors import PathrlError
from pathrl.paths import PathVocab, Triple


class LabelledQuestion(Protocol):
    question: str

    @property
    def triple(self) -> Triple: ...


def label_tensors(vocab: PathVocab,
                  examples: Sequence[LabelledQuestion]) -> dict[str, torch.Tensor]:
    """Class indices of each head for `examples`; an unknown label is a clear error."""
    out: dict[str, list[int]] = {"anchor": [], "target": [], "via": []}
    for n, ex in enumerate(examples):
        anchor, target, via = ex.triple
        try:
            out["anchor"].append(vocab.anchor_index[anchor])
            out["target"].append(vocab.target_index[target])
            out["via"].append(vocab.via_index[tuple(via)])
        except KeyError as exc:
            raise PathrlError(f"example {n} ('{ex.question[:60]}') has a label outside the "
                              f"schema's legal paths: {exc}") from None
    return {k: torch.tensor(v, dtype=torch.long) for k, v in out.items()}
