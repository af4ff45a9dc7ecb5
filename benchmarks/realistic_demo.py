"""Route accuracy on realistic, hand-labelled questions about the demo database. Prints JSON.

The questions (benchmarks/realistic_demo.jsonl) were written and labelled by hand, in the
words a user of a project-management database would use (not pathrl's templates), with the
labelling convention of docs/benchmarks.md. They never feed training or the generator.

    .venv/bin/python benchmarks/realistic_demo.py --model runs/demo/ppo/model --json
    .venv/bin/python benchmarks/realistic_demo.py --lexical --json

Reports exact match, anchor / target / via accuracy, table-set match (the set of tables of the
route, order-insensitive), the no-route rate, overall and by hops, language and intent.

This module is also the scoring home for benchmarks/spider_routes.py: `score`, `score_by`,
`load_predictor` and `lexical_predictor` are shared.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from pathrl.errors import PathrlError
from pathrl.paths import PathVocab, Triple
from pathrl.schema import Schema

QUESTIONS_FILE = Path(__file__).with_name("realistic_demo.jsonl")
FIELDS = ("id", "question", "language", "anchor", "via", "target", "intent", "hops")
LANGUAGES = ("en", "zh")
INTENTS = ("list", "count", "aggregate", "group_count", "superlative", "attribute",
           "existence", "time_range")

# One prediction per question; None when the router found no route.
Predictor = Callable[[list[str]], list[Triple | None]]


@dataclass(frozen=True)
class LabelledQuestion:
    id: str
    question: str
    language: str
    anchor: str
    via: tuple[str, ...]
    target: str
    intent: str
    hops: int
    notes: str = ""

    @property
    def triple(self) -> Triple:
        return (self.anchor, self.target, self.via)


def parse_row(row: object, where: str) -> LabelledQuestion:
    """One JSONL row, or a PathrlError naming the row and what is wrong."""
    if not isinstance(row, dict):
        raise PathrlError(f"{where}: expected a JSON object")
    missing = [f for f in FIELDS if f not in row]
    if missing:
        raise PathrlError(f"{where}: missing field(s) {', '.join(missing)}")
    if not isinstance(row["via"], list) or not all(isinstance(t, str) for t in row["via"]):
        raise PathrlError(f"{where}: 'via' must be a list of table names")
    if row["language"] not in LANGUAGES:
        raise PathrlError(f"{where}: language must be one of {LANGUAGES}")
    if row["intent"] not in INTENTS:
        raise PathrlError(f"{where}: intent {row['intent']!r} is not one of {INTENTS}")
    via = tuple(row["via"])
    hops = 0 if row["anchor"] == row["target"] and not via else len(via) + 1
    if row["hops"] != hops:
        raise PathrlError(f"{where}: hops is {row['hops']}, the route has {hops}")
    return LabelledQuestion(str(row["id"]), str(row["question"]), row["language"],
                            str(row["anchor"]), via, str(row["target"]), row["intent"], hops,
                            str(row.get("notes", "")))


def load_questions(path: Path = QUESTIONS_FILE) -> list[LabelledQuestion]:
    if not path.is_file():
        raise PathrlError(f"no question file at {path}")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PathrlError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
        out.append(parse_row(row, f"{path}:{n}"))
    return out


# -- routers ----------------------------------------------------------------------------------

def load_predictor(model_dir: Path, schema: Schema, database=None) -> Predictor:
    """A saved router as a Predictor: through `pathrl.router.protocol.load_router` (any router
    kind) when that module exists, else the three-head `RouterModel`. A schema-reading router
    also reads `database`'s values (schema linking), as it did in training."""
    if not model_dir.is_dir():
        raise PathrlError(f"no saved router at '{model_dir}'")
    try:
        from pathrl.router.protocol import load_router
    except ImportError:
        load_router = None
    if load_router is not None:
        router = load_router(model_dir, schema, database)

        def predict(questions: list[str]) -> list[Triple | None]:
            routings = router.route_batch(questions, top_k=1)
            return [r.routes[0].triple if r.routes else None for r in routings]

        return predict
    from pathrl.router.model import RouterModel

    model = RouterModel.from_pretrained(model_dir, PathVocab.from_schema(schema),
                                        schema.fingerprint())
    return lambda questions: list(model.predict(questions))


