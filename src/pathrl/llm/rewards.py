"""Rule rewards for the arithmetic task, with TRL's reward-function signature.

Every reward is a callable ``f(completions, **kwargs) -> list[float | None]``, exactly what
TRL's ``GRPOTrainer`` calls: `completions` are strings or chat lists
(``[{"role": "assistant", "content": "..."}]``), the dataset's other columns (`answer` here)
arrive as keyword lists with one value per completion, and TRL also passes `prompts`,
`completion_ids`, `trainer_state`... which are ignored unless used. Each reward carries a stable
``__name__``: TRL logs it as ``rewards/<name>/mean`` and the doctor reads
``rewards/correctness_reward/mean`` as the run's success signal. ``None`` means "does not apply"
(no gold answer): TRL turns it into NaN and leaves it out of the means.

The rewards (docs/method.md §10.6, docs/llm_tasks.md):

====================  =====================================================================
strict_format_reward  0.5 for exactly ``<reasoning>\\n…\\n</reasoning>\\n<answer>\\n…\\n</answer>``
soft_format_reward    0.5 for a reasoning block then an answer block, any spacing
integer_reward        0.5 when the answer block holds an integer
correctness_reward    2.0 when that integer equals the gold answer
partial_credit_reward max(0, 2 − |answer − gold|): 2 exact, 1 off by one, else 0
majority_vote_reward  a bonus for agreeing with the group's majority answer (see the class)
====================  =====================================================================

:class:`RewardSet` composes them with weights, gives per-function columns and the weighted
total, and the metrics under TRL's names (``reward``, ``reward_std``, ``frac_reward_zero_std``).
"""

from __future__ import annotations

import functools
import math
import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pathrl.errors import PathrlError

Completion = str | Sequence[Mapping[str, Any]]
RewardValue = float | None

_INNER = r"(?:(?!</?(?:reasoning|answer)>)[\s\S])"  # text holding no reasoning/answer tag
STRICT_FORMAT = re.compile(
    rf"<reasoning>\n{_INNER}+?\n</reasoning>\n<answer>\n{_INNER}+?\n</answer>\s*"
)
SOFT_FORMAT = re.compile(r"<reasoning>[\s\S]*?</reasoning>\s*<answer>[\s\S]*?</answer>")
_ANSWER = re.compile(r"<answer>([\s\S]*?)</answer>")
_INTEGER = re.compile(r"[+-]?\d+(?:\.0+)?")
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.0+)?")
_NUMBER = re.compile(r"[+-]?\d[\d,]*(?:\.\d+)?")
_CURRENCY = "$¥€£"


@runtime_checkable
class RewardFunction(Protocol):
    """TRL's reward-function protocol, with the name TRL logs it under."""

    __name__: str

    def __call__(self, completions: Sequence[Completion], **kwargs: Any) -> list[RewardValue]:
        ...


# --------------------------------------------------------------------------- parsing


def completion_text(completion: Completion) -> str:
    """The text of one completion: a string as it is; a chat list's assistant messages joined
    (content given as a string or as a list of ``{"type": "text", "text": ...}`` parts)."""
    if isinstance(completion, str):
        return completion
    messages = [m for m in completion if m.get("role", "assistant") == "assistant"]
    parts: list[str] = []
    for message in messages:
        content = message.get("content", "")
        if isinstance(content, str):
            parts.append(content)
        else:
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return "".join(parts)


def is_strict_format(text: str) -> bool:
    """Exactly one reasoning block then one answer block, each tag on its own line."""
    return STRICT_FORMAT.fullmatch(text) is not None


def extract_answer(text: str) -> str | None:
    """The content of the last complete ``<answer>…</answer>`` block, stripped; None without."""
    blocks = _ANSWER.findall(text)
    return blocks[-1].strip() if blocks else None


def parse_integer(text: str | None) -> int | None:
    """The integer a short answer states: ``42``, ``-3``, ``1,234``, ``$15``, ``42.0``, ``42.``;
    full-width digits too. None for anything else (words, units, decimals, several numbers)."""
    if text is None:
        return None
    text = unicodedata.normalize("NFKC", text).strip().rstrip(".。").strip()
    text = text.lstrip(_CURRENCY).strip()
    if _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    if not _INTEGER.fullmatch(text):
        return None
    return int(text.split(".")[0])


def last_number(text: str) -> int | None:
    """The last number written anywhere in `text` when it is an integer (the loose reading of
    an answer that lost its tags); None otherwise."""
    numbers = _NUMBER.findall(unicodedata.normalize("NFKC", text))
    return parse_integer(numbers[-1]) if numbers else None


def answer_integer(completion: Completion) -> int | None:
    """The integer in a completion's answer block (None when there is none)."""
    return parse_integer(extract_answer(completion_text(completion)))


