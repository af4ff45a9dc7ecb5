"""The prompted-LLM baseline keeps its local model's answers on disk (greedy decoding: the
same prompt gets the same answer), keyed by the model's files."""

from __future__ import annotations

import pytest
from llm_fixtures import build_tiny_lm

from pathrl.demo import demo_schema
from pathrl.local_lm import LocalLM
from pathrl.paths import PathVocab
from pathrl.router.baselines import make_baseline


@pytest.fixture(scope="module")
def demo():
    schema = demo_schema()
    return schema, PathVocab.from_schema(schema)


def test_local_answers_are_cached_per_model_files(demo, tmp_path, monkeypatch):
    schema, vocab = demo
    model_dir = build_tiny_lm(tmp_path / "lm")
    monkeypatch.setenv("PATHRL_HOME", str(tmp_path / "home"))
    generated: list[int] = []  # prompts generated per call
    original = LocalLM.complete

    def counting(self, prefix, suffixes, **kwargs):
        generated.append(len(suffixes))
        return original(self, prefix, suffixes, **kwargs)

    monkeypatch.setattr(LocalLM, "complete", counting)
    questions = ["contracts of project Jakarta Bridge", "suppliers of contract HT-2019-007"]

    def ask(qs):
        base = make_baseline("llm", schema, vocab, backbone=str(model_dir), max_new_tokens=8,
                             few_shot=0)
        base.predict(qs)
        return base

    first = ask(questions)
    again = ask(questions + ["payments of contract HT-2020-001"])
    assert generated == [2, 1]  # the second run generates only the new question
    assert again.cached_answers == 2 and again.last_outputs[:2] == first.last_outputs
    # New weights (another file): the cache no longer answers for them.
    build_tiny_lm(model_dir, seed=1)
    ask(questions)
    assert generated == [2, 1, 2]
    # Off, or a model passed as an object: always generated.
    make_baseline("llm", schema, vocab, backbone=str(model_dir), max_new_tokens=8,
                  few_shot=0, answer_cache=False).predict(questions)
    assert generated == [2, 1, 2, 2]
