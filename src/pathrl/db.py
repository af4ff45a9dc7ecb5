"""Database access: write rows (demo data) and execute generated queries, read-only.

`Database` is the one interface the CLI, the reward (execution feedback) and the evaluation use:
`SQLDatabase` (SQLite / PostgreSQL through SQLAlchemy) and `MongoDatabase` (pymongo; tests use
mongomock). Both execute only reads: SQL connections are opened read-only and accept nothing but
a single SELECT; Mongo accepts only `aggregate` pipelines without write stages or server-side
JavaScript.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from pathrl.errors import PathrlError, QueryRefused
from pathrl.paths import Hop, LegalPath
from pathrl.query import Filter, MongoQuery, SQLQuery, mongo_query, sql_metadata, sql_query
from pathrl.schema import Schema

BACKENDS = ("sqlite", "postgres", "mongo")


@dataclass
class ExecResult:
    """Outcome of one query: `status` is ok (rows found), empty, or error (with `error`).
    `truncated`: the query had more rows than the `max_rows` it ran with (only those are
    kept; `count` counts them)."""

    status: str
    count: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    elapsed_ms: float = 0.0
    error: str | None = None
    query: str = ""
    truncated: bool = False

    def to_dict(self, max_rows: int | None = None) -> dict[str, Any]:
        out = {"query": self.query, "status": self.status, "count": self.count,
               "rows": self.rows[:max_rows] if max_rows is not None else self.rows,
               "elapsed_ms": round(self.elapsed_ms, 3), "error": self.error}
        if self.truncated:
            out["truncated"] = True
        return out


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else (
            value.isoformat())
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _result(rows: list[dict[str, Any]], start: float, query: str,
            max_rows: int | None = None) -> ExecResult:
    """`rows` as JSON-ready values; with `max_rows`, `rows` may hold one row more (fetched
    to tell that the query was cut), which is dropped and flagged as `truncated`."""
    truncated = max_rows is not None and len(rows) > max_rows
    clean = [{k: _json_value(v) for k, v in r.items()} for r in rows[:max_rows]]
    return ExecResult("ok" if clean else "empty", len(clean), clean,
                      (time.perf_counter() - start) * 1e3, None, query, truncated)


def _check_limits(max_rows: int | None, timeout_s: float | None) -> None:
    if max_rows is not None and max_rows < 1:
        raise PathrlError(f"max_rows must be >= 1, got {max_rows}")
    if timeout_s is not None and timeout_s <= 0:
        raise PathrlError(f"timeout_s must be > 0, got {timeout_s}")


class Database:
    """A backend that runs routes. Subclasses implement `execute_hops` and `write`."""

    backend: str

    def __init__(self, schema: Schema):
        self.schema = schema

    def run_path(self, path: LegalPath, flt: Filter = Filter()) -> ExecResult:
        """Generate the query for a legal path and execute it."""
        return self.execute_hops(path.hops, path.anchor, flt)

    def execute_hops(self, hops: tuple[Hop, ...], anchor: str, flt: Filter) -> ExecResult:
        raise NotImplementedError

    def write(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


# -- SQL ---------------------------------------------------------------------------------------
_READ_ONLY_SQL = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)


class SQLDatabase(Database):
    """SQLite or PostgreSQL through SQLAlchemy, opened read-only for queries.

    Opening checks the database is there and answers: a SQLite file that does not exist is an
    error (never silently created empty), and a file that is not a SQLite database, a refused
    connection or a bad password fail here with one clear `PathrlError`, not as per-query
    errors later. SQLite files are opened with `mode=ro`; `write` uses its own connection.
    """

    def __init__(self, schema: Schema, url: str):
        super().__init__(schema)
        self.url = url
        try:
            parsed = sa.make_url(url)
            if parsed.get_backend_name() == "sqlite":
                self.engine = _sqlite_read_only_engine(parsed, url)
            else:
                self.engine = sa.create_engine(url)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise PathrlError(f"cannot open database '{url}': {exc}") from None
        self.backend = "sqlite" if self.engine.dialect.name == "sqlite" else "postgres"
        self._probe()

    def _probe(self) -> None:
        """One trivial read, so an unreachable or corrupt database fails at open."""
        probe = ("SELECT count(*) FROM sqlite_master" if self.backend == "sqlite"
                 else "SELECT 1")
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql(probe).all()
        except SQLAlchemyError as exc:
            self.engine.dispose()
            message = str(getattr(exc, "orig", exc)).strip().splitlines()
            raise PathrlError(f"cannot open database '{self.url}': "
                              f"{message[0] if message else exc.__class__.__name__}") from None

    @contextmanager
    def _read_connection(self, timeout_s: float | None = None) -> Iterator[sa.Connection]:
        """A connection that cannot write. SQLite: `PRAGMA query_only` (switched off again
        before the connection goes back to the pool, so `write` still works). PostgreSQL:
        `SET TRANSACTION READ ONLY` on the transaction the query runs in (a SET SESSION
        CHARACTERISTICS would only apply to the *next* transaction), always rolled back.
        `timeout_s` interrupts a query running longer: SQLite through a progress handler,
        PostgreSQL through `SET LOCAL statement_timeout`."""
        with self.engine.connect() as conn:
            raw = None
            if self.backend == "sqlite":
                conn.exec_driver_sql("PRAGMA query_only = ON")
                if timeout_s is not None:
                    raw = conn.connection.driver_connection
                    deadline = time.monotonic() + timeout_s
                    # Called every 10k SQLite VM steps; a true value aborts the query.
                    raw.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
            else:
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                if timeout_s is not None:
                    conn.exec_driver_sql(
                        f"SET LOCAL statement_timeout = {max(1, round(timeout_s * 1000))}")
            try:
                yield conn
            finally:
                conn.rollback()
                if raw is not None:
                    raw.set_progress_handler(None, 0)
                if self.backend == "sqlite":
                    conn.exec_driver_sql("PRAGMA query_only = OFF")

    def execute_hops(self, hops: tuple[Hop, ...], anchor: str, flt: Filter) -> ExecResult:
        return self.execute(sql_query(self.schema, hops, anchor, flt, self.engine.dialect))

    def execute(self, query: SQLQuery | str, params: dict[str, Any] | None = None, *,
                max_rows: int | None = None, timeout_s: float | None = None) -> ExecResult:
        """Run a generated query, or a raw single SELECT (anything else is refused). With
        `max_rows` at most that many rows are fetched (`truncated` says there were more);
        with `timeout_s` a query running longer is interrupted (status error)."""
        _check_limits(max_rows, timeout_s)
        if isinstance(query, str):
            stripped = query.strip().rstrip(";")
            if not _READ_ONLY_SQL.match(stripped) or ";" in stripped:
                raise QueryRefused("only a single SELECT statement may run (read-only executor)")
            statement, text, params = sa.text(stripped), stripped, params or {}
        else:
            statement, text = query.statement, query.text
        start = time.perf_counter()
        try:
            with self._read_connection(timeout_s) as conn:
                result = conn.execute(statement, params or {})
                fetched = result.fetchall() if max_rows is None else result.fetchmany(
                    max_rows + 1)
                rows = [dict(r._mapping) for r in fetched]
        except SQLAlchemyError as exc:
            message = str(getattr(exc, "orig", exc)).splitlines()[0]
            if timeout_s is not None and message in ("interrupted", "canceling statement due "
                                                     "to statement timeout"):
                message = f"timed out after {timeout_s:g} s"
            return ExecResult("error", elapsed_ms=(time.perf_counter() - start) * 1e3,
                              error=message, query=text)
        return _result(rows, start, text, max_rows)

    def write(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        """(Re)create the schema's tables and insert `rows` (used for the demo database).
        SQLite: through a writable engine of its own (queries use a read-only one)."""
        write_sql(self.url, self.schema, rows,
                  engine=None if self.backend == "sqlite" else self.engine)

    def close(self) -> None:
        self.engine.dispose()


def write_sql(url: str, schema: Schema, rows: dict[str, list[dict[str, Any]]],
              engine: sa.Engine | None = None) -> None:
    """Drop and recreate the schema's tables at `url`, then insert `rows` in FK order."""
    md = sql_metadata(schema)
    own = engine is None
    engine = engine or sa.create_engine(url)
    try:
        with engine.begin() as conn:
            md.drop_all(conn)
            md.create_all(conn)
            for table in md.sorted_tables:
                if rows.get(table.name):
                    conn.execute(table.insert(), rows[table.name])
    except SQLAlchemyError as exc:
        raise PathrlError(f"cannot write demo data to '{url}': {exc}") from None
    finally:
        if own:
            engine.dispose()


