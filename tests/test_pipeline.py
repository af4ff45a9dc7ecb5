"""Question -> rows with any `Router`: entity found (display value or another column), named but
not found (said, with suggestions, and no query), ambiguous, not named; and `pathrl route`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pathrl.cli import app
from pathrl.db import open_database
from pathrl.demo import demo_rows, demo_schema
from pathrl.paths import PathVocab
from pathrl.pipeline import MAX_ROWS_PER_VALUE, RoutedQA
from pathrl.query import Filter
from pathrl.router import protocol
from pathrl.router.baselines import make_baseline
from pathrl.router.protocol import RankedRoute, Routing

SCHEMA = demo_schema()
VOCAB = PathVocab.from_schema(SCHEMA)
ROWS = demo_rows(7)
PROJECT_CONTRACTS = ("project", "contract", ())
CONTRACTS = ("contract", "contract", ())


class FixedRouter:
    """A `Router` that always routes to one legal path (or to none)."""

    vocab = VOCAB

    def __init__(self, triple=None):
        self.triple = triple

    def route_batch(self, questions, top_k=3):
        routes = [RankedRoute(VOCAB.path(*self.triple), 0.9)] if self.triple else []
        return [Routing(q, routes) for q in questions]


class CountingDatabase:
    """The demo database, counting the route queries it runs."""

    def __init__(self, database):
        self.inner, self.schema, self.runs = database, database.schema, 0

    def run_path(self, path, flt=Filter()):
        self.runs += 1
        return self.inner.run_path(path, flt)

    def execute_hops(self, hops, anchor, flt):
        return self.inner.execute_hops(hops, anchor, flt)


@pytest.fixture(scope="module")
def database():
    return open_database(SCHEMA, "sqlite", demo_seed=7)


def qa(database, triple=PROJECT_CONTRACTS) -> tuple[RoutedQA, CountingDatabase]:
    counting = CountingDatabase(database)
    return RoutedQA(FixedRouter(triple), counting), counting


def contracts_of(project_name: str) -> set[str]:
    pid = next(p["id"] for p in ROWS["project"] if p["name"] == project_name)
    return {c["id"] for c in ROWS["contract"] if c["project_id"] == pid}


def test_display_value_found(database):
    name = ROWS["project"][0]["name"]
    answer = qa(database)[0].ask(f"List the contracts of project {name.upper()}")
    assert answer.status == "ok" and answer.entity == name
    assert answer.matched_field == "name" and answer.mention == name.upper()
    assert {r["id"] for r in answer.rows} == contracts_of(name)
    data = answer.to_dict()
    assert data["status"] == "ok" and data["route"]["path"] == "project>contract"
    assert data["count"] == len(contracts_of(name)) and "contract" in data["query"]
    assert name not in data["query"]  # the value is a bound parameter, never query text


def test_value_of_another_column_names_its_row(database):
    project = ROWS["project"][2]
    answer = qa(database)[0].ask(f"contracts of project {project['id']}")
    assert answer.status == "ok" and answer.entity == project["name"]
    assert answer.matched_field == "id" and answer.mention == project["id"]
    assert {r["id"] for r in answer.rows} == contracts_of(project["name"])


def test_value_shared_by_several_rows_stands_for_all_of_them(database, monkeypatch):
    country = "Kenya"
    holders = sorted(p["name"] for p in ROWS["project"] if p["country"] == country)
    assert len(holders) > 1
    router, db = qa(database)
    answer = router.ask(f"contracts of the projects in {country}")
    assert answer.status == "ok" and answer.matched_field == "country"
    assert answer.entity is None and answer.entities == holders and answer.mention == country
    assert {r["id"] for r in answer.rows} == set().union(*map(contracts_of, holders))
    assert [r["id"] for r in answer.rows] == sorted(r["id"] for r in answer.rows)
    assert db.runs == len(holders) and f"whose country is '{country}'" in answer.message
    # Too many rows hold it: a category, not a name; said, and no query runs.
    monkeypatch.setattr("pathrl.pipeline.MAX_ROWS_PER_VALUE", len(holders) - 1)
    router, db = qa(database)
    answer = router.ask(f"contracts of the projects in {country}")
    assert answer.status == "ambiguous_entity" and answer.suggestions == holders
    assert db.runs == 0 and answer.result is None


@pytest.mark.parametrize("question,table,column,value", [
    ("查询结果为“pass”的质检", "inspection", "result", "pass"),
    ("Show the payments whose method is letter of credit", "payment", "method",
     "letter of credit"),
])
def test_category_value_held_by_many_rows_is_a_filter(database, question, table, column,
                                                       value):
    """More than MAX_ROWS_PER_VALUE rows hold the value, but the question filters on it (its
    intent reads a condition): the rows that match, not ambiguous_entity."""
    answer = RoutedQA(FixedRouter((table, table, ())), database).ask(question)
    expected = {r["id"] for r in ROWS[table] if r[column] == value}
    assert len(expected) > MAX_ROWS_PER_VALUE
    assert answer.status == "ok" and answer.answer_kind == "answer"
    assert {r["id"] for r in answer.rows} == expected


@pytest.mark.parametrize("question,mention", [
    ("contracts of project harmless", "harmless"),
    ("Show the contracts of project Atlantis", "Atlantis"),
    ('contracts of project "Blue Lagoon"', "Blue Lagoon"),
    ("项目“和谐号”的合同有哪些", "和谐号"),
    ("项目长城号的合同", "长城号"),
    ("项目 Atlantis 的合同", "Atlantis"),
])
def test_named_entity_not_found_is_said_and_runs_no_query(database, question, mention):
    router, db = qa(database)
    answer = router.ask(question)
    assert answer.status == "entity_not_found"
    assert answer.mention == mention and answer.entity is None
    assert db.runs == 0 and answer.result is None and answer.rows == [] and answer.query == ""
    names = {p["name"] for p in ROWS["project"]}
    assert len(answer.suggestions) == 3 and set(answer.suggestions) <= names
    assert f"'{mention}'" in answer.message and "did you mean" in answer.message
    assert answer.to_dict()["suggestions"] == answer.suggestions


def test_suggestions_are_the_closest_values(database):
    router = qa(database)[0]
    typo = router.ask("contracts of project riyadh railwey")
    assert typo.status == "entity_not_found" and typo.suggestions[0] == "Riyadh Railway"
    contracts = qa(database, CONTRACTS)[0]
    answer = contracts.ask("show contract HT-2022-999")
    assert answer.status == "entity_not_found" and answer.mention == "HT-2022-999"
    assert all(s.startswith("HT-2022-") for s in answer.suggestions)


@pytest.mark.parametrize("question", [
    "How many contracts does each project have?",
    "List all contracts",
    "contracts signed in March 2022",
    "合同有哪些",
    "List the contract numbers of all contracts.",  # a column word after the table word
    "按合同统计合同变更的数量",  # group by
    "合同金额最高的合同是哪个？",
])
def test_no_entity_runs_unfiltered_and_says_so(database, question):
    router, db = qa(database, CONTRACTS)
    answer = router.ask(question)
    assert answer.status == "no_entity" and answer.entity is None and answer.mention is None
    assert db.runs == 1 and answer.result.count == len(ROWS["contract"])
    assert "unfiltered" in answer.message


def test_any_router_and_batches(database):
    """The lexical baseline is a Router too; ask_batch routes in one call, same answers."""
    lexical = RoutedQA(make_baseline("lexical", SCHEMA, VOCAB), database)
    name = ROWS["project"][0]["name"]
    questions = [f"List the contracts of project {name}", "contracts of project harmless"]
    found, missing = lexical.ask_batch(questions)
    assert found.status == "ok" and found.route.path.id == "project>contract"
    assert {r["id"] for r in found.rows} == contracts_of(name)
    assert missing.status == "entity_not_found"
    assert [a.to_dict() for a in (found, missing)] == [
        lexical.ask(q).to_dict() | {"elapsed_ms": a.to_dict()["elapsed_ms"]}
        for q, a in zip(questions, (found, missing), strict=True)]


def test_no_route(database):
    answer = RoutedQA(FixedRouter(None), database).ask("anything at all")
    assert answer.status == "no_route" and answer.route is None and answer.result is None
    assert answer.to_dict()["route"] is None


def test_mongo_backend_finds_values_too():
    mongo = open_database(SCHEMA, "mongo", demo_seed=7)
    project = ROWS["project"][1]
    answer = RoutedQA(FixedRouter(PROJECT_CONTRACTS), mongo).ask(
        f"contracts of project {project['id']}")
    assert answer.status == "ok" and answer.entity == project["name"]
    assert {r["id"] for r in answer.rows} == contracts_of(project["name"])


# -- the CLI -----------------------------------------------------------------------------------

@pytest.fixture
def fixed_router_dir(tmp_path, monkeypatch):
    monkeypatch.setitem(protocol.ROUTER_LOADERS, "fixed-test",
                        lambda directory, schema, database=None: FixedRouter(PROJECT_CONTRACTS))
    (tmp_path / "router.json").write_text(json.dumps({"kind": "fixed-test"}))
    return tmp_path


def test_cli_route_entity_not_found_is_an_answer(fixed_router_dir):
    runner = CliRunner()
    result = runner.invoke(app, ["route", "contracts of project harmless", "-m",
                                 str(fixed_router_dir)])
    assert result.exit_code == 0, result.output
    assert "entity_not_found" in result.output and "did you mean" in result.output
    assert "query: none run" in result.output
    data = json.loads(runner.invoke(app, ["route", "contracts of project harmless", "-m",
                                          str(fixed_router_dir), "--json"]).stdout)
    assert data["status"] == "entity_not_found" and len(data["suggestions"]) == 3
    assert data["rows"] == [] and data["query"] == ""


def test_cli_route_found_and_routes_only(fixed_router_dir):
    runner = CliRunner()
    name = ROWS["project"][0]["name"]
    data = json.loads(runner.invoke(app, ["route", f"contracts of project {name}", "-m",
                                          str(fixed_router_dir), "--json"]).stdout)
    assert data["status"] == "ok" and data["entity"] == name
    assert data["count"] == len(contracts_of(name))
    routes = json.loads(runner.invoke(app, ["route", "anything", "-m", str(fixed_router_dir),
                                            "--no-execute", "--json"]).stdout)
    assert routes["routes"] == [{"anchor": "project", "via": [], "target": "contract",
                                 "path": "project>contract", "probability": 0.9}]
