"""Bring your own schema: draft a `Schema` from a live database or a Spider `tables.json`.

Every source is first read into a `Catalog` (tables, columns with types and sampled-value
profiles, primary and foreign keys); `build_schema` then turns a catalogue into a `Schema` with
good defaults, the same way for every source:

- `key`: the primary key (the first column of a composite one); without one, an id-like column
  whose sampled values are unique, else the first unique column, else the first column;
- `display`: a text column named like a name (name/title/label, then code/number/no...),
  preferring many distinct non-null sampled values; never the key while another text column
  exists, never a foreign key;
- `time_field`: a date/datetime column, preferring date-like names with values;
- types: SQL types mapped to the field types (DATE -> `date`, DATETIME/TIMESTAMP ->
  `datetime`); on SQLite, whose columns hold any value, sampled values correct the declared type
  (a DATE column holding times becomes `datetime`, a TEXT column of ISO dates `date`, an INTEGER
  column holding words `str`);
- synonyms and descriptions from the identifiers (`pathrl.naming`);
- a pure link table (every column part of a foreign key) is a bridge: neither anchor nor target.

Sources: SQLAlchemy URLs (SQLite files are opened read-only and never created), MongoDB
(`mongodb://host/db` through pymongo, `mongomock://` in-process) and Spider-style `tables.json`.
Mistakes (missing file, bad URL, unreachable server, not a database) raise `PathrlError`.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from warnings import catch_warnings, simplefilter

from pathrl.errors import PathrlError, SchemaError
from pathrl.naming import humanize, table_noun, table_plural, words
from pathrl.schema import _IDENTIFIER, Field, PathRules, Relation, Schema, Table

DEFAULT_SAMPLE_ROWS = 1000
MONGO_SCHEMES = ("mongodb://", "mongodb+srv://", "mongomock://")
SCHEMA_SUFFIXES = (".yaml", ".yml", ".json")

# Words that make a text column the one a question names a row by, strongest first.
_DISPLAY_WORDS: dict[str, float] = {
    **dict.fromkeys(("name", "title", "label", "caption", "fullname"), 3.0),
    **dict.fromkeys(("code", "number", "no", "num", "nr", "abbreviation", "abbrev", "symbol",
                     "username", "login", "isbn", "sku"), 2.0),
}
# Codes that classify or locate a row rather than name it ("status_code", "postal_code").
_CATEGORY_WORDS = frozenset({"type", "status", "category", "kind", "class", "method", "gender",
                             "postal", "zip", "post", "phone", "fax", "area", "country",
                             "currency", "language", "lang", "color", "colour"})
# A column carrying its own table's noun ("contract_no" in contract) names that table's rows.
_OWN_TABLE_BONUS = 1.5
# Words that prefix table names in warehouses and lookup schemas without naming anything.
_NOISE_PREFIXES = frozenset({"ref", "lkp", "lookup", "lu", "dim", "fact", "stg", "tmp"})
# Free text (comments, descriptions) is no entity name, however distinct.
_LONG_TEXT_CHARS = 80
_TIME_WORDS = frozenset({"date", "time", "day", "timestamp", "at", "on", "created", "when"})
_WEAK_TIME_WORDS = frozenset({"birth", "dob", "updated", "modified", "deleted", "expiry",
                              "expires", "expiration"})
# What SQLite's DATE / DATETIME result processors parse; anything else crashes them.
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$")
_SPIDER_TYPES = {"text": "str", "number": "float", "time": "datetime", "boolean": "bool",
                 "others": "str"}


# -- the catalogue: what a source says, before any inference -----------------------------------
@dataclass(frozen=True)
class ColumnProfile:
    """What sampled values say about a column."""

    sampled: int  # rows looked at
    non_null: int
    distinct: int
    mean_length: float  # of the text values (0 when none)
    value_type: str | None  # the field type the values fit, None when all are null
    example: str = ""  # one value, for messages

    @property
    def distinct_ratio(self) -> float:
        return self.distinct / self.sampled if self.sampled else 0.0

    @property
    def unique(self) -> bool:
        return self.sampled > 0 and self.non_null == self.sampled == self.distinct


@dataclass(frozen=True)
class SourceColumn:
    name: str
    type: str  # one of FIELD_TYPES
    profile: ColumnProfile | None = None


@dataclass(frozen=True)
class SourceTable:
    name: str
    columns: tuple[SourceColumn, ...]
    primary_key: tuple[str, ...] = ()

    def column(self, name: str) -> SourceColumn | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class SourceForeignKey:
    table: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]

    @property
    def label(self) -> str:
        return (f"{self.table}({', '.join(self.columns)}) -> "
                f"{self.ref_table}({', '.join(self.ref_columns)})")


@dataclass(frozen=True)
class Catalog:
    """Tables and keys as a source declares them; `kind` names the source in descriptions."""

    name: str
    kind: str
    tables: tuple[SourceTable, ...]
    foreign_keys: tuple[SourceForeignKey, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportResult:
    """The drafted schema and what the user should review (skipped names, guessed keys...)."""

    schema: Schema
    source: str
    warnings: tuple[str, ...] = field(default_factory=tuple)


# -- entry point -------------------------------------------------------------------------------
def import_schema(source: str, *, name: str | None = None, max_hops: int = 3,
                  db_id: str | None = None, values_db: str | None = None,
                  sample_rows: int = DEFAULT_SAMPLE_ROWS) -> ImportResult:
    """Draft a schema from a database URL, a SQLite file or a Spider `tables.json` file.

    `db_id` picks a database of a `tables.json`; `values_db` (a SQLite URL or file) lends it
    values for type and display inference."""
    source = source.strip()
    if not source:
        raise PathrlError("give a database URL or a file to import")
    kind = ("mongo" if source.startswith(MONGO_SCHEMES) else "sql" if "://" in source
            else _file_kind(Path(source)))
    if kind != "spider" and (db_id is not None or values_db is not None):
        raise PathrlError("--db-id and --db only apply to a Spider tables.json file")
    if kind == "mongo":
        return import_mongo(source, name=name, max_hops=max_hops, sample_size=sample_rows)
    if kind == "spider":
        return import_spider(Path(source), db_id, values_db=values_db, name=name,
                             max_hops=max_hops, sample_rows=sample_rows)
    url = source if kind == "sql" else f"sqlite:///{source}"
    return import_sql(url, name=name, max_hops=max_hops, sample_rows=sample_rows)


_SQLITE_HEADER = b"SQLite format 3\x00"


def _file_kind(path: Path) -> str:
    """"sqlite" or "spider" (a tables.json) for a file given without a URL scheme."""
    if not path.exists():
        raise PathrlError(f"no such file: {path}")
    if path.is_dir():
        raise PathrlError(f"{path} is a directory, not a database file or a tables.json")
    with path.open("rb") as fh:
        head = fh.read(64)
    if not head or head.startswith(_SQLITE_HEADER):  # SQLite reads an empty file as empty
        return "sqlite"
    if path.suffix.lower() == ".json" or head.lstrip()[:1] in (b"[", b"{"):
        return "spider"
    raise PathrlError(f"{path} is not a database: expected a SQLite file, a Spider "
                      "tables.json, or a URL (sqlite:///f.db, postgresql+psycopg://..., "
                      "mongodb://host/db)")


def write_schema(schema: Schema, out: Path, force: bool = False) -> None:
    """Save atomically (`Schema.save` goes through `pathrl.io`); an existing file is only
    replaced with `force`."""
    check_out(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    schema.save(out)


def check_out(out: Path, force: bool) -> None:
    """Refuse an output that would overwrite a file without `force`, or has no schema suffix."""
    if out.suffix.lower() not in SCHEMA_SUFFIXES:
        raise PathrlError(f"--out {out}: use a .yaml, .yml or .json file name")
    if out.is_dir():
        raise PathrlError(f"--out {out} is a directory")
    if out.exists() and not force:
        raise PathrlError(f"{out} already exists (pass --force to overwrite it)")


# -- SQL ---------------------------------------------------------------------------------------
def introspect_sql(url: str, name: str | None = None, schema_name: str | None = None,
                   max_hops: int = 3) -> Schema:
    """The schema of a live SQL database (see `import_sql`, which also returns warnings)."""
    return import_sql(url, name=name, schema_name=schema_name, max_hops=max_hops).schema


def import_sql(url: str, *, name: str | None = None, schema_name: str | None = None,
               max_hops: int = 3, sample_rows: int = DEFAULT_SAMPLE_ROWS) -> ImportResult:
    """Draft a schema from any SQLAlchemy URL (tested on SQLite and PostgreSQL): tables,
    columns, types, primary and foreign keys, plus `sample_rows` rows per table for values."""
    catalog = read_sql_catalog(url, schema_name=schema_name, sample_rows=sample_rows)
    return build_schema(catalog, name=name, max_hops=max_hops)


def read_sql_catalog(url: str, *, schema_name: str | None = None,
                     sample_rows: int = DEFAULT_SAMPLE_ROWS) -> Catalog:
    import sqlalchemy as sa
    from sqlalchemy.exc import SQLAlchemyError

    engine, shown, database = _sql_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    notes: list[str] = []
    tables: list[SourceTable] = []
    fks: list[SourceForeignKey] = []
    try:
        # Odd DDL (INTEGER(11), unnamed FKs) makes reflection warn; that is no user's mistake.
        with catch_warnings(), engine.connect() as conn:
            simplefilter("ignore", sa.exc.SAWarning)
            insp = sa.inspect(conn)
            for tname in sorted(insp.get_table_names(schema=schema_name)):
                tables.append(_read_sql_table(insp, conn, tname, schema_name, sample_rows,
                                              notes if sqlite else None))
                fks.extend(SourceForeignKey(tname, tuple(fk["constrained_columns"]),
                                            fk["referred_table"], tuple(fk["referred_columns"]))
                           for fk in insp.get_foreign_keys(tname, schema=schema_name))
    except SQLAlchemyError as exc:
        raise PathrlError(f"cannot read {shown}: {_first_line(exc)}") from None
    finally:
        engine.dispose()
    if not tables:
        raise PathrlError(f"{shown}: no tables to import")
    return Catalog(database, "SQLite" if sqlite else engine.dialect.name, tuple(tables),
                   tuple(fks), tuple(notes))


def _read_sql_table(insp: Any, conn: Any, table: str, schema_name: str | None,
                    sample_rows: int, sqlite_notes: list[str] | None) -> SourceTable:
    """One table's columns, declared types, primary key and value profiles; on SQLite
    (`sqlite_notes` given) the values correct the declared types."""
    cols = insp.get_columns(table, schema=schema_name)
    pk = insp.get_pk_constraint(table, schema=schema_name).get("constrained_columns") or ()
    samples = _sample_sql(conn, table, [c["name"] for c in cols], schema_name, sample_rows)
    columns = []
    for c in cols:
        kind = sql_field_type(c["type"])
        profile = profile_values(samples[c["name"]])
        if sqlite_notes is not None:
            kind = refine_sqlite_type(kind, profile, f"{table}.{c['name']}", sqlite_notes)
        columns.append(SourceColumn(c["name"], kind, profile))
    return SourceTable(table, tuple(columns), tuple(pk))


def _sql_engine(url: str) -> tuple[Any, str, str]:
    """An engine for `url`, the URL to show in messages (password hidden) and the database's
    name. A SQLite file is checked to exist and opened read-only, so importing never creates or
    changes it."""
    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = sa.engine.make_url(url)
    except ArgumentError:
        raise PathrlError(f"bad database URL '{url}' (expected e.g. sqlite:///file.db, "
                          "postgresql+psycopg://user@host/db, mongodb://host/db)") from None
    shown = parsed.render_as_string(hide_password=True)
    try:
        if parsed.get_backend_name() == "sqlite":
            path = Path(parsed.database or "")
            if not parsed.database or parsed.database == ":memory:":
                raise PathrlError(f"{shown}: name a SQLite file (an in-memory database is empty)")
            if not path.is_file():
                raise PathrlError(f"no such SQLite file: {path}")
            uri = path.resolve().as_uri() + "?mode=ro"
            return sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(
                uri, uri=True, check_same_thread=False)), shown, path.stem
        connect_args = {"connect_timeout": 10} if parsed.get_backend_name() == "postgresql" else {}
        return (sa.create_engine(parsed, connect_args=connect_args), shown,
                parsed.database or parsed.get_backend_name())
    except (ArgumentError, ImportError, ValueError) as exc:
        raise PathrlError(f"cannot open {shown}: {_first_line(exc)}") from None


def _sample_sql(conn: Any, table: str, columns: list[str], schema_name: str | None,
                limit: int) -> dict[str, list[Any]]:
    """Raw values of the first `limit` rows (untyped columns: no result processing, so a
    malformed date cannot crash the sampling that is meant to detect it)."""
    import sqlalchemy as sa

    tbl = sa.table(table, *(sa.column(c) for c in columns), schema=schema_name)
    rows = conn.execute(sa.select(*tbl.c).limit(limit)).all() if limit > 0 else []
    return {c: [row[i] for row in rows] for i, c in enumerate(columns)}


def sql_field_type(type_obj: Any) -> str:
    """The field type of a SQLAlchemy column type. DATE and DATETIME/TIMESTAMP differ; a time
    of day (TIME) or anything unknown is text."""
    import sqlalchemy as sa

    if isinstance(type_obj, sa.Boolean):
        return "bool"
    if isinstance(type_obj, sa.Integer):
        return "int"
    if isinstance(type_obj, (sa.Numeric, sa.Float)):  # DECIMAL, NUMERIC, REAL, FLOAT, DOUBLE
        return "float"
    if isinstance(type_obj, sa.DateTime):
        return "datetime"
    if isinstance(type_obj, sa.Date):
        return "date"
    return "str"


def refine_sqlite_type(declared: str, profile: ColumnProfile, where: str,
                       warnings: list[str]) -> str:
    """SQLite stores any value in any column: let the sampled values correct the declared
    type so that reading the column back with it never fails."""
    seen = profile.value_type
    if seen is None or seen == declared:
        return declared
    if declared == "str":
        # ISO dates in a TEXT column are dates (SQLite has no date storage class); numbers in
        # a TEXT column stay text (codes, zip codes).
        return seen if seen in ("date", "datetime") else "str"
    compatible = {
        ("date", "datetime"): "datetime",  # a DATE column holding times
        ("datetime", "date"): "date",  # a DATETIME column holding whole days
        ("float", "int"): "float",
        ("int", "float"): "float",
        ("int", "bool"): "int",
        ("float", "bool"): "float",
    }
    if (declared, seen) in compatible:
        return compatible[(declared, seen)]
    if declared == "bool" and seen == "int" and profile.distinct <= 2:
        return "bool"
    readable = seen if seen in ("int", "float") else "str"
    warnings.append(f"{where}: declared {declared} but holds values like "
                    f"{profile.example!r}: read as {readable}")
    return readable


def value_type(values: Iterable[Any]) -> str | None:
    """The narrowest field type all non-null values fit (None when there are none)."""
    kinds: set[str] = set()
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool):
            kinds.add("bool")
        elif isinstance(v, int):
            kinds.add("int")
        elif isinstance(v, (float, Decimal)):
            kinds.add("float")
        elif isinstance(v, datetime):
            kinds.add("date" if v.time() == datetime.min.time() and v.tzinfo is None
                      else "datetime")
        elif isinstance(v, date):
            kinds.add("date")
        elif isinstance(v, str):
            kinds.add(_iso_kind(v))
        else:
            kinds.add("str")
    if not kinds:
        return None
    if len(kinds) == 1:
        return kinds.pop()
    if kinds <= {"int", "float"}:
        return "float"
    if kinds <= {"date", "datetime"}:
        return "datetime"
    return "str"


def _iso_kind(text: str) -> str:
    """"date" or "datetime" when SQLAlchemy's SQLite processors (which use `fromisoformat`)
    can read the text back as one, else "str" ("0000-00-00" looks like a date but is none)."""
    for kind, pattern, parse in (("date", _ISO_DATE, date.fromisoformat),
                                 ("datetime", _ISO_DATETIME, datetime.fromisoformat)):
        if pattern.match(text):
            try:
                parse(text)
            except ValueError:
                return "str"
            return kind
    return "str"


def profile_values(values: Sequence[Any]) -> ColumnProfile:
    present = [v for v in values if v is not None]
    hashable = [v if isinstance(v, (str, int, float, bool, date, Decimal)) else repr(v)
                for v in present]
    texts = [v for v in present if isinstance(v, str)]
    return ColumnProfile(
        sampled=len(values), non_null=len(present), distinct=len(set(hashable)),
        mean_length=sum(map(len, texts)) / len(texts) if texts else 0.0,
        value_type=value_type(present), example=str(present[0])[:40] if present else "")


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


# -- MongoDB -----------------------------------------------------------------------------------
def import_mongo(db: Any, *, name: str | None = None, max_hops: int = 3,
                 sample_size: int = 200) -> ImportResult:
    """Draft a schema from a MongoDB database: a `mongodb://host/db` (or `mongomock://host/db`)
    URL, or a pymongo/mongomock `Database`. Fields and types come from `sample_size` sampled
    documents per collection; references from `propose_mongo_references`."""
    if isinstance(db, str):
        db = _mongo_database(db)
    catalog = read_mongo_catalog(db, sample_size=sample_size)
    return build_schema(catalog, name=name, max_hops=max_hops)


def _mongo_database(url: str) -> Any:
    from pymongo.errors import ConfigurationError, InvalidURI, PyMongoError
    from pymongo.uri_parser import parse_uri

    mock = url.startswith("mongomock://")
    try:
        parsed = parse_uri("mongodb://" + url.removeprefix("mongomock://") if mock else url)
    except (InvalidURI, ConfigurationError, ValueError) as exc:
        raise PathrlError(f"bad MongoDB URL '{url}': {_first_line(exc)}") from None
    if not parsed.get("database"):
        raise PathrlError(f"name the database in the URL: {url.rstrip('/')}/DBNAME")
    if mock:
        import mongomock

        return mongomock.MongoClient()[parsed["database"]]
    import pymongo

    try:
        client = pymongo.MongoClient(url, serverSelectionTimeoutMS=3000)
        client.admin.command("ping")
    except (PyMongoError, ValueError) as exc:
        reason = _first_line(exc).split(" (configured timeouts")[0].split(", Timeout:")[0]
        raise PathrlError(f"cannot reach MongoDB at '{url}': {reason}") from None
    return client[parsed["database"]]


def read_mongo_catalog(db: Any, sample_size: int = 200) -> Catalog:
    from pymongo.errors import PyMongoError

    warnings: list[str] = []
    tables: list[SourceTable] = []
    try:
        collections = sorted(c for c in db.list_collection_names() if not c.startswith("system."))
        for coll in collections:
            docs = list(db[coll].find({}, sort=[("_id", 1)], limit=sample_size))
            order = list(dict.fromkeys(k for d in docs for k in d))
            columns = []
            for fname in order:
                values = [d.get(fname) for d in docs]
                if not _IDENTIFIER.match(fname):
                    warnings.append(f"{coll}.{fname}: not a plain identifier: skipped")
                elif any(isinstance(v, (dict, list)) for v in values):
                    warnings.append(f"{coll}.{fname}: nested documents/arrays: skipped")
                else:
                    profile = profile_values(values)
                    columns.append(SourceColumn(fname, profile.value_type or "str", profile))
            if not columns:
                warnings.append(f"{coll}: empty collection: skipped")
                continue
            has_id = next((c for c in columns if c.name == "id"), None)
            key = "id" if has_id and has_id.profile and has_id.profile.unique else "_id"
            if key != "_id":  # `_id` mirrors the business key (pathrl writes it so)
                columns = [c for c in columns if c.name != "_id"]
            tables.append(SourceTable(coll, tuple(columns), (key,)))
        references = propose_mongo_references(db, sample_size)
    except PyMongoError as exc:
        raise PathrlError(f"cannot read MongoDB database '{db.name}': {_first_line(exc)}") from None
    if not tables:
        raise PathrlError(f"MongoDB database '{db.name}' has no collections with documents")
    fks = tuple(SourceForeignKey(r.from_table, (r.from_field,), r.to_table, (r.to_field,))
                for r in references)
    return Catalog(db.name, "MongoDB", tuple(tables), fks, tuple(warnings))


def propose_mongo_references(db: Any, sample_size: int = 200) -> list[Relation]:
    """Propose references in a MongoDB database: a field whose sampled values are all `id`s
    (or `_id`s) of another collection is proposed as `coll.field -> other.id|_id`. Numbers only
    count when the field's name ends in "id" (small integers are keys of every collection).

    `db` is a pymongo (or mongomock) Database. Review the proposals before adding them to YAML.
    """
    collections = sorted(c for c in db.list_collection_names() if not c.startswith("system."))
    keys = {
        (coll, key): {_hashable(d.get(key)) for d in db[coll].find({}, {key: 1})} - {None}
        for coll in collections
        for key in ("id", "_id")
    }
    proposals: list[Relation] = []
    for coll in collections:
        docs = list(db[coll].find({}, sort=[("_id", 1)], limit=sample_size))
        for fname in sorted({k for d in docs for k in d} - {"_id", "id"}):
            values = [d.get(fname) for d in docs if d.get(fname) is not None]
            if not values or any(isinstance(v, (dict, list, float, bool)) for v in values):
                continue
            if (any(isinstance(v, int) for v in values)
                    and (words(fname) or [""])[-1] != "id"):
                continue
            found = {_hashable(v) for v in values}
            for other in collections:
                key = next((k for k in ("id", "_id")
                            if other != coll and keys[(other, k)] and found <= keys[(other, k)]),
                           None)
                if key:
                    proposals.append(Relation(coll, fname, other, key))
    return proposals


def _hashable(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int, float, bool)) else repr(value)


# -- Spider tables.json ------------------------------------------------------------------------
def import_spider(path: Path, db_id: str | None = None, *, values_db: str | None = None,
                  name: str | None = None, max_hops: int = 3,
                  sample_rows: int = DEFAULT_SAMPLE_ROWS) -> ImportResult:
    """Draft a schema from a Spider-style `tables.json` (a list of databases with `db_id`,
    `table_names_original`, `column_names_original`, `column_types`, `primary_keys`,
    `foreign_keys`). `db_id` picks one (optional when the file holds a single database).
    `values_db`, the database's SQLite file or URL, lends types and values; without it Spider's
    coarse types are used ("time" -> datetime, "number" -> float)."""
    entry = _spider_entry(path, db_id)
    values = (read_sql_catalog(_values_url(values_db), sample_rows=sample_rows)
              if values_db else None)
    catalog = spider_catalog(entry, values, source=str(path))
    return build_schema(catalog, name=name, max_hops=max_hops)


def _values_url(values_db: str) -> str:
    if "://" in values_db:
        return values_db
    if _file_kind(Path(values_db)) != "sqlite":
        raise PathrlError(f"--db {values_db}: expected the database's SQLite file or a URL")
    return f"sqlite:///{values_db}"


def _spider_entry(path: Path, db_id: str | None) -> dict[str, Any]:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PathrlError(f"{path}: not a tables.json (cannot parse JSON: {exc})") from None
    entries = data if isinstance(data, list) else [data]
    if not entries or not all(isinstance(e, dict) and "db_id" in e for e in entries):
        raise PathrlError(f"{path}: not a tables.json (expected a list of databases with db_id)")
    ids = [str(e["db_id"]) for e in entries]
    if db_id is None:
        if len(entries) == 1:
            return entries[0]
        raise PathrlError(f"{path} holds {len(ids)} databases: pick one with --db-id "
                          f"(e.g. {_some(ids)})")
    matches = [e for e in entries if str(e["db_id"]) == db_id]
    if not matches:
        close = [i for i in ids if db_id.lower() in i.lower()] or ids
        raise PathrlError(f"{path}: no database '{db_id}' (e.g. {_some(close)})")
    if len(matches) > 1:
        raise PathrlError(f"{path}: {len(matches)} databases are called '{db_id}'")
    return matches[0]


def _some(ids: Sequence[str], n: int = 5) -> str:
    shown = ", ".join(sorted(ids)[:n])
    return shown + (f", ... ({len(ids)} in all)" if len(ids) > n else "")


def spider_catalog(entry: dict[str, Any], values: Catalog | None = None,
                   source: str = "tables.json") -> Catalog:
    """The catalogue of one Spider database; `values`, the catalogue of its SQLite file, lends
    column types and profiles (matched by case-insensitive names)."""
    where = f"{source} [{entry.get('db_id')}]"
    try:
        table_names = [str(t) for t in entry["table_names_original"]]
        columns = [(int(ti), str(cn)) for ti, cn in entry["column_names_original"]]
        types = [str(t).lower() for t in entry["column_types"]]
        pk_raw = entry.get("primary_keys") or []
        fk_raw = entry.get("foreign_keys") or []
        if len(types) != len(columns):
            raise ValueError("column_types and column_names_original differ in length")
        # Newer files list a composite key as one inner list; Spider lists its columns.
        pk_cols = [int(c) for item in pk_raw for c in (item if isinstance(item, list) else [item])]
        fk_pairs = [(int(a), int(b)) for a, b in fk_raw]
        for idx in (*pk_cols, *(i for pair in fk_pairs for i in pair)):
            if not 0 <= idx < len(columns) or not 0 <= columns[idx][0] < len(table_names):
                raise ValueError(f"column index {idx} is out of range")
    except (KeyError, TypeError, ValueError) as exc:
        raise PathrlError(f"{where}: malformed entry: {exc}") from None
    known = {t.name.lower(): t for t in values.tables} if values else {}
    warnings = list(values.warnings) if values else []
    tables = []
    for ti, tname in enumerate(table_names):
        real = known.get(tname.lower())
        if values and real is None:
            warnings.append(f"{tname}: not in the values database: Spider types, no values")
        cols = []
        for (owner, cname), ctype in zip(columns, types, strict=True):
            if owner != ti:
                continue
            seen = real.column(next((c.name for c in real.columns
                                     if c.name.lower() == cname.lower()), "")) if real else None
            cols.append(seen and replace(seen, name=cname) or
                        SourceColumn(cname, _spider_type(cname, ctype)))
        pk = tuple(columns[i][1] for i in pk_cols if columns[i][0] == ti)
        if real is not None and real.primary_key:  # the database's own key is the truth
            by_lower = {c.name.lower(): c.name for c in cols}
            pk = tuple(by_lower.get(k.lower(), k) for k in real.primary_key)
        tables.append(SourceTable(tname, tuple(cols), pk))
    fks = tuple(dict.fromkeys(
        SourceForeignKey(table_names[columns[a][0]], (columns[a][1],),
                         table_names[columns[b][0]], (columns[b][1],))
        for a, b in fk_pairs))
    return Catalog(str(entry["db_id"]), "Spider", tuple(tables), fks, tuple(warnings))


def _spider_type(column: str, spider_type: str) -> str:
    if spider_type == "time" and "year" in words(column):
        return "int"  # Spider calls a year column "time"; its values are numbers
    return _SPIDER_TYPES.get(spider_type, "str")


# -- inference: catalogue -> schema ------------------------------------------------------------
def build_schema(catalog: Catalog, *, name: str | None = None, max_hops: int = 3) -> ImportResult:
    """Turn a catalogue into a `Schema` with inferred keys, displays, time fields, synonyms and
    descriptions; names that cannot be identifiers and composite foreign keys are skipped (with a
    warning: they cannot become single-field joins)."""
    warnings = list(catalog.warnings)
    kept: dict[str, SourceTable] = {}
    for t in catalog.tables:
        if not _IDENTIFIER.match(t.name):
            warnings.append(f"table '{t.name}': not a plain identifier: skipped")
            continue
        cols = []
        for c in t.columns:
            if _IDENTIFIER.match(c.name):
                cols.append(c)
            else:
                warnings.append(f"{t.name}.{c.name}: not a plain identifier: skipped")
        if cols:
            kept[t.name] = replace(t, columns=tuple(cols),
                                   primary_key=tuple(k for k in t.primary_key
                                                     if any(c.name == k for c in cols)))
    if not kept:
        raise SchemaError(f"{catalog.kind} database '{catalog.name}': nothing to import "
                          "(no table with plainly named columns)")
    foreign = _single_column_fks(catalog.foreign_keys, kept, warnings)
    fk_columns = {(r.from_table, r.from_field) for r in foreign}
    nouns = {table_noun(t.name) for t in kept.values()}
    tables = tuple(_table(t, catalog.kind, fk_columns, warnings, nouns) for t in kept.values())
    keys = {t.name: t.key for t in tables}
    relations = tuple(
        replace(r, cardinality="one_to_one")
        if keys[r.from_table] == r.from_field and len(kept[r.from_table].primary_key) <= 1
        else r for r in foreign)
    rules = PathRules(max_hops=max_hops,
                      allow_self_loops=any(r.from_table == r.to_table for r in relations))
    schema = Schema(name=name or catalog.name, tables=tables, relations=relations, rules=rules,
                    description=f"Imported from {catalog.kind} database '{catalog.name}'.")
    return ImportResult(schema, catalog.kind, tuple(warnings))


def _single_column_fks(fks: Iterable[SourceForeignKey], tables: dict[str, SourceTable],
                       warnings: list[str]) -> list[Relation]:
    relations: dict[str, Relation] = {}
    for fk in fks:
        if len(fk.columns) != 1 or len(fk.ref_columns) != 1:
            warnings.append(f"composite foreign key {fk.label}: not a single-field join: "
                            "skipped")
            continue
        src, dst = tables.get(fk.table), tables.get(fk.ref_table)
        if src is None or dst is None or not src.column(fk.columns[0]) or not dst.column(
                fk.ref_columns[0]):
            warnings.append(f"foreign key {fk.label}: names a skipped or unknown table or "
                            "column: skipped")
            continue
        rel = Relation(fk.table, fk.columns[0], fk.ref_table, fk.ref_columns[0])
        relations.setdefault(rel.label, rel)
    return list(relations.values())


def _table(t: SourceTable, kind: str, fk_columns: set[tuple[str, str]],
           warnings: list[str], nouns: set[str]) -> Table:
    key, key_note = infer_key(t)
    if key_note:
        warnings.append(f"table '{t.name}': {key_note}")
    foreign = {c.name for c in t.columns if (t.name, c.name) in fk_columns}
    display = infer_display(t, key, foreign)
    time_field = infer_time_field(t)
    link_table = len(foreign) >= 2 and foreign == {c.name for c in t.columns}
    plural = table_plural(t.name)
    description = f"{plural[:1].upper()}{plural[1:]} ({kind} table {t.name})."
    if key_note:
        description += f" {key_note[:1].upper()}{key_note[1:]}."
    if link_table:
        description += " A link table: a bridge between the tables it references."
    return Table(
        name=t.name, key=key, display=display,
        fields=tuple(Field(c.name, c.type, _field_description(c.name))
                     for c in t.columns),
        description=description, synonyms_en=table_synonyms(t.name, nouns),
        time_field=time_field,
        anchor=not link_table, target=not link_table)


def table_synonyms(table: str, nouns: set[str]) -> tuple[str, ...]:
    """The table's singular noun, and the noun without a warehouse prefix ("ref color" ->
    "color") unless another table is called that."""
    noun = table_noun(table)
    first, _, rest = noun.partition(" ")
    if first in _NOISE_PREFIXES and rest and rest not in nouns:
        return noun, rest
    return (noun,)


def _field_description(column: str) -> str:
    phrase = humanize(column)
    return phrase[:1].upper() + phrase[1:]


def infer_key(t: SourceTable) -> tuple[str, str]:
    """The key field and, when it was not simply the primary key, why it was chosen."""
    if len(t.primary_key) == 1:
        return t.primary_key[0], ""
    if t.primary_key:
        return t.primary_key[0], (f"composite primary key ({', '.join(t.primary_key)}): key "
                                  f"{t.primary_key[0]}")
    # A date or a measure that happens to be unique in a sample is no identity.
    unique = [c for c in t.columns if c.profile and c.profile.unique and c.type in ("int", "str")]
    id_like = [c for c in unique if (words(c.name) or [""])[-1] in ("id", "key", "code")]
    for pick, why in ((id_like, "an id-like column unique in the sampled rows"),
                      (unique, "unique in the sampled rows")):
        if pick:
            return pick[0].name, f"no primary key: key {pick[0].name} ({why})"
    return t.columns[0].name, f"no primary key: key {t.columns[0].name} (the first column)"


def infer_display(t: SourceTable, key: str, foreign: set[str] = frozenset()) -> str:
    """The text column a question names a row by: a foreign key's codes only when no other
    text column, the key only when no text column at all."""
    texts = [c for c in t.columns if c.type == "str" and c.name != key]
    candidates = [c for c in texts if c.name not in foreign] or texts
    if not candidates:
        return key
    own = words(table_noun(t.name))
    return max(enumerate(candidates), key=lambda ic: _display_score(ic[1], own, -ic[0]))[1].name


def _display_score(c: SourceColumn, own_words: list[str], order: int) -> tuple[Any, ...]:
    parts = words(c.name)
    hint = max((_DISPLAY_WORDS.get(w, 0.0) for w in parts), default=0.0)
    if hint < 3 and set(parts) & _CATEGORY_WORDS:
        hint = 0.0
    if hint and len(parts) > len(own_words) and parts[:len(own_words)] == own_words:
        hint += _OWN_TABLE_BONUS
    p = c.profile
    has_values = p is None or p.non_null > 0
    long_text = p is not None and p.mean_length > _LONG_TEXT_CHARS
    ratio = round(p.distinct_ratio, 2) if p is not None else 0.5
    return has_values, not long_text, hint + ratio, order


def infer_time_field(t: SourceTable) -> str | None:
    candidates = [c for c in t.columns if c.type in ("date", "datetime")]
    if not candidates:
        return None

    def score(ic: tuple[int, SourceColumn]) -> tuple[Any, ...]:
        i, c = ic
        parts = set(words(c.name))
        return (c.profile is None or c.profile.non_null > 0, not parts & _WEAK_TIME_WORDS,
                bool(parts & _TIME_WORDS), -i)

    return max(enumerate(candidates), key=score)[1].name

