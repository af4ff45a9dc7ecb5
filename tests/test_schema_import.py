"""`pathrl schema import` and `pathrl.schema_import`: SQL, MongoDB and Spider tables.json."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import mongomock
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from typer.testing import CliRunner

from pathrl.cli import app
from pathrl.db import MongoDatabase, SQLDatabase, write_sql
from pathrl.demo import demo_rows, demo_schema
from pathrl.errors import PathrlError, SchemaError
from pathrl.paths import enumerate_paths
from pathrl.query import Filter
from pathrl.schema import Schema
from pathrl.schema_import import (
    import_mongo,
    import_schema,
    import_spider,
    introspect_sql,
    propose_mongo_references,
    table_synonyms,
    value_type,
    write_schema,
)

runner = CliRunner()

SHOP_DDL = """
CREATE TABLE makers (id INTEGER PRIMARY KEY, name TEXT, country TEXT);
CREATE TABLE countries (code TEXT PRIMARY KEY, name TEXT);
CREATE TABLE car_models (model_id INTEGER PRIMARY KEY, maker_id INTEGER REFERENCES makers(id),
                         model TEXT, launched DATE);
CREATE TABLE orders (order_id INTEGER PRIMARY KEY,
                     model_id INTEGER REFERENCES car_models(model_id),
                     placed_at DATETIME, updated DATETIME, note TEXT);
CREATE TABLE order_lines (order_id INTEGER REFERENCES orders(order_id), line_no INTEGER,
                          quantity INTEGER, price REAL, PRIMARY KEY (order_id, line_no));
CREATE TABLE shipments (id INTEGER PRIMARY KEY, order_id INTEGER, line_no INTEGER,
                        FOREIGN KEY (order_id, line_no) REFERENCES order_lines(order_id, line_no));
CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT);
CREATE TABLE model_tags (model_id INTEGER REFERENCES car_models(model_id),
                         tag_id INTEGER REFERENCES tags(id), PRIMARY KEY (model_id, tag_id));
CREATE TABLE readings (sensor TEXT, reading_code TEXT, value REAL);
CREATE TABLE visits (id INTEGER PRIMARY KEY, country_code TEXT REFERENCES countries(code),
                     visitors INTEGER);
CREATE TABLE employees (id INTEGER PRIMARY KEY, full_name TEXT, title TEXT,
                        manager_id INTEGER REFERENCES employees(id), hired TEXT);
