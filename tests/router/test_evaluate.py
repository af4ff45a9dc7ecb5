"""Evaluation metrics, execution columns, report writing, and the question -> rows pipeline."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from pathrl.db import open_database
from pathrl.demo import demo_rows, demo_schema
from pathrl.paths import PathVocab
from pathrl.pipeline import RoutedQA
from pathrl.query import Filter, guess_hops
from pathrl.router.evaluate import (
    MethodPredictions,
    evaluate_methods,
    markdown_report,
    triple_metrics,
    write_report,
)

SCHEMA = demo_schema()
VOCAB = PathVocab.from_schema(SCHEMA)
PROJECT = demo_rows()["project"][0]["name"]
MULTI = ("project", "contract_change_log", ("contract",))
SINGLE = ("project", "contract", ())


@dataclass
class Ex:
    triple: tuple
    hops: int
    wording: str = "precise"
    language: str = "en"
    filter: dict = field(default_factory=dict)

    def to_filter(self) -> Filter:
        return Filter(**self.filter)


@pytest.fixture(scope="module")
def database():
    return open_database(SCHEMA, "sqlite", demo_seed=7)


def test_triple_metrics_by_hand():
    labels = [SINGLE, MULTI, MULTI, SINGLE]
    preds = [SINGLE, ("project", "contract_change_log", ()), None, ("project", "milestone", ())]
    m = triple_metrics(preds, labels, VOCAB)
    assert m["exact_match"] == 0.25
    assert m["anchor_accuracy"] == 0.75  # None is wrong on every component
    assert m["target_accuracy"] == 0.5
    assert m["via_accuracy"] == 0.5
    assert m["via_accuracy_nonnull"] == 0.0 and m["n_nonnull"] == 2
    assert m["illegal_rate"] == 0.5  # the via-less change-log route, and None


def test_evaluate_methods_execution_and_groups(database, tmp_path):
    examples = [Ex(MULTI, 2, filter={"entity": PROJECT}),
                Ex(SINGLE, 1, wording="fuzzy", language="zh", filter={"entity": PROJECT})]
    methods = [
        MethodPredictions("gold", [MULTI, SINGLE]),
        MethodPredictions("nothing", [None, None]),
        MethodPredictions("skips_bridge", [("project", "contract_change_log", ()), SINGLE]),
        MethodPredictions("wrong_table", [("project", "milestone", ()), SINGLE]),
    ]
    report = evaluate_methods(methods, examples, VOCAB, database, ["test", "heldout"])
    gold, nothing = report["gold"], report["nothing"]
    assert gold["exact_match"] == 1.0 and gold["exec_success"] == 1.0
    assert gold["exec_match"] == 1.0
    assert nothing["exec_error"] == 1.0 and nothing["illegal_rate"] == 1.0
    # The invented direct join (change_log.contract_id = project.id) runs and returns nothing.
    assert report["skips_bridge"]["exec_empty"] == 0.5
    # A legal path to the wrong table has rows: success, but not the labelled rows.
    wrong = report["wrong_table"]
    assert wrong["exec_success"] == 1.0 and wrong["exec_match"] == 0.5
    assert report["groups"]["hops"]["2"]["gold"]["n"] == 1
    assert set(report["groups"]["split"]) == {"test", "heldout"}
    paths = write_report(report, tmp_path)
    saved = json.loads(paths["json"].read_text())
    assert saved["gold"]["exact_match"] == 1.0
    assert (tmp_path / "exact_match_by_hops.png").read_bytes()[:4] == b"\x89PNG"
    assert "| wrong_table |" in markdown_report(report)


def test_guess_hops_uses_real_keys_or_guesses():
    hops = guess_hops(SCHEMA, ("project", "contract", "contract_change_log"))
    assert [(h.src_field, h.dst_field) for h in hops] == [("id", "project_id"),
                                                          ("id", "contract_id")]
    invented = guess_hops(SCHEMA, ("project", "contract_change_log"))
    assert invented[0].dst_field == "id"  # no project_id column: joins on the key
    assert guess_hops(SCHEMA, ("project", "no_such_table")) is None


class _FixedRouter:
    """Stands in for a trained router: always routes to one legal path."""

    vocab = VOCAB

    def __init__(self, triple):
        self.triple = triple

    def route_batch(self, questions, top_k=3):
        from pathrl.router.protocol import RankedRoute, Routing

        return [Routing(q, [RankedRoute(VOCAB.path(*self.triple), 1.0)]) for q in questions]


def test_pipeline_question_to_rows(database):
    qa = RoutedQA(_FixedRouter(MULTI), database)
    answer = qa.ask(f"Show the change records of the contracts of project {PROJECT.upper()}")
    assert answer.entity == PROJECT  # case-insensitive match on the display values
    assert answer.result.status == "ok" and answer.result.count > 0
    assert "contract_change_log" in answer.query
    assert answer.to_dict()["route"]["path"] == "project>contract>contract_change_log"
    unknown = qa.ask("Show change records of project Atlantis")
    assert unknown.entity is None  # no known value: no filter (see tests/test_pipeline.py)


def test_route_that_cannot_take_the_filter_counts_as_error(database):
    """A wrong target without a time field cannot take the example's date range: that is an
    execution error for the method, not a crash of the evaluation."""
    ex = Ex(("project", "contract", ()), 1,
            filter={"entity": PROJECT, "date_from": "2019-01-01", "date_to": "2030-12-31"})
    wrong = ("project", "supplier", ("contract",))  # supplier has no time field
    report = evaluate_methods([MethodPredictions("m", [wrong])], [ex], VOCAB, database)
    assert report["m"]["exec_error"] == 1.0


def test_single_table_routes_execute_in_evaluation(database):
    """A legal single-table route has no joins and still runs (it once counted as an error)."""
    single = ("project", "project", ())
    examples = [Ex(single, 0, filter={"entity": PROJECT})]
    report = evaluate_methods([MethodPredictions("gold", [single])], examples, VOCAB, database)
    assert report["gold"]["exec_success"] == 1.0 and report["gold"]["exec_match"] == 1.0
