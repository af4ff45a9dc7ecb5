"""Answers, not rows: the answer builders (SQL on the demo SQLite, MQL on mongomock) give the
same numbers as the demo rows counted in Python; RoutedQA with a fixed route answers counts,
groups, rankings, aggregates, existence and attributes, and says when it shows rows along the
route instead; values stay bound parameters."""

from __future__ import annotations

import importlib.util
import math
import sys
from collections import Counter
from pathlib import Path

import pytest

from pathrl.data.example import Condition
from pathrl.db import open_database
from pathrl.demo import demo_rows, demo_schema
from pathrl.paths import PathVocab
from pathrl.pipeline import RoutedQA
from pathrl.query import AnswerShape, ColumnRef, answer_rows, mongo_answer_query, sql_answer_query
from pathrl.router.protocol import RankedRoute, Router, Routing

SCHEMA = demo_schema()
VOCAB = PathVocab.from_schema(SCHEMA)
ROWS = demo_rows(7)
BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "realistic_answers.py"


class FixedRouter:
    """A `Router` that routes every question to one legal path."""

    vocab = VOCAB

    def __init__(self, path_id: str):
        self.path = VOCAB.path_by_id[path_id]

    def route_batch(self, questions, top_k=3):
        return [Routing(q, [RankedRoute(self.path, 1.0)]) for q in questions]


@pytest.fixture(scope="module")
def sqlite():
    return open_database(SCHEMA, "sqlite", demo_seed=7)


@pytest.fixture(scope="module")
def mongo():
    return open_database(SCHEMA, "mongo", demo_seed=7)


def by_id(table):
    return {r["id"]: r for r in ROWS[table]}


def contracts_per_supplier() -> Counter:
    return Counter(c["supplier_id"] for c in ROWS["contract"])


def run_both(sqlite, mongo, path_id, shape, entities=()):
    path = VOCAB.path_by_id[path_id]
    sql = sqlite.execute(sql_answer_query(SCHEMA, path.hops, path.anchor, shape, entities,
                                          sqlite.engine.dialect))
    mql = mongo.execute(mongo_answer_query(SCHEMA, path.hops, path.anchor, shape, entities))
    assert sql.status != "error" and mql.status != "error", (sql.error, mql.error)
    return answer_rows(shape, sql.rows), answer_rows(shape, mql.rows)


def same(a, b) -> bool:
    canon = [sorted(tuple(sorted((k, round(v, 4) if isinstance(v, float) else v)
                                 for k, v in row.items())) for row in rows) for rows in (a, b)]
    return canon[0] == canon[1]


# -- the builders ------------------------------------------------------------------------------

def test_group_count_per_anchor_row(sqlite, mongo):
    shape = AnswerShape("group_count", "contract", group_table="supplier")
    sql, mql = run_both(sqlite, mongo, "supplier>contract", shape)
    assert same(sql, mql)
    assert {r["id"]: r["count"] for r in sql} == dict(contracts_per_supplier())
    counts = [r["count"] for r in sql]
    assert counts == sorted(counts, reverse=True)  # most first


def test_counts_follow_fan_out_joins_once(sqlite, mongo):
    """Invoices per supplier across payments of contracts: each invoice counts once."""
    shape = AnswerShape("group_count", "invoice", group_table="supplier")
    sql, mql = run_both(sqlite, mongo, "supplier>contract>payment>invoice", shape)
    assert same(sql, mql)
    contracts, payments = by_id("contract"), by_id("payment")
    truth = Counter(contracts[payments[i["payment_id"]]["contract_id"]]["supplier_id"]
                    for i in ROWS["invoice"])
    assert {r["id"]: r["count"] for r in sql} == dict(truth)


def test_superlative_by_count_keeps_ties(sqlite, mongo):
    shape = AnswerShape("superlative", "contract", group_table="supplier", function="count")
    sql, mql = run_both(sqlite, mongo, "contract>supplier", shape)
    assert same(sql, mql)
    counts = contracts_per_supplier()
    top = max(counts.values())
    assert {r["id"] for r in sql} == {s for s, n in counts.items() if n == top}
    assert all(r["count"] == top for r in sql)


