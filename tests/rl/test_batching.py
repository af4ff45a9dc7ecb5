"""Length-aware batching: every row exactly once, little padding, order restored."""

import torch

from pathrl.rl.batching import (
    length_grouped_batches,
    length_sorted_chunks,
    restore_order,
    sorted_micro_batches,
    take_rows,
)


def _encoding(lengths, left=False):
    width = max(lengths)
    mask = torch.zeros(len(lengths), width, dtype=torch.long)
    for row, n in enumerate(lengths):
        if left:
            mask[row, width - n:] = 1
        else:
            mask[row, :n] = 1
    ids = (torch.arange(width) + 1).repeat(len(lengths), 1) * mask
    return {"input_ids": ids, "attention_mask": mask,
            "links": torch.arange(len(lengths) * 2.0).reshape(len(lengths), 2)}


def test_take_rows_drops_columns_padded_in_every_kept_row():
    enc = _encoding([2, 7, 3])
    kept = take_rows(enc, [0, 2])
    assert kept["input_ids"].shape == (2, 3)
    assert kept["attention_mask"].sum().item() == 5
    assert torch.equal(kept["links"], enc["links"][[0, 2]])  # not a token tensor: rows only
    left = take_rows(_encoding([2, 7, 3], left=True), [0, 2])
    assert left["attention_mask"].tolist() == [[0, 1, 1], [1, 1, 1]]


def test_length_grouped_batches_cover_every_row_once_with_less_padding():
    lengths = [int(x) for x in torch.randint(4, 60, (500,), generator=torch.Generator()
                                             .manual_seed(0))]
    rows = list(range(500))

    def padding(batches):
        return sum(max(lengths[r] for r in b) * len(b) - sum(lengths[r] for r in b)
                   for b in batches)

    grouped = length_grouped_batches(rows, lengths, 32, torch.Generator().manual_seed(1))
    plain = length_grouped_batches(rows, lengths, 32, torch.Generator().manual_seed(1),
                                   group_batches=1)
    for batches in (grouped, plain):
        assert sorted(r for b in batches for r in b) == rows
        assert all(1 <= len(b) <= 32 for b in batches)
    assert padding(grouped) < padding(plain) / 3
    again = length_grouped_batches(rows, lengths, 32, torch.Generator().manual_seed(1))
    assert again == grouped  # a seed fixes the batches


def test_sorted_chunks_and_restore_order_round_trip():
    lengths = [5, 1, 9, 3, 7]
    assert length_sorted_chunks(range(5), lengths, 2) == [[2, 4], [0, 3], [1]]
    enc = _encoding(lengths)
    batches, inverse = sorted_micro_batches(enc, 2)
    assert [b["input_ids"].shape[1] for b in batches] == [9, 5, 1]
    outputs = [b["attention_mask"].sum(1) for b in batches]
    assert restore_order(outputs, inverse).tolist() == lengths
