"""Fill a schema with believable, foreign-key-consistent rows, deterministically by seed.

Works on any `Schema`: a column's value kind is read from its description when that is a
canonical column name of the synth pools (what `generate_schema` writes), else guessed from its
name and type. Keys are 1..n; every foreign key value is the key of an existing parent row;
junction tables (neither anchor nor target, two or more foreign keys) never repeat a pair.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from faker import Faker
from sqlalchemy.exc import SQLAlchemyError

from pathrl.db import write_sql
from pathrl.errors import PathrlError
from pathrl.naming import words
from pathrl.schema import Field, Schema, Table
from pathrl.synth.domains import column_kinds
from pathrl.synth.values import (
    ValueMaker,
    code_prefix,
    distinct_values,
    infer_kind,
    value_type,
)

Rows = dict[str, list[dict[str, Any]]]
DEFAULT_ROWS_PER_TABLE = 30
_LOCALES = ("en_US", "zh_CN")


@dataclass(frozen=True)
class PopulateResult:
    url: str
    rows: dict[str, int]  # table -> rows written

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def check_row_options(rows_per_table: int, zh_ratio: float) -> None:
    if rows_per_table < 1:
        raise PathrlError(f"rows per table must be >= 1, got {rows_per_table}")
    if not 0.0 <= zh_ratio <= 1.0:
        raise PathrlError(f"zh ratio must be between 0 and 1, got {zh_ratio}")


def field_kind(field: Field, kinds: dict[str, str] | None = None) -> str:
    """The value kind of a non-key, non-foreign-key column."""
    kinds = column_kinds() if kinds is None else kinds
    canonical = field.description.strip().lower().replace(" ", "_")
    kind = kinds.get(canonical)
    if kind is not None and _fits(kind, field.type):
        return kind
    return infer_kind(words(field.name), field.type)


def _fits(kind: str, ftype: str) -> bool:
    made = value_type(kind, datetime_type="datetime")
    return made == ftype or (made == "datetime" and ftype == "date")


def _parent_order(schema: Schema) -> list[Table]:
    """Tables with every parent before its children (cycles: declaration order)."""
    parents = {t.name: {r.to_table for r in schema.relations
                        if r.from_table == t.name and r.to_table != t.name}
               for t in schema.tables}
    done: list[str] = []
    pending = list(schema.table_names)
    while pending:
        ready = [t for t in pending if parents[t] <= set(done)] or pending[:1]
        for t in ready:
            done.append(t)
            pending.remove(t)
    return [schema.table(t) for t in done]


def generate_rows(schema: Schema, seed: int, rows_per_table: int = DEFAULT_ROWS_PER_TABLE,
                  zh_ratio: float = 0.0) -> Rows:
    """Every table's rows; the same schema and seed always give the same rows."""
    check_row_options(rows_per_table, zh_ratio)
    kinds = column_kinds()
    fakers = {loc: Faker(loc) for loc in _LOCALES}
    rows: Rows = {}
    for table in _parent_order(schema):
        rng = random.Random(f"pathrl.synth.rows/{seed}/{table.name}")
        for faker in fakers.values():
            faker.seed_instance(rng.randrange(2**32))
        rows[table.name] = _table_rows(schema, table, rows, rng, fakers, kinds,
                                       rows_per_table, zh_ratio)
    return {t: rows[t] for t in schema.table_names}


def _table_rows(schema: Schema, table: Table, done: Rows, rng: random.Random,
                fakers: dict[str, Faker], kinds: dict[str, str], n_rows: int,
                zh_ratio: float) -> list[dict[str, Any]]:
    fks = {r.from_field: (r.to_table, r.to_field) for r in schema.relations
           if r.from_table == table.name}
    parent_values = {col: [row[to_field] for row in done.get(to_table, [])]
                     for col, (to_table, to_field) in fks.items()}
    parent_values = {c: v for c, v in parent_values.items() if v}  # self-loops, cycles: null
    junction = not table.anchor and not table.target and len(fks) >= 2
    maker = ValueMaker(rng, fakers, code_prefix(words(table.name)), zh_ratio)
    plain = [(f, field_kind(f, kinds)) for f in table.fields
             if f.name != table.key and f.name not in fks]
    display_kind = next((k for f, k in plain if f.name == table.display), None)
    if display_kind and not fks:
        # A lookup table named from a short list (11 clinical departments) has that many rows.
        n_rows = min(n_rows, distinct_values(display_kind) or n_rows)
    out: list[dict[str, Any]] = []
    seen_links: set[tuple[Any, ...]] = set()
    for i in range(n_rows * 4 if junction else n_rows):
        if len(out) == n_rows:
            break
        links = _draw_links(parent_values, fks, rng)
        if junction:
            pair = tuple(links[c] for c in sorted(links))
            if pair in seen_links:
                continue  # a many-to-many link is stored once
            seen_links.add(pair)
        day = maker.base_day()
        row: dict[str, Any] = {table.key: len(out) + 1, **{c: None for c in fks}, **links}
        for f, kind in plain:
            value = maker.make(kind, i, day, unique=f.name == table.display)
            row[f.name] = _coerce(value, f.type)
        out.append(row)
    return out


def _draw_links(parent_values: dict[str, list[Any]], fks: dict[str, tuple[str, str]],
                rng: random.Random) -> dict[str, Any]:
    """One parent key per foreign key; two keys into the same table (origin and destination
    depot, employee and reviewer) point at different rows when there are two to pick."""
    links: dict[str, Any] = {}
    for column, values in parent_values.items():
        taken = {links[c] for c in links if fks[c] == fks[column]}
        choices = [v for v in values if v not in taken] if taken else values
        links[column] = rng.choice(choices or values)
    return links


def _coerce(value: Any, ftype: str) -> Any:
    if ftype == "date" and isinstance(value, datetime):
        return value.date()
    if ftype == "datetime" and isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    return value


def sqlite_url(url_or_path: str | Path) -> str:
    """A SQLAlchemy URL for a SQLite file path (a URL is returned as is)."""
    text = str(url_or_path)
    if "://" in text:
        return text
    path = Path(text)
    if not path.parent.is_dir():
        raise PathrlError(f"cannot write {path}: folder {path.parent} does not exist")
    return f"sqlite:///{path}"


def populate_sqlite(schema: Schema, url_or_path: str | Path, seed: int,
                    rows_per_table: int = DEFAULT_ROWS_PER_TABLE,
                    zh_ratio: float = 0.0) -> PopulateResult:
    """(Re)create `schema`'s tables in a SQLite file (or any SQLAlchemy URL) and fill them
    with `rows_per_table` rows each; fewer for a lookup table (no foreign key) whose names
    come from a short list (departments, medications) and for a junction with few pairs."""
    url = sqlite_url(url_or_path)
    rows = generate_rows(schema, seed, rows_per_table, zh_ratio)
    engine = _build_engine(url)
    try:
        write_sql(url, schema, rows, engine=engine)
    finally:
        engine.dispose()
    return PopulateResult(url, {t: len(r) for t, r in rows.items()})


def _build_engine(url: str) -> sa.Engine:
    """An engine for building a fresh file: SQLite syncs to disk after every CREATE TABLE
    (seconds for a 200-table ERP); a generated file needs no crash safety while it is built."""
    try:
        engine = sa.create_engine(url)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise PathrlError(f"cannot open database '{url}': {exc}") from None
    if engine.dialect.name == "sqlite":
        @sa.event.listens_for(engine, "connect")
        def _no_sync(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA synchronous = OFF")
            cursor.execute("PRAGMA journal_mode = MEMORY")
            cursor.close()
    return engine