def test_superlative_by_column_and_by_total(sqlite, mongo):
    shape = AnswerShape("superlative", "project", column=ColumnRef("project", "budget"),
                        descending=False)
    sql, mql = run_both(sqlite, mongo, "project", shape)
    assert same(sql, mql)
    lowest = min(p["budget"] for p in ROWS["project"])
    assert [r["budget"] for r in sql] == [lowest]
    total = AnswerShape("superlative", "contract", group_table="project", function="sum",
                        column=ColumnRef("contract", "amount"))
    sql, mql = run_both(sqlite, mongo, "contract>project", total)
    assert same(sql, mql)
    sums = Counter()
    for c in ROWS["contract"]:
        sums[c["project_id"]] += c["amount"]
    best = max(sums.values())
    assert [r["id"] for r in sql] == [p for p, v in sums.items() if v == best]
    assert math.isclose(sql[0]["value"], best)


def test_aggregates_with_conditions_and_entities(sqlite, mongo):
    project = ROWS["project"][0]
    shape = AnswerShape("aggregate", "contract", column=ColumnRef("contract", "amount"),
                        function="sum", conditions=(Condition("contract", "signed_date",
                                                              "after", "2020-12-31"),))
    sql, mql = run_both(sqlite, mongo, "project>contract", shape, (project["name"],))
    assert same(sql, mql)
    truth = sum(c["amount"] for c in ROWS["contract"] if c["project_id"] == project["id"]
                and c["signed_date"].isoformat() > "2020-12-31")
    assert math.isclose(sql[0]["value"], truth)
    average = AnswerShape("aggregate", "project", column=ColumnRef("project", "budget"),
                          function="avg", group_table="project", group_column="region")
    sql, mql = run_both(sqlite, mongo, "project", average)
    assert same(sql, mql)
    for row in sql:
        budgets = [p["budget"] for p in ROWS["project"] if p["region"] == row["region"]]
        assert math.isclose(row["value"], sum(budgets) / len(budgets))


@pytest.mark.parametrize("condition,keep", [
    (Condition("invoice", "amount", "gt", 1e6), lambda i: i["amount"] > 1e6),
    (Condition("invoice", "amount", "lte", 1e6), lambda i: i["amount"] <= 1e6),
    (Condition("invoice", "amount", "between", 1e6, 3e6), lambda i: 1e6 <= i["amount"] <= 3e6),
    (Condition("invoice", "issue_date", "year", "2023"), lambda i: i["issue_date"].year == 2023),
    (Condition("invoice", "issue_date", "before", "2021-03-01"),
     lambda i: i["issue_date"].isoformat() < "2021-03-01"),
    (Condition("invoice", "issue_date", "between", "2022-03-01", "2022-03-31"),
     lambda i: "2022-03-01" <= i["issue_date"].isoformat() <= "2022-03-31"),
])
def test_count_and_rows_under_conditions(sqlite, mongo, condition, keep):
    truth = {i["id"] for i in ROWS["invoice"] if keep(i)}
    count = AnswerShape("count", "invoice", (condition,))
    sql, mql = run_both(sqlite, mongo, "invoice", count)
    assert sql == mql == [{"count": len(truth)}]
    rows = AnswerShape("rows", "invoice", (condition,))
    sql, mql = run_both(sqlite, mongo, "invoice", rows)
    assert {r["id"] for r in sql} == {r["id"] for r in mql} == truth


def test_an_empty_count_is_zero_on_both_backends(sqlite, mongo):
    shape = AnswerShape("exists", "contract", (Condition("contract", "amount", "gt", 1e15),))
    assert run_both(sqlite, mongo, "contract", shape) == ([{"count": 0}], [{"count": 0}])


