"""Entity filling: real anchor values (and date ranges) from the database.

Every question names one anchor row by the anchor table's display field (a project name, a
contract number, a supplier name...). The filler lists those values from the database and only
hands out a value for which the path returns at least one row, so every example executes to a
non-empty result; a date range is cut around one of those rows' time field.
"""

from __future__ import annotations

import calendar
import random
from datetime import date

from pathrl.data.profile import as_day
from pathrl.data.templates import DATE_FROM, DATE_TO, ENTITY
from pathrl.db import Database, SQLDatabase
from pathrl.errors import PathrlError
from pathrl.paths import LegalPath
from pathrl.query import Filter
from pathrl.schema import Schema

_MAX_ENTITY_CHARS = 60
_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")


def distinct_values(database: Database, table: str, field: str) -> list[str]:
    """Sorted distinct non-empty values of `table.field` (SQL backends and MongoDB)."""
    if isinstance(database, SQLDatabase):
        result = database.execute(f'SELECT DISTINCT "{field}" AS v FROM "{table}"')
        if result.status == "error":
            raise PathrlError(f"cannot list {table}.{field}: {result.error}")
        values = [r["v"] for r in result.rows]
    elif hasattr(database, "db"):  # MongoDatabase
        values = list(database.db[table].distinct(field))
    else:
        raise PathrlError(f"cannot list entity values on a {type(database).__name__}")
    clean = {str(v).strip() for v in values if v is not None}
    return sorted(v for v in clean if v and "\n" not in v and len(v) <= _MAX_ENTITY_CHARS)


