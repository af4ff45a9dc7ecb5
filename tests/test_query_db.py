"""The Generator (SQL / MQL) and the read-only executors on SQLite, PostgreSQL and mongomock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date, datetime

import mongomock
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from pathrl.db import Database, ExecResult, MongoDatabase, SQLDatabase, open_database, write_sql
from pathrl.demo import demo_rows, demo_schema
from pathrl.errors import PathrlError, QueryRefused
from pathrl.paths import Hop, LegalPath, enumerate_paths
from pathrl.query import Filter, MongoQuery, bridge_skipping_hops, mongo_query, sql_query
from pathrl.schema import Schema
from pathrl.schema_import import introspect_sql

SCHEMA = demo_schema()
PATHS = {p.id: p for p in enumerate_paths(SCHEMA)}
SEED_PATH = "project>contract>contract_change_log"
PG_URL = os.environ.get("PATHRL_TEST_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def rows():
    return demo_rows(7)


@pytest.fixture(scope="module")
def sqlite_db(rows, tmp_path_factory) -> Iterator[SQLDatabase]:
    url = f"sqlite:///{tmp_path_factory.mktemp('sql') / 'demo.db'}"
    write_sql(url, SCHEMA, rows)
    database = SQLDatabase(SCHEMA, url)
    yield database
    database.close()


@pytest.fixture(scope="module")
def mongo_db(rows) -> MongoDatabase:
    database = MongoDatabase(SCHEMA, mongomock.MongoClient()["pathrl_test"])
    database.write(rows)
    return database


@pytest.fixture(scope="module")
def pg_db(rows) -> Iterator[SQLDatabase]:
    """The demo rows in a fresh PostgreSQL schema (dropped afterwards); skipped without a
    server. Set PATHRL_TEST_PG_URL to point at another one."""
    pg_schema = f"pathrl_test_{os.getpid()}"
    try:
        admin = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {pg_schema} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {pg_schema}")
    except (SQLAlchemyError, ImportError) as exc:
        pytest.skip(f"no PostgreSQL server reachable at {PG_URL} (set PATHRL_TEST_PG_URL): "
                    f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    url = sa.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={pg_schema}"})
    url_text = url.render_as_string(hide_password=False)
    try:
        write_sql(url_text, SCHEMA, rows)
        database = SQLDatabase(SCHEMA, url_text)
        database.pg_schema = pg_schema  # type: ignore[attr-defined]
        yield database
        database.close()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {pg_schema} CASCADE")
        admin.dispose()


def counts(database: Database) -> dict[str, int]:
    """Rows per table, read around the executor (so a refused query cannot hide a write)."""
    if isinstance(database, MongoDatabase):
        return {t: database.db[t].count_documents({}) for t in SCHEMA.table_names}
    with database.engine.connect() as conn:
        return {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()
                for t in SCHEMA.table_names}


def entity_with_rows(database: SQLDatabase, rows, path: LegalPath) -> str:
    """The first anchor display value (sorted) whose routed query returns rows."""
    display = SCHEMA.table(path.anchor).display
    for value in sorted(r[display] for r in rows[path.anchor]):
        if database.run_path(path, Filter(entity=value)).count:
            return value
    raise AssertionError(f"no {path.anchor} has rows along {path.id}")


def test_demo_row_counts_loaded(sqlite_db, mongo_db, rows):
    expected = {t: len(r) for t, r in rows.items()}
    assert counts(sqlite_db) == expected
    assert counts(mongo_db) == expected


# -- generator shapes --------------------------------------------------------------------------
def test_sql_shape_binds_the_entity():
    path = PATHS[SEED_PATH]
    q = sql_query(SCHEMA, path.hops, path.anchor, Filter(entity="x' OR '1'='1"))
    assert q.text.startswith("SELECT DISTINCT t2.id, t2.contract_id, t2.change_date")
    assert "FROM project AS t0 JOIN contract AS t1 ON t0.id = t1.project_id " \
           "JOIN contract_change_log AS t2 ON t1.id = t2.contract_id" in q.text
    assert "WHERE t0.name = :entity ORDER BY t2.id" in q.text
    assert q.params == {"entity": "x' OR '1'='1"}
    assert "OR '1'" not in q.text


def test_mongo_shape():
    path = PATHS[SEED_PATH]
    q = mongo_query(SCHEMA, path.hops, path.anchor,
                    Filter(entity="Riyadh Railway", date_from="2021-01-01"))
    assert q.collection == "project"
    assert [next(iter(stage)) for stage in q.pipeline] == [
        "$match", "$lookup", "$unwind", "$lookup", "$unwind", "$match", "$group",
        "$replaceRoot", "$sort", "$project"]
    assert q.pipeline[0] == {"$match": {"name": {"$eq": "Riyadh Railway"}}}
    assert q.pipeline[3]["$lookup"] == {"from": "contract_change_log", "localField": "_h1.id",
                                        "foreignField": "contract_id", "as": "_h2"}
    # dates are stored as BSON datetimes, so the bound is a datetime at midnight
    assert q.pipeline[5] == {"$match": {"_h2.change_date": {"$gte": datetime(2021, 1, 1)}}}
    assert q.pipeline[-1]["$project"]["_id"] == 0
    assert q.text.startswith("db.project.aggregate(")


def test_bridge_skipping_hops():
    path = PATHS[SEED_PATH]
    assert bridge_skipping_hops(path) == (
        Hop("project", "id", "contract_change_log", "contract_id", False),)
    one_hop = PATHS["project>contract"]
    assert bridge_skipping_hops(one_hop) == one_hop.hops


# -- every legal path on every backend ---------------------------------------------------------
@pytest.mark.parametrize("path_id", list(PATHS))
def test_every_path_returns_rows_on_sqlite_and_mongo(path_id, sqlite_db, mongo_db, rows):
    path = PATHS[path_id]
    entity = entity_with_rows(sqlite_db, rows, path)
    sql = sqlite_db.run_path(path, Filter(entity=entity))
    mongo = mongo_db.run_path(path, Filter(entity=entity))
    assert sql.status == "ok" and sql.count >= 1
    assert mongo.status == "ok", mongo.error
    assert mongo.count == sql.count
    assert mongo.rows == sql.rows  # same rows, same order (sorted by the target key)
    assert list(sql.rows[0]) == list(SCHEMA.table(path.target).field_names)


@pytest.mark.parametrize("path_id", list(PATHS))
def test_every_path_on_postgres(path_id, pg_db, sqlite_db, rows):
    path = PATHS[path_id]
    entity = entity_with_rows(sqlite_db, rows, path)
    sql = sqlite_db.run_path(path, Filter(entity=entity))
    pg = pg_db.run_path(path, Filter(entity=entity))
    assert pg.status == "ok", pg.error
    assert pg.count == sql.count
    assert [r["id"] for r in pg.rows] == [r["id"] for r in sql.rows]


# -- the failure mode of method §1.1 ----------------------------------------------------------
@pytest.fixture(scope="module")
def project_name(sqlite_db, rows) -> str:
    return entity_with_rows(sqlite_db, rows, PATHS[SEED_PATH])


def _seed_failure(database: Database, rows, name: str) -> None:
    path = PATHS[SEED_PATH]
    flt = Filter(entity=name)
    routed = database.run_path(path, flt)
    direct = database.execute_hops(bridge_skipping_hops(path), path.anchor, flt)
    assert direct.status == "empty" and direct.count == 0 and direct.error is None
    assert routed.status == "ok" and routed.count >= 1
    project_id = next(p["id"] for p in rows["project"] if p["name"] == name)
    contracts = {c["id"] for c in rows["contract"] if c["project_id"] == project_id}
    expected = sorted(r["id"] for r in rows["contract_change_log"]
                      if r["contract_id"] in contracts)
    assert [r["id"] for r in routed.rows] == expected


def test_seed_failure_mode_sqlite(sqlite_db, rows, project_name):
    _seed_failure(sqlite_db, rows, project_name)


def test_seed_failure_mode_mongo(mongo_db, rows, project_name):
    _seed_failure(mongo_db, rows, project_name)


def test_seed_failure_mode_postgres(pg_db, rows, project_name):
    _seed_failure(pg_db, rows, project_name)


# -- date ranges -------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["sqlite", "mongo"])
def test_date_range_is_inclusive(backend, sqlite_db, mongo_db, project_name):
    database = sqlite_db if backend == "sqlite" else mongo_db
    path = PATHS[SEED_PATH]
    everything = database.run_path(path, Filter(entity=project_name)).rows
    days = sorted({r["change_date"] for r in everything})
    assert len(days) >= 3, "need a few distinct dates to test bounds"
    lo, hi = days[1], days[-2]

    def run(**kw):
        res = database.run_path(path, Filter(entity=project_name, **kw))
        return [r["id"] for r in res.rows]

    def expect(pred):
        return [r["id"] for r in everything if pred(r["change_date"])]

    assert run(date_from=lo, date_to=hi) == expect(lambda d: lo <= d <= hi)
    assert run(date_from=lo, date_to=lo) == expect(lambda d: d == lo) != []
    assert run(date_from=hi) == expect(lambda d: d >= hi)
    assert run(date_to=lo) == expect(lambda d: d <= lo)
    assert run(date_from="2099-01-01") == []


def test_date_range_on_postgres(pg_db, sqlite_db, project_name):
    path = PATHS[SEED_PATH]
    flt = Filter(entity=project_name, date_from="2020-01-01", date_to="2022-12-31")
    assert [r["id"] for r in pg_db.run_path(path, flt).rows] == \
        [r["id"] for r in sqlite_db.run_path(path, flt).rows]


def test_date_range_needs_a_time_field(sqlite_db, mongo_db):
    path = PATHS["project>contract>supplier"]
    assert SCHEMA.table("supplier").time_field is None
    flt = Filter(entity="x", date_from="2020-01-01")
    for database in (sqlite_db, mongo_db):
        with pytest.raises(PathrlError, match="table 'supplier' has no time_field"):
            database.run_path(path, flt)


@pytest.mark.parametrize("bad", ["31/03/2024", "2024-13-01", "yesterday"])
def test_bad_dates_are_refused(bad):
    with pytest.raises(PathrlError, match=f"date_to must be a date like 2024-03-31, got '{bad}'"):
        Filter(date_to=bad)


# -- injection through entity values -----------------------------------------------------------
INJECTIONS = ["O'Brien", "'; DROP TABLE project; --", "' OR '1'='1", "x' OR '1'='1' --",
              '{"$gt": ""}', "$where", '{"$ne": null}', "$name", "this.name == this.name",
              '"; db.project.drop(); "', "\\' OR 1=1 --"]


@pytest.mark.parametrize("backend", ["sqlite", "mongo"])
def test_injection_values_are_plain_values(backend, sqlite_db, mongo_db, project_name):
    database = sqlite_db if backend == "sqlite" else mongo_db
    before = counts(database)
    for value in (*INJECTIONS, project_name + "' OR '1'='1"):
        for path_id in ("project>contract", SEED_PATH, "supplier>contract>payment>invoice"):
            res = database.run_path(PATHS[path_id], Filter(entity=value))
            assert res.status == "empty" and res.rows == [], (value, path_id, res.error)
    assert counts(database) == before


def test_quoted_real_name_is_found(sqlite_db, mongo_db, rows):
    quoted = [p["name"] for p in rows["project"] if "'" in p["name"]]
    assert quoted, "seed 7 has projects named after Xi'an"
    path = PATHS["project>contract"]
    for name in quoted:
        project_id = next(p["id"] for p in rows["project"] if p["name"] == name)
        expected = sorted(c["id"] for c in rows["contract"] if c["project_id"] == project_id)
        for database in (sqlite_db, mongo_db):
            assert [r["id"] for r in database.run_path(path, Filter(entity=name)).rows] == \
                expected


@pytest.mark.parametrize("bad", [{"$gt": ""}, {"$ne": None}, ["a"], object()])
def test_non_scalar_entity_is_refused(bad):
    with pytest.raises(PathrlError, match="entity must be a plain value"):
        Filter(entity=bad)


# -- read-only executors -----------------------------------------------------------------------
REFUSED_SQL = ["DELETE FROM project", "SELECT 1; DROP TABLE x", "select 1;select 2",
               "UPDATE project SET name = 'x'", "DROP TABLE project",
               "INSERT INTO project (id) VALUES ('P9')", "PRAGMA query_only = OFF",
               "ATTACH DATABASE 'x.db' AS x", "  -- comment\nDELETE FROM project"]


@pytest.mark.parametrize("statement", REFUSED_SQL)
def test_raw_sql_other_than_one_select_is_refused(statement, sqlite_db):
    before = counts(sqlite_db)
    with pytest.raises(QueryRefused, match="only a single SELECT"):
        sqlite_db.execute(statement)
    assert counts(sqlite_db) == before


def test_raw_select_runs(sqlite_db):
    res = sqlite_db.execute("SELECT count(*) AS n FROM project;")
    assert (res.status, res.rows) == ("ok", [{"n": 30}])
    res = sqlite_db.execute("SELECT id FROM project WHERE name = :n", {"n": "nobody"})
    assert res.status == "empty" and res.count == 0
    res = sqlite_db.execute("SELECT * FROM nope")
    assert res.status == "error" and "no such table: nope" in res.error


def test_select_shaped_write_cannot_write_sqlite(sqlite_db, rows):
    before = counts(sqlite_db)
    res = sqlite_db.execute("WITH x AS (SELECT 1) DELETE FROM project")
    assert res.status == "error" and "readonly" in res.error
    res = sqlite_db.execute("WITH x AS (SELECT 1) INSERT INTO project (id) VALUES ('P9')")
    assert res.status == "error"
    assert counts(sqlite_db) == before
    # the read-only switch does not leak to the pool: writing the demo rows still works
    sqlite_db.write(rows)
    assert counts(sqlite_db) == before


def test_select_shaped_write_cannot_write_postgres(pg_db, rows):
    before = counts(pg_db)
    res = pg_db.execute("WITH d AS (DELETE FROM invoice RETURNING id) SELECT count(*) AS n FROM d")
    assert res.status == "error" and "read-only transaction" in res.error
    assert counts(pg_db) == before
    pg_db.write(rows)  # later writes are not stuck in read-only mode
    assert counts(pg_db) == before


MONGO_REFUSED = {
    "$out": [{"$match": {}}, {"$out": "stolen"}],
    "$merge": [{"$merge": {"into": "stolen"}}],
    "$where": [{"$match": {"$where": "this.name.length > 0"}}],
    "$function": [{"$addFields": {"x": {"$function": {"body": "function() {return 1}",
                                                      "args": [], "lang": "js"}}}}],
    "$accumulator": [{"$group": {"_id": None, "x": {"$accumulator": {}}}}],
    "nested $out": [{"$facet": {"a": [{"$out": "stolen"}]}}],
    "$out in $lookup": [{"$lookup": {"from": "contract", "pipeline": [{"$merge": "stolen"}],
                                     "as": "c"}}],
}


@pytest.mark.parametrize("case", list(MONGO_REFUSED))
def test_mongo_write_stages_and_js_are_refused(case, mongo_db):
    before = counts(mongo_db)
    with pytest.raises(QueryRefused, match="is not allowed"):
        mongo_db.execute(MongoQuery("project", MONGO_REFUSED[case]))
    assert "stolen" not in mongo_db.db.list_collection_names()
    assert counts(mongo_db) == before


def test_mongo_plain_pipeline_runs(mongo_db):
    res = mongo_db.execute(MongoQuery("project", [{"$match": {"region": "domestic"}},
                                                  {"$project": {"_id": 0, "id": 1}}]))
    assert res.status == "ok" and res.count == 10


# -- demo data ---------------------------------------------------------------------------------
def test_demo_rows_are_deterministic(rows):
    assert demo_rows(7) == rows
    assert demo_rows(8) != rows
    assert demo_rows(8) == demo_rows(8)


def test_demo_rows_size_and_integrity(rows):
    total = sum(map(len, rows.values()))
    assert 1_500 <= total <= 5_000
    assert set(rows) == set(SCHEMA.table_names)
    for t in SCHEMA.tables:
        keys = [r[t.key] for r in rows[t.name]]
        assert len(set(keys)) == len(keys), t.name
        assert all(set(r) == set(t.field_names) for r in rows[t.name]), t.name
    for rel in SCHEMA.relations:
        parents = {r[rel.to_field] for r in rows[rel.to_table]}
        assert {r[rel.from_field] for r in rows[rel.from_table]} <= parents, rel.label
    assert {p["region"] for p in rows["project"]} == {"overseas", "domestic"}
    assert any(all(ord(ch) > 127 for ch in p["name"][:2]) for p in rows["project"])  # Chinese
    assert demo_rows(7, scale=0.5)["payment"] != rows["payment"]
    assert len(demo_rows(7, scale=0.5)["payment"]) == 150


@pytest.mark.parametrize("seed", [1, 7, 42])
def test_anchor_display_values_are_unique(seed):
    data = demo_rows(seed)
    for t in SCHEMA.tables:
        if t.anchor:
            values = [r[t.display] for r in data[t.name]]
            assert len(set(values)) == len(values), (seed, t.name)


# -- opening backends --------------------------------------------------------------------------
def test_open_database_rules(tmp_path):
    with pytest.raises(PathrlError, match="unknown backend 'oracle'"):
        open_database(SCHEMA, "oracle")
    with pytest.raises(PathrlError, match="postgres backend needs --db"):
        open_database(SCHEMA, "postgres")
    with pytest.raises(PathrlError, match="no database given"):
        open_database(SCHEMA, "sqlite")
    with pytest.raises(PathrlError, match="is not a PostgreSQL URL"):
        open_database(SCHEMA, "postgres", f"sqlite:///{tmp_path}/x.db")
    with pytest.raises(PathrlError, match="bare.db does not exist"):
        open_database(SCHEMA, "sqlite", str(tmp_path / "bare.db"))  # never created on read
    assert not (tmp_path / "bare.db").exists()
    bare = open_database(SCHEMA, "sqlite", str(tmp_path / "bare.db"), create=True)
    assert isinstance(bare, SQLDatabase) and bare.url == f"sqlite:///{tmp_path}/bare.db"
    bare.close()
    mongo = open_database(SCHEMA, "mongo", demo_seed=7)
    assert mongo.db["project"].count_documents({}) == 30
    assert open_database(SCHEMA, "mongo").db["project"].count_documents({}) == 0


def test_demo_sqlite_is_built_under_pathrl_home(pathrl_home):
    database = open_database(SCHEMA, "sqlite", demo_seed=7)
    assert database.url == f"sqlite:///{pathrl_home / 'demo_pm-seed7.sqlite'}"
    assert database.execute("SELECT count(*) AS n FROM invoice").rows == [{"n": 280}]
    database.close()


def test_exec_result_to_dict():
    res = ExecResult("ok", 3, [{"a": 1}, {"a": 2}, {"a": 3}], 1.23456, None, "q")
    assert res.to_dict(max_rows=2) == {"query": "q", "status": "ok", "count": 3,
                                       "rows": [{"a": 1}, {"a": 2}], "elapsed_ms": 1.235,
                                       "error": None}


def test_dates_come_back_as_iso_strings(sqlite_db, mongo_db):
    path = PATHS["project>milestone"]
    for database in (sqlite_db, mongo_db):
        row = database.run_path(path).rows[0]
        date.fromisoformat(row["due_date"])  # a plain ISO date, not a datetime
        assert isinstance(row["done"], bool)


def test_introspect_postgres(pg_db):
    found = introspect_sql(str(pg_db.engine.url.render_as_string(hide_password=False)),
                           schema_name=pg_db.pg_schema)
    assert isinstance(found, Schema) and len(found.tables) == 12
    assert {r.label for r in found.relations} == {r.label for r in SCHEMA.relations}
