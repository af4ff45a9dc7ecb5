"""The route-injection A/B of method §1.4, on a labelled split.

For every question three columns are run on the same database:

- `direct`: the LLM sees the schema and the question;
- `routed`: the LLM also sees the route the router chose (its best legal path, with the join
  keys hop by hop) and the entity pathrl found;
- `pathrl`: pathrl's own generator (`RoutedQA.answer` on the same routing: route -> entity ->
  query builder -> rows).

Each column reports its statuses, the execution success rate (the query ran and returned
rows), the empty-result rate and the share of questions whose rows equal the gold rows.

Gold rows: the example's labelled legal path run through pathrl's query builder with the
example's filter (entity on the start table's display field, dates on the target's time
field). An attribute condition the `Filter` cannot express ("contracts with amount above X",
"employees in Sales") is applied to the start table's rows first, and the path runs for each
start row that meets it (rows merged by the target's key; rule `path+condition`). A
condition on another table is left out (rule `path-condition-ignored`). A gold query that fails
is rule `error`, and no column can equal it.

Rows equal the gold rows when, ignoring order and duplicates:
1. the result has a column named like the target table's key (`id`, or `table.id`): its set
   of values equals the gold rows' set of keys; otherwise
2. the result's columns that are fields of the target table (at least one): its set of
   tuples of those columns equals the gold rows' set of the same tuples.
Numbers compare as numbers (1 == 1.0), everything else as text. A truncated result (more than
`max_rows` rows) is never equal. Both empty counts as equal. For pathrl's generator the rows
compared are its answer's rows, or, for an answer that aggregates them (a count, counts per
group, the top row, an average, an existence check), the rows along its route for the
entities it found (`rows_answered`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pathrl.data.example import Condition, Example
from pathrl.db import Database
from pathrl.errors import PathrlError
from pathrl.generate.runner import RoutedGenerator
from pathrl.intent import KINDS
from pathrl.paths import LegalPath
from pathrl.pipeline import Answer
from pathrl.query import Filter
from pathrl.schema import Table

COLUMNS = ("direct", "routed", "pathrl")
COLUMN_TITLES = {"direct": "LLM direct", "routed": "LLM + route", "pathrl": "pathrl generator"}
NO_QUERY = "no_query"  # pathrl's generator ran nothing (entity not found, ambiguous, no route)


# -- gold --------------------------------------------------------------------------------------
@dataclass
class Gold:
    rows: list[dict[str, Any]]
    rule: str  # "path" | "path+condition" | "path-condition-ignored" | "error"
    error: str | None = None


def _meets(value: Any, cond: Condition) -> bool:
    if value is None:
        return False
    if cond.op == "year":
        return str(value)[:4] == str(cond.value)
    if cond.op in ("before", "after"):
        day = str(value)[:10]
        return day < str(cond.value) if cond.op == "before" else day > str(cond.value)
    if cond.op == "eq":
        return _norm(value) == _norm(cond.value)
    try:
        number = float(value)
        low = float(cond.value)
    except (TypeError, ValueError):
        return False
    if cond.op == "gt":
        return number > low
    if cond.op == "lt":
        return number < low
    return low <= number <= float(cond.value2)  # between, inclusive


def gold_rows(database: Database, path: LegalPath, example: Example) -> Gold:
    """The rows the labelled route gives for the example (module doc)."""
    flt = example.to_filter()
    cond = example.condition
    if cond is None or cond.table != path.anchor:
        result = database.run_path(path, flt)
        if result.status == "error":
            return Gold([], "error", result.error)
        return Gold(result.rows, "path" if cond is None else "path-condition-ignored")
    schema = database.schema
    anchor = schema.table(path.anchor)
    starts = database.execute_hops((), path.anchor, Filter(entity=flt.entity))
    if starts.status == "error":
        return Gold([], "error", starts.error)
    values = sorted({str(r[anchor.display]) for r in starts.rows
                     if r.get(anchor.display) is not None and _meets(r.get(cond.column), cond)})
    target = schema.table(path.target)
    merged: dict[Any, dict[str, Any]] = {}
    for value in values:
        result = database.run_path(path, Filter(value, flt.date_from, flt.date_to))
        if result.status == "error":
            return Gold([], "error", result.error)
        for row in result.rows:
            merged.setdefault(row.get(target.key), row)
    return Gold(list(merged.values()), "path+condition")


# -- comparison --------------------------------------------------------------------------------
def _norm(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return round(float(value), 6)
    return str(value)


def _key_column(columns: set[str], key: str) -> str | None:
    for column in sorted(columns):
        if column.lower() == key.lower() or column.lower().endswith("." + key.lower()):
            return column
    return None


def rows_equal(rows: Sequence[dict[str, Any]], gold: Sequence[dict[str, Any]],
               target: Table, truncated: bool = False) -> bool:
    """Whether `rows` are the gold rows of `target` (module doc: key rule, then columns)."""
    if truncated:
        return False
    if not rows or not gold:
        return not rows and not gold
    columns = set().union(*(row.keys() for row in rows))
    key = _key_column(columns, target.key)
    if key is not None:
        return ({_norm(r.get(key)) for r in rows}
                == {_norm(g.get(target.key)) for g in gold})
    shared = sorted(c for c in columns if c in target.field_names)
    if not shared:
        return False
    return ({tuple(_norm(r.get(c)) for c in shared) for r in rows}
            == {tuple(_norm(g.get(c)) for c in shared) for g in gold})


# -- the report --------------------------------------------------------------------------------
@dataclass
class Outcome:
    """One column's result for one question."""

    status: str
    count: int = 0
    rows_equal_gold: bool = False
    query: str = ""
    message: str | None = None
    completion: str | None = None
    detail: str | None = None
    """pathrl column: the `Answer.status` (no_entity, entity_not_found, ...)."""

    def to_dict(self) -> dict[str, Any]:
        out = {"status": self.status, "count": self.count,
               "rows_equal_gold": self.rows_equal_gold, "query": self.query,
               "message": self.message}
        if self.completion is not None:
            out["completion"] = self.completion
        if self.detail is not None:
            out["detail"] = self.detail
        return out


