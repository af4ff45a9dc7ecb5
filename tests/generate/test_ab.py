"""The A/B: gold rows, the row comparison, `run_ab` with a stub router (exact numbers on all
three columns) and the `pathrl ab` / `pathrl generate` commands against a fake endpoint."""

from __future__ import annotations

import json

import pytest
from generate_helpers import StubRouter, example
from typer.testing import CliRunner

from pathrl.cli import app
from pathrl.data.example import Condition
from pathrl.generate.ab import gold_rows, rows_equal, run_ab
from pathrl.generate.backends import make_llm
from pathrl.generate.runner import RoutedGenerator
from pathrl.service import RouteService

runner = CliRunner()


# -- gold --------------------------------------------------------------------------------------
def test_gold_is_the_labelled_path_with_its_entity(sqlite_db, vocab, ab_cases):
    ex = ab_cases[0].example
    gold = gold_rows(sqlite_db, vocab.path_by_id[ex.path_id], ex)
    expected = sqlite_db.execute(
        "SELECT DISTINCT cl.id FROM project p JOIN contract c ON c.project_id = p.id JOIN "
        "contract_change_log cl ON cl.contract_id = c.id WHERE p.name = 'Riyadh Railway'").rows
    assert gold.rule == "path" and gold.error is None
    assert sorted(r["id"] for r in gold.rows) == sorted(r["id"] for r in expected)
    assert len(gold.rows) > 1


def test_gold_applies_the_condition_to_the_start_rows(sqlite_db, vocab):
    ex = example(vocab, "List the contracts of projects in Indonesia.", "project>contract",
                 condition=Condition("project", "country", "eq", "Indonesia"))
    gold = gold_rows(sqlite_db, vocab.path_by_id["project>contract"], ex)
    expected = {r["id"] for r in sqlite_db.execute(
        "SELECT c.id FROM contract c JOIN project p ON p.id = c.project_id "
        "WHERE p.country = 'Indonesia'").rows}
    assert gold.rule == "path+condition" and {r["id"] for r in gold.rows} == expected
    assert 0 < len(expected) < 90
    above = example(vocab, "Contracts with an amount above 20000000", "contract",
                    condition=Condition("contract", "amount", "gt", 20000000.0))
    gold = gold_rows(sqlite_db, vocab.path_by_id["contract"], above)
    expected = {r["id"] for r in sqlite_db.execute(
        "SELECT id FROM contract WHERE amount > 20000000").rows}
    assert {r["id"] for r in gold.rows} == expected and 0 < len(expected) < 90
    elsewhere = example(vocab, "Contracts of projects of suppliers rated A",
                        "project>contract",
                        condition=Condition("supplier", "rating", "eq", "A"))
    assert gold_rows(sqlite_db, vocab.path_by_id["project>contract"],
                     elsewhere).rule == "path-condition-ignored"


# -- comparison --------------------------------------------------------------------------------
def test_rows_equal_by_key_then_by_target_columns(schema):
    target = schema.table("contract")
    gold = [{"id": "C1", "contract_no": "HT-1", "amount": 5.0},
            {"id": "C2", "contract_no": "HT-2", "amount": 7.0}]
    assert rows_equal([{"contract.id": "C2"}, {"contract.id": "C1"}, {"contract.id": "C1"}],
                      gold, target)  # key column, order and duplicates ignored
    assert not rows_equal([{"id": "C1"}], gold, target)
    assert not rows_equal([{"id": "P1"}, {"id": "P2"}], gold, target)  # another table's ids
    assert rows_equal([{"amount": 5}, {"amount": 7}], gold, target)  # 5 == 5.0
    assert not rows_equal([{"amount": 5}], gold, target)
    assert not rows_equal([{"n": 2}], gold, target)  # a count: no column of the target
    assert not rows_equal([{"id": "C1"}, {"id": "C2"}], gold, target, truncated=True)
    assert rows_equal([], [], target) and not rows_equal([], gold, target)


# -- run_ab with a stub router -----------------------------------------------------------------
@pytest.fixture
def stub_service(schema, vocab, sqlite_db, ab_cases):
    router = StubRouter(vocab, {c.example.question: c.example.path_id for c in ab_cases})
    return RouteService(schema=schema, database=sqlite_db, router=router)


