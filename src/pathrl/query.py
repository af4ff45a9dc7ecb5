"""The Generator: a route (legal path) + a filter -> a SQL SELECT or a MongoDB pipeline.

Identifiers (tables, fields) come only from the schema; values from the question (entity,
dates) are bound parameters in SQL and plain BSON values under `$eq`/`$gte`/`$lte` in MQL, so a
value can never become syntax.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

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
