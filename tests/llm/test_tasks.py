"""The arithmetic task: determinism, answers recomputed from the steps, disjoint splits,
Chinese problems, the GSM8K loader, the chat format and the preference pairs."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from pathrl.errors import PathrlError
from pathrl.llm.tasks import (
    DEFAULT_REJECTION_KINDS,
    DIFFICULTIES,
    DOMAINS,
    REJECTION_KINDS,
    SYSTEM_PROMPT,
    TEMPLATES,
    Problem,
    TaskError,
    generate_problems,
    grpo_row,
    load_gsm8k,
    make_splits,
    normalize_question,
    preference_pairs,
    sft_row,
    sft_target,
    split_problems,
    to_messages,
)

# Numbers a question states in words rather than digits, by the phrase that states them.
_IMPLIED = {
    "twice": {2}, "three times": {3}, "half": {2}, "%": {100}, "and back": {2},
    "一半": {2}, "往返": {2}, "来回": {2},
    "打九折": {9, 10}, "打八折": {8, 10}, "打七折": {7, 10}, "打六折": {6, 10},
    "打五折": {5, 10}, "打七五折": {75, 100}, "打八五折": {85, 100},
}


@pytest.fixture(scope="module")
def problems() -> list[Problem]:
    return generate_problems(600, seed=7)


def _numbers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\d+", text)}


def test_generation_is_deterministic_and_seed_dependent() -> None:
    first = generate_problems(50, seed=3)
    again = generate_problems(50, seed=3)
    other = generate_problems(50, seed=4)
    assert first == again
    assert [p.question for p in first] != [p.question for p in other]


def test_answers_recompute_from_the_recorded_steps(problems: list[Problem]) -> None:
    for problem in problems:
        assert problem.steps, problem.id
        for step in problem.steps:
            assert step.recompute() == step.result, (problem.id, step)
        assert problem.steps[-1].result == problem.answer
        assert isinstance(problem.answer, int) and problem.answer > 0


def test_every_operand_comes_from_the_question_or_an_earlier_step(
        problems: list[Problem]) -> None:
    for problem in problems:
        known = _numbers(problem.question)
        for phrase, values in _IMPLIED.items():
            if phrase in problem.question:
                known |= values
        for step in problem.steps:
            assert step.left in known and step.right in known, (problem.question, step)
            known.add(step.result)


def test_difficulty_sets_the_number_of_operations_and_the_mix_is_balanced(
        problems: list[Problem]) -> None:
    for problem in problems:
        assert len(problem.steps) == problem.difficulty + 1
    mix = Counter((p.lang, p.difficulty) for p in problems)
    assert set(mix) == {(lang, d) for lang in ("en", "zh") for d in DIFFICULTIES}
    assert max(mix.values()) - min(mix.values()) <= 1
    assert {p.domain for p in problems} == set(DOMAINS)
    assert {p.template for p in problems} == set(TEMPLATES)
    ops = Counter(step.op for p in problems for step in p.steps)
    assert set(ops) == {"+", "-", "*", "/"}


def test_filters_restrict_language_domain_and_difficulty() -> None:
    chosen = generate_problems(40, seed=1, langs=("zh",), domains=("farm",), difficulties=(3,))
    assert {(p.lang, p.domain, len(p.steps)) for p in chosen} == {("zh", "farm", 4)}
    with pytest.raises(TaskError, match="unknown domain space"):
        generate_problems(5, domains=("space",))
    with pytest.raises(TaskError, match="unknown language fr"):
        generate_problems(5, langs=("fr",))


def test_chinese_problems_are_written_in_chinese(problems: list[Problem]) -> None:
    chinese = [p for p in problems if p.lang == "zh"]
    assert len(chinese) == len(problems) // 2
    for problem in chinese:
        question = problem.question
        assert not re.search(r"[A-Za-z]{2,}", question.replace("T恤", "")), question
        assert question.endswith("?"), question
        assert "," in question or "。" in question
        assert problem.solution.splitlines()[-1] == f"所以答案是{problem.answer}。"
    english = [p for p in problems if p.lang == "en"]
    for problem in english:
        assert not re.search(r"[\u4e00-\u9fff]", problem.question)
        assert problem.question.endswith("?")
        assert problem.solution.splitlines()[-1] == f"The answer is {problem.answer}."


def test_solutions_state_every_step(problems: list[Problem]) -> None:
    for problem in problems[:100]:
        for step in problem.steps:
            assert step.render() in problem.solution, (problem.solution, step)


def test_problems_are_distinct_by_text_and_by_arithmetic(problems: list[Problem]) -> None:
    keys = [normalize_question(p.question) for p in problems]
    assert len(set(keys)) == len(keys)
    arithmetic = [(p.template, p.steps) for p in problems]
    assert len(set(arithmetic)) == len(arithmetic)
    assert len({p.id for p in problems}) == len(problems)


def test_normalised_text_ignores_case_spacing_punctuation_and_width() -> None:
    assert normalize_question("Tom has 3  apples!") == normalize_question("tom has 3 apples")
    assert normalize_question("小明有12个苹果。") == normalize_question("小明有12个苹果")
    assert normalize_question("Tom has 3 apples") != normalize_question("Tom has 4 apples")


def test_splits_are_disjoint_and_the_test_split_is_stable() -> None:
    split = make_splits(300, 80, seed=5)
    assert len(split.train) == 300 and len(split.test) == 80
    train = {normalize_question(p.question) for p in split.train}
    test = {normalize_question(p.question) for p in split.test}
    assert not train & test
    assert not {(p.template, p.steps) for p in split.train} & {
        (p.template, p.steps) for p in split.test}
    bigger = make_splits(500, 80, seed=5)
    assert bigger.test == split.test


def test_split_problems_drops_repeats_before_splitting(problems: list[Problem]) -> None:
    repeated = problems[:50] + [
        Problem("copy", p.question.upper() + " ", p.answer, p.lang, p.steps, p.solution)
        for p in problems[:10]]
    split = split_problems(repeated, test_fraction=0.2, seed=0)
    assert len(split.train) + len(split.test) == 50
    assert len(split.test) == 10
    assert not {normalize_question(p.question) for p in split.train} & {
        normalize_question(p.question) for p in split.test}
    with pytest.raises(TaskError):
        split_problems(problems, test_fraction=1.5)


def _write(path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_gsm8k_loader_reads_question_solution_and_answer(tmp_path) -> None:
    path = tmp_path / "gsm8k.jsonl"
    _write(path, [
        json.dumps({"question": "Natalia sold clips to 48 of her friends in April, and then "
                                "she sold half as many clips in May. How many clips did she "
                                "sell altogether?",
                    "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
                              "Natalia sold 48+24 = <<48+24=72>>72 clips.\n#### 72"}),
        "",
        json.dumps({"question": "小明有1,200元,花了200元,还剩多少元?",
                    "answer": "1200 - 200 = 1000\n#### 1,000"}, ensure_ascii=False),
    ])
    loaded = load_gsm8k(path)
    assert [p.answer for p in loaded] == [72, 1000]
    assert [p.lang for p in loaded] == ["en", "zh"]
    first = loaded[0]
    assert "<<" not in first.solution
    assert first.solution.splitlines() == ["Natalia sold 48/2 = 24 clips in May.",
                                           "Natalia sold 48+24 = 72 clips.",
                                           "The answer is 72."]
    assert first.steps == ()
    assert sft_target(first).endswith("<answer>\n72\n</answer>")
    assert load_gsm8k(path) == loaded  # ids are stable


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", "line 2"),
    ('["a list"]', "line 2: expected a JSON object"),
    ('{"question": "Q?"}', "line 2: 'answer' is missing"),
    ('{"question": "Q?", "answer": "no final line"}', "line 2: the answer has no '####"),
    ('{"question": "Q?", "answer": "x\\n#### 3.5"}', "line 2: the final answer '3.5'"),
    ('{"answer": "#### 3"}', "line 2: 'question' is missing"),
])
def test_gsm8k_loader_names_the_bad_line(tmp_path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    _write(path, [json.dumps({"question": "Q?", "answer": "1+1=2\n#### 2"}), line])
    with pytest.raises(TaskError, match=re.escape(message)) as caught:
        load_gsm8k(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, PathrlError)  # the CLI prints it without a traceback


def test_gsm8k_loader_missing_file(tmp_path) -> None:
    with pytest.raises(TaskError, match="GSM8K file not found"):
        load_gsm8k(tmp_path / "absent.jsonl")


def test_chat_format_and_sft_target(problems: list[Problem]) -> None:
    problem = problems[0]
    messages = to_messages(problem)
    assert messages == [{"role": "system", "content": SYSTEM_PROMPT},
                        {"role": "user", "content": problem.question}]
    assert "<reasoning>" in SYSTEM_PROMPT and "<answer>" in SYSTEM_PROMPT
    target = sft_target(problem)
    assert target == (f"<reasoning>\n{problem.solution}\n</reasoning>\n"
                      f"<answer>\n{problem.answer}\n</answer>")
    assert grpo_row(problem)["answer"] == problem.answer
    assert grpo_row(problem)["prompt"] == messages
    assert sft_row(problem)["completion"] == [{"role": "assistant", "content": target}]


def test_preference_pairs_mix_rejection_kinds_and_are_seeded(problems: list[Problem]) -> None:
    pairs = preference_pairs(problems[:100], seed=2)
    assert pairs == preference_pairs(problems[:100], seed=2)
    assert [p.rejection for p in pairs] != [p.rejection for p in
                                           preference_pairs(problems[:100], seed=3)]
    kinds = Counter(p.rejection for p in pairs)
    assert set(kinds) == set(DEFAULT_REJECTION_KINDS)  # wrong_result only when asked
    assert max(kinds.values()) - min(kinds.values()) <= 1
    by_id = {p.id: p for p in problems}
    for pair in pairs:
        problem = by_id[pair.problem_id]
        assert pair.chosen == sft_target(problem)
        assert pair.rejected != pair.chosen
        assert list(pair.prompt) == to_messages(problem)
        row = pair.to_row()
        assert row["rejected"] == [{"role": "assistant", "content": pair.rejected}]
    with pytest.raises(TaskError, match="unknown rejection kind"):
        preference_pairs(problems[:3], kinds=("rude",))


def test_a_wrong_result_rejection_changes_the_last_computation_too(
        problems: list[Problem]) -> None:
    assert set(REJECTION_KINDS) - set(DEFAULT_REJECTION_KINDS) == {"wrong_result"}
    pairs = preference_pairs(problems[:40], seed=0, kinds=("wrong_result",))
    assert {p.rejection for p in pairs} == {"wrong_result"}
    by_id = {p.id: p for p in problems}
    for pair in pairs:
        gold = by_id[pair.problem_id].answer
        answer = int(re.findall(r"<answer>\n(.*)\n</answer>", pair.rejected)[0])
        assert abs(answer - gold) >= 3
        results = [int(r) for r in re.findall(r"=\s*(\d+)(?![\d.])", pair.rejected)]
        gold_results = [int(r) for r in re.findall(r"=\s*(\d+)(?![\d.])", pair.chosen)]
        # the reasoning is consistent with its (wrong) answer: the last result is the answer,
        # every earlier result is the chosen solution's
        assert results[-1] == answer and gold_results[-1] == gold
        assert results[:-1] == gold_results[:-1]
        closing = pair.rejected.split("\n")[-5]  # "The answer is …" / "所以答案是…"
        assert str(answer) in closing and not re.search(rf"(?<!\d){gold}(?!\d)", closing)
    plain = preference_pairs(problems[:40], seed=0, kinds=("wrong_answer",))
    for pair in plain:  # wrong_answer leaves the right result in the reasoning's last line
        gold = by_id[pair.problem_id].answer
        results = [int(r) for r in re.findall(r"=\s*(\d+)(?![\d.])", pair.rejected)]
        assert results[-1] == gold


def test_rejected_completions_break_what_their_kind_says(problems: list[Problem]) -> None:
    pairs = preference_pairs(problems[:60], seed=0)
    by_id = {p.id: p for p in problems}
    for pair in pairs:
        gold = by_id[pair.problem_id].answer
        answer = re.findall(r"<answer>\n(.*)\n</answer>", pair.rejected)
        if pair.rejection == "wrong_answer":
            assert answer and abs(int(answer[0]) - gold) >= 3
        elif pair.rejection == "near_miss":
            assert answer and abs(int(answer[0]) - gold) == 1
        elif pair.rejection == "no_tags":
            assert "<" not in pair.rejected and pair.rejected.endswith(str(gold))
        elif pair.rejection == "truncated":
            assert "</reasoning>" not in pair.rejected and "<answer>" not in pair.rejected
        else:
            assert answer and not answer[0].strip().isdigit()