@dataclass
class ABItem:
    id: str
    question: str
    hops: int
    category: str
    language: str
    label_path: str
    router_path: str | None
    gold_count: int
    gold_rule: str
    outcomes: dict[str, Outcome]
    entity: str | None = None
    """The entity the route-injected prompt named (None: none found)."""

    @property
    def router_correct(self) -> bool:
        return self.router_path == self.label_path

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "question": self.question, "hops": self.hops,
                "category": self.category, "language": self.language,
                "label_path": self.label_path, "router_path": self.router_path,
                "router_correct": self.router_correct, "entity": self.entity,
                "gold_count": self.gold_count, "gold_rule": self.gold_rule,
                **{name: self.outcomes[name].to_dict() for name in COLUMNS}}


@dataclass
class ColumnSummary:
    n: int
    statuses: dict[str, int]
    rows_equal_gold: int

    @property
    def success_rate(self) -> float:
        return self.statuses.get("ok", 0) / self.n if self.n else 0.0

    @property
    def empty_rate(self) -> float:
        return self.statuses.get("empty", 0) / self.n if self.n else 0.0

    @property
    def rows_equal_gold_rate(self) -> float:
        return self.rows_equal_gold / self.n if self.n else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "statuses": dict(sorted(self.statuses.items())),
                "success_rate": round(self.success_rate, 4),
                "empty_rate": round(self.empty_rate, 4),
                "rows_equal_gold": self.rows_equal_gold,
                "rows_equal_gold_rate": round(self.rows_equal_gold_rate, 4)}


def summarize(items: Sequence[ABItem]) -> dict[str, ColumnSummary]:
    return {name: ColumnSummary(len(items), dict(Counter(i.outcomes[name].status
                                                         for i in items)),
                                sum(i.outcomes[name].rows_equal_gold for i in items))
            for name in COLUMNS}


@dataclass
class ABReport:
    items: list[ABItem]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, ColumnSummary]:
        return summarize(self.items)

    def by(self, key: Callable[[ABItem], str]) -> dict[str, dict[str, ColumnSummary]]:
        groups: dict[str, list[ABItem]] = {}
        for item in self.items:
            groups.setdefault(key(item), []).append(item)
        return {name: summarize(group) for name, group in sorted(groups.items())}

    @property
    def router_exact_match(self) -> float:
        """Share of questions whose router route is the labelled one."""
        return sum(i.router_correct for i in self.items) / len(self.items) if self.items else 0.0

    @property
    def joins(self) -> dict[str, ColumnSummary]:
        """The questions whose labelled route has at least one join (the `$lookup` cases)."""
        return summarize([i for i in self.items if i.hops > 0])

    def to_dict(self) -> dict[str, Any]:
        def dump(summary: dict[str, ColumnSummary]) -> dict[str, Any]:
            return {name: s.to_dict() for name, s in summary.items()}

        return {
            "meta": self.meta,
            "rules": {
                "success": "the query ran and returned rows (status ok)",
                "empty": "the query ran and returned no rows",
                "rows_equal_gold": "same set of target keys as the labelled path's rows "
                                   "(else the same set of target-field tuples); see "
                                   "docs/generate.md",
            },
            "summary": dump(self.summary),
            "joins_only": dump(self.joins),
            "by_hops": {k: dump(v) for k, v in self.by(lambda i: str(i.hops)).items()},
            "by_category": {k: dump(v) for k, v in self.by(lambda i: i.category).items()},
            "router_exact_match": round(self.router_exact_match, 4),
            "items": [i.to_dict() for i in self.items],
        }


