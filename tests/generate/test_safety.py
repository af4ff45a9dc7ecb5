"""Reading a query out of a completion, refusing anything but a read, and running it with a
row limit and a timeout on the demo SQLite and on mongomock."""

from __future__ import annotations

import json

import pytest

from pathrl.generate.safety import extract_sql, run_completion

CHANGES_SQL = ("SELECT DISTINCT cl.id FROM project p JOIN contract c ON c.project_id = p.id "
               "JOIN contract_change_log cl ON cl.contract_id = c.id "
               "WHERE p.name = 'Riyadh Railway'")


def gold_change_ids(sqlite_db) -> set[str]:
    return {r["id"] for r in sqlite_db.execute(CHANGES_SQL).rows}


@pytest.mark.parametrize("completion", [
    f"```sql\n{CHANGES_SQL};\n```",
    f"Sure! Here is the query:\n```SQL\n{CHANGES_SQL}\n```\nIt joins the bridge table.",
    f"To select the rows with that name, run:\n{CHANGES_SQL};\n\nThis returns the changes.",
    f"```\n{CHANGES_SQL}\n```",
    f"```sql\n{CHANGES_SQL}",  # cut off before the closing fence
    f"```{CHANGES_SQL}```",
])
def test_sql_is_read_from_fences_and_prose(completion, sqlite_db):
    run = run_completion(sqlite_db, completion)
    assert run.status == "ok", run.message
    assert {r["id"] for r in run.rows} == gold_change_ids(sqlite_db) and run.rows
    assert run.query == CHANGES_SQL


@pytest.mark.parametrize(("completion", "why"), [
    ("SELECT id FROM project; DROP TABLE project", "only one statement"),
    ("```sql\nSELECT 1;\nSELECT 2;\n```", "only one statement"),
    ("DROP TABLE project", "only a SELECT may run; got DROP"),
    ("INSERT INTO project (id) VALUES ('P9')", "got INSERT"),
    ("UPDATE project SET name = 'x'", "got UPDATE"),
    ("DELETE FROM invoice", "got DELETE"),
    ("PRAGMA writable_schema = ON", "got PRAGMA"),
    ("ATTACH DATABASE '/tmp/x.db' AS x", "got ATTACH"),
    ("WITH d AS (DELETE FROM invoice RETURNING id) SELECT count(*) FROM d", "holds DELETE"),
    ("SELECT * INTO project_copy FROM project", "holds SELECT INTO"),
    ("SELECT load_extension('/tmp/evil.so')", "load_extension() is not allowed"),
])
def test_writes_and_several_statements_are_rejected(completion, why, sqlite_db):
    before = sqlite_db.execute("SELECT count(*) AS n FROM invoice").rows
    run = run_completion(sqlite_db, completion)
    assert run.status == "rejected"
    assert why in run.message
    assert run.rows == []
    assert sqlite_db.execute("SELECT count(*) AS n FROM invoice").rows == before
    assert sqlite_db.execute("SELECT count(*) AS n FROM project").rows[0]["n"] == 30


@pytest.mark.parametrize(("completion", "why"), [
    ("I do not know how to answer that.", "no SQL statement"),
    ("```sql\n-- nothing here\n```", "holds no SQL statement"),
    ("SELECT * FROM (", "not valid SQL"),
    ("", "no SQL statement"),
])
def test_unparsable(completion, why, sqlite_db):
    run = run_completion(sqlite_db, completion)
    assert run.status == "unparsable" and why in run.message


def test_errors_empty_and_limits(sqlite_db):
    missing = run_completion(sqlite_db, "SELECT * FROM contracts")
    assert missing.status == "error" and missing.message == "no such table: contracts"
    skipped = run_completion(sqlite_db, "SELECT cl.* FROM project p JOIN contract_change_log cl"
                                        " ON cl.contract_id = p.id")  # the bridge skipped
    assert skipped.status == "empty" and skipped.rows == []
    limited = run_completion(sqlite_db, "SELECT id FROM contract ORDER BY id", max_rows=5)
    assert limited.status == "ok" and limited.count == 5 and limited.truncated
    assert [r["id"] for r in limited.rows] == ["C0001", "C0002", "C0003", "C0004", "C0005"]
    endless = ("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) "
               "SELECT count(*) FROM n")
    timed = run_completion(sqlite_db, endless, timeout_s=0.2)
    assert timed.status == "error" and timed.message == "timed out after 0.2 s"
    # The connection is usable again afterwards (progress handler removed, read-only kept).
    assert run_completion(sqlite_db, "SELECT count(*) AS n FROM project").rows == [{"n": 30}]


def test_extract_sql_keeps_several_statements_for_the_check():
    assert extract_sql("```sql\nSELECT 1; DELETE FROM x;\n```") == "SELECT 1; DELETE FROM x"


# -- MongoDB (mongomock) -----------------------------------------------------------------------
def pipeline_answer(collection: str, pipeline: list, fence: bool = True) -> str:
    body = json.dumps({"collection": collection, "pipeline": pipeline})
    return f"Here it is:\n```json\n{body}\n```\nDone." if fence else body


