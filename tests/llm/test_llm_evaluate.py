"""The evaluation block on a fake generator whose completions are known in advance."""

from __future__ import annotations

import json

import pytest

from pathrl.errors import PathrlError
from pathrl.llm.evaluate import compare_reports, evaluate, score_completions
from pathrl.llm.tasks import SYSTEM_PROMPT, Problem, generate_problems, sft_target


@pytest.fixture(scope="module")
def problems() -> list[Problem]:
    # 4 English then 4 Chinese problems (the generator alternates languages).
    mixed = generate_problems(16, seed=2)
    return [p for p in mixed if p.lang == "en"][:4] + [p for p in mixed if p.lang == "zh"][:4]


def scripted(problems: list[Problem], kinds: list[str]) -> dict[str, str]:
    """Question -> completion: right (strict and exact), wrong (strict, wrong number), loose
    (no tags, the right number last), words (strict, a sentence as answer)."""
    out = {}
    for problem, kind in zip(problems, kinds, strict=True):
        if kind == "right":
            text = sft_target(problem)
        elif kind == "wrong":
            text = f"<reasoning>\nguess\n</reasoning>\n<answer>\n{problem.answer + 5}\n</answer>"
        elif kind == "loose":
            text = f"I think it is {problem.answer}"
        else:
            text = "<reasoning>\nhmm\n</reasoning>\n<answer>\nno idea\n</answer>"
        out[problem.question] = text
    return out


class FakeGenerator:
    """Answers from a script, and records the prompts and batch sizes it was given."""

    def __init__(self, script: dict[str, str]) -> None:
        self.script = script
        self.batches: list[int] = []
        self.prompts: list[list[dict[str, str]]] = []

    def __call__(self, prompts: list[list[dict[str, str]]]) -> list[str]:
        self.batches.append(len(prompts))
        self.prompts.extend(prompts)
        return [self.script[p[-1]["content"]] for p in prompts]


KINDS = ["right", "right", "wrong", "loose", "right", "words", "words", "wrong"]


def test_rates_overall_and_per_language(problems: list[Problem]) -> None:
    generate = FakeGenerator(scripted(problems, KINDS))
    report = evaluate(problems, generate, batch_size=3)
    assert generate.batches == [3, 3, 2]
    assert generate.prompts[0][0] == {"role": "system", "content": SYSTEM_PROMPT}
    overall = report.overall
    assert overall.n == 8
    assert overall.format_rate == 7 / 8  # every kind but "loose"
    assert overall.plausible_rate == 5 / 8  # right ×3, wrong ×2
    assert overall.exact_rate == 3 / 8
    assert overall.loose_exact_rate == 4 / 8  # right ×3 and loose
    en, zh = report.by_lang["en"], report.by_lang["zh"]
    assert (en.n, en.format_rate, en.plausible_rate, en.exact_rate) == (4, 0.75, 0.75, 0.5)
    assert (zh.n, zh.format_rate, zh.plausible_rate, zh.exact_rate) == (4, 1.0, 0.5, 0.25)
    lengths = [len(generate.script[p.question]) for p in problems]
    assert overall.mean_length == pytest.approx(sum(lengths) / 8)
    assert overall.max_length == max(lengths)
    assert report.length_unit == "characters"


def test_lengths_in_tokens_with_a_counter(problems: list[Problem]) -> None:
    script = scripted(problems, KINDS)
    report = evaluate(problems, FakeGenerator(script), count_tokens=lambda s: len(s.split()))
    assert report.length_unit == "tokens"
    words = [len(script[p.question].split()) for p in problems]
    assert report.overall.mean_length == pytest.approx(sum(words) / 8)


def test_report_dict_metrics_and_summary(problems: list[Problem]) -> None:
    report = evaluate(problems, FakeGenerator(scripted(problems, KINDS)))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["exact_rate"] == 3 / 8 and data["by_lang"]["zh"]["format_rate"] == 1.0
    assert "results" not in data
    full = report.to_dict(include_results=True)
    assert len(full["results"]) == 8 and full["results"][2]["extracted"] == problems[2].answer + 5
    metrics = report.metrics()
    assert metrics["eval/exact_match"] == 3 / 8  # the doctor's eval_exact_match alias
    assert metrics["eval/zh/format_rate"] == 1.0
    assert "Exact correct      : 3/8 (37.5%)" in report.summary()


def test_before_after_comparison(problems: list[Problem]) -> None:
    before = evaluate(problems, FakeGenerator(scripted(problems, KINDS)))
    improved = ["right", "right", "right", "right", "right", "words", "wrong", "wrong"]
    after = evaluate(problems, FakeGenerator(scripted(problems, improved)))
    comparison = compare_reports(before, after)
    deltas = comparison.deltas()
    assert deltas["all"]["exact_rate"] == pytest.approx(5 / 8 - 3 / 8)
    assert deltas["en"]["exact_rate"] == pytest.approx(0.5)
    assert deltas["zh"]["exact_rate"] == pytest.approx(0.0)
    assert deltas["zh"]["plausible_rate"] == pytest.approx(0.25)  # words -> wrong number
    assert set(comparison.fixed) == {problems[2].id, problems[3].id}
    assert comparison.broken == ()
    table = comparison.table()
    assert "| en | exact_rate | 50.0% | 100.0% | +50.0 pt |" in table
    assert comparison.to_dict()["fixed"] == 2


def test_comparison_needs_the_same_problems(problems: list[Problem]) -> None:
    script = scripted(problems, KINDS)
    full = evaluate(problems, FakeGenerator(script))
    part = evaluate(problems[:5], FakeGenerator(script))
    with pytest.raises(PathrlError, match="different problems"):
        compare_reports(full, part)
    tokens = evaluate(problems, FakeGenerator(script), count_tokens=len)
    with pytest.raises(PathrlError, match="count both the same way"):
        compare_reports(full, tokens)


def test_generator_and_input_mistakes_are_clear_errors(problems: list[Problem]) -> None:
    with pytest.raises(PathrlError, match="generate returned 1 completions for 2 prompts"):
        evaluate(problems[:2], lambda prompts: ["only one"])
    with pytest.raises(PathrlError, match="no problems"):
        evaluate([], lambda prompts: [])
    with pytest.raises(PathrlError, match="batch_size"):
        evaluate(problems, lambda prompts: [], batch_size=0)
    with pytest.raises(PathrlError, match="not a string"):
        score_completions(problems[:1], [None])  # type: ignore[list-item]
