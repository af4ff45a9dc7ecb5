"""Answer accuracy of RoutedQA on realistic questions about the demo database. Prints JSON.

Each question of benchmarks/realistic_answers.jsonl (written by hand, English and Chinese:
counts, group counts, superlatives, aggregates, filters, existence, attribute and plain
lookups) carries its route label (the convention of docs/dataset.md) and a gold SQL query
written by hand against the demo SQLite schema. The question is routed, then answered by
`RoutedQA` (pathrl's own query generator: intent -> SQL/MQL along the route), and the answer
is compared with the gold query's result:

- `compare: value`: the gold query returns one number (a count, a sum, an average, a maximum)
  or a truth value (exists); the answer's `value` must be the same number (relative tolerance
  1e-9) or truth value;
- `compare: rows`: the gold query returns rows; the answer's rows, cut to the gold's columns,
  must be the same set (numbers rounded to 4 decimals; dates as ISO text). A listing gold
  selects the key (`id`): the same set of rows; a group count selects the group and `count`;
  a superlative selects the key of every tied row; an attribute selects the key and the column.

    .venv/bin/python benchmarks/realistic_answers.py                     # the gold routes
    .venv/bin/python benchmarks/realistic_answers.py --model runs/demo/scorer/ppo/model
    .venv/bin/python benchmarks/realistic_answers.py --backend mongo --json  # MQL on mongomock
    .venv/bin/python benchmarks/realistic_answers.py --listing-only      # as before intents

Reports accuracy overall, by intent and language, the shares of `answer_kind` (answer /
rows_along_route) and statuses, the route exact-match rate, and (with --json) every miss.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pathrl.errors import PathrlError
from pathrl.paths import PathVocab, Triple
from pathrl.router.protocol import RankedRoute, Routing

QUESTIONS_FILE = Path(__file__).with_name("realistic_answers.jsonl")
FIELDS = ("id", "question", "language", "anchor", "via", "target", "intent", "compare",
          "gold_sql")
INTENTS = ("rows", "count", "group_count", "superlative", "aggregate", "exists", "attribute")
COMPARES = ("value", "rows")


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    question: str
    language: str
    triple: Triple
    intent: str
    compare: str
    gold_sql: str


def parse_row(row: object, where: str) -> GoldQuestion:
    """One JSONL row, or a PathrlError naming the row and what is wrong."""
    if not isinstance(row, dict):
        raise PathrlError(f"{where}: expected a JSON object")
    missing = [f for f in FIELDS if f not in row]
    if missing:
        raise PathrlError(f"{where}: missing field(s) {', '.join(missing)}")
    if row["language"] not in ("en", "zh"):
        raise PathrlError(f"{where}: language must be en or zh")
    if row["intent"] not in INTENTS:
        raise PathrlError(f"{where}: intent {row['intent']!r} is not one of {INTENTS}")
    if row["compare"] not in COMPARES:
        raise PathrlError(f"{where}: compare must be one of {COMPARES}")
    if not isinstance(row["via"], list):
        raise PathrlError(f"{where}: 'via' must be a list of table names")
    return GoldQuestion(str(row["id"]), str(row["question"]), row["language"],
                        (str(row["anchor"]), str(row["target"]), tuple(row["via"])),
                        row["intent"], row["compare"], str(row["gold_sql"]))


def load_questions(path: Path = QUESTIONS_FILE) -> list[GoldQuestion]:
    if not path.is_file():
        raise PathrlError(f"no question file at {path}")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                out.append(parse_row(json.loads(line), f"{path}:{n}"))
            except json.JSONDecodeError as exc:
                raise PathrlError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
    return out


class GoldRouter:
    """A `Router` that returns each question's labelled route (probability 1)."""

    def __init__(self, vocab: PathVocab, questions: Sequence[GoldQuestion]):
        self.vocab = vocab
        self._routes = {q.question: vocab.path(*q.triple) for q in questions}

    def route_batch(self, questions: Sequence[str], top_k: int = 3) -> list[Routing]:
        return [Routing(q, [RankedRoute(self._routes[q], 1.0)] if q in self._routes else [])
                for q in questions]


class ListingOnly:
    """A database that runs route listings only (no answer queries): `RoutedQA` then answers
    every question with the rows along the route, as it did before it read intents."""

    def __init__(self, database: Any):
        self.inner, self.schema = database, database.schema

    def run_path(self, path: Any, flt: Any) -> Any:
        return self.inner.run_path(path, flt)

    def execute_hops(self, hops: Any, anchor: str, flt: Any) -> Any:
        return self.inner.execute_hops(hops, anchor, flt)


# -- comparison -------------------------------------------------------------------------------

