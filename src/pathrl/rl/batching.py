"""Batches of similar length, so that encoders compute on words rather than on padding.

A batch is padded to its longest question; drawn at random, the demo's training batches are
about half padding, and every linear layer of the encoder pays for it. Two remedies:

- `length_grouped_batches` (SFT batches, as Hugging Face's `group_by_length`): shuffle, cut
  the order into spans of `group_batches` batches, sort each span by length, cut it into
  batches and shuffle the batches. Each batch is a draw from a random span; on the demo's
  training set batches are 85% words instead of 52%. (Cutting random batches into sorted
  micro-batches instead keeps every update as it was, but small matrix products run slower
  on a CPU: measured, it saved a fifth of an epoch where grouping saved two fifths.)
- `length_sorted_chunks` (micro-batches of a set whose result does not depend on its cut: a
  PPO minibatch, whose gradient is the sum over its micro-batches, a rollout, an
  evaluation): only the speed changes.

`take_rows` selects rows of a padded encoding and drops the columns that are padding in all
of them, so one encoding of a whole set serves all its micro-batches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

TOKEN_KEYS = ("input_ids", "attention_mask", "token_type_ids")
"""Keys of an encoding whose second dimension is the token position."""


def token_lengths(encoded: Mapping[str, torch.Tensor]) -> list[int]:
    """Real (non-padding) tokens of every row of an encoding."""
    return encoded["attention_mask"].sum(1).tolist()


def take_rows(encoded: Mapping[str, torch.Tensor],
              rows: Sequence[int] | torch.Tensor) -> dict[str, torch.Tensor]:
    """`rows` of a padded encoding; token columns that are padding in every kept row are
    dropped (left or right padding alike)."""
    index = torch.as_tensor(rows, dtype=torch.long)
    keep = encoded["attention_mask"][index].bool().any(0)
    return {key: (value[index][:, keep] if key in TOKEN_KEYS else value[index])
            for key, value in encoded.items()}


def length_sorted_chunks(rows: Sequence[int], lengths: Sequence[int],
                         size: int) -> list[list[int]]:
    """`rows` split into chunks of at most `size`, longest first, each of neighbouring
    lengths (`lengths[row]`). Ties keep the given order."""
    ordered = sorted(rows, key=lambda row: -lengths[row])
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]


def length_grouped_batches(rows: Sequence[int], lengths: Sequence[int], batch_size: int,
                           generator: torch.Generator,
                           group_batches: int = 8) -> list[list[int]]:
    """`rows` as shuffled training batches of similar length (module doc): spans of
    `group_batches` batches are sorted by length (`lengths[row]`) before being cut.
    `group_batches=1` is a plain shuffle (each span is one batch)."""
    order = [rows[j] for j in torch.randperm(len(rows), generator=generator).tolist()]
    span = batch_size * max(1, group_batches)
    batches = [batch for start in range(0, len(order), span)
               for batch in length_sorted_chunks(order[start:start + span], lengths, batch_size)]
    return [batches[j] for j in torch.randperm(len(batches), generator=generator).tolist()]


def sorted_micro_batches(encoded: Mapping[str, torch.Tensor],
                         size: int) -> tuple[list[dict[str, torch.Tensor]], torch.Tensor]:
    """An encoding of a whole set as micro-batches of at most `size` rows of neighbouring
    lengths, and the permutation `inverse` that puts their concatenated outputs back in the
    set's order: `torch.cat(outputs)[inverse]` (see `restore_order`)."""
    lengths = token_lengths(encoded)
    chunks = length_sorted_chunks(range(len(lengths)), lengths, size)
    order = torch.tensor([row for chunk in chunks for row in chunk], dtype=torch.long)
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(len(order))
    return [take_rows(encoded, chunk) for chunk in chunks], inverse


def restore_order(outputs: Sequence[torch.Tensor], inverse: torch.Tensor) -> torch.Tensor:
    """Outputs of `sorted_micro_batches`' micro-batches, concatenated in the set's order."""
    return torch.cat(list(outputs))[inverse]