def lexical_predictor(schema: Schema) -> Predictor:
    """The untrained lexical baseline (table words + shortest legal path)."""
    from pathrl.router.baselines import LexicalBaseline

    baseline = LexicalBaseline(schema, PathVocab.from_schema(schema))
    return baseline.predict


# -- scoring ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scores:
    n: int
    exact_match: float
    anchor_accuracy: float
    target_accuracy: float
    via_accuracy: float
    table_set_match: float
    no_route_rate: float


def route_tables(triple: Triple) -> frozenset[str]:
    anchor, target, via = triple
    return frozenset((anchor, *via, target))


def score(gold: Sequence[Triple], predicted: Sequence[Triple | None]) -> Scores:
    """Accuracy of `predicted` against `gold` (a None prediction counts as wrong everywhere)."""
    if len(gold) != len(predicted):
        raise PathrlError(f"{len(predicted)} predictions for {len(gold)} questions")
    n = len(gold)
    if n == 0:
        return Scores(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    counts = dict.fromkeys(("exact", "anchor", "target", "via", "tables", "none"), 0)
    for (g_anchor, g_target, g_via), pred in zip(gold, predicted, strict=True):
        if pred is None:
            counts["none"] += 1
            continue
        p_anchor, p_target, p_via = pred[0], pred[1], tuple(pred[2])
        counts["anchor"] += p_anchor == g_anchor
        counts["target"] += p_target == g_target
        counts["via"] += p_via == tuple(g_via)
        counts["exact"] += (p_anchor, p_target, p_via) == (g_anchor, g_target, tuple(g_via))
        counts["tables"] += (route_tables((p_anchor, p_target, p_via))
                             == route_tables((g_anchor, g_target, tuple(g_via))))
    return Scores(n, *(round(counts[k] / n, 4)
                       for k in ("exact", "anchor", "target", "via", "tables", "none")))


def score_by(keys: Sequence[object], gold: Sequence[Triple],
             predicted: Sequence[Triple | None]) -> dict[str, Scores]:
    """`score` per group, groups in sorted order of their key."""
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(str(key), []).append(i)
    return {key: score([gold[i] for i in idx], [predicted[i] for i in idx])
            for key, idx in sorted(groups.items())}


def evaluate(questions: Sequence[LabelledQuestion], predict: Predictor) -> dict:
    """The JSON report: overall scores and by hops, language and intent."""
    gold = [q.triple for q in questions]
    predicted = predict([q.question for q in questions])
    return {
        "n": len(questions),
        "overall": asdict(score(gold, predicted)),
        "by_hops": {k: asdict(v) for k, v in score_by([q.hops for q in questions], gold,
                                                      predicted).items()},
        "by_language": {k: asdict(v) for k, v in score_by([q.language for q in questions],
                                                          gold, predicted).items()},
        "by_intent": {k: asdict(v) for k, v in score_by([q.intent for q in questions], gold,
                                                        predicted).items()},
        "errors": [{"id": q.id, "question": q.question,
                    "gold": route_text(q.triple), "predicted": route_text(p)}
                   for q, p in zip(questions, predicted, strict=True)
                   if p is None or (p[0], p[1], tuple(p[2])) != q.triple],
    }


def route_text(triple: Triple | None) -> str:
    if triple is None:
        return "(no route)"
    anchor, target, via = triple
    return " > ".join((anchor, *via, target)) if anchor != target or via else anchor


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", type=Path, help="Saved router directory (e.g. OUT/model).")
    which.add_argument("--lexical", action="store_true", help="Score the lexical baseline.")
    parser.add_argument("--questions", type=Path, default=QUESTIONS_FILE)
    parser.add_argument("--json", action="store_true", help="Print the whole report as JSON.")
    parser.add_argument("--seed", type=int, default=7, help="Seed of the demo data.")
    args = parser.parse_args(argv)
    try:
        from pathrl.db import open_database
        from pathrl.demo import demo_schema

        schema = demo_schema()
        questions = load_questions(args.questions)
        database = open_database(schema, "sqlite", None, demo_seed=args.seed)
        predict = lexical_predictor(schema) if args.lexical else load_predictor(
            args.model, schema, database)
        report = {"router": "lexical" if args.lexical else str(args.model),
                  **evaluate(questions, predict)}
    except PathrlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    print(json.dumps({k: report[k] for k in ("router", "n", "overall", "by_hops",
                                             "by_language")}, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