def gold_integer(value: object) -> int | None:
    """A gold answer as an integer: an int, an integral float, a string such as ``"42"`` or a
    GSM8K answer ending in ``#### 42``; None for a missing gold. ValueError for anything else
    (a dataset bug should stop training, not score zero)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"gold answer {value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.rsplit("####", 1)[-1] if "####" in value else value
        if not text.strip():
            return None
        parsed = parse_integer(text)
        if parsed is not None:
            return parsed
    raise ValueError(f"gold answer {value!r} is not an integer")


def _golds(kwargs: Mapping[str, Any], n: int, who: str) -> list[int | None]:
    if "answer" not in kwargs:
        raise ValueError(f"{who} needs the gold answers: a dataset column named 'answer' "
                         "(TRL passes it as the keyword argument answer=[...])")
    answers = list(kwargs["answer"])
    if len(answers) != n:
        raise ValueError(f"{who}: {len(answers)} gold answers for {n} completions")
    return [gold_integer(a) for a in answers]


# --------------------------------------------------------------------------- rewards


@dataclass(frozen=True)
class StrictFormatReward:
    """`value` when the completion is exactly the prompt's layout (tags on their own lines,
    one block each, nothing before or after but trailing whitespace)."""

    value: float = 0.5
    name: str = "strict_format_reward"

    @property
    def __name__(self) -> str:
        return self.name

    def __call__(self, completions: Sequence[Completion], **kwargs: Any) -> list[RewardValue]:
        return [self.value if is_strict_format(completion_text(c)) else 0.0 for c in completions]


@dataclass(frozen=True)
class SoftFormatReward:
    """`value` when a reasoning block is followed by an answer block anywhere in the text,
    with any spacing (a denser signal early on, before the strict layout is learnt)."""

    value: float = 0.5
    name: str = "soft_format_reward"

    @property
    def __name__(self) -> str:
        return self.name

    def __call__(self, completions: Sequence[Completion], **kwargs: Any) -> list[RewardValue]:
        return [self.value if SOFT_FORMAT.search(completion_text(c)) else 0.0
                for c in completions]


@dataclass(frozen=True)
class IntegerReward:
    """`value` when the answer block holds an integer (see :func:`parse_integer`)."""

    value: float = 0.5
    name: str = "integer_reward"

    @property
    def __name__(self) -> str:
        return self.name

    def __call__(self, completions: Sequence[Completion], **kwargs: Any) -> list[RewardValue]:
        return [self.value if answer_integer(c) is not None else 0.0 for c in completions]


@dataclass(frozen=True)
class CorrectnessReward:
    """`value` when the answer block's integer equals the gold `answer`; None without gold."""

    value: float = 2.0
    name: str = "correctness_reward"

    @property
    def __name__(self) -> str:
        return self.name

    def __call__(self, completions: Sequence[Completion], **kwargs: Any) -> list[RewardValue]:
        golds = _golds(kwargs, len(completions), self.name)
        out: list[RewardValue] = []
        for completion, gold in zip(completions, golds, strict=True):
            if gold is None:
                out.append(None)
            else:
                out.append(self.value if answer_integer(completion) == gold else 0.0)
        return out


@dataclass(frozen=True)
class PartialCreditReward:
    """``max(0, value − slope·|answer − gold|)``: with the defaults 2 for an exact answer, 1
    off by one, 0 from two away or without an integer answer; None without gold. It replaces
    :class:`CorrectnessReward` in a set (using both pays an exact answer twice)."""

    value: float = 2.0
    slope: float = 1.0
    name: str = "partial_credit_reward"

    @property
    def __name__(self) -> str:
        return self.name

    def __call__(self, completions: Sequence[Completion], **kwargs: Any) -> list[RewardValue]:
        golds = _golds(kwargs, len(completions), self.name)
        out: list[RewardValue] = []
        for completion, gold in zip(completions, golds, strict=True):
            if gold is None:
                out.append(None)
                continue
            predicted = answer_integer(completion)
            if predicted is None:
                out.append(0.0)
            else:
                out.append(max(0.0, self.value - self.slope * abs(predicted - gold)))
        return out


def _group_bounds(n: int, size: int | None, prompts: Sequence[Any] | None,
                  who: str) -> list[range]:
    if size is not None:
        if size < 1 or n % size:
            raise ValueError(f"{who}: {n} completions do not split into groups of {size}")
        return [range(start, start + size) for start in range(0, n, size)]
    if prompts is None or len(prompts) != n:
        raise ValueError(f"{who} needs the group size (group_size= or num_generations=) or "
                         "the prompts (TRL passes prompts=[...]; a group is a run of equal "
                         "prompts)")
    bounds, start = [], 0
    for i in range(1, n + 1):
        if i == n or prompts[i] != prompts[start]:
            bounds.append(range(start, i))
            start = i
    return bounds


