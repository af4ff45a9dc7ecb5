"""Prompts for an LLM that writes one query: the schema, and (route-injected) the legal path.

Both conditions of the A/B share one system message (instructions + the compact schema) and,
with `few_shot=1`, one worked example written from the schema alone (never from a dataset
split): the first one-hop legal path, entity "Alpha", answered with a query that follows it.
They differ only in the user messages:

- direct: the question alone;
- route-injected: the question, then the route the router chose — start table, the join keys
  hop by hop ("project.id = contract.project_id → contract.supplier_id = supplier.id"), the
  answer table — and the entity found in the start table ("project.name = 'Riyadh Railway'").
  The worked example shows its own route the same way.

SQL backends (sqlite, postgres) ask for exactly one SELECT in a ```sql block; the mongo
backend asks for one aggregation as JSON `{"collection": ..., "pipeline": [...]}` in a ```json
block, with the read stages `pathrl.generate.safety` allows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pathrl.errors import PathrlError
from pathrl.paths import LegalPath
from pathrl.schema import Schema

SQL_DIALECTS = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
CONDITIONS = ("direct", "routed")
ARROW = " → "


@dataclass(frozen=True)
class RouteHint:
    """What the route-injected prompt tells the LLM: a legal path, and the entity found in
    its start table (`entity_field` is the column the question's value matched)."""

    path: LegalPath
    entity: str | None = None
    entity_field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path.id, "joins": join_chain(self.path) or None,
                "entity": self.entity, "entity_field": self.entity_field}


@dataclass(frozen=True)
class Prompt:
    """One prompt: `system` is the shared part (instructions + schema), `user` the
    question (and the route, when `route` is set)."""

    question: str
    backend: str
    system: str
    user: str
    route: RouteHint | None = None
    examples: tuple[tuple[str, str], ...] = ()
    """Worked examples as (user message, assistant answer) turns before the question."""

    @property
    def condition(self) -> str:
        return "routed" if self.route is not None else "direct"

    @property
    def shared(self) -> list[dict[str, str]]:
        """The messages before the question: the same for every prompt of one schema,
        backend and condition (a local model encodes them once)."""
        turns = [{"role": "system", "content": self.system}]
        for user, answer in self.examples:
            turns += [{"role": "user", "content": user},
                      {"role": "assistant", "content": answer}]
        return turns

    @property
    def messages(self) -> list[dict[str, str]]:
        return [*self.shared, {"role": "user", "content": self.user}]

    def to_dict(self) -> dict[str, Any]:
        return {"condition": self.condition, "backend": self.backend,
                "route": self.route.to_dict() if self.route else None,
                "messages": self.messages}


def join_chain(path: LegalPath) -> str:
    """The join keys hop by hop: "project.id = contract.project_id → contract.id = ..."."""
    return ARROW.join(f"{h.src_table}.{h.src_field} = {h.dst_table}.{h.dst_field}"
                      for h in path.hops)


def schema_block(schema: Schema, mongo: bool = False) -> str:
    """Tables (or collections) with their columns, key marked `*`, non-text types in
    brackets, and a one-line description; then the foreign keys."""
    lines = ["Collections (fields; * = key):" if mongo else "Tables (columns; * = key):"]
    for t in schema.tables:
        columns = ", ".join(f"{f.name}{'*' if f.name == t.key else ''}"
                            f"{f' [{f.type}]' if f.type != 'str' else ''}" for f in t.fields)
        desc = t.description.strip().splitlines()[0] if t.description.strip() else ""
        lines.append(f"- {t.name}({columns})" + (f": {desc}" if desc else ""))
    lines.append("Foreign keys:")
    lines += [f"- {r.from_table}.{r.from_field} -> {r.to_table}.{r.to_field}"
              for r in schema.relations]
    return "\n".join(lines)


def _sql_instructions(dialect: str) -> str:
    return (f"You write one read-only {dialect} query that answers a business question over "
            "the database below.\n"
            "Rules:\n"
            "- Answer with exactly one SELECT statement in a ```sql code block and nothing "
            "else.\n"
            "- Select the rows of the table the question asks about, with its key column; do "
            "not count, sum or group them (the caller aggregates the rows).\n"
            "- Join tables only on the foreign keys listed; put the question's values in the "
            "WHERE clause.")


