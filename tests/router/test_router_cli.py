"""`pathrl train sft|ppo`, `pathrl eval` and `pathrl route` with the path scorer, end to end on
a tiny schema and database (tiny random BERT: the plumbing, not the quality)."""

from __future__ import annotations

import json

import pytest
from test_scorer import SHOP, TRAIN  # tests/router is on sys.path (rootdir conftest)
from typer.testing import CliRunner

from pathrl.cli import app
from pathrl.data.example import Example, write_dataset
from pathrl.db import write_sql
from pathrl.paths import PathVocab

runner = CliRunner()


def _example(n: int, q, split: str) -> Example:
    path = PathVocab.from_schema(SHOP).path(q.anchor, q.target, q.via)
    return Example(id=f"{split}-{n}", question=q.question, language="en", anchor=q.anchor,
                   target=q.target, via=q.via, path_id=path.id, hops=path.n_hops,
                   wording="precise", style="plain", category="list", priority="P0",
                   entity="", filter={})


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("shopcli")
    schema_file = root / "shop.yaml"
    SHOP.save(schema_file)
    url = f"sqlite:///{root / 'shop.db'}"
    write_sql(url, SHOP, {
        "customer": [{"id": "c1", "name": "Ann Lee", "city": "Nairobi"}],
        "orders": [{"id": "o7", "customer_id": "c1", "total": 120.0}],
        "payroll": [{"id": "p1", "staff_id": "s1", "salary": 5000.0}],
        "staff": [{"id": "s1", "full_name": "George Novak"}],
    })
    splits = {split: [_example(i, q, split) for i, q in enumerate(TRAIN)]
              for split in ("train", "val", "test")}
    splits["heldout"] = []
    write_dataset(splits, root / "data")
    return root, schema_file, url


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_scorer_train_eval_route(shop, tiny_backbone):
    root, schema_file, url = shop
    common = ["--schema", str(schema_file), "--db", url]
    sft = invoke("train", "sft", "--data", str(root / "data"), "--out", str(root / "sft"),
                 "--backbone", tiny_backbone, "--epochs", "2", *common)
    assert sft.exit_code == 0, sft.output
    meta = json.loads((root / "sft" / "model" / "router.json").read_text())
    assert meta["kind"] == "scorer"
    assert json.loads((root / "sft" / "summary.json").read_text())["head"] == "scorer"

    ppo = invoke("train", "ppo", "--data", str(root / "data"), "--sft",
                 str(root / "sft" / "model"), "--out", str(root / "ppo"), "--updates", "2",
                 "--no-fresh-prompts", *common)
    assert ppo.exit_code == 0, ppo.output
    summary = json.loads((root / "ppo" / "summary.json").read_text())
    assert summary["updates"] == 2 and "kept" in summary
    assert len((root / "ppo" / "metrics.jsonl").read_text().splitlines()) == 2

    ev = invoke("eval", "--data", str(root / "data"), "--sft", str(root / "sft" / "model"),
                "--ppo", str(root / "ppo" / "model"), "--baseline", "lexical", "--out",
                str(root / "eval"), *common)
    assert ev.exit_code == 0, ev.output
    report = json.loads((root / "eval" / "report.json").read_text())
    assert {"sft", "ppo", "lexical"} <= set(report["methods"])
    assert report["sft"]["illegal_rate"] == 0.0  # the scorer only ever returns legal paths

    routed = invoke("route", "What is the salary of George Novak?", "--model",
                    str(root / "ppo" / "model"), "--json", "--no-execute", *common)
    assert routed.exit_code == 0, routed.output
    routes = json.loads(routed.stdout)["routes"]
    legal = PathVocab.from_schema(SHOP)
    assert routes and all(legal.is_legal(r["anchor"], r["target"], r["via"]) for r in routes)


def test_unknown_head_is_one_clear_error(shop, tiny_backbone, monkeypatch):
    import sys

    from pathrl.cli import main

    root, schema_file, url = shop
    monkeypatch.setattr(sys, "argv", [
        "pathrl", "train", "sft", "--data", str(root / "data"), "--out", str(root / "bad"),
        "--head", "trees", "--backbone", tiny_backbone, "--schema", str(schema_file), "--db",
        url])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert not (root / "bad" / "model").exists()