@dataclass(frozen=True)
class MajorityVoteReward:
    """A bonus for agreeing with the group's majority answer (self-consistency).

    TRL passes the G completions of one prompt consecutively. Within each group, the voters are
    the completions with an integer answer (and the strict format when `strict_voters`); the
    majority answer is the most frequent one, and it counts only when its share of the whole
    group (voters or not) is at least `threshold` and no other answer ties with it — 4 of 8 at
    the default 0.5 (docs/method.md §10.6: a vote threshold against 2:2:2:2 noise).

    - With a gold answer, the bonus goes to the completions that agree with a majority that
      *is* the gold answer: a confident wrong majority (the group drifting together) earns
      nothing.
    - Without gold (`answer` absent, or None for the group), the majority is the pseudo-label:
      agreeing completions earn the bonus when `pseudo_label` is on (label-free RL, at the
      risk of rewarding a shared mistake); with it off the reward is None (does not apply).

    The group size is `group_size`, else the `group_size` / `num_generations` keyword, else
    the runs of equal `prompts`. TRL scores each process's share of a batch, so a group that
    straddles two processes is voted on in two parts."""

    bonus: float = 1.0
    threshold: float = 0.5
    group_size: int | None = None
    strict_voters: bool = True
    pseudo_label: bool = True
    name: str = "majority_vote_reward"

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be within (0, 1], got {self.threshold}")

    @property
    def __name__(self) -> str:
        return self.name

    def majority(self, completions: Sequence[Completion]) -> int | None:
        """The group's majority answer, or None when no answer reaches the threshold alone."""
        votes: list[int] = []
        for completion in completions:
            text = completion_text(completion)
            if self.strict_voters and not is_strict_format(text):
                continue
            value = parse_integer(extract_answer(text))
            if value is not None:
                votes.append(value)
        if not votes:
            return None
        ranked = Counter(votes).most_common(2)
        answer, count = ranked[0]
        if len(ranked) > 1 and ranked[1][1] == count:
            return None  # a tie: no majority
        return answer if count / len(completions) >= self.threshold else None

    def __call__(self, completions: Sequence[Completion], **kwargs: Any) -> list[RewardValue]:
        n = len(completions)
        size = self.group_size or kwargs.get("group_size") or kwargs.get("num_generations")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int)):
            raise ValueError(f"{self.name}: the group size must be an integer, got {size!r}")
        bounds = _group_bounds(n, size, kwargs.get("prompts"), self.name)
        golds = _golds(kwargs, n, self.name) if "answer" in kwargs else [None] * n
        out: list[RewardValue] = [0.0] * n
        for group in bounds:
            members = [completions[i] for i in group]
            majority = self.majority(members)
            gold = golds[group[0]]
            if gold is None and not self.pseudo_label:
                for i in group:
                    out[i] = None
                continue
            if majority is None or (gold is not None and majority != gold):
                continue
            for i in group:
                if self.strict_voters and not is_strict_format(completion_text(completions[i])):
                    continue
                if answer_integer(completions[i]) == majority:
                    out[i] = self.bonus
        return out


#: Default instances, each a TRL reward function as it is.
strict_format_reward = StrictFormatReward()
soft_format_reward = SoftFormatReward()
integer_reward = IntegerReward()
correctness_reward = CorrectnessReward()
partial_credit_reward = PartialCreditReward()
majority_vote_reward = MajorityVoteReward()


def reward_name(func: Callable[..., Any]) -> str:
    """The name TRL logs a reward function under (its ``__name__``, else its class name)."""
    while isinstance(func, functools.partial):
        func = func.func
    return getattr(func, "__name__", type(func).__name__)


# --------------------------------------------------------------------------- composition


@dataclass(frozen=True)
class RewardScores:
    """Per-function rewards (unweighted, None where a function does not apply) and the
    weighted total per completion (NaN when no function applied, as TRL does)."""

    names: tuple[str, ...]
    weights: tuple[float, ...]
    columns: dict[str, list[RewardValue]]
    total: list[float]

    def metrics(self, group_size: int | None = None) -> dict[str, float]:
        """The batch metrics under TRL GRPO's names: ``rewards/<name>/mean`` and ``/std``,
        ``reward``, ``reward_std``, and with `group_size` ``frac_reward_zero_std`` (the share
        of groups whose totals are all equal). Standard deviations are sample ones (n − 1)."""
        out: dict[str, float] = {}
        for name in self.names:
            values = [v for v in self.columns[name] if v is not None]
            out[f"rewards/{name}/mean"] = _mean(values)
            out[f"rewards/{name}/std"] = _std(values)
        totals = [t for t in self.total if not math.isnan(t)]
        out["reward"] = _mean(totals)
        out["reward_std"] = _std(totals)
        if group_size is not None:
            if group_size < 1 or len(self.total) % group_size:
                raise ValueError(f"{len(self.total)} completions do not split into groups of "
                                 f"{group_size}")
            groups = [self.total[i:i + group_size]
                      for i in range(0, len(self.total), group_size)]
            flat = [math.isclose(_std(g), 0.0, abs_tol=1e-8) for g in groups]
            out["frac_reward_zero_std"] = sum(flat) / len(flat) if flat else math.nan
        return out


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else math.nan