def test_run_ab_numbers(stub_service, fake_chat, ab_cases, tmp_path):
    llm = make_llm(base_url=fake_chat.url, model="fake", cache_dir=tmp_path / "cache")
    seen = []
    report = run_ab(RoutedGenerator(stub_service, llm), [c.example for c in ab_cases],
                    progress=lambda done, total: seen.append((done, total)))
    summary = {name: s.to_dict() for name, s in report.summary.items()}
    assert summary["direct"]["statuses"] == {"empty": 1, "ok": 1, "rejected": 1,
                                             "unparsable": 1}
    assert summary["direct"]["rows_equal_gold"] == 1
    assert summary["direct"]["success_rate"] == 0.25 and summary["direct"]["empty_rate"] == 0.25
    assert summary["routed"]["statuses"] == {"ok": 4}
    assert summary["routed"]["rows_equal_gold"] == 4
    assert summary["pathrl"]["statuses"] == {"ok": 4}
    assert summary["pathrl"]["rows_equal_gold"] == 4
    joins = report.joins  # the three questions with joins: direct gets none of them right
    assert (joins["direct"].n, joins["direct"].rows_equal_gold) == (3, 0)
    assert joins["routed"].rows_equal_gold == 3
    assert report.router_exact_match == 1.0
    assert seen[-1] == (8, 8)
    first = report.items[0]
    assert first.entity == "Riyadh Railway" and first.gold_rule == "path"
    assert first.outcomes["direct"].status == "empty"
    routed_request = next(r for r in fake_chat.requests
                          if "\nRoute (" in r["messages"][-1]["content"])
    assert "project.id = contract.project_id → contract.id = contract_change_log.contract_id" \
        in routed_request["messages"][-1]["content"]


class OneAnswer:
    """A `QueryLLM` answering every prompt with the same completion."""

    def __init__(self, completion: str):
        self.completion = completion

    def generate(self, prompts):
        return [self.completion] * len(prompts)

    def describe(self) -> str:
        return "one answer"


def test_run_ab_on_mongomock(schema, vocab, mongo_db, ab_cases):
    case = ab_cases[0]  # change records of project Riyadh Railway
    router = StubRouter(vocab, {case.example.question: case.example.path_id})
    service = RouteService(schema=schema, database=mongo_db, router=router)
    pipeline = [
        {"$match": {"name": "Riyadh Railway"}},
        {"$lookup": {"from": "contract", "localField": "id", "foreignField": "project_id",
                     "as": "c"}},
        {"$unwind": "$c"},
        {"$lookup": {"from": "contract_change_log", "localField": "c.id",
                     "foreignField": "contract_id", "as": "cl"}},
        {"$unwind": "$cl"},
        {"$replaceRoot": {"newRoot": "$cl"}}]
    llm = OneAnswer("```json\n" + json.dumps({"collection": "project", "pipeline": pipeline})
                    + "\n```")
    generator = RoutedGenerator(service, llm)
    assert "MongoDB aggregation" in generator.prompt(case.example.question, None, False).system
    report = run_ab(generator, [case.example])
    summary = report.summary
    assert summary["direct"].statuses == {"ok": 1} and summary["direct"].rows_equal_gold == 1
    assert summary["pathrl"].statuses == {"ok": 1} and summary["pathrl"].rows_equal_gold == 1
    assert report.items[0].gold_count > 1


def test_an_aggregate_answer_is_scored_on_the_rows_it_counts(schema, vocab, sqlite_db):
    question = "How many contract change records does project Riyadh Railway have?"
    ex = example(vocab, question, "project>contract>contract_change_log", "Riyadh Railway",
                 category="count")
    router = StubRouter(vocab, {question: ex.path_id})
    service = RouteService(schema=schema, database=sqlite_db, router=router)
    counted = OneAnswer("SELECT count(*) AS n FROM project p JOIN contract c ON c.project_id "
                        "= p.id JOIN contract_change_log cl ON cl.contract_id = c.id "
                        "WHERE p.name = 'Riyadh Railway'")
    report = run_ab(RoutedGenerator(service, counted), [ex])
    item = report.items[0]
    answer = service.ask(question)
    assert answer.intent.kind == "count" and answer.value == item.gold_count > 1
    assert item.outcomes["pathrl"].rows_equal_gold  # the rows its count is taken over
    assert item.outcomes["pathrl"].count == 1  # ... while the answer itself is one row
    # The LLM's count is one row without a column of the target: not the gold rows.
    assert item.outcomes["routed"].status == "ok" and not item.outcomes["routed"].rows_equal_gold


