"""`pathrl.synth`: generated domain and ERP schemas, their data, and `pathrl synth ...`."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pathrl.cli import app
from pathrl.db import SQLDatabase
from pathrl.errors import PathrlError
from pathrl.paths import enumerate_paths
from pathrl.schema import FIELD_TYPES, Schema, connected_components
from pathrl.synth import (
    DOMAINS,
    NAMING_STYLES,
    generate_erp_schema,
    generate_rows,
    generate_schema,
    populate_sqlite,
)
from pathrl.synth.domains import ERP_HUBS, all_table_specs, column_kinds
from pathrl.synth.generate import datetime_type
from pathrl.synth.populate import field_kind

runner = CliRunner()
PATHRL = Path(sys.executable).with_name("pathrl")


def fk_orphans(schema: Schema, rows) -> list[str]:
    """Foreign key values that are not a key of the parent table."""
    keys = {t.name: {r[t.key] for r in rows[t.name]} for t in schema.tables}
    return [f"{r.label}={row[r.from_field]}" for r in schema.relations
            for row in rows[r.from_table] if row[r.from_field] not in keys[r.to_table]]


# -- pools -------------------------------------------------------------------------------------
def test_a_column_name_means_one_value_kind_everywhere():
    kinds: dict[str, set[str]] = {}
    for spec in all_table_specs():
        for col in spec.columns:
            kinds.setdefault(col.name, set()).add(col.kind)
    assert {name: k for name, k in kinds.items() if len(k) > 1} == {}
    assert column_kinds()["full_name"] == "person"


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_domain_pool_is_one_connected_graph_of_known_tables(domain):
    pool = DOMAINS[domain]
    names = {t.name for t in pool}
    assert len(pool) >= 15
    assert all(p.table in names for t in pool for p in t.parents)
    assert any(t.junction for t in pool), "every domain has a many-to-many link"
    assert all(len({p.table for p in t.parents}) == 2 for t in pool if t.junction)
    full = generate_schema(domain, 15, seed=0)
    assert len(connected_components(full)) == 1


# -- generate_schema ---------------------------------------------------------------------------
def test_same_seed_same_schema_other_seed_other_schema():
    a = generate_schema("sales", 9, seed=4, naming="camel")
    b = generate_schema("sales", 9, seed=4, naming="camel")
    assert a.to_dict() == b.to_dict() and a.fingerprint() == b.fingerprint()
    others = {generate_schema("sales", 9, seed=s, naming="camel").fingerprint()
              for s in range(5, 10)}
    assert a.fingerprint() not in others and len(others) > 1


@pytest.mark.parametrize("naming", NAMING_STYLES)
@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_generated_schemas_are_valid_connected_and_multi_hop(domain, naming):
    for n_tables, seed in ((3, 1), (8, 2), (15, 3)):
        schema = generate_schema(domain, n_tables, seed, naming)
        assert len(schema.tables) == n_tables
        Schema.from_dict(schema.to_dict())  # survives a round trip through validation
        assert len(connected_components(schema)) == 1
        paths = enumerate_paths(schema)
        assert any(p.n_hops >= 2 for p in paths), (domain, naming, n_tables)
        assert {f.type for t in schema.tables for f in t.fields} <= set(FIELD_TYPES)
        for t in schema.tables:
            assert t.synonyms_en == () and t.synonyms_zh == ()
            if t.anchor or t.target:
                assert t.display != t.key
                assert t.field(t.display).type == "str"
            if t.time_field:
                assert t.field(t.time_field).type == "date"


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_tables_are_listed_parents_first(domain):
    schema = generate_schema(domain, 12, seed=4)
    position = {name: i for i, name in enumerate(schema.table_names)}
    assert all(position[r.to_table] < position[r.from_table] for r in schema.relations)


def test_junction_tables_link_two_tables_many_to_many():
    schema = generate_schema("hr", 15, seed=0)
    junctions = [t for t in schema.tables if not t.anchor and not t.target
                 and sum(r.from_table == t.name for r in schema.relations) == 2]
    assert junctions
    for j in junctions:
        ends = {r.to_table for r in schema.relations if r.from_table == j.name}
        assert len(ends) == 2
        a, b = sorted(ends)
        assert any(p.anchor == a and p.via == (j.name,) and p.target == b
                   for p in enumerate_paths(schema))


def test_naming_styles_differ_and_look_like_their_style():
    by_style = {s: generate_schema("logistics", 10, seed=6, naming=s) for s in NAMING_STYLES}
    names = {s: set(schema.table_names) for s, schema in by_style.items()}
    assert len({frozenset(n) for n in names.values()}) == len(NAMING_STYLES)
    assert all(n.startswith("tbl_") for n in names["prefixed"])
    assert all(re.fullmatch(r"[A-Z][A-Za-z0-9]*", n) for n in names["camel"])
    assert all(n.endswith("s") for n in names["plural"])
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names["snake"])
    snake_len = sum(len(f.name) for t in by_style["snake"].tables for f in t.fields)
    abbrev_len = sum(len(f.name) for t in by_style["abbrev"].tables for f in t.fields)
    assert abbrev_len < snake_len
    camel_fields = {f.name for t in by_style["camel"].tables for f in t.fields}
    assert any(re.fullmatch(r"[a-z]+[A-Z]\w*", f) for f in camel_fields)
    # The shape is the same whatever the spelling.
    assert len({len(s.relations) for s in by_style.values()}) == 1


@pytest.mark.parametrize(("args", "message"), [
    (("retail", 5, 0), "unknown domain 'retail'"),
    (("sales", 2, 0), "n_tables must be between 3 and 15"),
    (("sales", 16, 0), "n_tables must be between 3 and 15"),
    (("sales", 5, 0, "kebab"), "unknown naming style 'kebab'"),
])
def test_generate_schema_bad_arguments(args, message):
    with pytest.raises(PathrlError, match=message):
        generate_schema(*args)


def test_datetime_columns_follow_the_schema_field_types():
    schema = generate_schema("hospital", 15, seed=1)
    kinds = {(t.name, f.name): field_kind(f) for t in schema.tables for f in t.fields
             if f.name != t.key}
    stamped = [(t, f) for (t, f), k in kinds.items() if k == "datetime"]
    assert stamped
    assert {schema.table(t).field(f).type for t, f in stamped} == {datetime_type()}
    assert datetime_type() == ("datetime" if "datetime" in FIELD_TYPES else "date")


# -- ERP ---------------------------------------------------------------------------------------
def test_erp_200_tables_hubs_first_each_with_1_to_3_earlier_parents():
    schema = generate_erp_schema(200, seed=0)
    assert len(schema.tables) == 200
    assert schema.table_names[: len(ERP_HUBS)] == tuple(h.name for h in ERP_HUBS)
    position = {name: i for i, name in enumerate(schema.table_names)}
    for t in schema.tables[1:]:
        parents = [r.to_table for r in schema.relations if r.from_table == t.name]
        assert 1 <= len(parents) <= 3, t.name
        assert len(set(parents)) == len(parents)
        assert all(position[p] < position[t.name] for p in parents), t.name
    assert len(connected_components(schema)) == 1
    paths = enumerate_paths(schema, max_hops=3)
    assert max(p.n_hops for p in paths) == 3
    assert generate_erp_schema(200, seed=0).fingerprint() == schema.fingerprint()
    assert generate_erp_schema(200, seed=1).fingerprint() != schema.fingerprint()


@pytest.mark.parametrize("n", [12, 25, 50, 100])
def test_erp_sizes(n):
    schema = generate_erp_schema(n, seed=3)
    assert len(schema.tables) == n and len(connected_components(schema)) == 1


@pytest.mark.parametrize("n", [3, 501])
def test_erp_bad_size(n):
    with pytest.raises(PathrlError, match="an ERP schema has 8 to 500 tables"):
        generate_erp_schema(n, seed=0)


# -- data --------------------------------------------------------------------------------------
def test_rows_are_deterministic_by_seed():
    schema = generate_schema("school", 10, seed=2, naming="abbrev")
    a = generate_rows(schema, seed=5, rows_per_table=12)
    assert a == generate_rows(schema, seed=5, rows_per_table=12)
    assert a != generate_rows(schema, seed=6, rows_per_table=12)


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_rows_are_fk_consistent_and_displays_unique(domain):
    schema = generate_schema(domain, 15, seed=7, naming="camel")
    rows = generate_rows(schema, seed=7, rows_per_table=40)
    assert fk_orphans(schema, rows) == []
    for t in schema.tables:
        assert len(rows[t.name]) >= 1
        assert [r[t.key] for r in rows[t.name]] == list(range(1, len(rows[t.name]) + 1))
        if t.display != t.key:
            displays = [r[t.display] for r in rows[t.name]]
            assert len(set(displays)) == len(displays), t.name
        fks = sorted(r.from_field for r in schema.relations if r.from_table == t.name)
        if not t.anchor and not t.target and len(fks) >= 2:  # junction: each pair once
            pairs = [tuple(r[c] for c in fks) for r in rows[t.name]]
            assert len(set(pairs)) == len(pairs)


def test_two_foreign_keys_into_one_table_point_at_different_rows():
    schema = generate_schema("logistics", 15, seed=2)
    consignment = next(t for t in schema.tables if t.name == "consignment")
    ends = [r.from_field for r in schema.relations
            if r.from_table == consignment.name and r.to_table == "depot"]
    assert sorted(ends) == ["destination_depot_id", "origin_depot_id"]
    rows = generate_rows(schema, seed=2, rows_per_table=30)["consignment"]
    assert all(r["origin_depot_id"] != r["destination_depot_id"] for r in rows)


def test_values_look_like_their_columns():
    schema = generate_schema("hr", 15, seed=0)
    rows = generate_rows(schema, seed=0, rows_per_table=20)
    employee = rows["employee"]
    assert all(re.fullmatch(r"EMP-20\d\d-\d{3}", r["employee_no"]) for r in employee)
    assert all(" " in r["full_name"] for r in employee)
    checked = 0
    for t in schema.tables:
        names = t.field_names
        if "start_date" in names and "end_date" in names:
            for r in rows[t.name]:
                assert r["end_date"] > r["start_date"]
                checked += 1
    assert checked


def test_some_chinese_values_on_request():
    schema = generate_schema("hospital", 6, seed=1)
    han = re.compile(r"[\u4e00-\u9fff]")
    person = [(t.name, f.name) for t in schema.tables for f in t.fields
              if field_kind(f) == "person"]
    assert person

    def values(zh_ratio: float) -> list[str]:
        rows = generate_rows(schema, seed=1, rows_per_table=20, zh_ratio=zh_ratio)
        return [r[f] for t, f in person for r in rows[t]]

    assert not any(han.search(v) for v in values(0.0))
    assert all(han.search(v) for v in values(1.0))
    with pytest.raises(PathrlError, match="zh ratio"):
        generate_rows(schema, seed=1, zh_ratio=1.5)


def test_populate_sqlite_is_fk_consistent_deterministic_and_queryable(tmp_path):
    schema = generate_schema("projects", 12, seed=3, naming="plural")
    first = populate_sqlite(schema, tmp_path / "a.sqlite", seed=3, rows_per_table=25)
    populate_sqlite(schema, tmp_path / "b.sqlite", seed=3, rows_per_table=25)
    assert set(first.rows) == set(schema.table_names) and first.total_rows > 0

    def dump(path: Path) -> dict[str, list[tuple]]:
        with sqlite3.connect(path) as conn:
            return {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY 1').fetchall()
                    for t in schema.table_names}

    assert dump(tmp_path / "a.sqlite") == dump(tmp_path / "b.sqlite")
    with sqlite3.connect(tmp_path / "a.sqlite") as conn:
        for r in schema.relations:
            orphans = conn.execute(
                f'SELECT COUNT(*) FROM "{r.from_table}" c LEFT JOIN "{r.to_table}" p '
                f'ON c."{r.from_field}" = p."{r.to_field}" WHERE p."{r.to_field}" IS NULL'
            ).fetchone()[0]
            assert orphans == 0, r.label
    db = SQLDatabase(schema, first.url)
    try:  # every legal route finds rows: the data links the tables the paths join
        statuses = {p.id: db.run_path(p).status for p in enumerate_paths(schema)}
    finally:
        db.close()
    assert set(statuses.values()) == {"ok"}, statuses


def test_populate_refuses_a_missing_folder(tmp_path):
    schema = generate_schema("sales", 3, seed=0)
    with pytest.raises(PathrlError, match="does not exist"):
        populate_sqlite(schema, tmp_path / "nope" / "x.sqlite", seed=0)


def test_erp_data_is_fk_consistent():
    schema = generate_erp_schema(60, seed=2)
    rows = generate_rows(schema, seed=2, rows_per_table=8)
    assert fk_orphans(schema, rows) == []


# -- CLI ---------------------------------------------------------------------------------------
def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_cli_schemas_writes_a_loadable_deterministic_corpus(tmp_path):
    out = tmp_path / "corpus"
    result = invoke("synth", "schemas", "--out", str(out), "--count", "7", "--seed", "3",
                    "--rows", "6", "--json")
    assert result.exit_code == 0, (result.output, result.exception)
    entries = json.loads(result.stdout)
    index = json.loads((out / "index.json").read_text())
    assert index == entries and len(entries) == 7
    assert {e["domain"] for e in entries} == set(DOMAINS)  # six domains taken in turn
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [e["name"] for e in entries] + ["index.json"])
    for e in entries:
        schema = Schema.load(out / e["schema_file"])
        assert schema.name == e["name"] and len(schema.tables) == e["n_tables"]
        assert 3 <= e["n_tables"] <= 15 and e["n_paths"] == len(enumerate_paths(schema))
        with sqlite3.connect(out / e["data_file"]) as conn:
            counted = sum(conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
                          for t in schema.table_names)
        assert counted == e["n_rows"]
    again = tmp_path / "again"
    assert invoke("synth", "schemas", "--out", str(again), "--count", "7", "--seed", "3",
                  "--rows", "6").exit_code == 0
    first = entries[0]["schema_file"]
    assert (again / first).read_bytes() == (out / first).read_bytes()
    assert (again / "index.json").read_text() == (out / "index.json").read_text()


def test_cli_schemas_options_narrow_the_draw(tmp_path):
    result = invoke("synth", "schemas", "--out", str(tmp_path / "o"), "--count", "4",
                    "--domains", "hr,school", "--naming", "abbrev", "--min-tables", "5",
                    "--max-tables", "6", "--rows", "3", "--json")
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    assert {e["domain"] for e in entries} == {"hr", "school"}
    assert {e["naming"] for e in entries} == {"abbrev"}
    assert all(5 <= e["n_tables"] <= 6 for e in entries)


def test_cli_refuses_a_non_empty_out_without_force(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    result = invoke("synth", "schemas", "--out", str(out), "--count", "1", "--rows", "2")
    assert isinstance(result.exception, PathrlError)
    assert "not empty (pass --force" in str(result.exception)
    forced = invoke("synth", "schemas", "--out", str(out), "--count", "1", "--rows", "2",
                    "--force")
    assert forced.exit_code == 0, forced.output
    assert (out / "keep.txt").exists() and (out / "index.json").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left


@pytest.mark.parametrize(("args", "message"), [
    (("schemas", "--count", "0"), "--count must be >= 1"),
    (("schemas", "--min-tables", "9", "--max-tables", "4"), "--min-tables <= --max-tables"),
    (("schemas", "--max-tables", "40"), "<= 15"),
    (("schemas", "--domains", "sales,retail"), "unknown domain(s) retail"),
    (("schemas", "--naming", "kebab"), "unknown naming style(s) kebab"),
    (("schemas", "--rows", "0"), "rows per table must be >= 1"),
    (("schemas", "--zh-ratio", "1.5"), "zh ratio must be between 0 and 1"),
    (("erp", "--tables", "2"), "an ERP schema has 8 to 500 tables"),
    (("erp", "--tables", "20", "--rows", "0"), "rows per table must be >= 1"),
])
def test_cli_bad_arguments(tmp_path, args, message):
    result = invoke("synth", *args, "--out", str(tmp_path / "o"))
    assert isinstance(result.exception, PathrlError), result.output
    assert message in str(result.exception)
    assert not (tmp_path / "o").exists()  # nothing written for a bad request


def test_cli_erp_writes_each_size(tmp_path):
    out = tmp_path / "erp"
    result = invoke("synth", "erp", "--tables", "12", "--tables", "30", "--out", str(out),
                    "--rows", "4", "--json")
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    assert [e["n_tables"] for e in entries] == [12, 30]
    assert len(Schema.load(out / entries[1]["schema_file"]).tables) == 30


def test_cli_stats_json(tmp_path):
    result = invoke("synth", "stats", "--tables", "12", "--tables", "25", "--rows", "3",
                    "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert [s["n_tables"] for s in stats] == [12, 25]
    for s in stats:
        schema = generate_erp_schema(s["n_tables"], seed=0)
        assert s["n_relations"] == len(schema.relations)
        assert s["n_paths"] == len(enumerate_paths(schema, 3))
        assert s["n_paths"] - s["n_join_paths"] == s["n_tables"] - sum(
            not t.target for t in schema.tables)
        assert s["n_rows"] > 0


def test_console_script_bad_argument_exits_2_with_one_line(tmp_path):
    exe = [str(PATHRL)] if PATHRL.exists() else [sys.executable, "-m", "pathrl.cli"]
    proc = subprocess.run([*exe, "synth", "schemas", "--out", str(tmp_path / "o"),
                           "--min-tables", "9", "--max-tables", "4"],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "60"})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: need 3 <= --min-tables"), proc.stderr


def test_lookup_tables_from_short_lists_get_each_name_once():
    schema = generate_schema("hospital", 15, seed=1)
    root = next(t for t in schema.tables if t.name == "clinical_department")
    assert not [r for r in schema.relations if r.from_table == root.name]
    rows = generate_rows(schema, seed=1, rows_per_table=30)[root.name]
    names = [r[root.display] for r in rows]
    assert len(names) == 11 == len(set(names))  # the pool's 11 departments, none numbered
    assert not any(re.search(r"\d", n) for n in names)
    assert len(generate_rows(schema, seed=1, rows_per_table=5)[root.name]) == 5
