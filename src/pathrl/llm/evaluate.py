"""The evaluation block of the arithmetic task (docs/method.md §10.6, docs/llm_tasks.md).

Given problems and any ``generate(prompts) -> completions`` callable (a model, an endpoint, a
file of saved completions), it reports what source article 002's evaluation prints: the
strict-format rate, the plausible-number rate (an integer was found in the answer block), the
exact rate, and the mean / max completion length, overall and per language. The readings are
the rewards' own (:mod:`pathrl.llm.rewards`), so a number here means what it means in
training. No model is loaded here.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from pathrl.errors import PathrlError
from pathrl.llm.rewards import answer_integer, is_strict_format, last_number
from pathrl.llm.tasks import ChatMessage, Problem, to_messages

Generate = Callable[[list[list[ChatMessage]]], list[str]]
CountTokens = Callable[[str], int]

#: The rates of a report, in the order they are printed.
RATES: tuple[str, ...] = ("format_rate", "plausible_rate", "exact_rate", "loose_exact_rate")


@dataclass(frozen=True)
class CompletionResult:
    """How one completion reads against its problem."""

    problem_id: str
    lang: str
    gold: int
    completion: str
    strict_format: bool
    extracted: int | None  # the integer in the answer block
    exact: bool  # extracted == gold
    loose_exact: bool  # the last number anywhere == gold (tags or not)
    length: int  # in the report's length unit


@dataclass(frozen=True)
class EvalScores:
    """Rates in [0, 1] over `n` completions, and their lengths."""

    n: int
    format_rate: float
    plausible_rate: float
    exact_rate: float
    loose_exact_rate: float
    mean_length: float
    max_length: int

    @classmethod
    def of(cls, results: Sequence[CompletionResult]) -> EvalScores:
        n = len(results)
        return cls(
            n=n,
            format_rate=sum(r.strict_format for r in results) / n,
            plausible_rate=sum(r.extracted is not None for r in results) / n,
            exact_rate=sum(r.exact for r in results) / n,
            loose_exact_rate=sum(r.loose_exact for r in results) / n,
            mean_length=statistics.fmean(r.length for r in results),
            max_length=max(r.length for r in results),
        )

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True)
class EvalReport:
    """The evaluation of one model on one problem set."""

    overall: EvalScores
    by_lang: dict[str, EvalScores]
    length_unit: str  # "tokens" with a token counter, else "characters"
    results: tuple[CompletionResult, ...]

    def to_dict(self, include_results: bool = False) -> dict[str, object]:
        out: dict[str, object] = {
            **self.overall.to_dict(),
            "length_unit": self.length_unit,
            "by_lang": {lang: s.to_dict() for lang, s in self.by_lang.items()},
        }
        if include_results:
            out["results"] = [asdict(r) for r in self.results]
        return out

    def metrics(self, prefix: str = "eval/") -> dict[str, float]:
        """Flat scalars for a run log; ``eval/exact_match`` is the held-out accuracy the doctor
        trusts most (its `eval_exact_match` signal)."""
        out: dict[str, float] = {}
        scopes = [("", self.overall)] + [(f"{lang}/", s) for lang, s in self.by_lang.items()]
        for scope, scores in scopes:
            out[f"{prefix}{scope}format_rate"] = scores.format_rate
            out[f"{prefix}{scope}plausible_rate"] = scores.plausible_rate
            out[f"{prefix}{scope}exact_match"] = scores.exact_rate
            out[f"{prefix}{scope}loose_exact_match"] = scores.loose_exact_rate
            out[f"{prefix}{scope}completion_length"] = scores.mean_length
        return out

    def summary(self) -> str:
        """The report as text, one block per scope (overall, then each language)."""
        lines = []
        scopes = [("all", self.overall)] + list(self.by_lang.items())
        for scope, s in scopes:
            lines.append(f"[{scope}] {s.n} problems")
            lines.append(f"  Correct format     : {_count(s.format_rate, s.n)}")
            lines.append(f"  Plausible number   : {_count(s.plausible_rate, s.n)}")
            lines.append(f"  Exact correct      : {_count(s.exact_rate, s.n)}")
            lines.append(f"  Loose exact        : {_count(s.loose_exact_rate, s.n)}")
            lines.append(f"  Output {self.length_unit:<11} : avg={s.mean_length:.1f} "
                         f"max={s.max_length}")
        return "\n".join(lines)


def _count(rate: float, n: int) -> str:
    return f"{round(rate * n)}/{n} ({rate:.1%})"


def score_completions(problems: Sequence[Problem], completions: Sequence[str],
                      count_tokens: CountTokens | None = None) -> EvalReport:
    """Read completions already generated, one per problem, in order."""
    if not problems:
        raise PathrlError("no problems to evaluate")
    if len(completions) != len(problems):
        raise PathrlError(f"{len(completions)} completions for {len(problems)} problems")
    results = []
    for problem, completion in zip(problems, completions, strict=True):
        if not isinstance(completion, str):
            raise PathrlError(f"completion for {problem.id} is {type(completion).__name__}, "
                              "not a string")
        extracted = answer_integer(completion)
        length = count_tokens(completion) if count_tokens else len(completion)
        results.append(CompletionResult(
            problem_id=problem.id, lang=problem.lang, gold=problem.answer,
            completion=completion, strict_format=is_strict_format(completion),
            extracted=extracted, exact=extracted == problem.answer,
            loose_exact=last_number(completion) == problem.answer, length=length))
    langs = sorted({r.lang for r in results})
    return EvalReport(
        overall=EvalScores.of(results),
        by_lang={lang: EvalScores.of([r for r in results if r.lang == lang]) for lang in langs},
        length_unit="tokens" if count_tokens else "characters",
        results=tuple(results),
    )


def evaluate(problems: Sequence[Problem], generate: Generate, *, batch_size: int = 32,
             count_tokens: CountTokens | None = None) -> EvalReport:
    """Generate one completion per problem (prompts in batches of `batch_size`, chat format
    of :func:`pathrl.llm.tasks.to_messages`) and score them. `count_tokens` (e.g. a
    tokenizer's length) measures completions in tokens; without it, in characters."""
    if batch_size < 1:
        raise PathrlError(f"batch_size must be >= 1, got {batch_size}")
    if not problems:
        raise PathrlError("no problems to evaluate")
    completions: list[str] = []
    for start in range(0, len(problems), batch_size):
        batch = problems[start:start + batch_size]
        out = list(generate([to_messages(p) for p in batch]))
        if len(out) != len(batch):
            raise PathrlError(f"generate returned {len(out)} completions for {len(batch)} "
                              "prompts")
        completions.extend(out)
    return score_completions(problems, completions, count_tokens)


# --------------------------------------------------------------------------- before / after


@dataclass(frozen=True)
class EvalComparison:
    """Two evaluations of the same problems (e.g. before and after GRPO)."""

    before: EvalReport
    after: EvalReport
    fixed: tuple[str, ...]  # problem ids wrong before, exact after
    broken: tuple[str, ...]  # problem ids exact before, wrong after

    def deltas(self) -> dict[str, dict[str, float]]:
        """after − before for each rate and the mean length, overall ("all") and per language."""
        out = {"all": _delta(self.before.overall, self.after.overall)}
        for lang, scores in self.after.by_lang.items():
            out[lang] = _delta(self.before.by_lang[lang], scores)
        return out

    def to_dict(self) -> dict[str, object]:
        return {"before": self.before.to_dict(), "after": self.after.to_dict(),
                "delta": self.deltas(), "fixed": len(self.fixed), "broken": len(self.broken)}

    def table(self) -> str:
        """A Markdown table: one row per rate and scope, before / after / difference in
        points (lengths in the report's unit)."""
        rows = ["| scope | metric | before | after | change |", "|---|---|---|---|---|"]
        scopes = [("all", self.before.overall, self.after.overall)] + [
            (lang, self.before.by_lang[lang], s) for lang, s in self.after.by_lang.items()]
        for scope, old, new in scopes:
            for rate in RATES:
                a, b = getattr(old, rate), getattr(new, rate)
                rows.append(f"| {scope} | {rate} | {a:.1%} | {b:.1%} | "
                            f"{(b - a) * 100:+.1f} pt |")
            rows.append(f"| {scope} | mean_length | {old.mean_length:.1f} | "
                        f"{new.mean_length:.1f} | {new.mean_length - old.mean_length:+.1f} |")
        rows.append("")
        rows.append(f"fixed: {len(self.fixed)}, broken: {len(self.broken)}")
        return "\n".join(rows)


def _delta(before: EvalScores, after: EvalScores) -> dict[str, float]:
    out = {rate: getattr(after, rate) - getattr(before, rate) for rate in RATES}
    out["mean_length"] = after.mean_length - before.mean_length
    return out


def _ids(report: EvalReport) -> list[str]:
    return [r.problem_id for r in report.results]


def compare_reports(before: EvalReport, after: EvalReport) -> EvalComparison:
    """Compare two reports on the same problems (same ids, any order); PathrlError when the
    problem sets differ (a comparison across sets would mean nothing) or repeat an id."""
    if sorted(_ids(before)) != sorted(_ids(after)):
        only_before = len(set(_ids(before)) - set(_ids(after)))
        only_after = len(set(_ids(after)) - set(_ids(before)))
        raise PathrlError(f"the reports cover different problems ({only_before} only before, "
                          f"{only_after} only after); evaluate both on the same set")
    if before.length_unit != after.length_unit:
        raise PathrlError(f"lengths in {before.length_unit} before and {after.length_unit} "
                          "after; count both the same way")
    if len(set(_ids(before))) != len(before.results):
        raise PathrlError("a problem id appears twice in the reports; compare problem sets "
                          "without repeated questions")
    exact_before = {r.problem_id: r.exact for r in before.results}
    fixed = tuple(r.problem_id for r in after.results
                  if r.exact and not exact_before[r.problem_id])
    broken = tuple(r.problem_id for r in after.results
                   if not r.exact and exact_before[r.problem_id])
    return EvalComparison(before, after, fixed, broken)