# -- the commands ------------------------------------------------------------------------------
def write_split(tmp_path, ab_cases):
    data = tmp_path / "data"
    data.mkdir()
    (data / "test.jsonl").write_text("".join(c.example.to_json() + "\n" for c in ab_cases),
                                     encoding="utf-8")
    return data


def test_ab_command(tiny_router_dir, fake_chat, ab_cases, tmp_path):
    data = write_split(tmp_path, ab_cases)
    out = tmp_path / "ab.json"
    args = ["ab", "--model", str(tiny_router_dir), "--data", str(data), "--out", str(out),
            "--llm-base-url", fake_chat.url, "--llm-model", "fake",
            "--llm-cache", str(tmp_path / "cache")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "route injection A/B on 4 questions (3 with joins)" in result.output
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
            for line in result.output.splitlines() if line.startswith("│ ")}
    shown = {name: [cells[i] for i in (0, 1, 3, 4)] for name, cells in rows.items()}
    assert shown["LLM direct"] == ["1 (25%)", "1 (25%)", "1 (25%)", "0/3"]
    assert shown["LLM + route"] == ["4 (100%)", "0 (0%)", "4 (100%)", "3/3"]
    assert "pathrl generator" in rows
    report = json.loads(out.read_text())
    # The fake LLM answers the routed prompt right whatever the (untrained) router chose.
    assert report["summary"]["routed"]["statuses"] == {"ok": 4}
    assert report["summary"]["routed"]["rows_equal_gold"] == 4
    assert report["summary"]["direct"]["rows_equal_gold"] == 1
    assert report["summary"]["pathrl"]["n"] == 4
    assert report["meta"]["questions"] == 4 and report["meta"]["split"] == "test"
    assert len(report["items"]) == 4 and report["items"][1]["direct"]["status"] == "rejected"
    again = runner.invoke(app, args)
    assert again.exit_code != 0 and "exists (pass --force" in str(again.exception)
    limited = runner.invoke(app, [*args, "--force", "--limit", "2"])
    assert limited.exit_code == 0, limited.output
    assert json.loads(out.read_text())["meta"]["questions"] == 2


def test_ab_command_user_mistakes(tiny_router_dir, tmp_path):
    base = ["ab", "--model", str(tiny_router_dir), "--out", str(tmp_path / "r.json"),
            "--llm-base-url", "http://127.0.0.1:9/v1", "--llm-model", "m"]
    missing = runner.invoke(app, [*base, "--data", str(tmp_path / "nowhere")])
    assert "dataset directory not found" in str(missing.exception)
    (tmp_path / "d").mkdir()
    no_split = runner.invoke(app, [*base, "--data", str(tmp_path / "d")])
    assert "dataset split not found" in str(no_split.exception)
    both = runner.invoke(app, [*base, "--llm-local", "smollm2"])
    assert "not both" in str(both.exception)


def test_generate_command(tiny_router_dir, fake_chat, ab_cases, tmp_path):
    case = ab_cases[3]  # single table: right with or without the route
    args = ["generate", case.example.question, "--model", str(tiny_router_dir),
            "--llm-base-url", fake_chat.url, "--llm-model", "fake",
            "--llm-cache", str(tmp_path / "cache")]
    result = runner.invoke(app, [*args, "--no-route"])
    assert result.exit_code == 0, result.output
    assert "not injected (--no-route" in result.output
    assert "SELECT * FROM supplier WHERE name = 'Ironclad Cables Inc.'" in result.output
    assert "status: ok" in result.output and "1 rows" in result.output
    as_json = runner.invoke(app, [*args, "--json"])
    assert as_json.exit_code == 0, as_json.output
    answer = json.loads(as_json.output)
    assert answer["condition"] == "routed" and answer["hint"]["path"] == answer["route"]["path"]
    assert answer["status"] in ("ok", "empty", "error", "unparsable", "rejected")
    assert answer["completion"] == case.routed