def _sqlite_read_only_engine(parsed: sa.URL, url: str) -> sa.Engine:
    """An engine over an existing SQLite file, opened `mode=ro` (in-memory URLs as they are)."""
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return sa.create_engine(parsed)
    path = Path(database).expanduser()
    if not path.is_file():
        what = "is a directory, not" if path.is_dir() else "does not exist; expected"
        raise PathrlError(f"SQLite database {path} {what} a SQLite file (pathrl opens "
                          "databases read-only and never creates one; a --db without '://' "
                          "is read as a SQLite file path)")
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    return sa.create_engine(
        "sqlite://", poolclass=sa.pool.QueuePool,
        creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False))


# -- MongoDB -----------------------------------------------------------------------------------
_FORBIDDEN_STAGES = {"$out", "$merge"}
_FORBIDDEN_OPERATORS = {"$where", "$function", "$accumulator"}


def _check_read_only(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _FORBIDDEN_STAGES or key in _FORBIDDEN_OPERATORS:
                raise QueryRefused(f"'{key}' is not allowed (read-only executor, no server JS)")
            _check_read_only(value)
    elif isinstance(node, list):
        for item in node:
            _check_read_only(item)


class MongoDatabase(Database):
    """MongoDB through pymongo (or an in-process mongomock database for tests and demos)."""

    backend = "mongo"

    def __init__(self, schema: Schema, db: Any):
        super().__init__(schema)
        self.db = db

    @classmethod
    def connect(cls, schema: Schema, url: str, database: str = "pathrl") -> MongoDatabase:
        """`mongodb://...` through pymongo, or `mongomock://` for an in-process database."""
        if url.startswith("mongomock://"):
            import mongomock

            return cls(schema, mongomock.MongoClient()[database])
        import pymongo
        from pymongo.errors import PyMongoError

        try:
            client = pymongo.MongoClient(url, serverSelectionTimeoutMS=3000)
            client.admin.command("ping")
        except PyMongoError as exc:
            raise PathrlError(f"cannot reach MongoDB at '{url}': {exc.__class__.__name__}. "
                              "Start a server or use --db mongomock:// for an in-process "
                              "stand-in.") from None
        return cls(schema, client.get_default_database(database))

    def execute_hops(self, hops: tuple[Hop, ...], anchor: str, flt: Filter) -> ExecResult:
        return self.execute(mongo_query(self.schema, hops, anchor, flt))

    def execute(self, query: MongoQuery, *, max_rows: int | None = None,
                timeout_s: float | None = None) -> ExecResult:
        """Run an aggregation pipeline (write stages and server-side JS are refused). With
        `max_rows` a final `$limit` keeps one row more than that (`truncated` says there
        were more); with `timeout_s` the server stops it (`maxTimeMS`; mongomock ignores
        it)."""
        from pymongo.errors import PyMongoError

        _check_limits(max_rows, timeout_s)
        _check_read_only(query.pipeline)
        pipeline = list(query.pipeline)
        if max_rows is not None:
            pipeline.append({"$limit": max_rows + 1})
        options = {"maxTimeMS": max(1, round(timeout_s * 1000))} if timeout_s else {}
        start = time.perf_counter()
        try:
            rows = list(self.db[query.collection].aggregate(pipeline, **options))
        except (PyMongoError, NotImplementedError, KeyError, TypeError, ValueError,
                AttributeError) as exc:
            return ExecResult("error", elapsed_ms=(time.perf_counter() - start) * 1e3,
                              error=f"{exc.__class__.__name__}: {exc}", query=query.text)
        return _result(rows, start, query.text, max_rows)

    def write(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        """Replace each collection's documents; dates become BSON datetimes, `_id` = key."""
        for table in self.schema.tables:
            coll = self.db[table.name]
            coll.delete_many({})
            docs = [{"_id": r[table.key], **{k: _bson_value(v) for k, v in r.items()}}
                    for r in rows.get(table.name, [])]
            if docs:
                coll.insert_many(docs)


def _bson_value(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    return value


# -- opening a backend -------------------------------------------------------------------------
def open_database(schema: Schema, backend: str = "sqlite", url: str | None = None,
                  demo_seed: int | None = None, create: bool = False) -> Database:
    """Open a backend. With no `url`: the demo SQLite file for sqlite, an in-process mongomock
    database loaded with the demo rows for mongo (when `demo_seed` is given); postgres needs a
    URL such as postgresql+psycopg://user@localhost/db. A SQLite file must exist unless
    `create` (for writing demo rows); databases that do not answer fail here."""
    if backend not in BACKENDS:
        raise PathrlError(f"unknown backend '{backend}' (use one of {', '.join(BACKENDS)})")
    if backend == "mongo":
        database = MongoDatabase.connect(schema, url or "mongomock://")
        if url is None and demo_seed is not None:
            from pathrl.demo import demo_rows

            database.write(demo_rows(demo_seed))
        return database
    if url is None:
        if backend == "postgres":
            raise PathrlError("the postgres backend needs --db postgresql+psycopg://USER@HOST/DB")
        if demo_seed is None:
            raise PathrlError("no database given: pass --db sqlite:///path/to.db")
        from pathrl.demo import demo_sqlite_url

        url = demo_sqlite_url(demo_seed)
    elif "://" not in url:
        url = f"sqlite:///{url}"  # a bare path means a SQLite file
    try:
        parsed = sa.make_url(url)
    except (SQLAlchemyError, ValueError):
        raise PathrlError(f"'{url}' is not a database URL (sqlite:///f.db, "
                          "postgresql+psycopg://u@h/db, mongodb://h)") from None
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if backend == "postgres" and is_sqlite:
        raise PathrlError(f"--backend postgres but '{url}' is not a PostgreSQL URL")
    if create and is_sqlite and parsed.database not in (None, "", ":memory:"):
        _create_sqlite_file(Path(parsed.database).expanduser())
    return SQLDatabase(schema, url)


def _create_sqlite_file(path: Path) -> None:
    """An empty SQLite database at `path` if none is there (for `pathrl db init`)."""
    if path.exists():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sqlite3.connect(path).close()
    except (OSError, sqlite3.Error) as exc:
        raise PathrlError(f"cannot create SQLite database {path}: {exc}") from None
