"""Usage questions on a small introspection-like schema: no synonyms, display = key, plural
table names, a DATETIME column. Every intent is written, labelled by the route convention."""

from __future__ import annotations

import random
import sqlite3
import warnings
from collections import Counter

import pytest

from pathrl.data import DatasetConfig, build_dataset
from pathrl.data.build import DatasetBuilder, DatasetWarning
from pathrl.data.intents import USAGE_INTENTS
from pathrl.db import SQLDatabase, write_sql
from pathrl.schema import Schema

_SCHEMA = {
    "name": "shop",
    "rules": {"max_hops": 2},
    "tables": {
        "departments": {"key": "id", "display": "id", "fields": {
            "id": "int", "dept_name": "str", "budget": "float"}},
        "employees": {"key": "id", "display": "id", "time_field": "hired_at", "fields": {
            "id": "int", "full_name": "str", "email": "str", "city": "str",
            "salary": "float", "hired_at": "date", "department_id": "int"}},
        "customers": {"key": "id", "display": "id", "fields": {
            "id": "int", "name": "str", "country": "str"}},
        "orders": {"key": "id", "display": "id", "time_field": "placed_at", "fields": {
            "id": "int", "order_no": "str", "amount": "float", "placed_at": "datetime",
            "customer_id": "int", "employee_id": "int"}},
    },
    "relations": [
        {"from": "employees.department_id", "to": "departments.id"},
        {"from": "orders.customer_id", "to": "customers.id"},
        {"from": "orders.employee_id", "to": "employees.id"},
    ],
}
_CITIES = ("Paris", "Berlin", "Madrid")
_COUNTRIES = ("France", "Spain", "Chile", "Japan")