CHANGES_PIPELINE = [
    {"$match": {"name": "Riyadh Railway"}},
    {"$lookup": {"from": "contract", "localField": "id", "foreignField": "project_id",
                 "as": "c"}},
    {"$unwind": "$c"},
    {"$lookup": {"from": "contract_change_log", "localField": "c.id",
                 "foreignField": "contract_id", "as": "cl"}},
    {"$unwind": "$cl"},
    {"$replaceRoot": {"newRoot": "$cl"}},
    {"$project": {"_id": 0, "id": 1}},
]


def test_mongo_pipeline_runs_on_mongomock(mongo_db, sqlite_db):
    for completion in (pipeline_answer("project", CHANGES_PIPELINE),
                       pipeline_answer("project", CHANGES_PIPELINE, fence=False),
                       "db.project.aggregate(" + json.dumps(CHANGES_PIPELINE) + ")"):
        run = run_completion(mongo_db, completion)
        assert run.status == "ok", run.message
        assert {r["id"] for r in run.rows} == gold_change_ids(sqlite_db)
    dated = pipeline_answer("contract", [
        {"$match": {"signed_date": {"$gte": {"$date": "2024-01-01T00:00:00Z"}}}},
        {"$count": "n"}])
    expected = sqlite_db.execute("SELECT count(*) AS n FROM contract "
                                 "WHERE signed_date >= '2024-01-01'").rows[0]["n"]
    assert run_completion(mongo_db, dated).rows == [{"n": expected}] and expected > 0
    limited = run_completion(mongo_db, pipeline_answer("contract", [{"$sort": {"id": 1}}]),
                             max_rows=3)
    assert limited.count == 3 and limited.truncated
    assert [r["id"] for r in limited.rows] == ["C0001", "C0002", "C0003"]


@pytest.mark.parametrize(("pipeline", "why"), [
    ([{"$match": {}}, {"$out": "stolen"}], "'$out' is not allowed"),
    ([{"$merge": {"into": "project"}}], "'$merge' is not allowed"),
    ([{"$match": {"$where": "sleep(1000)"}}], "'$where' is not allowed"),
    ([{"$facet": {"a": []}}], "stage $facet is not allowed"),
    ([{"$lookup": {"from": "contract", "as": "c", "pipeline": [{"$out": "x"}]}}],
     "is not allowed"),
    ([{"$lookup": {"from": "contract", "let": {}, "pipeline": [], "as": "c"}}],
     "no sub-pipeline"),
    ([{"$match": {}, "$limit": 1}], "exactly one $operator"),
    ({"$match": {}}, "must be a list"),
])
def test_mongo_writes_and_other_stages_are_rejected(pipeline, why, mongo_db):
    run = run_completion(mongo_db, pipeline_answer("project", pipeline))
    assert run.status == "rejected" and why in run.message
    assert mongo_db.db["stolen"].count_documents({}) == 0
    assert mongo_db.db["project"].count_documents({}) == 30


def test_mongo_unparsable_and_unknown_collections(mongo_db):
    assert run_completion(mongo_db, "db.project.find({})").status == "unparsable"
    half = run_completion(mongo_db, '{"pipeline": []}')
    assert half.status == "unparsable" and '"collection" and "pipeline"' in half.message
    unknown = run_completion(mongo_db, pipeline_answer("projects", []))
    assert unknown.status == "error" and unknown.message == "unknown collection 'projects'"
    lookup = run_completion(mongo_db, pipeline_answer("project", [{"$lookup": {
        "from": "contracts", "localField": "id", "foreignField": "project_id", "as": "c"}}]))
    assert lookup.status == "error" and "contracts" in lookup.message
    bad = run_completion(mongo_db, pipeline_answer("project", [{"$project": "name"}]))
    assert bad.status == "error" and bad.message


# -- PostgreSQL (skipped without a server) -----------------------------------------------------
def test_postgres_reads_only_with_limit_and_timeout(pg_db, sqlite_db):
    run = run_completion(pg_db, f"```sql\n{CHANGES_SQL};\n```", max_rows=500)
    assert run.status == "ok" and {r["id"] for r in run.rows} == gold_change_ids(sqlite_db)
    for sneaky in ("WITH d AS (DELETE FROM invoice RETURNING id) SELECT count(*) FROM d",
                   "SELECT pg_sleep(5)", "SELECT set_config('search_path', 'x', false)",
                   "SELECT * INTO copy FROM project"):
        assert run_completion(pg_db, sneaky).status == "rejected"
    assert pg_db.execute("SELECT count(*) AS n FROM invoice").rows == [{"n": 280}]
    slow = run_completion(pg_db, "SELECT count(*) FROM generate_series(1, 500000000)",
                          timeout_s=0.3)
    assert slow.status == "error" and slow.message == "timed out after 0.3 s"
    limited = run_completion(pg_db, "SELECT id FROM contract ORDER BY id", max_rows=2)
    assert [r["id"] for r in limited.rows] == ["C0001", "C0002"] and limited.truncated