def test_general_router_on_a_schema_corpus_routes_an_unseen_schema(shop, tiny_backbone,
                                                                   tmp_path):
    root, schema_file, url = shop
    corpus = tmp_path / "corpus"
    made = invoke("synth", "schemas", "--out", str(corpus), "--count", "2", "--seed", "3",
                  "--max-tables", "4")
    assert made.exit_code == 0, made.output
    general = invoke("train", "sft", "--schemas", str(corpus), "--out", str(tmp_path / "gen"),
                     "--backbone", tiny_backbone, "--epochs", "1")
    assert general.exit_code == 0, general.output
    summary = json.loads((tmp_path / "gen" / "summary.json").read_text())
    assert len(summary["schemas"]) == 2 and summary["n_train"] > 0
    # The shop schema was never seen: the general router still routes it, legally.
    routed = invoke("route", "How many customers are there?", "--model",
                    str(tmp_path / "gen" / "model"), "--schema", str(schema_file), "--db", url,
                    "--json", "--no-execute")
    assert routed.exit_code == 0, routed.output
    routes = json.loads(routed.stdout)["routes"]
    assert routes and all(PathVocab.from_schema(SHOP).is_legal(r["anchor"], r["target"],
                                                               r["via"]) for r in routes)
    # ... and fine-tunes to it from the general weights.
    tuned = invoke("train", "sft", "--data", str(root / "data"), "--out",
                   str(tmp_path / "tuned"), "--init", str(tmp_path / "gen" / "model"),
                   "--epochs", "1", "--schema", str(schema_file), "--db", url)
    assert tuned.exit_code == 0, tuned.output
    assert (tmp_path / "tuned" / "model" / "router.json").is_file()


def test_training_never_clobbers_another_run_without_force(shop, tiny_backbone, monkeypatch,
                                                           tmp_path):
    import sys

    from pathrl.cli import main

    root, schema_file, url = shop
    out = tmp_path / "sft"
    common = ["--schema", str(schema_file), "--db", url, "--backbone", tiny_backbone]

    def run(*args: str) -> int:
        monkeypatch.setattr(sys, "argv", ["pathrl", *args])
        try:
            main()
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

    assert run("train", "sft", "--data", str(root / "data"), "--out", str(out), "--epochs",
               "2", *common) == 0
    weights = (out / "model" / "backbone.safetensors").read_bytes()
    # Another run into the same OUT: one clear error, nothing touched.
    assert run("train", "sft", "--data", str(root / "data"), "--out", str(out), "--epochs",
               "1", *common) == 2
    assert (out / "model" / "backbone.safetensors").read_bytes() == weights
    assert len((out / "sft_metrics.jsonl").read_text().splitlines()) == 2
    # --force replaces the run: the log restarts instead of continuing the old one.
    (out / "notes.txt").write_text("mine")
    assert run("train", "sft", "--data", str(root / "data"), "--out", str(out), "--epochs",
               "1", "--force", *common) == 0
    assert len((out / "sft_metrics.jsonl").read_text().splitlines()) == 1
    assert (out / "notes.txt").read_text() == "mine"  # not ours: kept

    ppo = tmp_path / "ppo"
    ppo_args = ["train", "ppo", "--data", str(root / "data"), "--sft", str(out / "model"),
                "--out", str(ppo), "--updates", "1", "--no-fresh-prompts", "--schema",
                str(schema_file), "--db", url]
    assert run(*ppo_args) == 0
    (ppo / "checkpoints").mkdir(exist_ok=True)
    assert run(*ppo_args) == 2  # a fresh run never reuses the old run's checkpoints
    assert run(*ppo_args, "--resume", "--force") == 2


@pytest.mark.parametrize("prior", [["--coverage-prior", "-1"], ["--link-prior", "1"]])
def test_priors_with_the_three_heads_are_one_clear_error(shop, tiny_backbone, monkeypatch,
                                                         capsys, prior):
    import sys

    from pathrl.cli import main

    root, schema_file, url = shop
    monkeypatch.setattr(sys, "argv", [
        "pathrl", "train", "sft", "--data", str(root / "data"), "--out", str(root / "bad2"),
        "--head", "factored", "--backbone", tiny_backbone, "--schema", str(schema_file),
        "--db", url, *prior])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert "available with --head scorer only" in capsys.readouterr().err
    assert not (root / "bad2").exists()