def _std(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return statistics.stdev(finite) if len(finite) > 1 else 0.0


class RewardSet:
    """Reward functions with weights. `funcs` and `weights` go to TRL as they are
    (``GRPOTrainer(reward_funcs=s.funcs, args=GRPOConfig(reward_weights=s.weights))``);
    :meth:`score` computes the same weighted total for pathrl's own trainers and reports."""

    def __init__(self, rewards: Sequence[RewardFunction | tuple[RewardFunction, float]]):
        funcs: list[RewardFunction] = []
        weights: list[float] = []
        for item in rewards:
            func, weight = item if isinstance(item, tuple) else (item, 1.0)
            if not callable(func):
                raise TypeError(f"{func!r} is not a reward function")
            if not math.isfinite(weight):
                raise ValueError(f"weight of {reward_name(func)} must be finite, got {weight}")
            funcs.append(func)
            weights.append(float(weight))
        if not funcs:
            raise ValueError("a reward set needs at least one reward function")
        names = [reward_name(f) for f in funcs]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"reward names must be unique (TRL logs rewards/<name>/mean): "
                             f"{', '.join(repeated)}")
        self.funcs: tuple[RewardFunction, ...] = tuple(funcs)
        self.weights: tuple[float, ...] = tuple(weights)
        self.names: tuple[str, ...] = tuple(names)

    def __repr__(self) -> str:
        terms = ", ".join(f"{n}×{w:g}" for n, w in zip(self.names, self.weights, strict=True))
        return f"RewardSet({terms})"

    def score(self, completions: Sequence[Completion], **kwargs: Any) -> RewardScores:
        """Call every function as TRL does and sum with the weights (None counts as 0 in the
        sum; a completion no function applies to gets NaN)."""
        columns: dict[str, list[RewardValue]] = {}
        for name, func in zip(self.names, self.funcs, strict=True):
            values = list(func(completions, **kwargs))
            if len(values) != len(completions):
                raise ValueError(f"reward {name} returned {len(values)} values for "
                                 f"{len(completions)} completions")
            columns[name] = values
        total: list[float] = []
        for i in range(len(completions)):
            row = [(columns[n][i], w) for n, w in zip(self.names, self.weights, strict=True)]
            applied = [(v, w) for v, w in row if v is not None and not math.isnan(v)]
            total.append(sum(v * w for v, w in applied) if applied else math.nan)
        return RewardScores(self.names, self.weights, columns, total)


def _simple() -> RewardSet:
    return RewardSet([StrictFormatReward(1.0), CorrectnessReward(2.0)])


def _standard() -> RewardSet:
    return RewardSet([strict_format_reward, soft_format_reward, integer_reward,
                      correctness_reward])


def _dense() -> RewardSet:
    # correctness is logged with weight 0: rewards/correctness_reward/mean stays the accuracy
    # (the doctor's success signal) while partial credit and the vote shape the total.
    return RewardSet([strict_format_reward, soft_format_reward, integer_reward,
                      partial_credit_reward, (majority_vote_reward, 1.0),
                      (correctness_reward, 0.0)])


#: name -> (builder, one-line description). See docs/llm_tasks.md for the values.
REWARD_PRESETS: dict[str, tuple[Callable[[], RewardSet], str]] = {
    "simple": (_simple, "strict format +1, correctness +2 (the first reward of method §10.6)"),
    "standard": (_standard, "strict 0.5, soft 0.5, integer 0.5, correctness 2"),
    "dense": (_dense, "strict, soft, integer, partial credit max(0, 2 − |diff|), majority "
                      "vote bonus 1 (correctness logged with weight 0)"),
}


def reward_set(name: str = "standard") -> RewardSet:
    """A preset reward set by name (a clear error for an unknown one)."""
    if name not in REWARD_PRESETS:
        raise PathrlError(f"unknown reward set {name!r} (choose from "
                          f"{', '.join(REWARD_PRESETS)})")
    return REWARD_PRESETS[name][0]()
