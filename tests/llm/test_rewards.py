"""Rule rewards on hand-written completions, the majority vote within groups, reward sets, and
the rewards called exactly as TRL's GRPOTrainer calls them (TRL itself is not needed)."""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest

from pathrl.errors import PathrlError
from pathrl.llm.rewards import (
    REWARD_PRESETS,
    CorrectnessReward,
    MajorityVoteReward,
    PartialCreditReward,
    RewardFunction,
    RewardSet,
    StrictFormatReward,
    completion_text,
    correctness_reward,
    extract_answer,
    gold_integer,
    integer_reward,
    is_strict_format,
    last_number,
    majority_vote_reward,
    parse_integer,
    partial_credit_reward,
    reward_name,
    reward_set,
    soft_format_reward,
    strict_format_reward,
)
from pathrl.llm.tasks import generate_problems, preference_pairs, to_messages


def xml(answer: object, reasoning: str = "3 × 4 = 12") -> str:
    return f"<reasoning>\n{reasoning}\n</reasoning>\n<answer>\n{answer}\n</answer>"


RIGHT = xml(12)
WRONG = xml(30)
NEAR = xml(11)
LOOSE = "<reasoning>3 × 4 = 12</reasoning> <answer>12</answer>"  # soft format only
PLAIN = "3 × 4 = 12, so the answer is 12."
UNCLOSED = "<reasoning>\n3 × 4 = 12\n</reasoning>\n<answer>\n12"
WORDY = xml("12 apples")
TWO_ANSWERS = xml(12) + "\n<answer>\n13\n</answer>"
CASES = [RIGHT, WRONG, NEAR, LOOSE, PLAIN, UNCLOSED, WORDY, TWO_ANSWERS]
GOLD = [12] * len(CASES)


