"""The hand-labelled benchmark files are valid, and the Spider SQL -> route derivation labels
hand-written SQL as docs/benchmarks.md says. The data is only checked here, never trained on."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from pathrl.demo import demo_schema
from pathrl.errors import PathrlError
from pathrl.paths import PathVocab

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import realistic_demo  # noqa: E402
import spider_labels  # noqa: E402
import spider_routes  # noqa: E402
import spider_sqlite  # noqa: E402

QUESTIONS = BENCHMARKS / "realistic_demo.jsonl"


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def vocab() -> PathVocab:
    return PathVocab.from_schema(demo_schema())


def test_every_row_has_the_fields_and_a_legal_label(rows, vocab):
    for row in rows:
        assert set(realistic_demo.FIELDS) <= set(row), row
        assert vocab.is_legal(row["anchor"], row["target"], row["via"]), row
    parsed = realistic_demo.load_questions(QUESTIONS)  # the script's own checks (hops, enums)
    assert len(parsed) == len(rows)


def test_every_legal_path_of_the_demo_is_asked_at_least_once(rows, vocab):
    asked = {(r["anchor"], r["target"], tuple(r["via"])) for r in rows}
    assert set(vocab.triples) <= asked


def test_size_and_no_duplicate_questions(rows):
    assert len(rows) >= 200
    questions = [" ".join(r["question"].lower().split()) for r in rows]
    assert len(set(questions)) == len(questions)
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids)


def test_language_and_hop_mix_as_documented(rows):
    n = len(rows)
    languages = Counter(r["language"] for r in rows)
    assert languages["zh"] / n >= 0.35
    hops = Counter(r["hops"] for r in rows)
    assert 0.45 <= hops[0] / n <= 0.55  # about half single-table
    assert 0.20 <= hops[1] / n <= 0.30  # about a quarter one-hop
    assert hops[2] >= 20 and hops[3] >= 15
    # Every intent is represented, and the language field matches the text.
    assert set(realistic_demo.INTENTS) <= {r["intent"] for r in rows}
    for r in rows:
        has_cjk = any("\u4e00" <= ch <= "\u9fff" for ch in r["question"])
        assert has_cjk == (r["language"] == "zh"), r


def test_the_questions_use_real_demo_values(rows):
    from pathrl.demo import demo_rows

    data = demo_rows()
    names = {p["name"] for p in data["project"]} | {s["name"] for s in data["supplier"]} | {
        e["name"] for e in data["employee"]} | {c["contract_no"] for c in data["contract"]}
    with_entity = [r for r in rows if any(name in r["question"] for name in names)]
    assert len(with_entity) >= 80


def test_a_bad_row_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "question": "q", "language": "en", "anchor": "project",
                               "via": [], "target": "contract", "intent": "list", "hops": 0}))
    with pytest.raises(PathrlError, match="hops is 0, the route has 1"):
        realistic_demo.load_questions(bad)


def test_score_counts_table_sets_and_missing_routes():
    gold = [("project", "supplier", ("contract",)), ("project", "project", ()),
            ("supplier", "contract", ())]
    predicted = [("supplier", "project", ("contract",)), ("project", "project", ()), None]
    s = realistic_demo.score(gold, predicted)
    assert (s.exact_match, s.table_set_match, s.no_route_rate) == (0.3333, 0.6667, 0.3333)
    assert s.via_accuracy == 0.6667 and s.anchor_accuracy == 0.3333


# -- Spider SQL -> route derivation (hand-written SQL, no download) ---------------------------
# sqlglot comes with the `bench` extra (`make test` installs it).
needs_sqlglot = pytest.mark.skipif(importlib.util.find_spec("sqlglot") is None,
                                   reason="sqlglot (the bench extra) is not installed")

DB = spider_labels.SpiderDb(
    "department_management",
    {"department": ("department_id", "name", "creation", "budget"),
     "head": ("head_id", "name", "born_state", "age"),
     "management": ("department_id", "head_id", "temporary_acting")},
    (("management", "department_id", "department", "department_id"),
     ("management", "head_id", "head", "head_id")))


def label(sql: str):
    return spider_labels.derive_label(sql, DB)


@needs_sqlglot
def test_single_table_count_with_condition():
    got = label("SELECT count(*) FROM head WHERE age  >  56")
    assert (got.anchor, got.via, got.target, got.unroutable) == ("head", (), "head", "")


@needs_sqlglot
def test_join_condition_table_is_the_anchor():
    got = label("SELECT DISTINCT T1.creation FROM department AS T1 JOIN management AS T2 ON "
                "T1.department_id  =  T2.department_id JOIN head AS T3 ON T2.head_id  =  "
                "T3.head_id WHERE T3.born_state  =  'Alabama'")
    assert (got.anchor, got.via, got.target) == ("head", ("management",), "department")
    assert got.hops == 2


@needs_sqlglot
def test_group_by_key_is_the_anchor_and_count_star_targets_the_other_table():
    got = label("SELECT T1.name, count(*) FROM department AS T1 JOIN management AS T2 ON "
                "T1.department_id = T2.department_id GROUP BY T1.department_id")
    assert (got.anchor, got.via, got.target) == ("department", (), "management")


@needs_sqlglot
def test_grouping_by_a_foreign_key_column_groups_by_the_referenced_table():
    got = label("SELECT T2.name, count(*) FROM management AS T1 JOIN department AS T2 ON "
                "T1.department_id = T2.department_id GROUP BY T1.department_id")
    assert (got.anchor, got.via, got.target) == ("department", (), "management")


@needs_sqlglot
def test_no_condition_on_a_join_is_anchored_at_the_other_end():
    got = label("SELECT T2.name FROM management AS T1 JOIN head AS T2 ON T1.head_id = "
                "T2.head_id")
    assert (got.anchor, got.target) == ("management", "head")


@needs_sqlglot
def test_set_operations_and_nested_multi_table_queries_are_unroutable():
    union = label("SELECT name FROM head WHERE age > 60 UNION SELECT name FROM head "
                  "WHERE age < 40")
    assert union.unroutable == "set operation"
    nested = label("SELECT name FROM head WHERE head_id NOT IN (SELECT head_id FROM "
                   "management)")
    assert nested.unroutable == "nested subquery over other tables"
    same_table = label("SELECT name FROM head WHERE age > (SELECT avg(age) FROM head)")
    assert same_table.unroutable == "" and same_table.target == "head"


@needs_sqlglot
def test_tables_without_a_foreign_key_chain_are_unroutable():
    db = spider_labels.SpiderDb("xy", {"x": ("a", "k"), "y": ("k",)}, ())
    got = spider_labels.derive_label("SELECT T1.a FROM x AS T1 JOIN y AS T2 ON T1.k = T2.k", db)
    assert got.unroutable == "tables not joined by a foreign-key chain"


@needs_sqlglot
def test_unparseable_sql_is_unroutable_not_a_crash():
    assert label("SELEKT what FROM").unroutable.startswith("unparseable")


def test_the_fallback_converter_makes_a_routable_schema_from_a_tables_json_entry():
    entry = {
        "db_id": "shop", "table_names_original": ["Customer", "Orders", "Self"],
        "column_names_original": [[-1, "*"], [0, "Customer_ID"], [0, "Name"], [1, "Order_ID"],
                                  [1, "Customer_ID"], [1, "Total"], [1, "Bad Name"],
                                  [2, "id"], [2, "parent_id"]],
        "column_types": ["text", "number", "text", "number", "number", "number", "text",
                         "number", "number"],
        "primary_keys": [1, 3, 7], "foreign_keys": [[4, 1], [4, 1], [8, 7]],
    }
    schema = spider_routes.convert_spider_schema(entry)
    assert schema.table_names == ("customer", "orders", "self")
    assert [r.label for r in schema.relations] == ["orders.customer_id -> customer.customer_id"]
    orders = schema.table("orders")
    assert (orders.key, orders.field("total").type, orders.field("customer_id").type) == (
        "order_id", "float", "int")
    assert "bad name" not in orders.field_names and schema.table("customer").display == "name"
    vocab = PathVocab.from_schema(schema)
    assert vocab.is_legal("customer", "orders", ()) and vocab.is_legal("self", "self", ())


def test_train_questions_from_gold_sql_and_break_drop_train_others(tmp_path):
    # train_gold.sql interleaves train_others databases; dropping them must leave
    # train_spider.json's order, which BREAK's SPIDER_train_<index> ids refer to.
    lines = []
    for i in range(spider_labels.TRAIN_SPIDER_SIZE):
        if i == 3:
            lines.append("SELECT count(*) FROM state\tgeo")
        lines.append(f"SELECT c{i} FROM t\t{'db_a' if i < 5 else 'db_b'}")
    (tmp_path / "train_gold.sql").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "break_train_spider.csv").write_text(
        "question_id,question_text,decomposition,program,operators,split\n"
        "SPIDER_train_6999,Last one?,x,x,x,train\n"
        "SPIDER_train_4,\"Fifth, one?\",x,x,x,train\n"
        "SPIDER_dev_1,never read,x,x,x,dev\n", encoding="utf-8")
    got = spider_labels.load_train_questions(tmp_path)
    assert [(q.index, q.db_id, q.question, q.sql) for q in got] == [
        (4, "db_a", "Fifth, one?", "SELECT c4 FROM t"),
        (6999, "db_b", "Last one?", "SELECT c6999 FROM t")]


def test_a_misaligned_gold_file_is_a_clear_error(tmp_path):
    (tmp_path / "train_gold.sql").write_text("SELECT 1\tdb_a\n", encoding="utf-8")
    (tmp_path / "break_train_spider.csv").write_text("question_id,question_text\n")
    with pytest.raises(PathrlError, match="cannot align"):
        spider_labels.load_train_questions(tmp_path)


def test_databases_are_chosen_by_the_documented_rule(tmp_path):
    def db(db_id: str, n_tables: int, n_fks: int) -> spider_labels.SpiderDb:
        tables = {f"t{i}": ("id",) for i in range(n_tables)}
        fks = tuple(("t0", "id", f"t{i + 1}", "id") for i in range(n_fks))
        return spider_labels.SpiderDb(db_id, tables, fks)

    tables = {"b_ok": db("b_ok", 3, 2), "a_ok": db("a_ok", 4, 3), "c_small": db("c_small", 2, 1),
              "d_few_keys": db("d_few_keys", 5, 1), "e_no_file": db("e_no_file", 3, 2),
              "f_few_questions": db("f_few_questions", 3, 2)}
    for db_id in tables:
        if db_id != "e_no_file":
            spider_labels.sqlite_file(tmp_path, db_id).parent.mkdir(parents=True)
            spider_labels.sqlite_file(tmp_path, db_id).touch()
    questions = [spider_labels.SpiderQuestion(i, db_id, "q", "SELECT 1")
                 for db_id in tables for i in range(10 if db_id == "f_few_questions" else 40)]
    assert spider_labels.select_databases(tmp_path, tables, questions, 8) == ["a_ok", "b_ok"]
    assert spider_labels.select_databases(tmp_path, tables, questions, 1) == ["a_ok"]


def test_spiderman_csvs_become_a_sqlite_file_with_spiders_names(tmp_path):
    import sqlite3

    entry = {
        "db_id": "shop", "table_names_original": ["Customer", "Orders"],
        "column_names_original": [[-1, "*"], [0, "Customer_ID"], [0, "Name"], [1, "Order_ID"],
                                  [1, "Customer_ID"], [1, "Total"], [1, "Placed"]],
        "column_types": ["text", "number", "text", "number", "number", "number", "time"],
        "primary_keys": [1, 3], "foreign_keys": [[4, 1]],
    }
    source = tmp_path / "spiderman" / "shop"
    (source / "data").mkdir(parents=True)
    (source / "schema.sql").write_text(
        "CREATE TABLE `shop`.`orders` (\n    `order_id` INT(11) NOT NULL,\n"
        "    `Total` DECIMAL(10,2),\n    `placed` DATE\n);\n", encoding="utf-8")
    (source / "data" / "customer.csv").write_text("customer_id,NAME\n1,Ann\n2,Bo\n")
    # Two rows share an order id: SpiderMan's data is kept whole, not de-duplicated.
    (source / "data" / "orders.csv").write_text(
        "Order_ID,customer_id,total,placed\n7,1,9.5,2020-01-02\n7,2,,2021-03-04\n")
    out = tmp_path / "shop.sqlite"
    report = spider_sqlite.build_database(entry, source, out)
    assert report == {"tables": 2, "rows": 4, "null_columns": []}
    with sqlite3.connect(out) as con:
        assert con.execute('SELECT * FROM "Orders" ORDER BY "Customer_ID"').fetchall() == [
            (7, 1, 9.5, "2020-01-02"), (7, 2, None, "2021-03-04")]
        declared = {row[1]: row[2] for row in con.execute('PRAGMA table_info("Orders")')}
        assert declared == {"Order_ID": "INT(11)", "Customer_ID": "NUMERIC",
                            "Total": "DECIMAL(10,2)", "Placed": "DATE"}
        assert con.execute('PRAGMA foreign_key_list("Orders")').fetchone()[2:5] == (
            "Customer", "Customer_ID", "Customer_ID")


def test_spider_sqlite_refuses_a_database_outside_the_train_split(tmp_path, capsys):
    (tmp_path / "tables.json").write_text(json.dumps([{"db_id": "dev_db"}]))
    (tmp_path / "train_gold.sql").write_text("SELECT 1\ttrain_db\n")
    assert spider_sqlite.main(["--spider", str(tmp_path), "--spiderman", str(tmp_path),
                               "--db", "dev_db"]) == 1
    assert "not a Spider train database: dev_db" in capsys.readouterr().err


def test_spider_sqlite_names_a_missing_spiderman_directory(tmp_path, capsys):
    (tmp_path / "tables.json").write_text("[]")
    (tmp_path / "train_gold.sql").write_text("SELECT 1\ttrain_db\n")
    assert spider_sqlite.main(["--spider", str(tmp_path), "--spiderman",
                               str(tmp_path / "nowhere")]) == 1
    assert "nowhere is not a directory" in capsys.readouterr().err
