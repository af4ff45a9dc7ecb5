"""What the data looks like, per table: real values of every column, read once.

Questions filter on real values ("products priced above 100", "staff hired after 2020"), name
rows by any text column and need a display field that is not the key. `profile_schema` reads up
to `row_limit` rows of each table with plain SELECTs (no type processors, so a DATETIME column
holding "2021-03-04 10:15:00" reads as text and becomes a day, never a crash) and classifies each
column: key, foreign key, text (categorical or name-like), number, date or bool.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pathrl.db import Database, SQLDatabase
from pathrl.errors import PathrlError
from pathrl.naming import words
from pathrl.schema import Schema, Table

_MAX_VALUE_CHARS = 60
_DISPLAY_WORDS = ("name", "title", "code", "number", "no", "label")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass
class ColumnProfile:
    """One column's kind and values. `values` are sorted distinct values: text as str, numbers
    as float, dates as ISO days; `counts` how often each occurs."""

    table: str
    name: str
    kind: str  # key | fk | text | number | date | bool
    values: list[Any] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    rows: int = 0

    @property
    def n_distinct(self) -> int:
        return len(self.values)

    @property
    def categorical(self) -> bool:
        """A text column worth grouping or filtering by: few values, each shared by rows."""
        return self.kind == "text" and 2 <= self.n_distinct <= max(2, min(30, self.rows * 0.6))

    @property
    def name_like(self) -> bool:
        """A text column whose values name rows (mostly distinct): usable as an entity."""
        return self.kind == "text" and self.n_distinct >= max(2, 0.5 * self.rows)


@dataclass
class TableProfile:
    table: Table
    rows: int
    columns: dict[str, ColumnProfile]
    display: str  # the schema's display, or an inferred name column when that is the key

    @property
    def names_rows(self) -> bool:
        """Can a question name one row? Not by a surrogate key ("makers 23"): the display must
        be another column, or the key must be a business code (text such as "HT-2021-019")."""
        if self.display != self.table.key:
            return True
        keys = self.columns[self.table.key].counts
        return bool(keys) and not all(str(v).lstrip("-").isdigit() for v in keys)

    def of_kind(self, kind: str) -> list[ColumnProfile]:
        return [c for c in self.columns.values() if c.kind == kind and c.values]


def as_day(value: Any) -> str | None:
    """An ISO day from a date, datetime or date-like string ("2021-03-04 10:15:00"), else None."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _read_rows(database: Database, table: Table, row_limit: int) -> list[dict[str, Any]]:
    if isinstance(database, SQLDatabase):
        cols = ", ".join(f'"{f.name}"' for f in table.fields)
        result = database.execute(f'SELECT {cols} FROM "{table.name}" LIMIT {int(row_limit)}')
        if result.status == "error":
            raise PathrlError(f"cannot read table {table.name}: {result.error}")
        return result.rows
    if hasattr(database, "db"):  # MongoDatabase
        return list(database.db[table.name].find({}, {"_id": 0}, limit=row_limit))
    raise PathrlError(f"cannot read values from a {type(database).__name__}")


def infer_display(table: Table, columns: dict[str, ColumnProfile]) -> str:
    """The schema's display field unless it is the key; then the text column that names rows
    best: a name/title/code/number column with many distinct values first, else the most
    distinct text column; the key only when nothing else can name a row."""
    if table.display != table.key:
        return table.display
    texts = [c for c in columns.values() if c.kind == "text" and c.n_distinct >= 2]
    if not texts:
        return table.key

    def score(c: ColumnProfile) -> tuple:
        parts = words(c.name)
        hint = next((len(_DISPLAY_WORDS) - i for i, w in enumerate(_DISPLAY_WORDS)
                     if w in parts), 0)
        distinct = c.n_distinct / max(1, c.rows)
        return (distinct >= 0.5 and hint > 0, distinct >= 0.9, hint, distinct, -len(c.name))

    best = max(texts, key=score)
    return best.name if best.n_distinct >= max(2, 0.5 * best.rows) else table.key


def profile_table(schema: Schema, database: Database, table: Table,
                  row_limit: int = 5000) -> TableProfile:
    rows = _read_rows(database, table, row_limit)
    foreign = {r.from_field for r in schema.relations if r.from_table == table.name}
    referenced = {r.to_field for r in schema.relations if r.to_table == table.name}
    columns: dict[str, ColumnProfile] = {}
    for f in table.fields:
        kind = ("key" if f.name == table.key else "fk" if f.name in foreign | referenced
                else {"int": "number", "float": "number", "date": "date", "datetime": "date",
                      "bool": "bool"}.get(f.type, "text"))
        col = ColumnProfile(table.name, f.name, kind, rows=len(rows))
        raw = [r.get(f.name) for r in rows if r.get(f.name) is not None]
        if kind == "text" and raw and sum(
                bool(_ISO_DAY.match(str(v).strip())) for v in raw) >= 0.9 * len(raw):
            kind = col.kind = "date"  # dates stored as text ("2021-03-04 10:15:00")
        if kind in ("text", "key", "fk"):
            clean = [str(v).strip() for v in raw]
            col.counts = Counter(v for v in clean
                                 if v and "\n" not in v and len(v) <= _MAX_VALUE_CHARS)
        elif kind == "number":
            col.counts = Counter(n for n in map(_number, raw) if n is not None)
        elif kind == "date":
            col.counts = Counter(d for d in map(as_day, raw) if d is not None)
        else:
            col.counts = Counter(bool(v) for v in raw)
        col.values = sorted(col.counts)
        columns[f.name] = col
    return TableProfile(table, len(rows), columns, infer_display(table, columns))


def profile_schema(schema: Schema, database: Database,
                   row_limit: int = 5000) -> dict[str, TableProfile]:
    return {t.name: profile_table(schema, database, t, row_limit) for t in schema.tables}