def chat(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def test_strict_format_accepts_only_the_exact_layout() -> None:
    assert strict_format_reward(CASES) == [0.5, 0.5, 0.5, 0, 0, 0, 0.5, 0]
    assert is_strict_format(RIGHT + "\n")  # trailing newline / EOS spacing is fine
    assert not is_strict_format(" " + RIGHT)  # nothing before the reasoning
    assert not is_strict_format(RIGHT + "\nThanks!")  # nothing after the answer
    assert not is_strict_format("<reasoning>\n\n</reasoning>\n<answer>\n\n</answer>")
    assert not is_strict_format(xml(12, reasoning="a\n</reasoning>\n<reasoning>\nb"))
    assert StrictFormatReward(value=1.0)([RIGHT]) == [1.0]


def test_soft_format_accepts_any_spacing() -> None:
    assert soft_format_reward(CASES) == [0.5, 0.5, 0.5, 0.5, 0, 0, 0.5, 0.5]
    assert soft_format_reward(["Sure. " + LOOSE + " Done."]) == [0.5]
    assert soft_format_reward(["<answer>12</answer><reasoning>x</reasoning>"]) == [0.0]


def test_integer_and_correctness_read_the_answer_block() -> None:
    assert integer_reward(CASES) == [0.5, 0.5, 0.5, 0.5, 0, 0, 0, 0.5]
    # The last answer block counts (TWO_ANSWERS says 13 last).
    assert correctness_reward(CASES, answer=GOLD) == [2.0, 0, 0, 2.0, 0, 0, 0, 0]


def test_partial_credit_for_near_misses() -> None:
    completions = [xml(12), xml(11), xml(13), xml(10), xml("twelve"), PLAIN]
    assert partial_credit_reward(completions, answer=[12] * 6) == [2.0, 1.0, 1.0, 0, 0, 0]
    half = PartialCreditReward(value=2.0, slope=0.5)
    assert half([xml(11), xml(15)], answer=[12, 12]) == [1.5, 0.5]


def test_chat_format_completions_score_like_strings() -> None:
    as_chat = [chat(c) for c in CASES]
    for func in (strict_format_reward, soft_format_reward, integer_reward):
        assert func(as_chat) == func(CASES)
    assert correctness_reward(as_chat, answer=GOLD) == correctness_reward(CASES, answer=GOLD)
    parts = [{"role": "assistant", "content": [{"type": "text", "text": RIGHT}]}]
    assert completion_text(parts) == RIGHT
    assert completion_text([{"role": "user", "content": "hi"},
                            {"role": "assistant", "content": RIGHT}]) == RIGHT


@pytest.mark.parametrize(("gold", "expected"), [
    (12, 12), ("12", 12), (12.0, 12), ("Half of 24 is <<24/2=12>>12.\n#### 12", 12),
    ("1,200", 1200), (None, None), ("", None),
])
def test_gold_answers_in_every_form_a_dataset_holds(gold: object, expected: int | None) -> None:
    assert gold_integer(gold) == expected


@pytest.mark.parametrize("gold", ["twelve", 12.5, True, [12]])
def test_a_malformed_gold_answer_is_an_error(gold: object) -> None:
    with pytest.raises(ValueError, match="gold answer"):
        gold_integer(gold)


@pytest.mark.parametrize(("text", "value"), [
    ("42", 42), (" 42 ", 42), ("-3", -3), ("+7", 7), ("1,234", 1234), ("$15", 15),
    ("¥15", 15), ("42.0", 42), ("42.", 42), ("42。", 42), ("４２", 42),
    ("12 apples", None), ("12.5", None), ("1,23", None), ("3 or 4", None), ("", None),
    ("twelve", None), (None, None),
])
def test_parse_integer(text: str | None, value: int | None) -> None:
    assert parse_integer(text) == value


def test_answer_extraction_helpers() -> None:
    assert extract_answer(RIGHT) == "12"
    assert extract_answer(UNCLOSED) is None
    assert extract_answer(TWO_ANSWERS) == "13"
    assert last_number(PLAIN) == 12
    assert last_number("no digits") is None


def test_gold_rewards_need_the_answer_column_and_matching_lengths() -> None:
    with pytest.raises(ValueError, match="dataset column named 'answer'"):
        correctness_reward([RIGHT])
    with pytest.raises(ValueError, match="2 gold answers for 1 completions"):
        partial_credit_reward([RIGHT], answer=[12, 12])
    # A row without gold: the reward does not apply (TRL turns None into NaN).
    assert correctness_reward([RIGHT, RIGHT], answer=[12, None]) == [2.0, None]


def test_majority_vote_rewards_agreement_with_a_correct_majority() -> None:
    vote = MajorityVoteReward(bonus=1.0, threshold=0.5)
    group = [xml(12), xml(12), xml(12), xml(7)]
    assert vote(group, answer=[12] * 4, group_size=4) == [1.0, 1.0, 1.0, 0.0]
    wrong_majority = [xml(7), xml(7), xml(7), xml(12)]
    assert vote(wrong_majority, answer=[12] * 4, group_size=4) == [0.0] * 4
    tie = [xml(12), xml(12), xml(7), xml(7)]
    assert vote(tie, answer=[12] * 4, group_size=4) == [0.0] * 4
    scattered = [xml(12), xml(7), xml(8), xml(9)]
    assert vote(scattered, answer=[12] * 4, group_size=4) == [0.0] * 4
    assert MajorityVoteReward(threshold=0.25)(scattered[:1] + [xml(7), PLAIN, PLAIN],
                                              answer=[12] * 4, group_size=4) == [0.0] * 4


def test_majority_vote_threshold_counts_the_whole_group() -> None:
    # 2 of 4 say 12 and 2 say nothing: share 0.5 reaches 0.5 but not 0.6.
    group = [xml(12), xml(12), PLAIN, UNCLOSED]
    assert MajorityVoteReward(threshold=0.5)(group, answer=[12] * 4,
                                             group_size=4) == [1, 1, 0, 0]
    assert MajorityVoteReward(threshold=0.6)(group, answer=[12] * 4,
                                             group_size=4) == [0, 0, 0, 0]


def test_majority_vote_lets_only_strict_completions_vote_by_default() -> None:
    group = [LOOSE, LOOSE, LOOSE, xml(7)]  # three loose 12s, one strict 7
    assert MajorityVoteReward(threshold=0.25)(group, answer=[7] * 4,
                                              group_size=4) == [0, 0, 0, 1]
    anyone = MajorityVoteReward(threshold=0.5, strict_voters=False)
    assert anyone(group, answer=[12] * 4, group_size=4) == [1, 1, 1, 0]


def test_majority_vote_without_gold_uses_the_majority_as_pseudo_label() -> None:
    group = [xml(12), xml(12), xml(12), xml(7)]
    assert majority_vote_reward(group, group_size=4) == [1.0, 1.0, 1.0, 0.0]
    assert majority_vote_reward(group, answer=[None] * 4, group_size=4) == [1, 1, 1, 0]
    off = MajorityVoteReward(pseudo_label=False)
    assert off(group, answer=[None] * 4, group_size=4) == [None] * 4


def test_majority_vote_groups_by_size_keyword_or_by_prompts() -> None:
    first = [xml(12), xml(12), xml(3)]
    second = [xml(5), xml(5), xml(5)]
    completions = first + second
    answers = [12] * 3 + [5] * 3
    expected = [1, 1, 0, 1, 1, 1]
    assert majority_vote_reward(completions, answer=answers, num_generations=3) == expected
    assert MajorityVoteReward(group_size=3)(completions, answer=answers) == expected
    prompts = [to_messages_text("a")] * 3 + [to_messages_text("b")] * 3
    assert majority_vote_reward(completions, answer=answers, prompts=prompts) == expected
    # As one group of six, 5 (3 of 6) outvotes 12 (2 of 6).
    assert majority_vote_reward(completions, answer=[5] * 6, group_size=6) == [0, 0, 0, 1, 1, 1]
    with pytest.raises(ValueError, match="do not split into groups of 4"):
        majority_vote_reward(completions, answer=answers, group_size=4)
    with pytest.raises(ValueError, match="needs the group size"):
        majority_vote_reward(completions, answer=answers)
    with pytest.raises(ValueError, match="threshold"):
        MajorityVoteReward(threshold=0.0)


def to_messages_text(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_reward_set_weights_columns_total_and_metric_names() -> None:
    rewards = RewardSet([strict_format_reward, (correctness_reward, 2.0)])
    assert rewards.names == ("strict_format_reward", "correctness_reward")
    assert rewards.weights == (1.0, 2.0)
    scores = rewards.score([RIGHT, WRONG, PLAIN, RIGHT], answer=[12, 12, 12, 12])
    assert scores.columns["correctness_reward"] == [2.0, 0, 0, 2.0]
    assert scores.total == [4.5, 0.5, 0.0, 4.5]
    metrics = scores.metrics(group_size=2)
    assert metrics["rewards/correctness_reward/mean"] == 1.0
    assert metrics["rewards/strict_format_reward/mean"] == pytest.approx(0.375)
    assert metrics["reward"] == pytest.approx(9.5 / 4)
    assert metrics["reward_std"] == pytest.approx(math.sqrt(18.1875 / 3))  # n - 1, as TRL
    assert metrics["frac_reward_zero_std"] == 0.0
    flat = rewards.score([RIGHT, RIGHT, PLAIN, PLAIN], answer=[12] * 4).metrics(group_size=2)
    assert flat["frac_reward_zero_std"] == 1.0
    assert "frac_reward_zero_std" not in scores.metrics()


def test_reward_set_handles_rewards_that_do_not_apply() -> None:
    rewards = RewardSet([correctness_reward])
    scores = rewards.score([RIGHT, RIGHT], answer=[12, None])
    assert scores.total[0] == 2.0 and math.isnan(scores.total[1])
    assert scores.metrics()["rewards/correctness_reward/mean"] == 2.0
    mixed = RewardSet([strict_format_reward, correctness_reward]).score([RIGHT], answer=[None])
    assert mixed.total == [0.5]


def test_reward_set_rejects_repeated_names_and_bad_weights() -> None:
    with pytest.raises(ValueError, match="unique"):
        RewardSet([strict_format_reward, StrictFormatReward(value=1.0)])
    with pytest.raises(ValueError, match="finite"):
        RewardSet([(strict_format_reward, math.inf)])
    with pytest.raises(ValueError, match="at least one"):
        RewardSet([])
    RewardSet([strict_format_reward, StrictFormatReward(value=1.0, name="strict_format_1")])


def test_presets_and_unknown_preset() -> None:
    assert set(REWARD_PRESETS) == {"simple", "standard", "dense"}
    assert reward_set("simple").score([RIGHT], answer=[12]).total == [3.0]
    assert reward_set("standard").score([RIGHT], answer=[12]).total == [3.5]
    dense = reward_set("dense")
    assert dict(zip(dense.names, dense.weights, strict=True))["correctness_reward"] == 0.0
    with pytest.raises(PathrlError, match="unknown reward set 'nope'"):
        reward_set("nope")


@pytest.mark.parametrize("preset", sorted(REWARD_PRESETS))
def test_every_preference_pair_scores_chosen_above_rejected(preset: str) -> None:
    problems = generate_problems(60, seed=11)
    rewards = reward_set(preset)
    for pair, problem in zip(preference_pairs(problems, seed=1), problems, strict=True):
        scores = rewards.score([pair.chosen, pair.rejected], answer=[problem.answer] * 2,
                               group_size=2)
        assert scores.total[0] > scores.total[1], (preset, pair.rejection, scores.columns)


def test_names_are_stable_for_logging() -> None:
    assert [reward_name(f) for f in reward_set("dense").funcs] == [
        "strict_format_reward", "soft_format_reward", "integer_reward",
        "partial_credit_reward", "majority_vote_reward", "correctness_reward"]
    assert reward_name(functools.partial(correctness_reward)) == "correctness_reward"
    assert CorrectnessReward().__name__ == "correctness_reward"
    # The doctor reads rewards/*correct*/mean as the success signal: exactly one matches.
    assert [n for n in reward_set("dense").names if "correct" in n] == ["correctness_reward"]
    assert all(isinstance(f, RewardFunction) for f in reward_set("dense").funcs)


# --------------------------------------------------------------------------- TRL's call


def _trl_callable_name(func: Any) -> str:
    """trl.trainer.utils.get_callable_name: unwrap partials, then __name__ or the class."""
    while isinstance(func, functools.partial):
        func = func.func
    return getattr(func, "__name__", type(func).__name__)


def _trl_calculate_rewards(reward_funcs: list[Any], inputs: list[dict[str, Any]],
                           prompts: list[Any], completions: list[Any],
                           completion_ids: list[list[int]]) -> list[list[float]]:
    """The synchronous path of GRPOTrainer._calculate_rewards: every input column but prompt
    / completion / completion_ids becomes a keyword list, plus trainer_state, log_extra and
    log_metric; None becomes NaN."""
    keys = [key for key in inputs[0] if key not in ["prompt", "completion", "completion_ids"]]
    reward_kwargs: dict[str, Any] = {key: [example[key] for example in inputs] for key in keys}
    reward_kwargs["trainer_state"] = object()
    reward_kwargs["log_extra"] = lambda *args, **kwargs: None
    reward_kwargs["log_metric"] = lambda *args, **kwargs: None
    columns = []
    for func in reward_funcs:
        output = func(prompts=prompts, completions=completions,
                      completion_ids=completion_ids, **reward_kwargs)
        columns.append([math.nan if r is None else float(r) for r in output])
    return [list(row) for row in zip(*columns, strict=True)]


def test_rewards_plug_into_trl_grpo_calling_convention() -> None:
    problems = generate_problems(2, seed=0)
    num_generations = 4
    # RepeatSampler: each dataset row repeated num_generations times, consecutively.
    rows = [{"prompt": to_messages(p), "answer": p.answer, "id": p.id, "lang": p.lang}
            for p in problems]
    inputs = [row for row in rows for _ in range(num_generations)]
    prompts = [x["prompt"] for x in inputs]
    texts = []
    for p in problems:
        right = xml(p.answer, p.solution)
        texts += [right, right, xml(p.answer + 1, p.solution), "I don't know"]
    # Conversational prompts: TRL hands completions as [{"role": "assistant", ...}] lists.
    completions = [[{"role": "assistant", "content": t}] for t in texts]
    rewards = reward_set("dense")
    names = [_trl_callable_name(f) for f in rewards.funcs]
    assert names == list(rewards.names)
    per_func = _trl_calculate_rewards(list(rewards.funcs), inputs, prompts, completions,
                                      [[0]] * len(texts))
    weights = rewards.weights
    trl_total = [sum(w * v for w, v in zip(weights, row, strict=True)) for row in per_func]
    ours = rewards.score(completions, answer=[x["answer"] for x in inputs], prompts=prompts)
    assert ours.total == pytest.approx(trl_total)
    by_name = dict(zip(names, zip(*per_func, strict=True), strict=True))
    assert list(by_name["correctness_reward"]) == [2, 2, 0, 0] * 2
    assert list(by_name["partial_credit_reward"]) == [2, 2, 1, 0] * 2
    # The vote grouped by prompt runs (TRL passes no group size): the two right ones agree.
    assert list(by_name["majority_vote_reward"]) == [1, 1, 0, 0] * 2
    # Plain-string completions (standard prompts) score the same.
    plain = _trl_calculate_rewards(list(rewards.funcs), inputs, [m[-1]["content"] for m in
                                                                  prompts], texts, [[0]] * 8)
    assert plain == per_func
