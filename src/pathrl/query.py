"""The Generator: a route (legal path) + a filter -> a SQL SELECT or a MongoDB pipeline.

Identifiers (tables, fields) come only from the schema; values from the question (entity,
dates) are bound parameters in SQL and plain BSON values under `$eq`/`$gte`/`$lte` in MQL, so a
value can never become syntax.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

import sqlalchemy as sa

from pathrl.errors import PathrlError
from pathrl.paths import Hop, LegalPath
from pathrl.schema import Schema, Table

_SA_TYPES = {"str": sa.String, "int": sa.Integer, "float": sa.Float, "date": sa.Date,
             "datetime": sa.DateTime, "bool": sa.Boolean}


@dataclass(frozen=True)
class Filter:
    """What the question pins down: an entity on the anchor's display field and an optional
    date range (ISO `YYYY-MM-DD`, inclusive) on the target's time field."""

    entity: str | None = None
    date_from: str | None = None
    date_to: str | None = None

    def __post_init__(self) -> None:
        if self.entity is not None and not isinstance(self.entity, (str, int, float)):
            raise PathrlError(f"entity must be a plain value, got {type(self.entity).__name__}")
        for name in ("date_from", "date_to"):
            value = getattr(self, name)
            if value is not None:
                _parse_date(value, name)

    def to_dict(self) -> dict[str, Any]:
        return {"entity": self.entity, "date_from": self.date_from, "date_to": self.date_to}


