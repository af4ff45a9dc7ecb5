"""PPO's own prompt pool: fresh generated questions, none of them seen by SFT."""

from __future__ import annotations

import pytest

from pathrl.data import DatasetConfig, build_dataset
from pathrl.db import open_database
from pathrl.demo import demo_schema
from pathrl.errors import PathrlError
from pathrl.router.workflows import fresh_questions


@pytest.fixture(scope="module")
def demo():
    schema = demo_schema()
    database = open_database(schema, "sqlite", None, demo_seed=7)
    return schema, database, build_dataset(schema, database, DatasetConfig(seed=7))


def test_fresh_prompts_are_unseen_distinct_and_never_held_out_styles(demo):
    schema, database, splits = demo
    pool = fresh_questions(schema, database, splits, seed=7)
    seen = {ex.question.casefold() for split in splits.values() for ex in split}
    questions = [ex.question.casefold() for ex in pool]
    assert not seen.intersection(questions)
    assert len(set(questions)) == len(questions)
    trained_styles = {ex.style for name in ("train", "val", "test") for ex in splits[name]}
    held_out_only = {ex.style for ex in splits["heldout"]} - trained_styles
    assert held_out_only and not held_out_only.intersection(ex.style for ex in pool)


def test_more_rounds_of_the_generator_grow_the_pool_up_to_its_cap(demo):
    schema, database, splits = demo
    one = fresh_questions(schema, database, splits, seed=7, max_rounds=1)
    more = fresh_questions(schema, database, splits, seed=7, max_rounds=3)
    n_seen = sum(len(split) for split in splits.values())
    assert len(one) < len(more) <= 2 * n_seen
    assert [ex.question for ex in more[:len(one)]] == [ex.question for ex in one]
    capped = fresh_questions(schema, database, splits, seed=7, size_factor=0.1)
    assert len(capped) == int(0.1 * n_seen)
    with pytest.raises(PathrlError, match="max_rounds must be >= 1"):
        fresh_questions(schema, database, splits, seed=7, max_rounds=0)