def _norm(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return round(float(value), 4)
    return value


def same_value(gold: Any, got: Any) -> bool:
    """Same number (relative tolerance 1e-9) or the same truth value (gold 0/1)."""
    if gold is None or got is None:
        return gold is None and got is None
    if isinstance(got, bool):
        return bool(gold) == got
    try:
        return math.isclose(float(gold), float(got), rel_tol=1e-9, abs_tol=1e-9)
    except (TypeError, ValueError):
        return str(gold) == str(got)


def same_rows(gold: list[dict[str, Any]], got: list[dict[str, Any]]) -> bool:
    """The answer's rows cut to the gold's columns are the gold's set of rows."""
    if not gold:
        return not got
    columns = list(gold[0])
    if any(c not in row for row in got for c in columns):
        return False
    return ({tuple(_norm(r[c]) for c in columns) for r in gold}
            == {tuple(_norm(r[c]) for c in columns) for r in got})


def judge(question: GoldQuestion, gold: list[dict[str, Any]], answer: Any) -> bool:
    if answer.status == "error" or answer.result is None:
        return False
    if question.compare == "value":
        return bool(gold) and same_value(next(iter(gold[0].values())), answer.value)
    return same_rows(gold, answer.rows)


# -- the run ----------------------------------------------------------------------------------

def evaluate(questions: Sequence[GoldQuestion], qa: Any, gold_db: Any) -> dict[str, Any]:
    from pathrl.pipeline import RoutedQA

    assert isinstance(qa, RoutedQA)
    answers = qa.ask_batch([q.question for q in questions])
    results = []
    for q, a in zip(questions, answers, strict=True):
        gold = gold_db.execute(q.gold_sql)
        if gold.status == "error":
            raise PathrlError(f"{q.id}: the gold SQL fails: {gold.error}")
        routed = a.route.triple if a.route is not None else None
        results.append({"id": q.id, "question": q.question, "language": q.language,
                        "intent": q.intent, "correct": judge(q, gold.rows, a),
                        "route_ok": routed is not None and (routed[0], routed[1],
                                                            tuple(routed[2])) == q.triple,
                        "read_as": a.intent.kind if a.intent is not None else None,
                        "answer_kind": a.answer_kind, "status": a.status,
                        "message": a.message})

    def accuracy(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {"n": len(rows), "accuracy": round(sum(r["correct"] for r in rows) / len(rows), 4)
                if rows else 0.0}

    def by(key: str) -> dict[str, Any]:
        groups: dict[str, list[dict[str, Any]]] = {}
        for r in results:
            groups.setdefault(str(r[key]), []).append(r)
        return {k: accuracy(v) for k, v in sorted(groups.items())}

    n = len(results)
    kinds = Counter(r["answer_kind"] for r in results)
    return {
        "n": n, "overall": accuracy(results),
        "route_exact_match": round(sum(r["route_ok"] for r in results) / n, 4) if n else 0.0,
        "accuracy_when_routed_right": accuracy([r for r in results if r["route_ok"]]),
        "by_intent": by("intent"), "by_language": by("language"),
        "answer_kind_share": {k: round(kinds[k] / n, 4) for k in sorted(kinds)},
        "intent_read_as_labelled": round(sum(r["read_as"] == r["intent"] for r in results)
                                         / n, 4) if n else 0.0,
        "statuses": dict(sorted(Counter(r["status"] for r in results).items())),
        "misses": [{k: r[k] for k in ("id", "question", "read_as", "answer_kind", "route_ok",
                                      "message")} for r in results if not r["correct"]],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="A saved router directory (default: route "
                                                   "each question with its gold label).")
    parser.add_argument("--backend", choices=("sqlite", "mongo"), default="sqlite",
                        help="Where RoutedQA runs its queries (the gold SQL runs on SQLite).")
    parser.add_argument("--questions", type=Path, default=QUESTIONS_FILE)
    parser.add_argument("--seed", type=int, default=7, help="Seed of the demo data.")
    parser.add_argument("--listing-only", action="store_true",
                        help="Answer with route listings only (RoutedQA before intents).")
    parser.add_argument("--json", action="store_true", help="Print every miss too.")
    args = parser.parse_args(argv)
    try:
        from pathrl.db import open_database
        from pathrl.demo import demo_schema
        from pathrl.pipeline import RoutedQA
        from pathrl.router.protocol import load_router

        schema = demo_schema()
        vocab = PathVocab.from_schema(schema)
        questions = load_questions(args.questions)
        gold_db = open_database(schema, "sqlite", None, demo_seed=args.seed)
        database = gold_db if args.backend == "sqlite" else open_database(
            schema, "mongo", None, demo_seed=args.seed)
        if args.model is not None:
            router = load_router(args.model, schema, database)
        else:
            router = GoldRouter(vocab, questions)
        report = {"router": str(args.model) if args.model else "gold routes",
                  "backend": args.backend,
                  "listing_only": args.listing_only,
                  **evaluate(questions, RoutedQA(router, ListingOnly(database)
                                                 if args.listing_only else database), gold_db)}
    except PathrlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.json:
        report.pop("misses")
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