def _parse_date(value: str, what: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise PathrlError(f"{what} must be a date like 2024-03-31, got '{value}'") from None


@dataclass(frozen=True)
class SQLQuery:
    statement: sa.Select
    text: str  # printable SQL with placeholders
    params: dict[str, Any]


@dataclass(frozen=True)
class MongoQuery:
    collection: str
    pipeline: list[dict[str, Any]]

    @property
    def text(self) -> str:
        import json

        return f"db.{self.collection}.aggregate(" + json.dumps(
            self.pipeline, ensure_ascii=False, indent=2, default=str) + ")"


# -- SQL ---------------------------------------------------------------------------------------
@lru_cache(maxsize=16)
def sql_metadata(schema: Schema) -> sa.MetaData:
    """SQLAlchemy tables (with primary and foreign keys) for a schema."""
    md = sa.MetaData()
    fks = {(r.from_table, r.from_field): f"{r.to_table}.{r.to_field}" for r in schema.relations}
    for t in schema.tables:
        cols = []
        for f in t.fields:
            args = [sa.ForeignKey(fks[(t.name, f.name)])] if (t.name, f.name) in fks else []
            cols.append(sa.Column(f.name, _SA_TYPES[f.type](), *args, primary_key=f.name == t.key))
        sa.Table(t.name, md, *cols)
    return md


def sql_query(schema: Schema, hops: tuple[Hop, ...], anchor: str, flt: Filter = Filter(),
              dialect: sa.engine.Dialect | None = None) -> SQLQuery:
    """SELECT DISTINCT target fields FROM anchor JOIN ... along `hops`, filtered by `flt`."""
    md = sql_metadata(schema)
    anchor_t = schema.table(anchor)
    aliases = [md.tables[anchor].alias("t0")]
    joined: sa.FromClause = aliases[0]
    for i, hop in enumerate(hops, start=1):
        nxt = md.tables[hop.dst_table].alias(f"t{i}")
        joined = joined.join(nxt, aliases[-1].c[hop.src_field] == nxt.c[hop.dst_field])
        aliases.append(nxt)
    target_t = schema.table(hops[-1].dst_table if hops else anchor)
    last = aliases[-1]
    stmt = sa.select(*[last.c[f] for f in target_t.field_names]).select_from(joined).distinct()
    params: dict[str, Any] = {}
    if flt.entity is not None:
        stmt = stmt.where(aliases[0].c[anchor_t.display] == sa.bindparam("entity", flt.entity))
        params["entity"] = flt.entity
    stmt = _sql_time_filter(stmt, last, target_t, flt, params)
    stmt = stmt.order_by(last.c[target_t.key])
    compiled = stmt.compile(dialect=dialect) if dialect else stmt.compile()
    return SQLQuery(stmt, str(compiled), params)


def _sql_time_filter(stmt: sa.Select, table: sa.FromClause, target: Table, flt: Filter,
                     params: dict[str, Any]) -> sa.Select:
    if not (flt.date_from or flt.date_to):
        return stmt
    if not target.time_field:
        raise PathrlError(f"table '{target.name}' has no time_field: a date range cannot apply")
    col = table.c[target.time_field]
    if flt.date_from:
        params["date_from"] = _parse_date(flt.date_from, "date_from")
        stmt = stmt.where(col >= sa.bindparam("date_from", params["date_from"]))
    if flt.date_to:
        params["date_to"] = _parse_date(flt.date_to, "date_to")
        if target.field(target.time_field).type == "datetime":  # all of the last day counts
            params["date_to"] = _to_datetime(params["date_to"] + timedelta(days=1))
            return stmt.where(col < sa.bindparam("date_to", params["date_to"]))
        stmt = stmt.where(col <= sa.bindparam("date_to", params["date_to"]))
    return stmt


# -- MongoDB -----------------------------------------------------------------------------------
def mongo_query(schema: Schema, hops: tuple[Hop, ...], anchor: str,
                flt: Filter = Filter()) -> MongoQuery:
    """An aggregation on the anchor collection: `$match`, then per hop a `$lookup`
    (localField/foreignField, so it runs on every MongoDB and on mongomock) and `$unwind`,
    then one document per distinct target row, sorted by key, projected to the target fields."""
    anchor_t = schema.table(anchor)
    pipeline: list[dict[str, Any]] = []
    if flt.entity is not None:
        pipeline.append({"$match": {anchor_t.display: {"$eq": flt.entity}}})
    prefix = ""
    for i, hop in enumerate(hops, start=1):
        alias = f"_h{i}"
        pipeline.append({"$lookup": {"from": hop.dst_table, "localField": prefix + hop.src_field,
                                     "foreignField": hop.dst_field, "as": alias}})
        pipeline.append({"$unwind": "$" + alias})
        prefix = alias + "."
    target_t = schema.table(hops[-1].dst_table if hops else anchor)
    if flt.date_from or flt.date_to:
        if not target_t.time_field:
            raise PathrlError(f"table '{target_t.name}' has no time_field: "
                              "a date range cannot apply")
        bounds: dict[str, Any] = {}
        if flt.date_from:
            bounds["$gte"] = _to_datetime(_parse_date(flt.date_from, "date_from"))
        if flt.date_to:
            last = _to_datetime(_parse_date(flt.date_to, "date_to"))
            if target_t.field(target_t.time_field).type == "datetime":  # all of the last day
                bounds["$lt"] = last + timedelta(days=1)
            else:
                bounds["$lte"] = last
        pipeline.append({"$match": {prefix + target_t.time_field: bounds}})
    if hops:
        root = "$" + prefix.rstrip(".")
        pipeline.append({"$group": {"_id": f"{root}.{target_t.key}", "row": {"$first": root}}})
        pipeline.append({"$replaceRoot": {"newRoot": "$row"}})
    pipeline.append({"$sort": {target_t.key: 1}})
    pipeline.append({"$project": {"_id": 0, **{f: 1 for f in target_t.field_names}}})
    return MongoQuery(anchor, pipeline)


def _to_datetime(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)


# -- the failure mode of method §1.1 ----------------------------------------------------------
def bridge_skipping_hops(path: LegalPath) -> tuple[Hop, ...]:
    """The "direct" join a general LLM invents for a multi-hop path: it joins the target to
    the anchor on the key the target really uses for its neighbour (e.g. change logs'
    `contract_id` compared with the project's `id`), skipping the bridge tables."""
    if path.n_hops < 2:
        return path.hops
    first, last = path.hops[0], path.hops[-1]
    return (Hop(path.anchor, first.src_field, path.target, last.dst_field, last.forward),)


def guess_hops(schema: Schema, tables: tuple[str, ...]) -> tuple[Hop, ...] | None:
    """Joins for a table sequence that may not be a legal path, written the way an unguided
    generator would: a real foreign key between neighbours when one exists, otherwise a guessed
    `<table>_id` column or the key. Returns None when a table is unknown (the query cannot even
    be written)."""
    known = set(schema.table_names)
    if any(t not in known for t in tables) or len(tables) < 2:
        return None
    hops = []
    for src, dst in zip(tables, tables[1:], strict=False):
        rel = next((r for r in schema.relations if {r.from_table, r.to_table} == {src, dst}),
                   None)
        if rel is not None:
            forward = rel.from_table == src
            hops.append(Hop(src, rel.from_field if forward else rel.to_field, dst,
                            rel.to_field if forward else rel.from_field, forward))
            continue
        src_t, dst_t = schema.table(src), schema.table(dst)
        guess = f"{src}_id" if f"{src}_id" in dst_t.field_names else dst_t.key
        hops.append(Hop(src, src_t.key, dst, guess, False))
    return tuple(hops)


# -- answers: counts, groups, rankings, aggregates along a route ------------------------------
# `sql_query` / `mongo_query` list every target row along the route. The builders below
# compute what a question asks instead (pathrl.intent reads the question into an
# `AnswerShape`): a count, counts per group, the top row(s), an average or total, whether any
# row exists, a column of named rows, or the rows that meet attribute conditions. They share
# the route's joins with the listing query, and every value (entity, condition bound) is a
# bound parameter in SQL and a plain BSON value under an operator in MQL.

SHAPE_KINDS = ("rows", "count", "group_count", "superlative", "aggregate", "exists",
               "attribute")
FUNCTIONS = ("count", "sum", "avg", "max", "min")
COUNT_LABEL = "count"
VALUE_LABEL = "value"


class ConditionLike(Protocol):
    """An attribute condition (`pathrl.data.example.Condition` is one): `table.column op
    value [value2]`, op one of eq, gt, gte, lt, lte, between, before, after, year."""

    table: str
    column: str
    op: str
    value: Any
    value2: Any


@dataclass(frozen=True)
class ColumnRef:
    table: str
    column: str

    @property
    def label(self) -> str:
        return f"{self.table}.{self.column}"


@dataclass(frozen=True)
class AnswerShape:
    """What to compute along a route.

    - `rows`: the distinct `subject` rows meeting `conditions`;
    - `count` / `exists`: how many distinct `subject` rows (exists: more than none);
    - `group_count`: distinct `subject` rows per group, most first;
    - `aggregate`: `function` (sum/avg/max/min) of `column` over the distinct rows of its
      table, per group when a group is set;
    - `superlative`: with a group, the group(s) with the highest (`descending`) or lowest
      `function` (count of `subject` rows, or sum/avg of `column`); without one, the
      `subject` rows whose `column` is the highest or lowest (ties all kept);
    - `attribute`: `column` of the `subject` rows (with their key and display field).

    A group is a table of the route (`group_table`): its rows (key and display field) when
    `group_column` is None, else the values of that column.
    """

    kind: str
    subject: str
    conditions: tuple[ConditionLike, ...] = ()
    group_table: str | None = None
    group_column: str | None = None
    column: ColumnRef | None = None
    function: str | None = None
    descending: bool = True

    def __post_init__(self) -> None:
        if self.kind not in SHAPE_KINDS:
            raise PathrlError(f"answer kind must be one of {SHAPE_KINDS}, got {self.kind!r}")
        if self.function is not None and self.function not in FUNCTIONS:
            raise PathrlError(f"function must be one of {FUNCTIONS}, got {self.function!r}")
        needs_column = self.kind in ("aggregate", "attribute") or (
            self.kind == "superlative" and (self.group_table is None
                                            or self.function not in (None, "count")))
        if needs_column and self.column is None:
            raise PathrlError(f"a {self.kind} answer needs a column")
        if self.kind in ("group_count",) and self.group_table is None:
            raise PathrlError("a group_count answer needs a group")

    @property
    def grouped(self) -> bool:
        return self.group_table is not None

    @property
    def metric_label(self) -> str:
        return COUNT_LABEL if self.metric_function == "count" else VALUE_LABEL

    @property
    def metric_function(self) -> str:
        if self.kind in ("group_count", "count", "exists"):
            return "count"
        return self.function or "count"


def _route_tables(schema: Schema, hops: tuple[Hop, ...], anchor: str) -> list[str]:
    return [anchor, *(h.dst_table for h in hops)]


def _check_shape(schema: Schema, tables: list[str], shape: AnswerShape) -> None:
    """Every table the shape names is on the route and every column exists: identifiers come
    only from the schema."""
    named = [shape.subject, *(c.table for c in shape.conditions)]
    if shape.group_table:
        named.append(shape.group_table)
    if shape.column:
        named.append(shape.column.table)
    for table in named:
        if table not in tables:
            raise PathrlError(f"table '{table}' is not on the route {' > '.join(tables)}")
    for table, column in [(c.table, c.column) for c in shape.conditions] + (
            [(shape.group_table, shape.group_column)] if shape.group_column else []) + (
            [(shape.column.table, shape.column.column)] if shape.column else []):
        schema.table(table).field(column)


def condition_bounds(schema: Schema, cond: ConditionLike) -> list[tuple[str, Any]]:
    """A condition as comparisons (`eq`, `gt`, `ge`, `lt`, `le`) with Python values of the
    column's type: numbers as float, days as `date` (a datetime column compares with the
    start of the next day, so every moment of the last day counts), text as str.

    Day semantics: before d = earlier than d; after d = later than d; year y = every day of
    y; between lo and hi = lo to hi inclusive (numbers too)."""
    field_type = schema.table(cond.table).field(cond.column).type
    op, value, value2 = cond.op, cond.value, cond.value2
    if field_type in ("date", "datetime"):
        if op == "year":
            lo, hi = date(int(value), 1, 1), date(int(value), 12, 31)
        else:
            lo = _parse_date(str(value), f"{cond.table}.{cond.column}")
            hi = _parse_date(str(value2), f"{cond.table}.{cond.column}") if value2 else lo
        ranges = {"before": [("lt", lo)], "after": [("gt", hi)], "gt": [("gt", hi)],
                  "lt": [("lt", lo)], "gte": [("ge", lo)], "lte": [("le", hi)],
                  "eq": [("ge", lo), ("le", hi)], "year": [("ge", lo), ("le", hi)],
                  "between": [("ge", lo), ("le", hi)]}
        if op not in ranges:
            raise PathrlError(f"'{op}' does not apply to the date column {cond.table}."
                              f"{cond.column}")
        bounds = ranges[op]
        if field_type == "datetime":  # a day is every moment of it
            bounds = [("ge", _to_datetime(d + timedelta(days=1))) if o == "gt" else
                      ("lt", _to_datetime(d + timedelta(days=1))) if o == "le" else
                      (o, _to_datetime(d)) for o, d in bounds]
        return bounds
    if field_type in ("int", "float"):
        try:
            lo = float(value)
            hi = float(value2) if value2 is not None else lo
        except (TypeError, ValueError):
            raise PathrlError(f"{cond.table}.{cond.column} compares with numbers, got "
                              f"{value!r}") from None
        ranges = {"eq": [("eq", lo)], "gt": [("gt", lo)], "lt": [("lt", lo)],
                  "gte": [("ge", lo)], "lte": [("le", lo)], "between": [("ge", lo), ("le", hi)]}
        if op not in ranges:
            raise PathrlError(f"'{op}' does not apply to the number column {cond.table}."
                              f"{cond.column}")
        return ranges[op]
    if op != "eq":
        raise PathrlError(f"only equality applies to the text column {cond.table}.{cond.column}")
    if field_type == "bool":
        return [("eq", bool(value))]
    return [("eq", str(value))]


_SQL_COMPARE = {"eq": operator.eq, "gt": operator.gt, "ge": operator.ge, "lt": operator.lt,
                "le": operator.le}
_MONGO_COMPARE = {"eq": "$eq", "gt": "$gt", "ge": "$gte", "lt": "$lt", "le": "$lte"}


class _SQLRoute:
    """The route's FROM clause (aliases `<prefix>0..n`, one per table: a legal path never
    repeats a table) and its WHERE terms, with parameters named after the prefix."""

    def __init__(self, schema: Schema, hops: tuple[Hop, ...], anchor: str, shape: AnswerShape,
                 entities: tuple[str, ...], params: dict[str, Any], prefix: str = "t"):
        md = sql_metadata(schema)
        self.alias: dict[str, sa.FromClause] = {anchor: md.tables[anchor].alias(f"{prefix}0")}
        joined: sa.FromClause = self.alias[anchor]
        previous = self.alias[anchor]
        for i, hop in enumerate(hops, start=1):
            nxt = md.tables[hop.dst_table].alias(f"{prefix}{i}")
            joined = joined.join(nxt, previous.c[hop.src_field] == nxt.c[hop.dst_field])
            self.alias[hop.dst_table] = previous = nxt
        self.joined = joined
        self.where: list[sa.ColumnElement[bool]] = []
        if entities:
            name = f"{prefix}_entities"
            params[name] = list(entities)
            display = self.alias[anchor].c[schema.table(anchor).display]
            self.where.append(display.in_(sa.bindparam(name, list(entities), expanding=True)))
        for i, cond in enumerate(shape.conditions):
            col = self.col(cond.table, cond.column)
            for j, (op, value) in enumerate(condition_bounds(schema, cond)):
                name = f"{prefix}_c{i}_{j}"
                params[name] = value
                self.where.append(_SQL_COMPARE[op](col, sa.bindparam(name, value)))

    def col(self, table: str, column: str) -> sa.ColumnElement[Any]:
        return self.alias[table].c[column]

    def select(self, *columns: Any, distinct: bool = False) -> sa.Select:
        stmt = sa.select(*columns).select_from(self.joined)
        if self.where:
            stmt = stmt.where(*self.where)
        return stmt.distinct() if distinct else stmt


def _group_labels(schema: Schema, shape: AnswerShape) -> list[tuple[str, str]]:
    """(table, column) of the group key columns: the group table's key and display field, or
    the group column."""
    if shape.group_table is None:
        return []
    if shape.group_column is not None:
        return [(shape.group_table, shape.group_column)]
    t = schema.table(shape.group_table)
    return [(t.name, t.key)] + ([(t.name, t.display)] if t.display != t.key else [])


def _sql_function(name: str, column: Any) -> Any:
    return {"count": sa.func.count, "sum": sa.func.sum, "avg": sa.func.avg,
            "max": sa.func.max, "min": sa.func.min}[name](column)


def sql_answer_query(schema: Schema, hops: tuple[Hop, ...], anchor: str, shape: AnswerShape,
                     entities: tuple[str, ...] = (),
                     dialect: sa.engine.Dialect | None = None) -> SQLQuery:
    """The SELECT that computes `shape` along `hops` from `anchor`, the anchor filtered on its
    display field (any of `entities`, bound as one expanding parameter) and on the shape's
    conditions (bound parameters). Result columns: see `AnswerShape` (`count` / `value` for
    metrics; the group's key and display field, or its column; the subject's fields)."""
    tables = _route_tables(schema, hops, anchor)
    _check_shape(schema, tables, shape)
    params: dict[str, Any] = {}
    route = _SQLRoute(schema, hops, anchor, shape, entities, params)
    subject = schema.table(shape.subject)
    key = route.col(subject.name, subject.key)
    groups = _group_labels(schema, shape)
    metric = shape.metric_label
    if shape.kind in ("rows", "attribute") or (shape.kind == "superlative" and not groups):
        names = list(subject.field_names)
        if shape.kind == "attribute":
            names = list(dict.fromkeys([subject.key, subject.display, shape.column.column]))
        stmt = route.select(*[route.col(subject.name, f) for f in names], distinct=True)
        if shape.kind == "superlative":
            ranked = route.col(shape.column.table, shape.column.column)
            best = _SQLRoute(schema, hops, anchor, shape, entities, params, prefix="s")
            extreme = sa.func.max if shape.descending else sa.func.min
            inner = best.select(extreme(best.col(shape.column.table, shape.column.column)))
            stmt = stmt.where(ranked == inner.scalar_subquery())
        stmt = stmt.order_by(key)
    elif shape.kind in ("count", "exists"):
        stmt = route.select(sa.func.count(sa.distinct(key)).label(COUNT_LABEL))
    else:
        # One row per (group, measured row) first, so a row reached twice along the route
        # (a fan-out join) counts and sums once.
        measured = shape.column.table if shape.column is not None else subject.name
        measured_key = route.col(measured, schema.table(measured).key)
        inner_cols = [route.col(t, c).label(f"g{i}") for i, (t, c) in enumerate(groups)]
        inner_cols.append(measured_key.label("k"))
        if shape.column is not None:
            inner_cols.append(route.col(shape.column.table, shape.column.column).label("v"))
        inner = route.select(*inner_cols, distinct=True).subquery("measured")
        function = shape.metric_function
        value = inner.c.k if function == "count" else inner.c.v
        out_groups = [inner.c[f"g{i}"].label(c) for i, (_t, c) in enumerate(groups)]
        metric_col = _sql_function(function, value).label(metric)
        stmt = sa.select(*out_groups, metric_col).group_by(*[inner.c[f"g{i}"]
                                                             for i in range(len(groups))])
        if shape.kind == "superlative":
            per_group = stmt.subquery("per_group")
            extreme = sa.func.max if shape.descending else sa.func.min
            best = sa.select(extreme(per_group.c[metric])).scalar_subquery()
            stmt = sa.select(per_group).where(per_group.c[metric] == best).order_by(
                *[per_group.c[c] for _t, c in groups])
        elif groups:
            stmt = stmt.order_by(metric_col.desc(), *[inner.c[f"g{i}"]
                                                      for i in range(len(groups))])
    compiled = stmt.compile(dialect=dialect) if dialect else stmt.compile()
    return SQLQuery(stmt, str(compiled), params)


def mongo_answer_query(schema: Schema, hops: tuple[Hop, ...], anchor: str, shape: AnswerShape,
                       entities: tuple[str, ...] = ()) -> MongoQuery:
    """The aggregation that computes `shape` (same results as `sql_answer_query`): `$match`
    on the anchor, `$lookup` (localField/foreignField) + `$unwind` per hop, `$match` on the
    conditions, then `$group` / `$sort` / `$limit` stages (no `$expr`, no server JS: it runs
    on mongomock too). A count over no rows returns no document; `answer_rows` fills it in."""
    tables = _route_tables(schema, hops, anchor)
    _check_shape(schema, tables, shape)
    anchor_t = schema.table(anchor)
    pipeline: list[dict[str, Any]] = []
    if entities:
        pipeline.append({"$match": {anchor_t.display: {"$in": list(entities)}}})
    prefix = {anchor: ""}
    for i, hop in enumerate(hops, start=1):
        alias = f"_h{i}"
        pipeline.append({"$lookup": {"from": hop.dst_table,
                                     "localField": prefix[hop.src_table] + hop.src_field,
                                     "foreignField": hop.dst_field, "as": alias}})
        pipeline.append({"$unwind": "$" + alias})
        prefix[hop.dst_table] = alias + "."
    terms: list[dict[str, Any]] = []
    for cond in shape.conditions:
        bounds = {_MONGO_COMPARE[op]: _bson(value)
                  for op, value in condition_bounds(schema, cond)}
        terms.append({prefix[cond.table] + cond.column: bounds})
    if terms:
        pipeline.append({"$match": terms[0] if len(terms) == 1 else {"$and": terms}})

    def path(table: str, column: str) -> str:
        return prefix[table] + column

    def root(table: str) -> str:
        return "$" + prefix[table].rstrip(".") if prefix[table] else "$$ROOT"

    subject = schema.table(shape.subject)
    groups = _group_labels(schema, shape)
    metric = shape.metric_label
    if shape.kind in ("rows", "attribute") or (shape.kind == "superlative" and not groups):
        names = list(subject.field_names)
        if shape.kind == "attribute":
            names = list(dict.fromkeys([subject.key, subject.display, shape.column.column]))
        if shape.kind == "superlative":
            pipeline.append({"$match": {path(shape.column.table, shape.column.column):
                                        {"$ne": None}}})
        pipeline.append({"$group": {"_id": "$" + path(subject.name, subject.key),
                                    "row": {"$first": root(subject.name)}}})
        pipeline.append({"$replaceRoot": {"newRoot": "$row"}})
        if shape.kind == "superlative":  # group the rows by the ranked value, keep the top
            pipeline += _mongo_top("$" + shape.column.column, shape.descending)
        pipeline.append({"$sort": {subject.key: 1}})
        pipeline.append({"$project": {"_id": 0, **{f: 1 for f in names}}})
        return MongoQuery(anchor, pipeline)
    if shape.kind in ("count", "exists"):
        pipeline.append({"$group": {"_id": "$" + path(subject.name, subject.key)}})
        pipeline.append({"$count": COUNT_LABEL})
        return MongoQuery(anchor, pipeline)
    measured = shape.column.table if shape.column is not None else subject.name
    first_id = {f"g{i}": "$" + path(t, c) for i, (t, c) in enumerate(groups)}
    first_id["k"] = "$" + path(measured, schema.table(measured).key)
    first: dict[str, Any] = {"_id": first_id}
    if shape.column is not None:
        first["v"] = {"$first": "$" + path(shape.column.table, shape.column.column)}
    pipeline.append({"$group": first})
    function = shape.metric_function
    accumulator = {"$sum": 1} if function == "count" else {"$" + function: "$v"}
    pipeline.append({"$group": {"_id": {f"g{i}": f"$_id.g{i}" for i in range(len(groups))}
                                or None, metric: accumulator}})
    labels = {c: f"$_id.g{i}" for i, (_t, c) in enumerate(groups)}
    pipeline.append({"$project": {"_id": 0, **labels, metric: 1}})
    if shape.kind == "superlative":
        pipeline += _mongo_top("$" + metric, shape.descending)
        pipeline.append({"$sort": {c: 1 for _t, c in groups}})
    elif groups:
        pipeline.append({"$sort": {metric: -1, **{c: 1 for _t, c in groups}}})
    return MongoQuery(anchor, pipeline)


def _mongo_top(value: str, descending: bool) -> list[dict[str, Any]]:
    """Stages keeping the documents whose `value` is the highest (or lowest): grouped by the
    value, sorted, the first group unwound (ties all kept, no `$expr` needed)."""
    return [{"$group": {"_id": value, "rows": {"$push": "$$ROOT"}}},
            {"$sort": {"_id": -1 if descending else 1}}, {"$limit": 1},
            {"$unwind": "$rows"}, {"$replaceRoot": {"newRoot": "$rows"}}]


def _bson(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return _to_datetime(value)
    return value


def answer_rows(shape: AnswerShape, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of an executed answer query, the same on every backend: an ungrouped count or
    aggregate over no rows is one row (count 0, value None), as SQL gives it."""
    if shape.kind in ("count", "exists") and not rows:
        return [{COUNT_LABEL: 0}]
    if shape.kind == "aggregate" and not shape.grouped and not rows:
        return [{VALUE_LABEL: None}]
    if shape.kind == "aggregate" and not shape.grouped:
        return [{VALUE_LABEL: rows[0].get(VALUE_LABEL)}]
    return rows