def test_values_are_bound_parameters():
    """A hostile value changes the parameters, never the query text."""
    path = VOCAB.path_by_id["supplier>contract"]
    shape = AnswerShape("count", "contract", (Condition("supplier", "country", "eq", "Turkey"),))
    hostile = AnswerShape("count", "contract", (Condition(
        "supplier", "country", "eq", "x' OR '1'='1'; DROP TABLE contract; --"),))
    benign = sql_answer_query(SCHEMA, path.hops, path.anchor, shape, ("Delta Logistics",))
    evil = sql_answer_query(SCHEMA, path.hops, path.anchor, hostile, ("a'); DELETE FROM x; --",))
    assert benign.text == evil.text and "DROP" not in evil.text and "DELETE" not in evil.text
    assert "x' OR '1'='1'; DROP TABLE contract; --" in evil.params.values()
    mql = mongo_answer_query(SCHEMA, path.hops, path.anchor, hostile)
    match = next(stage["$match"] for stage in mql.pipeline if "$match" in stage)
    assert match == {"country": {"$eq": "x' OR '1'='1'; DROP TABLE contract; --"}}


def test_a_table_off_the_route_is_refused():
    from pathrl.errors import PathrlError

    path = VOCAB.path_by_id["invoice"]
    with pytest.raises(PathrlError, match="not on the route"):
        sql_answer_query(SCHEMA, path.hops, path.anchor, AnswerShape("count", "project"))


# -- RoutedQA end to end -----------------------------------------------------------------------

def ask(database, path_id, question):
    router = FixedRouter(path_id)
    assert isinstance(router, Router)
    return RoutedQA(router, database).ask(question)


def test_group_count_answer(sqlite):
    answer = ask(sqlite, "supplier>contract", "How many contracts does each supplier have?")
    assert answer.answer_kind == "answer" and answer.intent.kind == "group_count"
    assert answer.intent.description == "count of contract rows per supplier"
    assert {r["id"]: r["count"] for r in answer.rows} == dict(contracts_per_supplier())
    assert answer.status == "no_entity" and "24 groups" in answer.message
    data = answer.to_dict()
    assert data["answer_kind"] == "answer" and data["intent"]["kind"] == "group_count"


def test_filtered_rows_are_an_answer(sqlite):
    answer = ask(sqlite, "invoice", "Show invoices over 1,000,000")
    truth = {i["id"] for i in ROWS["invoice"] if i["amount"] > 1e6}
    assert answer.status == "ok" and answer.answer_kind == "answer"
    assert {r["id"] for r in answer.rows} == truth and len(truth) < len(ROWS["invoice"])
    assert "1000000" not in answer.query and "1,000,000" in answer.message


@pytest.mark.parametrize("backend", ["sqlite", "mongo"])
def test_answers_on_both_backends(sqlite, mongo, backend):
    database = sqlite if backend == "sqlite" else mongo
    count = ask(database, "project", "How many domestic projects are there?")
    assert count.value == sum(p["region"] == "domestic" for p in ROWS["project"])
    top = ask(database, "contract>supplier", "Which supplier has the most contracts?")
    counts = contracts_per_supplier()
    assert {r["id"] for r in top.rows} == {s for s, n in counts.items()
                                           if n == max(counts.values())}
    assert top.value == max(counts.values())
    total = ask(database, "project>contract", "项目 Riyadh Railway 的合同总金额是多少？")
    pid = ROWS["project"][0]["id"]
    assert total.entity == "Riyadh Railway" and total.intent.kind == "aggregate"
    assert math.isclose(total.value, sum(c["amount"] for c in ROWS["contract"]
                                         if c["project_id"] == pid))
    exists = ask(database, "supplier", "有没有评级为C的供应商？")
    assert exists.value is True and exists.message.endswith(": yes")
    budget = ask(database, "project", "What is the budget of Riyadh Railway?")
    assert budget.rows == [{"id": pid, "name": "Riyadh Railway",
                            "budget": ROWS["project"][0]["budget"]}]