def _make_db(path) -> str:
    """SQLite with DATETIME columns holding 'YYYY-MM-DD HH:MM:SS' text."""
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE departments (id INTEGER PRIMARY KEY, dept_name TEXT, budget REAL);
        CREATE TABLE employees (id INTEGER PRIMARY KEY, full_name TEXT, email TEXT, city TEXT,
                                salary REAL, hired_at DATETIME, department_id INTEGER);
        CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, country TEXT);
        CREATE TABLE orders (id INTEGER PRIMARY KEY, order_no TEXT, amount REAL,
                             placed_at DATETIME, customer_id INTEGER, employee_id INTEGER);
    """)
    rng = random.Random(0)
    con.executemany("INSERT INTO departments VALUES (?, ?, ?)",
                    [(i, n, 1000.0 * i) for i, n in enumerate(("Sales", "Finance", "Legal"), 1)])
    con.executemany("INSERT INTO employees VALUES (?, ?, ?, ?, ?, ?, ?)", [
        (i, f"Person {chr(64 + i)} Novak", f"p{i}@shop.example", _CITIES[i % 3], 3000.0 + 250 * i,
         f"20{18 + i % 5}-0{1 + i % 9}-1{i % 9} 09:30:00", 1 + i % 3) for i in range(1, 13)])
    con.executemany("INSERT INTO customers VALUES (?, ?, ?)", [
        (i, f"Client {i:02d} Ltd", _COUNTRIES[i % 4]) for i in range(1, 11)])
    con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)", [
        (i, f"SO-{i:04d}", round(rng.uniform(10, 900), 2),
         f"2023-{1 + i % 12:02d}-0{1 + i % 9} 14:00:00", 1 + i % 10, 1 + i % 12)
        for i in range(1, 41)])
    con.commit()
    con.close()
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    schema = Schema.from_dict(_SCHEMA)
    database = SQLDatabase(schema, _make_db(tmp_path_factory.mktemp("shop") / "shop.db"))
    yield schema, database
    database.close()


@pytest.fixture(scope="module")
def built(shop):
    schema, database = shop
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)
        return build_dataset(schema, database, DatasetConfig(examples_per_path=8,
                                                             min_per_path=4))


def _every(splits):
    return [ex for rows in splits.values() for ex in rows]


def test_display_is_inferred_never_the_key(shop):
    schema, database = shop
    builder = DatasetBuilder(schema, database, DatasetConfig())
    display = {name: prof.display for name, prof in builder.profiles.items()}
    assert display == {"departments": "dept_name", "employees": "full_name",
                       "customers": "name", "orders": "order_no"}


def test_every_intent_on_a_single_table_path_labelled_t_none_t(shop):
    schema, database = shop
    builder = DatasetBuilder(schema, database, DatasetConfig())
    path = builder.vocab.path_by_id["employees"]
    questions = [q for seed in range(4)
                 for q in builder.usage.candidates(path, "en", random.Random(seed))]
    assert {q.intent for q in questions} == set(USAGE_INTENTS)
    numbers = [q for q in questions if q.intent == "filter_number"]
    assert all(q.condition.table == "employees" and q.condition.column == "salary"
               for q in numbers)
    dated = [q for q in questions if q.intent == "filter_date"]
    assert dated and all(q.condition.column == "hired_at" for q in dated)
    # the time field's date conditions are also Filter dates
    assert all(q.filter["date_from"] or q.filter["date_to"] for q in dated)


def test_single_table_labels_and_join_labels_follow_the_convention(shop, built):
    single = [ex for ex in _every(built) if ex.hops == 0]
    assert single and all(ex.anchor == ex.target and ex.via == () for ex in single)
    schema, database = shop
    builder = DatasetBuilder(schema, database, DatasetConfig())

    def intents(path_id: str, lang: str = "en") -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for seed in range(3):
            for q in builder.usage.candidates(builder.vocab.path_by_id[path_id], lang,
                                              random.Random(seed)):
                out.setdefault(q.intent, []).append(q.text)
        return out

    # "How many employees does each department have?" -> (departments, [], employees): the
    # grouping key is the anchor; departments -> employees fans out.
    grouped = intents("departments>employees")
    assert any("each department" in q or "per department" in q for q in grouped["group_count"])
    assert "superlative" not in grouped
    # "Which customer has the most orders?" -> (orders, [], customers): the counted table is
    # the anchor, the ranked one the target; that path does not fan out, so no group counts.
    ranked = intents("orders>customers")
    assert any("customer" in q and ("most orders" in q or "fewest orders" in q)
               for q in ranked["superlative"])
    assert "group_count" not in ranked
    # a column instead of the table word: "What is the salary of Person A Novak?"
    mentions = intents("departments>employees")["lookup"]
    assert any("salary" in q or "city" in q for q in mentions)


def test_rows_named_by_any_name_like_column(shop):
    """Entities are not only display values: another mostly-distinct text column (email)
    names anchor rows too, stored as an `eq` condition on the anchor."""
    schema, database = shop
    builder = DatasetBuilder(schema, database, DatasetConfig())
    path = builder.vocab.path_by_id["employees>orders"]
    named = [q for seed in range(12)
             for q in builder.usage.candidates(path, "en", random.Random(seed))
             if q.condition is not None and q.condition.table == "employees"]
    by_email = [q for q in named if q.condition.column == "email"]
    assert by_email and all(q.condition.op == "eq" and q.entity in q.text
                            and q.filter["entity"] is None for q in by_email)
    assert builder.verify([]) == []
    # and they execute: every such question's condition reaches orders
    for q in by_email:
        assert q.condition.value in builder.filler.reachable_values(path, "email")


def test_intents_in_the_built_dataset(built):
    every = _every(built)
    cats = Counter(ex.category for ex in every)
    for intent in ("count", "filter_text", "filter_number", "filter_date", "group_count",
                   "superlative", "aggregate", "exists", "lookup"):
        assert cats[intent] > 0, intent
    lookups = Counter(ex.category for ex in every if ex.style != "usage")
    assert sum(lookups.values()) > 0  # today's entity lookups are still mixed in
    # a value named by a non-display column goes to `condition`, never to Filter.entity
    for ex in every:
        if ex.filter["entity"] is not None:
            assert ex.filter["entity"] in ex.question
    named = [ex for ex in every if ex.condition and ex.condition.op == "eq"]
    assert named and all(str(ex.condition.value) in ex.question for ex in named)


def test_no_doubled_plurals(built):
    text = " ".join(ex.question.lower() for ex in _every(built))
    for bad in ("orderses", "orderss", "employeeses", "customerss", "departmentses"):
        assert bad not in text
    assert "orders" in text and "employees" in text


def test_chinese_without_chinese_synonyms(built):
    zh = [ex for ex in _every(built) if ex.language == "zh"]
    assert len(zh) > 20
    joined = "".join(ex.question for ex in zh)
    assert "员工" in joined and "订单" in joined and "客户" in joined  # built-in dictionary


def test_datetime_values_build_and_verify(built, shop):
    schema, database = shop
    dated = [ex for ex in _every(built) if ex.category in ("filter_date", "time_range")]
    assert {ex.target for ex in dated} >= {"employees", "orders"}  # "date" and "datetime"
    builder = DatasetBuilder(schema, database, DatasetConfig())
    assert builder.verify(dated) == dated  # every date condition finds rows


def test_impossible_unambiguous_wording_still_builds_with_a_warning(tmp_path):
    """Two tables called by the same word: lookups cannot be told apart, the tiny data holds
    few distinct usage questions. The build degrades instead of failing."""
    schema = Schema.from_dict({
        "name": "twins", "rules": {"max_hops": 1},
        "tables": {
            "box": {"key": "id", "display": "label", "synonyms": {"en": ["thing"]},
                    "fields": {"id": "int", "label": "str"}},
            "crate": {"key": "id", "display": "label", "synonyms": {"en": ["thing"]},
                      "fields": {"id": "int", "label": "str", "box_id": "int"}},
        },
        "relations": [{"from": "crate.box_id", "to": "box.id"}],
    })
    url = f"sqlite:///{tmp_path / 'twins.db'}"
    write_sql(url, schema, {"box": [{"id": 1, "label": "B1"}, {"id": 2, "label": "B2"}],
                            "crate": [{"id": 1, "label": "C1", "box_id": 1},
                                      {"id": 2, "label": "C2", "box_id": 2}]})
    database = SQLDatabase(schema, url)
    with pytest.warns(DatasetWarning, match="fewer examples"):
        splits = build_dataset(schema, database, DatasetConfig(examples_per_path=30,
                                                               min_per_path=20))
    database.close()
    report = splits.report
    assert report["short_paths"] and report["warning_count"] > 0
    assert sum(report["per_path"].values()) == sum(len(v) for v in splits.values()) > 0


def test_surrogate_keys_never_name_rows_but_the_table_is_still_asked_about(tmp_path):
    """A table only an integer key could name ("readings 23") gets no entity questions; its
    paths still get usage questions (counts over it, filters on its numbers)."""
    schema = Schema.from_dict({
        "name": "meters", "rules": {"max_hops": 1},
        "tables": {
            "sensors": {"key": "id", "display": "id", "fields": {
                "id": "int", "label": "str", "site": "str"}},
            "readings": {"key": "id", "display": "id", "fields": {
                "id": "int", "value": "float", "sensor_id": "int"}},
        },
        "relations": [{"from": "readings.sensor_id", "to": "sensors.id"}],
    })
    url = f"sqlite:///{tmp_path / 'm.db'}"
    write_sql(url, schema, {
        "sensors": [{"id": i, "label": f"S-{i}", "site": ("north", "south")[i % 2]}
                    for i in range(1, 7)],
        "readings": [{"id": i, "value": float(i * 7 % 23), "sensor_id": 1 + i % 6}
                     for i in range(1, 41)]})
    database = SQLDatabase(schema, url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)
        splits = build_dataset(schema, database, DatasetConfig(examples_per_path=6,
                                                               min_per_path=4))
    database.close()
    every = _every(splits)
    from_readings = [ex for ex in every if ex.anchor == "readings"]
    assert {ex.path_id for ex in from_readings} == {"readings", "readings>sensors"}
    assert not any(ex.filter["entity"] or (ex.condition and ex.condition.column == "id")
                   for ex in from_readings)
    assert {"superlative", "filter_number"} & {ex.category for ex in from_readings
                                                if ex.path_id == "readings>sensors"}
    # sensors are named by their label, never by the key
    assert any(ex.condition and ex.condition.column == "label" for ex in every)
