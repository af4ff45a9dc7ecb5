"""An optional LLM-judge reward: a soft score in [0, 1] from any OpenAI-compatible endpoint.

docs/method.md §7.2: when rules cannot say everything, an LLM judge gives a soft score while
the rules stay hard constraints. Here a completion that fails the strict format gets 0 from the
judge without a request (and, with `require_correct`, so does a wrong answer), so the judge can
only add to what the rules already grant; it goes into a :class:`~pathrl.llm.rewards.RewardSet`
beside them with its own weight. The endpoint client, its retries, rate limit and disk cache
are :mod:`pathrl.data.llm`'s. Requests are sequential: size ``requests_per_minute`` (and the
cache) to the batch; set ``temperature=0`` in the settings for a repeatable judge.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pathrl.data.llm import ChatClient, LLMError, LLMSettings, ResponseCache, ask_parsed
from pathrl.llm.rewards import (
    Completion,
    RewardValue,
    answer_integer,
    completion_text,
    gold_integer,
    is_strict_format,
)

JUDGE_SYSTEM_PROMPT = (
    "You grade solutions to grade-school math word problems. Judge the reasoning: is every "
    "step correct, does it follow from the problem, is it clear and free of padding? Answer "
    'with a JSON object and nothing else: {"score": N} where N is an integer from 0 (worthless) '
    "to 10 (a correct, clear, complete solution)."
)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)
_BARE_NUMBER = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*(?:/\s*10)?\s*")


def parse_judge_score(content: str) -> float:
    """The judge's 0–10 score scaled to [0, 1]: ``{"score": 7}`` (fenced or not) or a bare
    ``7`` / ``7/10``. ValueError for anything else."""
    text = _FENCE.sub("", content.strip()).strip()
    bare = _BARE_NUMBER.fullmatch(text)
    if bare:
        value = float(bare.group(1))
    else:
        data = json.loads(text)
        if not isinstance(data, dict) or "score" not in data:
            raise ValueError('expected {"score": N}')
        value = data["score"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"score {value!r} is not a number")
        value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"score {value} is not finite")
    return min(1.0, max(0.0, value / 10.0))


def _question(prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    users = [m for m in prompt if isinstance(m, Mapping) and m.get("role") == "user"]
    return str(users[-1].get("content", "")) if users else ""


class JudgeReward:
    """A TRL reward function scoring each well-formatted completion with an LLM judge.

    Returns the judge's score in [0, 1]; 0 for a completion that fails the strict format (or,
    with `require_correct`, whose answer is not the gold one); None for a failed request when
    ``on_error="skip"`` (TRL leaves it out), else the :class:`LLMError` propagates."""

    def __init__(self, settings: LLMSettings, *, client: ChatClient | None = None,
                 require_correct: bool = False, on_error: str = "raise",
                 name: str = "judge_reward") -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.settings = settings
        self.client = client or ChatClient(settings)
        self.cache = ResponseCache(settings)
        self.require_correct = require_correct
        self.on_error = on_error
        self.__name__ = name

    def messages(self, question: str, completion: str, gold: int | None) -> list[dict[str, str]]:
        reference = f"\nReference answer: {gold}" if gold is not None else ""
        return [
            {"role": "system", "content": JUDGE_SYSTEM_PROMPT},
            {"role": "user", "content": f"Problem:\n{question}{reference}\n\n"
                                        f"Solution to grade:\n{completion}"},
        ]

    def judge(self, question: str, completion: str, gold: int | None = None) -> float:
        """The score of one completion (cached on disk when the settings have a cache_dir)."""
        messages = self.messages(question, completion, gold)
        return ask_parsed(self.client, self.cache, messages, parse_judge_score,
                          self.settings.max_retries,
                          failure=f"judge {self.settings.describe()} gave no score")

    def __call__(self, completions: Sequence[Completion], **kwargs: Any) -> list[RewardValue]:
        prompts = kwargs.get("prompts")
        if prompts is None or len(prompts) != len(completions):
            raise ValueError(f"{self.__name__} needs the prompts, one per completion (TRL "
                             "passes prompts=[...])")
        answers = kwargs.get("answer") or [None] * len(completions)
        out: list[RewardValue] = []
        for prompt, completion, raw_gold in zip(prompts, completions, answers, strict=True):
            text = completion_text(completion)
            gold = gold_integer(raw_gold)
            if not is_strict_format(text):
                out.append(0.0)
                continue
            if self.require_correct and gold is not None and answer_integer(text) != gold:
                out.append(0.0)
                continue
            try:
                out.append(self.judge(_question(prompt), text, gold))
            except LLMError:
                if self.on_error == "raise":
                    raise
                out.append(None)
        return out