class EntityFiller:
    """Entity pools per anchor table, with the rows each (path, entity) returns (cached)."""

    def __init__(self, schema: Schema, database: Database, anchors: list[str],
                 display: dict[str, str] | None = None, unnamed: set[str] | None = None):
        """`display`: the column naming each anchor's rows (default: the schema's display
        field; the builder passes an inferred name column where that is the key). `unnamed`:
        anchors whose rows nothing but a surrogate key names. An anchor without usable values
        gets an empty pool (its entity questions are skipped)."""
        self.schema = schema
        self.database = database
        self.display = {t.name: (display or {}).get(t.name, t.display) for t in schema.tables}
        self.pools: dict[str, list[str]] = {}
        for anchor in sorted(set(anchors)):
            self.pools[anchor] = [] if anchor in (unnamed or ()) else distinct_values(
                database, anchor, self.display[anchor])
        self.entity_tables: dict[str, set[str]] = {}
        for anchor, values in self.pools.items():
            for v in values:
                self.entity_tables.setdefault(v, set()).add(anchor)
        self._reachable_cache: dict[str, dict[str, list[str]]] = {}
        self._pool_set_cache: dict[str, set[str]] = {}
        self._sorted_cache: dict[str, list[str]] = {}
        self._has_rows: dict[str, bool] = {}
        self._values_cache: dict[tuple[str, str], list[str]] = {}
        self.queries = 0

    def _reachable(self, path: LegalPath) -> dict[str, list[str]]:
        """Per anchor value with rows along the path: the target's time values. On SQL one
        query per path (anchor display + target time field along the joins); elsewhere one
        generated query per value."""
        if path.id in self._reachable_cache:
            return self._reachable_cache[path.id]
        display = self.display[path.anchor]
        time_field = self.schema.table(path.target).time_field
        found: dict[str, list[str]] = {}
        if isinstance(self.database, SQLDatabase):
            joins = "".join(
                f' JOIN "{h.dst_table}" t{i} ON t{i - 1}."{h.src_field}" = t{i}."{h.dst_field}"'
                for i, h in enumerate(path.hops, start=1))
            when = f', t{len(path.hops)}."{time_field}" AS d' if time_field else ""
            result = self.database.execute(
                f'SELECT DISTINCT t0."{display}" AS e{when} '
                f'FROM "{path.anchor}" t0{joins}')
            self.queries += 1
            if result.status == "error":
                raise PathrlError(f"path {path.id} fails on the database: {result.error}")
            for row in result.rows:
                if row["e"] is not None:
                    days = found.setdefault(str(row["e"]).strip(), [])
                    day = as_day(row["d"]) if time_field and row.get("d") is not None else None
                    if day:
                        days.append(day)
        elif display == self.schema.table(path.anchor).display:
            for value in self.pools[path.anchor]:
                result = self.database.run_path(path, Filter(entity=value))
                self.queries += 1
                if result.status == "error":
                    raise PathrlError(f"path {path.id} fails on the database: {result.error}")
                if result.rows:
                    found[value] = [d for d in (as_day(r[time_field]) for r in result.rows
                                                if time_field and r.get(time_field) is not None)
                                    if d]
        self._has_rows[path.id] = bool(found)
        self._reachable_cache[path.id] = {k: sorted(set(v)) for k, v in found.items()
                                          if k in self._pool_sets(path.anchor)}
        return self._reachable_cache[path.id]

    def _pool_sets(self, anchor: str) -> set[str]:
        if anchor not in self._pool_set_cache:
            self._pool_set_cache[anchor] = set(self.pools.get(anchor, ()))
        return self._pool_set_cache[anchor]

    def has_rows(self, path: LegalPath) -> bool:
        """Does the path join any rows at all (whether or not a value can name them)?"""
        self._reachable(path)
        return self._has_rows.get(path.id, bool(self._reachable(path)))

    def reachable_entities(self, path: LegalPath) -> list[str]:
        """Anchor values for which the path returns rows, sorted."""
        if path.id not in self._sorted_cache:
            self._sorted_cache[path.id] = sorted(self._reachable(path))
        return self._sorted_cache[path.id]

    def reachable_values(self, path: LegalPath, column: str) -> list[str]:
        """Distinct values of the anchor's `column` whose rows reach the target along the path
        (SQL only; elsewhere none, so such questions are not written)."""
        key = (path.id, column)
        if key not in self._values_cache:
            out: list[str] = []
            if isinstance(self.database, SQLDatabase):
                joins = "".join(
                    f' JOIN "{h.dst_table}" t{i} ON t{i - 1}."{h.src_field}" = '
                    f't{i}."{h.dst_field}"' for i, h in enumerate(path.hops, start=1))
                result = self.database.execute(
                    f'SELECT DISTINCT t0."{column}" AS v FROM "{path.anchor}" t0{joins}')
                self.queries += 1
                if result.status != "error":
                    out = sorted({str(r["v"]).strip() for r in result.rows
                                  if r["v"] is not None and str(r["v"]).strip()})
            self._values_cache[key] = out
        return self._values_cache[key]

    def pick(self, path: LegalPath, rng: random.Random, used: dict[str, int]) -> str | None:
        """An entity whose path returns rows, preferring the ones this path used least."""
        pool = list(self.pools.get(path.anchor, ()))
        rng.shuffle(pool)
        pool.sort(key=lambda v: used.get(v, 0))  # stable: random among the least used
        reachable = self._reachable(path)
        return next((value for value in pool if value in reachable), None)

    def date_range(self, path: LegalPath, entity: str,
                   rng: random.Random) -> tuple[date, date] | None:
        """Whole months around one returned row's time field (so >= 1 row falls inside)."""
        days = self._reachable(path).get(entity)
        if not days:
            return None
        pivot = date.fromisoformat(rng.choice(days))
        start = _add_months(pivot.replace(day=1), -rng.randint(0, 3))
        end_month = _add_months(pivot.replace(day=1), rng.randint(0, 3))
        end = end_month.replace(day=calendar.monthrange(end_month.year, end_month.month)[1])
        return start, end


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def render_dates(start: date, end: date, lang: str, rng: random.Random) -> tuple[str, str]:
    """Month names ("March 2021", "2021年3月") or ISO days, as users write them."""
    if rng.random() < 0.5:
        return start.isoformat(), end.isoformat()
    if lang == "zh":
        return f"{start.year}年{start.month}月", f"{end.year}年{end.month}月"
    return f"{_EN_MONTHS[start.month - 1]} {start.year}", f"{_EN_MONTHS[end.month - 1]} {end.year}"


def fill(text: str, entity: str, dates: tuple[str, str] | None) -> str:
    out = text.replace(ENTITY, entity)
    if entity.endswith("."):  # "Delta Steel Co." ends a sentence with one full stop
        out = out.replace(entity + ".", entity)
    if dates:
        out = out.replace(DATE_FROM, dates[0]).replace(DATE_TO, dates[1])
    return out
