"""`pathrl schema show|paths|draw|check`, `pathrl query` and `pathrl db init`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pathrl.cli import app
from pathrl.db import write_sql
from pathrl.demo import demo_rows, demo_schema
from pathrl.errors import PathrlError, SchemaError
from pathrl.schema import Schema

runner = CliRunner()
PATHRL = Path(sys.executable).with_name("pathrl")


def invoke(*args: str):
    return runner.invoke(app, list(args))


def ok_json(*args: str):
    result = invoke(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def rows():
    return demo_rows(7)


@pytest.fixture(scope="module")
def project_name(rows) -> str:
    """A project that has contract change logs (through its contracts)."""
    with_logs = {c["contract_id"] for c in rows["contract_change_log"]}
    project_ids = {c["project_id"] for c in rows["contract"] if c["id"] in with_logs}
    return next(p["name"] for p in rows["project"] if p["id"] in project_ids)


def test_paths_json():
    paths = ok_json("schema", "paths", "--json")
    assert isinstance(paths, list) and len(paths) == 55
    for p in paths:
        assert {"anchor", "via", "target"} <= set(p)
        assert isinstance(p["via"], list)
        tables = [p["anchor"]] if p["hops"] == 0 else [p["anchor"], *p["via"], p["target"]]
        assert p["id"] == ">".join(tables)
        assert p["hops"] > 0 or (p["anchor"] == p["target"] and not p["via"] and not p["joins"])
    assert Counter(p["hops"] for p in paths) == {0: 11, 1: 11, 2: 17, 3: 16}
    assert len(ok_json("schema", "paths", "--json", "--max-hops", "1")) == 22


def test_paths_table():
    result = invoke("schema", "paths")
    assert result.exit_code == 0
    assert "55 legal paths in demo_pm" in result.stdout


def test_show():
    assert ok_json("schema", "show", "--json") == demo_schema().to_dict()
    result = invoke("schema", "show")
    assert result.exit_code == 0
    assert "12 tables, 13 relations, 55 legal paths" in result.stdout


@pytest.fixture(scope="module")
def check_sqlite():
    return ok_json("schema", "check", "--json")


def test_check_sqlite(check_sqlite):
    assert [r["id"] for r in check_sqlite] == [p["id"] for p in
                                               ok_json("schema", "paths", "--json")]
    for r in check_sqlite:
        assert {"rows", "status"} <= set(r)
        assert r["status"] == "ok" and r["rows"] > 0 and r["error"] is None, r


def test_check_mongo_agrees_with_sqlite(check_sqlite):
    mongo = ok_json("schema", "check", "--json", "--backend", "mongo")
    assert all(r["status"] == "ok" for r in mongo)
    assert {r["id"]: r["rows"] for r in mongo} == {r["id"]: r["rows"] for r in check_sqlite}


@pytest.fixture
def custom(tmp_path) -> tuple[Path, str]:
    """A custom schema with a table no relation touches, and its SQLite database."""
    data = {
        "name": "shop",
        "tables": {
            "customer": {"display": "name", "fields": {"id": "str", "name": "str"}},
            "orders": {"anchor": False, "time_field": "day",
                       "fields": {"id": "str", "customer_id": "str", "day": "date"}},
            "lonely": {"fields": {"id": "str"}},
        },
        "relations": [{"from": "orders.customer_id", "to": "customer.id"}],
    }
    path = tmp_path / "shop.yaml"
    Schema.from_dict(data).save(path)
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    from datetime import date

    write_sql(url, Schema.load(path), {
        "customer": [{"id": "c1", "name": "Ann"}, {"id": "c2", "name": "Bo"}],
        "orders": [{"id": "o1", "customer_id": "c1", "day": date(2024, 1, 2)}],
        "lonely": [],
    })
    return path, url


def test_check_custom_schema_reports_disconnected_tables(custom):
    path, url = custom
    result = invoke("schema", "check", "-s", str(path), "--db", url)
    assert result.exit_code == 0, result.output
    assert "disconnected tables (no relation): lonely" in result.stdout
    # customer > orders, plus the single-table routes customer, orders, lonely (empty table)
    assert "3/4 paths return rows" in result.stdout
    show = invoke("schema", "show", "-s", str(path))
    assert "disconnected tables (no relation): lonely" in show.stdout
    res = ok_json("query", "-s", str(path), "--db", url, "--anchor", "customer",
                  "--target", "orders", "--entity", "Ann", "--date-from", "2024-01-02",
                  "--json")
    assert [r["id"] for r in res["rows"]] == ["o1"]


def test_custom_schema_needs_a_db(custom):
    path, _ = custom
    result = invoke("schema", "check", "-s", str(path))
    assert isinstance(result.exception, PathrlError)
    assert "a custom --schema needs --db" in str(result.exception)


def test_invalid_schema_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tables:\n  a: {fields: {id: str}}\nrelations:\n  - {from: a.id, to: b.id}\n")
    result = invoke("schema", "paths", "-s", str(bad))
    assert isinstance(result.exception, SchemaError)
    assert "relation a.id -> b.id: unknown table 'b'" in str(result.exception)


@pytest.mark.parametrize("backend", ["sqlite", "mongo"])
def test_query_json(backend, rows, project_name):
    out = ok_json("query", "--anchor", "project", "--target", "contract_change_log",
                  "--via", "contract", "--entity", project_name, "--json", "--direct",
                  "--limit", "1000", "--backend", backend)
    assert {"query", "status", "count", "rows"} <= set(out)
    assert out["status"] == "ok" and out["count"] == len(out["rows"]) >= 1
    assert out["path"] == "project>contract>contract_change_log"
    project_id = next(p["id"] for p in rows["project"] if p["name"] == project_name)
    contracts = {c["id"] for c in rows["contract"] if c["project_id"] == project_id}
    assert all(r["contract_id"] in contracts for r in out["rows"])
    assert out["direct"]["status"] == "empty" and out["direct"]["count"] == 0
    if backend == "sqlite":  # a bound parameter, not pasted into the SQL text
        assert project_name not in out["query"] and "WHERE t0.name = ?" in out["query"]
    else:  # a plain value under $eq
        assert f'"$eq": "{project_name}"' in out["query"]


def test_query_limit_and_via_list(project_name):
    full = ok_json("query", "--anchor", "project", "--target", "payment", "--via", "contract",
                   "--entity", project_name, "--json")
    short = ok_json("query", "--anchor", "project", "--target", "payment", "--via",
                    "contract", "--entity", project_name, "--json", "--limit", "1")
    assert full["count"] == short["count"] > 1 and len(short["rows"]) == 1
    three = ok_json("query", "--anchor", "project", "--target", "invoice",
                    "--via", "contract,payment", "--entity", project_name, "--json")
    assert three["path"] == "project>contract>payment>invoice" and three["count"] >= 1


def test_query_human_output(project_name):
    result = invoke("query", "--anchor", "project", "--target", "contract_change_log",
                    "--via", "contract", "--entity", project_name, "--direct")
    assert result.exit_code == 0
    assert "routed query along project>contract>contract_change_log" in result.stdout
    assert "status empty, 0 rows" in result.stdout


def test_illegal_route_through_runner():
    result = invoke("query", "--anchor", "project", "--target", "contract_change_log")
    assert isinstance(result.exception, PathrlError)
    assert "legal via options: contract" in str(result.exception)


def _console(*args: str) -> subprocess.CompletedProcess:
    exe = [str(PATHRL)] if PATHRL.exists() else [sys.executable, "-m", "pathrl.cli"]
    env = {**os.environ, "COLUMNS": "60"}  # a narrow terminal must not wrap the error line
    return subprocess.run([*exe, *args], capture_output=True, text=True, env=env, timeout=60)


def test_console_script_illegal_route_exits_2_with_one_line():
    proc = _console("query", "--anchor", "project", "--target", "contract_change_log",
                    "--entity", "Riyadh Railway")
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0] == ("error: illegal route project -[(none)]-> contract_change_log: "
                        "legal via options: contract")
    assert "Traceback" not in proc.stderr


def test_console_script_error_text_is_not_markup(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text('tables:\n  "a[/b]": {fields: {id: str}}\n')
    proc = _console("schema", "paths", "-s", str(bad))
    assert proc.returncode == 2, proc.stderr
    assert "'a[/b]' is not a plain identifier" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_console_script_paths_json():
    proc = _console("schema", "paths", "--json")
    assert proc.returncode == 0, proc.stderr
    assert [p["id"] for p in json.loads(proc.stdout)] == [
        p["id"] for p in ok_json("schema", "paths", "--json")]


def test_draw_writes_a_png(tmp_path):
    out = tmp_path / "sub" / "schema.png"
    result = invoke("schema", "draw", "-o", str(out))
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000


def test_db_init(pathrl_home, tmp_path):
    result = invoke("db", "init")
    assert result.exit_code == 0
    assert "demo_pm-seed7.sqlite" in result.stdout
    assert (pathrl_home / "demo_pm-seed7.sqlite").exists()
    result = invoke("db", "init", "--backend", "mongo", "--db", "mongomock://")
    assert result.exit_code == 0
    assert "wrote 1894 rows in 12 tables to mongomock://" in result.stdout
    url = f"sqlite:///{tmp_path / 'seed3.db'}"
    assert invoke("db", "init", "--db", url, "--seed", "3").exit_code == 0
    from pathrl.db import SQLDatabase

    database = SQLDatabase(demo_schema(), url)
    names = [r["name"] for r in database.execute("SELECT name FROM project ORDER BY id").rows]
    database.close()
    assert names == [p["name"] for p in demo_rows(3)["project"]]
    result = invoke("db", "init", "--backend", "postgres")
    assert isinstance(result.exception, PathrlError)
    assert "--db is required for backend postgres" in str(result.exception)