"""


def make_shop(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(SHOP_DDL)
    conn.executemany("INSERT INTO makers VALUES (?, ?, ?)",
                     [(i, f"Maker {i}", "JP" if i % 2 else "DE") for i in range(1, 9)])
    conn.executemany("INSERT INTO countries VALUES (?, ?)", [("JP", "Japan"), ("DE", "Germany")])
    conn.executemany("INSERT INTO car_models VALUES (?, ?, ?, ?)",
                     [(i, 1 + i % 8, f"Model {i}", f"2020-0{1 + i % 9}-1{i % 10}")
                      for i in range(1, 21)])
    # DATETIME values with times: a `date` field would crash reading them back.
    conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
                     [(i, 1 + i % 20, f"2024-03-{1 + i % 28:02d} {i % 24:02d}:15:00",
                       "2024-05-01", "rush" if i % 3 else None) for i in range(1, 41)])
    conn.executemany("INSERT INTO order_lines VALUES (?, ?, ?, ?)",
                     [(o, n, n * 2, 9.5 * n) for o in range(1, 41) for n in (1, 2)])
    conn.executemany("INSERT INTO shipments VALUES (?, ?, ?)", [(1, 1, 1), (2, 1, 2)])
    conn.executemany("INSERT INTO tags VALUES (?, ?)", [(1, "suv"), (2, "ev")])
    conn.executemany("INSERT INTO model_tags VALUES (?, ?)", [(1, 1), (1, 2), (2, 2)])
    conn.executemany("INSERT INTO readings VALUES (?, ?, ?)",
                     [("s1" if i % 2 else "s2", f"R{i}", i / 3) for i in range(10)])
    conn.executemany("INSERT INTO visits VALUES (?, ?, ?)", [(1, "JP", 10), (2, "DE", 20)])
    conn.executemany("INSERT INTO employees VALUES (?, ?, ?, ?, ?)",
                     [(i, f"Person {i}", "engineer", None if i == 1 else 1, f"2019-01-{i:02d}")
                      for i in range(1, 6)])
    conn.commit()
    conn.close()
    return path


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    return make_shop(tmp_path_factory.mktemp("shop") / "shop.db")


@pytest.fixture(scope="module")
def shop_import(shop):
    return import_schema(f"sqlite:///{shop}")


def invoke(*args: str):
    return runner.invoke(app, list(args))


# -- SQLite ------------------------------------------------------------------------------------
def test_sqlite_tables_keys_and_relations(shop_import):
    schema, warnings = shop_import.schema, shop_import.warnings
    assert schema.name == "shop" and shop_import.source == "SQLite"
    assert set(schema.table_names) == {"makers", "countries", "car_models", "orders",
                                       "order_lines", "shipments", "tags", "model_tags",
                                       "readings", "visits", "employees"}
    assert {r.label for r in schema.relations} == {
        "car_models.maker_id -> makers.id", "orders.model_id -> car_models.model_id",
        "order_lines.order_id -> orders.order_id", "model_tags.model_id -> car_models.model_id",
        "model_tags.tag_id -> tags.id", "employees.manager_id -> employees.id",
        "visits.country_code -> countries.code"}
    # a composite foreign key cannot be one join: skipped, and said so
    assert any("composite foreign key shipments(order_id, line_no)" in w for w in warnings)
    assert schema.rules.allow_self_loops  # employees.manager_id is kept, paths never use it
    assert schema.table("order_lines").key == "order_id"  # first column of (order_id, line_no)
    assert any("composite primary key (order_id, line_no)" in w for w in warnings)
    assert schema.table("readings").key == "reading_code"  # no PK: the unique id-like column
    assert any("readings': no primary key: key reading_code" in w for w in warnings)


def test_sqlite_types_read_right(shop_import):
    types = {(t.name, f.name): f.type for t in shop_import.schema.tables for f in t.fields}
    assert types[("orders", "placed_at")] == "datetime"
    assert types[("car_models", "launched")] == "date"
    assert types[("orders", "updated")] == "date"  # DATETIME holding whole days only
    assert types[("employees", "hired")] == "date"  # ISO dates in a TEXT column
    assert types[("order_lines", "price")] == "float"
    assert types[("order_lines", "quantity")] == "int"
    assert types[("makers", "name")] == "str"


def test_sqlite_inferred_display_time_field_and_words(shop_import):
    schema = shop_import.schema
    displays = {t.name: t.display for t in schema.tables}
    assert displays["makers"] == "name"
    assert displays["countries"] == "name"  # never the text primary key `code`
    assert displays["car_models"] == "model"
    assert displays["tags"] == "label"
    assert displays["employees"] == "full_name"  # distinct names beat the one job title
    assert displays["readings"] == "sensor"  # the key is not the display
    assert displays["order_lines"] == "order_id"  # no text column: the key
    assert displays["visits"] == "country_code"  # a foreign key's codes rather than the key
    assert schema.table("orders").time_field == "placed_at"  # not the "updated" stamp
    assert schema.table("makers").time_field is None
    assert schema.table("car_models").synonyms_en == ("car model",)
    assert schema.table("employees").synonyms_en == ("employee",)
    assert table_synonyms("Ref_Colors", {"ref color"}) == ("ref color", "color")
    assert table_synonyms("ref_shapes", {"ref shape", "shape"}) == ("ref shape",)  # taken
    assert schema.table("employees").field("full_name").description == "Full name"
    link = schema.table("model_tags")
    assert (link.anchor, link.target) == (False, False)  # a pure link table is a bridge
    assert schema.table("orders").anchor and schema.table("orders").target


def test_imported_schema_saves_loads_and_enumerates(shop_import, tmp_path):
    out = tmp_path / "shop.yaml"
    write_schema(shop_import.schema, out)
    loaded = Schema.load(out)
    assert loaded == shop_import.schema
    ids = {p.id for p in enumerate_paths(loaded)}
    assert {"makers>car_models>orders", "tags>model_tags>car_models", "orders"} <= ids
    assert not any("model_tags" in (p.anchor, p.target) for p in enumerate_paths(loaded))


def test_imported_datetime_column_reads_back_and_filters(shop, shop_import):
    schema = shop_import.schema
    paths = {p.id: p for p in enumerate_paths(schema)}
    database = SQLDatabase(schema, f"sqlite:///{shop}")
    try:
        result = database.run_path(paths["makers>car_models>orders"], Filter(entity="Maker 3"))
        assert result.status == "ok", result.error
        assert all(datetime.fromisoformat(r["placed_at"]) for r in result.rows)
        assert any(r["placed_at"].endswith("15:00") for r in result.rows)  # times survive
        ranged = database.run_path(paths["orders"], Filter(date_from="2024-03-10"))
        assert ranged.status == "ok" and ranged.count < 40
        assert all(r["placed_at"] >= "2024-03-10" for r in ranged.rows)
        # date_to is inclusive: every time of the last day counts (orders 9 and 37)
        one_day = database.run_path(paths["orders"], Filter(date_from="2024-03-10",
                                                            date_to="2024-03-10"))
        assert [r["placed_at"] for r in one_day.rows] == ["2024-03-10T09:15:00",
                                                          "2024-03-10T13:15:00"]
    finally:
        database.close()


def test_demo_database_round_trip(tmp_path):
    demo = demo_schema()
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    write_sql(url, demo, demo_rows(7))
    found = introspect_sql(url, name="seen")
    assert found.name == "seen" and sorted(found.table_names) == sorted(demo.table_names)
    assert {r.label for r in found.relations} == {r.label for r in demo.relations}
    assert all(t.key == "id" for t in found.tables)
    for t in demo.tables:
        assert found.table(t.name).field_names == t.field_names
        assert [f.type for f in found.table(t.name).fields] == [f.type for f in t.fields]
        assert found.table(t.name).time_field == t.time_field
        assert found.table(t.name).display != "id"  # every demo table has a text column
    for tname in ("project", "contract", "supplier", "invoice", "employee"):
        assert found.table(tname).display == demo.table(tname).display


def test_missing_sqlite_file_is_not_created(tmp_path):
    missing = tmp_path / "nope.db"
    for source in (f"sqlite:///{missing}", str(missing)):
        with pytest.raises(PathrlError, match="no such"):
            import_schema(source)
    assert not missing.exists()
    with pytest.raises(PathrlError, match="name a SQLite file"):
        import_schema("sqlite://")


def test_import_leaves_the_database_untouched(tmp_path):
    db = make_shop(tmp_path / "ro.db")
    before = db.read_bytes()
    import_schema(str(db))
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ro.db"]  # no journal, no WAL


@pytest.mark.parametrize(("content", "message"), [
    (b"hello, not a database\n", "is not a database"),
    (b"SQLite format 3\x00" + b"\x00" * 200, "cannot read"),
    (b'{"tables": {}}', "not a tables.json"),
])
def test_not_a_database(tmp_path, content, message):
    path = tmp_path / ("x.json" if content.startswith(b"{") else "x.db")
    path.write_bytes(content)
    with pytest.raises(PathrlError, match=message):
        import_schema(str(path))


def test_bad_and_unreachable_urls(tmp_path):
    with pytest.raises(PathrlError, match="bad database URL"):
        import_schema("not a url://x")
    with pytest.raises(PathrlError, match="cannot open"):
        import_schema("nosuchdialect://host/db")
    with pytest.raises(PathrlError, match="cannot read"):
        import_schema("postgresql+psycopg://nobody@127.0.0.1:1/none")
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(PathrlError, match="no tables to import"):
        import_schema(str(empty))
    with pytest.raises(PathrlError, match="only apply to a Spider"):
        import_schema(str(empty), db_id="x")


@pytest.mark.parametrize(("values", "kind"), [
    ([1, 2, None], "int"), ([1, 2.5], "float"), ([True, False], "bool"),
    (["2024-01-02", "2024-01-03"], "date"), (["2024-01-02 10:00:00", "2024-01-03"], "datetime"),
    ([datetime(2024, 1, 2)], "date"), ([datetime(2024, 1, 2, 8, 30)], "datetime"),
    ([date(2024, 1, 2)], "date"), (["2024-01-02", "soon"], "str"), (["1990", 3], "str"),
    ([None], None),
])
def test_value_type(values, kind):
    assert value_type(values) == kind


def test_postgres_date_and_timestamp():
    """DATE and TIMESTAMP on PostgreSQL, a non-public schema chosen by search_path; skipped
    without a server (PATHRL_TEST_PG_URL, as in test_query_db.py)."""
    base = os.environ.get("PATHRL_TEST_PG_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    pg_schema = f"pathrl_import_{os.getpid()}"
    try:
        admin = sa.create_engine(base, connect_args={"connect_timeout": 3})
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {pg_schema}")
    except (SQLAlchemyError, ImportError) as exc:
        pytest.skip(f"no PostgreSQL server at {base}: {exc.__class__.__name__}")
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE TABLE {pg_schema}.makers (id int PRIMARY KEY, "
                                 "code text, name text, founded timestamp, listed date)")
            conn.exec_driver_sql(f"CREATE TABLE {pg_schema}.cars (id int PRIMARY KEY, "
                                 f"maker_id int REFERENCES {pg_schema}.makers(id), "
                                 "price numeric(10, 2))")
        url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={pg_schema}"})
        schema = import_schema(url.render_as_string(hide_password=False)).schema
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {pg_schema} CASCADE")
        admin.dispose()
    makers = schema.table("makers")
    assert {f.name: f.type for f in makers.fields} == {
        "id": "int", "code": "str", "name": "str", "founded": "datetime", "listed": "date"}
    assert makers.display == "name" and schema.table("cars").field("price").type == "float"
    assert [r.label for r in schema.relations] == ["cars.maker_id -> makers.id"]


# -- MongoDB -----------------------------------------------------------------------------------
def fill_shop_mongo(db) -> None:
    db.makers.insert_many([{"id": f"M{i}", "name": f"Maker {i}",
                            "founded": datetime(1950 + i, 1, 1)} for i in range(1, 6)])
    db.models.insert_many([{"id": f"CM{i}", "maker_id": f"M{1 + i % 5}", "model": f"Model {i}",
                            "specs": {"hp": 100 + i}, "rating": i % 5}
                           for i in range(1, 13)])
    db.orders.insert_many([{"model_id": f"CM{1 + i % 12}", "placed_at": datetime(2024, 3, 1, i),
                            "qty": i, "price": 10.5 * i} for i in range(1, 20)])


def test_mongo_fields_types_and_references():
    db = mongomock.MongoClient()["shop"]
    fill_shop_mongo(db)
    result = import_mongo(db)
    schema = result.schema
    assert schema.name == "shop" and result.source == "MongoDB"
    assert {r.label for r in schema.relations} == {"models.maker_id -> makers.id",
                                                   "orders.model_id -> models.id"}
    makers, models, orders = (schema.table(n) for n in ("makers", "models", "orders"))
    assert makers.key == "id" and "_id" not in makers.field_names
    assert orders.key == "_id"  # no `id` field: MongoDB's own key
    assert "specs" not in models.field_names
    assert any("models.specs: nested" in w for w in result.warnings)
    types = {(t.name, f.name): f.type for t in schema.tables for f in t.fields}
    assert types[("makers", "founded")] == "date"
    assert types[("orders", "placed_at")] == "datetime"
    assert types[("orders", "qty")] == "int" and types[("orders", "price")] == "float"
    assert (makers.display, models.display) == ("name", "model")
    assert orders.time_field == "placed_at"
    # the imported schema runs on the collections it came from
    paths = {p.id: p for p in enumerate_paths(schema)}
    rows = MongoDatabase(schema, db).run_path(paths["makers>models>orders"],
                                              Filter(entity="Maker 2"))
    assert rows.status == "ok" and rows.count > 0
    same_day = MongoDatabase(schema, db).run_path(paths["orders"], Filter(date_to="2024-03-01"))
    assert same_day.count == 19  # placed at 1:00 ... 19:00 on the last day of the range


def test_propose_mongo_references_finds_the_real_ones():
    demo = demo_schema()
    database = MongoDatabase(demo, mongomock.MongoClient()["propose"])
    database.write(demo_rows(7))
    proposed = propose_mongo_references(database.db)
    # codes carry a per-table prefix, so nothing else looks like a reference
    assert {r.label for r in proposed} == {r.label for r in demo.relations}


def test_small_numbers_are_no_references():
    db = mongomock.MongoClient()["nums"]
    db.teams.insert_many([{"id": i, "name": f"T{i}"} for i in range(1, 6)])
    db.players.insert_many([{"id": i, "team_id": 1 + i % 5, "rating": 1 + i % 5}
                            for i in range(1, 30)])
    labels = {r.label for r in propose_mongo_references(db)}
    assert labels == {"players.team_id -> teams.id"}  # `rating` holds team ids by chance


def test_mongo_cli_through_pymongo(tmp_path):
    out = tmp_path / "mongo.yaml"
    with mongomock.patch(servers=(("db.example", 27017),)):
        import pymongo

        fill_shop_mongo(pymongo.MongoClient("mongodb://db.example")["shop"])
        result = invoke("schema", "import", "mongodb://db.example/shop", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert len(Schema.load(out).relations) == 2


def test_mongo_errors():
    with pytest.raises(PathrlError, match="name the database"):
        import_schema("mongodb://localhost:27017")
    with pytest.raises(PathrlError, match="no collections"):
        import_schema("mongomock://localhost/empty")
    with pytest.raises(PathrlError, match="bad MongoDB URL"):
        import_schema("mongodb://")
    with mongomock.patch(servers=(("db.example", 27017),)), pytest.raises(
            PathrlError, match="cannot reach MongoDB at 'mongodb://elsewhere.example/shop'"):
        import_schema("mongodb://elsewhere.example/shop")  # no such server


# -- Spider tables.json ------------------------------------------------------------------------
def spider_entry(db_id: str) -> dict:
    return {
        "db_id": db_id,
        "table_names_original": ["Singer", "Concert", "singer_in_concert"],
        "table_names": ["singer", "concert", "singer in concert"],
        "column_names_original": [
            [-1, "*"], [0, "Singer_ID"], [0, "Name"], [0, "Country"], [0, "Song_Name"],
            [1, "Concert_ID"], [1, "Concert_Name"], [1, "Year"], [1, "Held_On"],
            [2, "Concert_ID"], [2, "Singer_ID"]],
        "column_types": ["text", "number", "text", "text", "text", "number", "text", "time",
                         "time", "number", "number"],
        "primary_keys": [1, 5, 9, 10],
        "foreign_keys": [[10, 1], [9, 5]],
    }


@pytest.fixture()
def tables_json(tmp_path) -> Path:
    path = tmp_path / "tables.json"
    path.write_text(json.dumps([spider_entry("concert_singer"), spider_entry("concert_hall"),
                                spider_entry("pets_1")]))
    return path


def test_spider_picks_the_database(tables_json):
    result = import_spider(tables_json, "concert_singer")
    schema = result.schema
    assert schema.name == "concert_singer" and result.source == "Spider"
    assert schema.table_names == ("Singer", "Concert", "singer_in_concert")
    assert {r.label for r in schema.relations} == {
        "singer_in_concert.Singer_ID -> Singer.Singer_ID",
        "singer_in_concert.Concert_ID -> Concert.Concert_ID"}
    singer, concert = schema.table("Singer"), schema.table("Concert")
    assert (singer.key, singer.display) == ("Singer_ID", "Name")
    assert (concert.key, concert.display) == ("Concert_ID", "Concert_Name")
    types = {f.name: f.type for f in concert.fields}
    assert types == {"Concert_ID": "float", "Concert_Name": "str", "Year": "int",
                     "Held_On": "datetime"}
    assert concert.time_field == "Held_On"
    bridge = schema.table("singer_in_concert")
    assert bridge.key == "Concert_ID" and not bridge.anchor and not bridge.target
    assert singer.synonyms_en == ("singer",)
    assert "Singer>singer_in_concert>Concert" in {p.id for p in enumerate_paths(schema)}


def test_spider_db_id_errors(tables_json):
    with pytest.raises(PathrlError, match=r"holds 3 databases.*concert_hall, concert_singer"):
        import_spider(tables_json)
    with pytest.raises(PathrlError, match=r"no database 'concert' \(e.g. concert_hall, "
                                          r"concert_singer\)"):
        import_spider(tables_json, "concert")
    broken = json.loads(tables_json.read_text())
    broken[0]["foreign_keys"] = [[10, 99]]
    tables_json.write_text(json.dumps(broken))
    with pytest.raises(PathrlError, match="malformed entry: column index 99"):
        import_spider(tables_json, "concert_singer")


def test_spider_with_values_database(tables_json, tmp_path):
    db = tmp_path / "concert_singer.sqlite"
    conn = sqlite3.connect(db)
    conn.executescript("""
        CREATE TABLE singer (Singer_ID INT PRIMARY KEY, Name TEXT, Country TEXT, Song_Name TEXT);
        CREATE TABLE concert (Concert_ID INT PRIMARY KEY, Concert_Name TEXT, Year TEXT,
                              Held_On TEXT);
        CREATE TABLE singer_in_concert (Concert_ID INT, Singer_ID TEXT);
    """)
    # Every singer sings the same song: the distinct names win display.
    conn.executemany("INSERT INTO singer VALUES (?, ?, ?, ?)",
                     [(i, f"Singer {i}", "NL", "Hello") for i in range(6)])
    conn.executemany("INSERT INTO concert VALUES (?, ?, ?, ?)",
                     [(i, f"Gig {i}", str(2000 + i), f"2014-06-{10 + i}") for i in range(4)])
    conn.commit()
    conn.close()
    result = invoke("schema", "import", str(tables_json), "--db-id", "concert_singer",
                    "--db", str(db), "--out", str(tmp_path / "cs.yaml"))
    assert result.exit_code == 0, result.output
    schema = Schema.load(tmp_path / "cs.yaml")
    types = {f.name: f.type for f in schema.table("Concert").fields}
    assert types == {"Concert_ID": "int", "Concert_Name": "str", "Year": "str",
                     "Held_On": "date"}
    assert schema.table("Singer").display == "Name"


# -- the command -------------------------------------------------------------------------------
def test_cli_writes_refuses_and_forces(shop, tmp_path):
    out = tmp_path / "out" / "shop.yaml"
    first = invoke("schema", "import", f"sqlite:///{shop}", "--out", str(out), "--name", "cars",
                   "--max-hops", "2")
    assert first.exit_code == 0, first.output
    assert "imported cars from SQLite: 11 tables, 7 relations" in first.stdout
    loaded = Schema.load(out)
    assert loaded.name == "cars" and loaded.rules.max_hops == 2
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # not the temporary file's 0600
    out.write_text("mine\n")
    again = invoke("schema", "import", f"sqlite:///{shop}", "--out", str(out))
    assert again.exit_code != 0 and "already exists" in str(again.exception)
    assert out.read_text() == "mine\n"
    forced = invoke("schema", "import", f"sqlite:///{shop}", "--out", str(out), "--force")
    assert forced.exit_code == 0 and Schema.load(out).name == "shop"
    assert sorted(p.name for p in out.parent.iterdir()) == ["shop.yaml"]  # no temp file left


def test_cli_nothing_written_on_error(tmp_path):
    out = tmp_path / "x.yaml"
    result = invoke("schema", "import", str(tmp_path / "missing.db"), "--out", str(out))
    assert isinstance(result.exception, PathrlError) and "no such file" in str(result.exception)
    assert not out.exists() and not (tmp_path / "missing.db").exists()
    bad_suffix = invoke("schema", "import", "x.db", "--out", str(tmp_path / "x.txt"))
    assert "use a .yaml, .yml or .json" in str(bad_suffix.exception)


def test_cli_exit_code_and_one_line(tmp_path):
    """Through the console script: one red line on stderr, exit 2."""
    pathrl = Path(sys.executable).with_name("pathrl")
    proc = subprocess.run([str(pathrl), "schema", "import", "sqlite:///" + str(tmp_path / "n.db"),
                           "--out", str(tmp_path / "n.yaml")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: no such SQLite file: {tmp_path}/n.db"]
    assert not (tmp_path / "n.db").exists() and not (tmp_path / "n.yaml").exists()


def test_invalid_max_hops_is_a_schema_error(shop):
    with pytest.raises(SchemaError, match="max_hops must be >= 1"):
        import_schema(str(shop), max_hops=0)