def test_an_answer_over_nothing_is_empty(sqlite):
    answer = ask(sqlite, "contract", "Is there any contract over 100 billion?")
    assert answer.intent.kind == "exists" and answer.value is False
    assert answer.status == "empty" and answer.message.endswith(": no")


def test_what_is_not_understood_is_said(sqlite):
    answer = ask(sqlite, "contract", "How many contracts does each project have?")
    assert answer.answer_kind == "rows_along_route" and answer.intent.fell_back
    assert answer.result.count == len(ROWS["contract"]) and answer.status == "no_entity"
    assert "'each project'" in answer.message and "not understood" in answer.message
    assert "unfiltered" in answer.message


def test_plain_lookups_keep_their_behaviour(sqlite):
    """A listing: the entity lookup as before (one query per anchor row holding a shared
    value), now with an intent and an answer kind."""
    name = ROWS["project"][0]["name"]
    found = ask(sqlite, "project>contract", f"List the contracts of project {name}")
    assert found.status == "ok" and found.entity == name and found.answer_kind == "answer"
    assert found.intent.kind == "rows"
    kenya = ask(sqlite, "project>contract", "contracts of the projects in Kenya")
    holders = sorted(p["name"] for p in ROWS["project"] if p["country"] == "Kenya")
    assert kenya.entities == holders and kenya.matched_field == "country"
    everything = ask(sqlite, "contract", "List all contracts")
    assert everything.status == "no_entity" and everything.answer_kind == "rows_along_route"
    missing = ask(sqlite, "project>contract", "How many contracts does project harmless have?")
    assert missing.status == "entity_not_found" and missing.result is None


def test_a_quote_in_a_name_stays_a_parameter(sqlite):
    answer = ask(sqlite, "project>contract", "What is the total contract amount of Xi'an Metro "
                                             "Line?")
    assert answer.entity == "Xi'an Metro Line" and answer.value is not None
    assert "Xi'an" not in answer.query and "Metro" not in answer.query


def test_sql_like_words_in_a_question_change_no_query(sqlite):
    plain = ask(sqlite, "invoice", "How many invoices are over 1,000,000?")
    hostile = ask(sqlite, "invoice", "How many invoices are over 1,000,000 or 1=1; drop table "
                                     "invoice?")
    assert hostile.query == plain.query and hostile.value == plain.value
    assert "drop" not in hostile.query.lower()


# -- the benchmark file ------------------------------------------------------------------------

def _benchmark():
    spec = importlib.util.spec_from_file_location("realistic_answers", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    sys.modules["realistic_answers"] = module
    spec.loader.exec_module(module)
    return module


def test_benchmark_questions_are_valid(sqlite):
    bench = _benchmark()
    questions = bench.load_questions()
    assert len(questions) >= 60 and len({q.id for q in questions}) == len(questions)
    assert {q.language for q in questions} == {"en", "zh"}
    assert set(bench.INTENTS) == {q.intent for q in questions}
    for q in questions:
        assert VOCAB.is_legal(*q.triple), q.id
        gold = sqlite.execute(q.gold_sql)
        assert gold.status != "error" and gold.rows, (q.id, gold.error)
        if q.compare == "value":
            assert len(gold.rows) == 1 and len(gold.rows[0]) == 1, q.id


def test_benchmark_comparison():
    bench = _benchmark()
    assert bench.same_value(10, 10.0) and not bench.same_value(10, 11)
    assert bench.same_value(1, True) and not bench.same_value(0, True)
    gold = [{"id": "a", "count": 2}, {"id": "b", "count": 1}]
    assert bench.same_rows(gold, [{"id": "b", "name": "B", "count": 1},
                                  {"id": "a", "name": "A", "count": 2}])
    assert not bench.same_rows(gold, [{"id": "a", "count": 2}])
    assert not bench.same_rows(gold, [{"id": "a"}, {"id": "b"}])  # a count column missing
