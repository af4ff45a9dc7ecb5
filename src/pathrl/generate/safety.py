"""From an LLM's completion to rows, safely: extract the query, check it, run it read-only.

    run = run_completion(database, completion, max_rows=200, timeout_s=5.0)
    run.status, run.query, run.rows, run.message

Extraction: the first fenced code block (```sql / ```json / ```), else the text from the
first SQL keyword (or the first JSON object, or a shell `db.<coll>.aggregate([...])`) on;
leading prose and a closing explanation are dropped.

SQL (sqlite, postgres) is parsed with sqlglot: exactly one statement, a SELECT (a set
operation of SELECTs, or WITH ... SELECT), with no data-changing or session node anywhere in
its tree (INSERT/UPDATE/DELETE inside a CTE, SELECT INTO, PRAGMA, ATTACH, SET, ...) and none
of the file / process functions of `_DENIED_FUNCTIONS`. It then runs only through the
read-only executor (`SQLDatabase.execute`: read-only connection, single SELECT), with a row
limit and a timeout.

MongoDB: `{"collection": ..., "pipeline": [...]}` (extended JSON: `{"$date": ...}` becomes a
date) whose stages are all in `ALLOWED_STAGES`, one operator per stage, `$lookup` only in its
localField/foreignField form (no sub-pipeline), and none of `$out`, `$merge`, `$where`,
`$function`, `$accumulator` anywhere. It runs through `MongoDatabase.execute` (which refuses
those again) with a final `$limit` and `maxTimeMS`; it stays pymongo-compatible and runs on
mongomock.

`status`: ok (rows), empty (no rows), error (the query ran and failed, or names a collection
the schema lacks; `message` says why), unparsable (no query could be read from the
completion), rejected (a query was read but may not run; `message` says why).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pathrl.db import Database, ExecResult, MongoDatabase, SQLDatabase
from pathrl.errors import PathrlError, QueryRefused
from pathrl.query import MongoQuery

STATUSES = ("ok", "empty", "error", "unparsable", "rejected")
ALLOWED_STAGES = ("$match", "$lookup", "$unwind", "$project", "$group", "$sort", "$limit",
                  "$count", "$replaceRoot", "$addFields")
_FORBIDDEN_KEYS = {"$out", "$merge", "$where", "$function", "$accumulator"}
_LOOKUP_KEYS = {"from", "localField", "foreignField", "as"}
# Functions that read or write files, sleep, signal other sessions or change settings.
_DENIED_FUNCTIONS = frozenset({
    "load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "pg_sleep",
    "pg_sleep_for", "pg_sleep_until", "pg_read_file", "pg_read_binary_file", "pg_ls_dir",
    "pg_stat_file", "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf",
    "pg_rotate_logfile", "set_config", "lo_import", "lo_export", "lo_unlink", "dblink",
    "dblink_exec", "pg_advisory_lock", "pg_advisory_xact_lock", "txid_current",
    "pg_notify", "nextval", "setval"})
_FENCE = re.compile(r"```([^\n`]*)(?:\n(.*?))?(?:```|\Z)", re.DOTALL)
_FENCE_TAG = re.compile(r"\s*[A-Za-z0-9_+-]*\s*")
_SQL_START = re.compile(r"(?<![\w$.])(SELECT|WITH|INSERT|UPDATE|DELETE|DROP|CREATE|ALTER|"
                        r"PRAGMA|ATTACH|DETACH|REPLACE|VACUUM|TRUNCATE|GRANT|SET|COPY)\b",
                        re.IGNORECASE)
_SHELL = re.compile(r"db\s*(?:\.\s*([A-Za-z_]\w*)|\[\s*[\"']([A-Za-z_]\w*)[\"']\s*\])\s*"
                    r"\.\s*aggregate\s*\(", re.IGNORECASE)


@dataclass
class GeneratedRun:
    """What became of one completion (see the module doc for `status`)."""

    status: str
    completion: str
    query: str = ""
    """The query read from the completion (SQL text, or the pipeline as JSON)."""
    message: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False
    elapsed_ms: float = 0.0

    @property
    def count(self) -> int:
        return len(self.rows)

    def to_dict(self, max_rows: int | None = 20) -> dict[str, Any]:
        return {"status": self.status, "message": self.message, "query": self.query,
                "completion": self.completion, "count": self.count,
                "truncated": self.truncated,
                "rows": self.rows[:max_rows] if max_rows is not None else self.rows,
                "elapsed_ms": round(self.elapsed_ms, 3)}


class _Unparsable(Exception):
    pass


class _Rejected(Exception):
    pass


class _Invalid(Exception):
    """A readable, allowed query that cannot run on this schema (status error)."""


# -- extraction --------------------------------------------------------------------------------
def _fenced(text: str) -> str | None:
    """The first fenced block's content, without its language tag (an unclosed fence runs
    to the end; ```SELECT ...``` on one line counts too). None when there is none."""
    match = _FENCE.search(text)
    if match is None:
        return None
    first, rest = match.group(1), match.group(2)
    if rest is None:  # one line
        body = first
    elif _FENCE_TAG.fullmatch(first):  # ```sql
        body = rest
    else:  # ```SELECT ...
        body = first + "\n" + rest
    return body.strip() or None


def _sql_start(text: str) -> int | None:
    """Where the SQL begins: the first statement keyword that is written in capitals or
    starts a line (prose such as "to select the rows with ..." is skipped)."""
    for match in _SQL_START.finditer(text):
        line_start = text[:match.start()].rsplit("\n", 1)[-1].strip() == ""
        if match.group(1).isupper() or line_start:
            return match.start()
    return None


def extract_sql(text: str) -> str:
    """The SQL statement(s) of a completion, trailing ';' and prose removed; `_Unparsable`
    when it holds none. Several statements are kept, so that they can be refused."""
    body = _fenced(text)
    if body is None:
        start = _sql_start(text)
        if start is None:
            raise _Unparsable("no SQL statement in the answer")
        body = text[start:]
        paragraph = re.search(r"\n\s*\n", body)  # an explanation after a blank line
        if paragraph is not None:
            body = body[:paragraph.start()]
    else:
        start = _sql_start(body)
        if start is None:
            raise _Unparsable("the code block holds no SQL statement")
        body = body[start:]
    body = body.strip().rstrip(";").strip()
    if not body:
        raise _Unparsable("no SQL statement in the answer")
    return body


def extract_mongo(text: str) -> tuple[str, list[Any]]:
    """(collection, pipeline) of a completion; `_Unparsable` when none can be read."""
    from bson import json_util

    body = _fenced(text)
    source = body if body is not None else text
    shell = _SHELL.search(source)
    if shell is not None:  # db.contract.aggregate([...])
        start = source.find("[", shell.end())
        if start < 0:
            raise _Unparsable("db.<collection>.aggregate( without a [pipeline]")
        pipeline = _decode_at(source, start, json_util.loads)
        if pipeline is None:
            raise _Unparsable("the aggregate() pipeline is not valid (extended) JSON")
        return shell.group(1) or shell.group(2), pipeline
    for start in (i for i, ch in enumerate(source) if ch == "{"):
        value = _decode_at(source, start, json_util.loads)
        if isinstance(value, dict) and ({"pipeline", "collection"} & set(value)):
            if "pipeline" not in value or "collection" not in value:
                raise _Unparsable('the JSON object needs "collection" and "pipeline"')
            collection = value["collection"]
            if not isinstance(collection, str) or not collection:
                raise _Unparsable('"collection" must be a collection name')
            return collection, value["pipeline"]
    raise _Unparsable('no JSON {"collection": ..., "pipeline": [...]} in the answer')


def _decode_at(text: str, start: int, loads: Any) -> Any:
    """The JSON value starting at `text[start]` (anything may follow it), or None."""
    try:
        _value, end = json.JSONDecoder().raw_decode(text, start)
    except ValueError:
        return None
    try:
        return loads(text[start:end])  # again, with extended JSON ($date, $oid) decoded
    except (ValueError, TypeError):
        return None


# -- checks ------------------------------------------------------------------------------------
def check_sql(sql: str, backend: str) -> None:
    """`_Rejected` unless `sql` is one read-only SELECT; `_Unparsable` if it is not SQL."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    dialect = "postgres" if backend == "postgres" else "sqlite"
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except SqlglotError as exc:
        raise _Unparsable(f"not valid SQL: {_parse_problem(exc)}") from None
    if not statements:
        raise _Unparsable("no SQL statement in the answer")
    if len(statements) > 1:
        raise _Rejected(f"only one statement may run; the answer holds {len(statements)}")
    root = statements[0]
    if not isinstance(root, (exp.Select, exp.SetOperation)):
        raise _Rejected(f"only a SELECT may run; got {_statement_name(root)}")
    writes = (exp.Insert, exp.Update, exp.Delete, exp.Drop, exp.Create, exp.Alter,
              exp.Command, exp.Pragma, exp.Into, exp.Attach, exp.Detach, exp.Merge, exp.Set,
              exp.Transaction, exp.Commit, exp.Rollback, exp.Copy, exp.Use, exp.LoadData,
              exp.TruncateTable, exp.Grant)
    for node in root.walk():
        if isinstance(node, writes):
            raise _Rejected(f"only a read-only SELECT may run; it holds "
                            f"{_statement_name(node)}")
        if isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name in _DENIED_FUNCTIONS:
                raise _Rejected(f"function {name}() is not allowed")