# -- running -----------------------------------------------------------------------------------
AGGREGATE_KINDS = tuple(k for k in KINDS if k not in ("rows", "attribute"))


def rows_answered(answer: Answer, database: Database) -> list[dict[str, Any]]:
    """The target rows behind an answer of pathrl's generator: its rows, or, for an answer
    that aggregates them (a count, counts per group, the top row, an average, an existence
    check), the rows along its route for the entities it found (one query each, merged by
    the target's key; conditions the answer applied are not re-applied)."""
    if answer.intent is None or answer.intent.kind not in AGGREGATE_KINDS or (
            answer.route is None):
        return answer.rows
    key = database.schema.table(answer.route.target).key
    merged: dict[Any, dict[str, Any]] = {}
    for value in answer.entities or [None]:
        result = database.run_path(answer.route.path, Filter(entity=value))
        for row in result.rows:
            merged.setdefault(row.get(key), row)
    return list(merged.values())


def _pathrl_outcome(answer: Answer, gold: Gold, target: Table, database: Database) -> Outcome:
    result = answer.result
    if result is None:
        return Outcome(NO_QUERY, message=answer.message, detail=answer.status)
    equal = (result.status != "error" and gold.error is None
             and rows_equal(rows_answered(answer, database), gold.rows, target))
    return Outcome(result.status, result.count, equal, result.query, result.error,
                   detail=answer.status)


def run_ab(generator: RoutedGenerator, examples: Sequence[Example],
           progress: Callable[[int, int], None] | None = None) -> ABReport:
    """Run the three columns on every example (module doc). `progress(done, total)` counts
    LLM prompts (two per question)."""
    if not examples:
        raise PathrlError("no questions to run the A/B on")
    service = generator.service
    vocab = service.vocab
    questions = [ex.question for ex in examples]
    start = time.perf_counter()
    routings = service.route(questions)
    routes = [r.routes[0] if r.routes else None for r in routings]
    prompts = ([generator.prompt(q, r, routed=False) for q, r in zip(questions, routes,
                                                                    strict=True)]
               + [generator.prompt(q, r, routed=True) for q, r in zip(questions, routes,
                                                                     strict=True)])
    total, done = len(prompts), 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    llm_start = time.perf_counter()
    completions = generator.complete(prompts, advance)
    llm_seconds = time.perf_counter() - llm_start
    n = len(examples)
    items = []
    for i, ex in enumerate(examples):
        path = vocab.path_by_id.get(ex.path_id)
        if path is None:
            raise PathrlError(f"example {ex.id}: '{ex.path_id}' is not a legal path of schema "
                              f"{service.schema.name}")
        target = service.schema.table(path.target)
        gold = gold_rows(service.database, path, ex)
        outcomes = {}
        for name, completion in (("direct", completions[i]), ("routed", completions[n + i])):
            run = generator.run(completion)
            equal = run.status in ("ok", "empty") and gold.error is None and rows_equal(
                run.rows, gold.rows, target, run.truncated)
            outcomes[name] = Outcome(run.status, run.count, equal, run.query, run.message,
                                     completion)
        outcomes["pathrl"] = _pathrl_outcome(service.qa.answer(routings[i]), gold, target,
                                             service.database)
        hint = prompts[n + i].route
        items.append(ABItem(ex.id, ex.question, ex.hops, ex.category, ex.language,
                            ex.path_id, routes[i].path.id if routes[i] else None,
                            len(gold.rows), gold.rule, outcomes,
                            hint.entity if hint is not None else None))
    meta = {"llm": generator.llm.describe(), "backend": generator.backend,
            "schema": service.schema.name, "questions": n, "max_rows": generator.max_rows,
            "timeout_s": generator.timeout_s, "few_shot": generator.few_shot,
            "llm_seconds": round(llm_seconds, 2),
            "seconds": round(time.perf_counter() - start, 2),
            "gold_rules": dict(Counter(item.gold_rule for item in items))}
    return ABReport(items, meta)