_MONGO_INSTRUCTIONS = (
    "You write one read-only MongoDB aggregation that answers a business question over the "
    "collections below.\n"
    "Rules:\n"
    '- Answer with exactly one JSON object {"collection": "<collection to start from>", '
    '"pipeline": [...]} in a ```json code block and nothing else.\n'
    "- Stages allowed: $match, $lookup (from, localField, foreignField, as), $unwind, "
    "$project, $group, $sort, $limit, $count, $replaceRoot, $addFields.\n"
    "- Each join is a $lookup from the next collection (localField: this side's field, "
    "foreignField: the next collection's field), then an $unwind.\n"
    "- Return the documents of the collection the question asks about (after the joins, "
    "$replaceRoot to them); do not count or sum them (the caller aggregates).\n"
    '- Dates are BSON dates: write them as {"$date": "2024-01-31T00:00:00Z"}.')


def system_prompt(schema: Schema, backend: str) -> str:
    """The shared part of every prompt for `schema` on `backend`."""
    if backend == "mongo":
        return f"{_MONGO_INSTRUCTIONS}\n\n{schema_block(schema, mongo=True)}"
    if backend not in SQL_DIALECTS:
        raise PathrlError(f"unknown backend '{backend}' (use one of sqlite, postgres, mongo)")
    return f"{_sql_instructions(SQL_DIALECTS[backend])}\n\n{schema_block(schema)}"


def route_block(route: RouteHint, backend: str = "sqlite") -> str:
    """The route-injected part: start table and filter, joins, answer table. The value is
    written as a literal of the backend's language (a SQL string, a JSON string)."""
    path = route.path
    lines = ["Route (the legal join path for this question; follow it exactly):"]
    if route.entity is not None and route.entity_field is not None:
        value = (json.dumps(route.entity, ensure_ascii=False) if backend == "mongo"
                 else "'" + route.entity.replace("'", "''") + "'")
        where = f", filter {path.anchor}.{route.entity_field} = {value}"
    else:
        where = ", no named row to filter on"
    if path.is_single_table:
        lines.append(f"- table: {path.anchor} (no join){where}")
        lines.append(f"- answer table: {path.target} (select its rows)")
        return "\n".join(lines)
    lines.append(f"- start table: {path.anchor}{where}")
    lines.append(f"- joins: {join_chain(path)}")
    lines.append(f"- answer table: {path.target} (select its rows)")
    return "\n".join(lines)


def user_message(question: str, backend: str, route: RouteHint | None) -> str:
    user = f"Question: {question.strip()}"
    return user if route is None else user + "\n" + route_block(route, backend)


def example_answer(schema: Schema, backend: str, route: RouteHint) -> str:
    """A query that follows `route` (a one-hop path and its entity), as the model should
    write it: SELECT DISTINCT target.* ... JOIN ... WHERE, or pathrl's own pipeline."""
    path = route.path
    if backend == "mongo":
        from pathrl.query import Filter, mongo_query

        query = mongo_query(schema, path.hops, path.anchor, Filter(entity=route.entity))
        body = json.dumps({"collection": query.collection, "pipeline": query.pipeline},
                          ensure_ascii=False)
        return f"```json\n{body}\n```"
    joins = "".join(f" JOIN {h.dst_table} ON {h.src_table}.{h.src_field} = "
                    f"{h.dst_table}.{h.dst_field}" for h in path.hops)
    value = (route.entity or "").replace("'", "''")
    sql = (f"SELECT DISTINCT {path.target}.* FROM {path.anchor}{joins} "
           f"WHERE {path.anchor}.{route.entity_field} = '{value}';")
    return f"```sql\n{sql}\n```"


@lru_cache(maxsize=32)
def worked_example(schema: Schema, backend: str, routed: bool) -> tuple[tuple[str, str], ...]:
    """The one worked example (module doc), or none when the schema has no one-hop path."""
    from pathrl.paths import PathVocab
    from pathrl.router.baselines import few_shot_examples

    vocab = PathVocab.from_schema(schema)
    shots = few_shot_examples(schema, vocab, 1)
    if not shots:  # the first one-hop path, if the schema has one
        return ()
    question, triple = shots[0]
    path = vocab.path(*triple)
    route = RouteHint(path, "Alpha", schema.table(path.anchor).display)
    user = user_message(question, backend, route if routed else None)
    return ((user, example_answer(schema, backend, route)),)


def build_prompt(schema: Schema, backend: str, question: str,
                 route: RouteHint | None = None, few_shot: int = 1) -> Prompt:
    """The prompt for one question: direct (`route` None) or route-injected; `few_shot`
    (0 or 1) worked examples before it."""
    if not isinstance(question, str) or not question.strip():
        raise PathrlError("the question is empty")
    if few_shot not in (0, 1):
        raise PathrlError(f"few_shot must be 0 or 1, got {few_shot}")
    examples = worked_example(schema, backend, route is not None) if few_shot else ()
    return Prompt(question, backend, system_prompt(schema, backend),
                  user_message(question, backend, route), route, examples)