def _parse_problem(exc: Exception) -> str:
    """sqlglot's first complaint, in one short line."""
    errors = getattr(exc, "errors", None) or []
    if errors and isinstance(errors[0], dict) and errors[0].get("description"):
        first = errors[0]
        where = f" (line {first['line']}, column {first['col']})" if first.get("line") else ""
        return re.sub(r"<Token token_type: TokenType\.(\w+).*?>", r"\1",
                      str(first["description"]))[:120] + where
    lines = str(exc).strip().splitlines()
    return lines[0][:160] if lines else type(exc).__name__


def _statement_name(node: Any) -> str:
    key = getattr(node, "key", type(node).__name__)
    names = {"into": "SELECT INTO", "command": "a command", "altertable": "ALTER",
             "truncatetable": "TRUNCATE"}
    return names.get(key, key.upper())


def check_pipeline(collection: str, pipeline: Any, tables: tuple[str, ...]) -> MongoQuery:
    """The pipeline as a `MongoQuery` when every stage is allowed (`_Rejected` otherwise);
    `_Invalid` for a collection the schema does not hold."""
    if not isinstance(pipeline, list):
        raise _Rejected('"pipeline" must be a list of stages')
    _no_forbidden(pipeline)
    for i, stage in enumerate(pipeline):
        if not isinstance(stage, dict) or len(stage) != 1:
            raise _Rejected(f"stage {i} must be an object with exactly one $operator")
        (name, spec), = stage.items()
        if name not in ALLOWED_STAGES:
            raise _Rejected(f"stage {name} is not allowed (allowed: "
                            f"{', '.join(ALLOWED_STAGES)})")
        if name == "$lookup":
            if not isinstance(spec, dict) or set(spec) != _LOOKUP_KEYS:
                raise _Rejected("$lookup must have exactly from, localField, foreignField "
                                "and as (no sub-pipeline)")
            if spec["from"] not in tables:
                raise _Invalid(f"$lookup from unknown collection '{spec['from']}'")
    if collection not in tables:
        raise _Invalid(f"unknown collection '{collection}'")
    return MongoQuery(collection, pipeline)


def _no_forbidden(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _FORBIDDEN_KEYS:
                raise _Rejected(f"'{key}' is not allowed (read-only, no server-side code)")
            _no_forbidden(value)
    elif isinstance(node, list):
        for item in node:
            _no_forbidden(item)


# -- running -----------------------------------------------------------------------------------
def run_completion(database: Database, completion: str, *, max_rows: int = 200,
                   timeout_s: float = 5.0) -> GeneratedRun:
    """Extract, check and run the query of one completion (module doc)."""
    if isinstance(database, MongoDatabase):
        return _run_mongo(database, completion, max_rows, timeout_s)
    if isinstance(database, SQLDatabase):
        return _run_sql(database, completion, max_rows, timeout_s)
    raise PathrlError(f"cannot run generated queries on a {type(database).__name__}")


def _run_sql(database: SQLDatabase, completion: str, max_rows: int,
             timeout_s: float) -> GeneratedRun:
    try:
        sql = extract_sql(completion)
    except _Unparsable as exc:
        return GeneratedRun("unparsable", completion, message=str(exc))
    try:
        check_sql(sql, database.backend)
    except _Unparsable as exc:
        return GeneratedRun("unparsable", completion, sql, str(exc))
    except _Rejected as exc:
        return GeneratedRun("rejected", completion, sql, str(exc))
    try:
        result = database.execute(sql, max_rows=max_rows, timeout_s=timeout_s)
    except QueryRefused as exc:  # the executor's own check, a second line of defence
        return GeneratedRun("rejected", completion, sql, str(exc))
    return _from_result(result, completion, sql)


def _run_mongo(database: MongoDatabase, completion: str, max_rows: int,
               timeout_s: float) -> GeneratedRun:
    try:
        collection, pipeline = extract_mongo(completion)
    except _Unparsable as exc:
        return GeneratedRun("unparsable", completion, message=str(exc))
    shown = json.dumps({"collection": collection, "pipeline": pipeline},
                       ensure_ascii=False, default=str)
    try:
        query = check_pipeline(collection, pipeline, database.schema.table_names)
    except _Rejected as exc:
        return GeneratedRun("rejected", completion, shown, str(exc))
    except _Invalid as exc:
        return GeneratedRun("error", completion, shown, str(exc))
    try:
        result = database.execute(query, max_rows=max_rows, timeout_s=timeout_s)
    except QueryRefused as exc:
        return GeneratedRun("rejected", completion, shown, str(exc))
    return _from_result(result, completion, shown)


def _from_result(result: ExecResult, completion: str, query: str) -> GeneratedRun:
    return GeneratedRun(result.status, completion, query, result.error, result.rows,
                        result.truncated, result.elapsed_ms)
