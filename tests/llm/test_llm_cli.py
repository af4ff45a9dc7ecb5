"""`pathrl llm sft|rm|dpo|eval` end to end on a tiny random chat LM: outputs, the output
policy (--force / --resume), and user mistakes as one-line errors."""

from __future__ import annotations

import json
import sys

import pytest
from llm_fixtures import tiny_lm_dir  # noqa: F401
from typer.testing import CliRunner

from pathrl.cli import app, main
from pathrl.errors import PathrlError
from pathrl.rl.logging import read_jsonl

runner = CliRunner()


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    root = tmp_path_factory.mktemp("llm-rows")
    sft = [{"prompt": [{"role": "user", "content": f"What is {a} plus {b}?"}],
            "completion": f"The answer is {a + b}."} for a, b in [(1, 2), (3, 4), (5, 6), (7, 1)]]
    pairs = [{"prompt": [{"role": "user", "content": f"What is {a} plus {b}?"}],
              "chosen": f"The answer is {a + b}.", "rejected": f"{a + b} apples"}
             for a, b in [(1, 2), (3, 4), (5, 6), (7, 1)]]
    (root / "sft.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sft))
    (root / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pairs))
    return root


def _config(tmp_path, rows, kind: str):
    data = rows / ("sft.jsonl" if kind == "sft" else "pairs.jsonl")
    path = tmp_path / f"{kind}.yaml"
    path.write_text(f"device: cpu\nbatch_size: 2\nmax_steps: 2\neval_every: 1\n"
                    f"learning_rate: 0.001\nwarmup_ratio: 0.0\n"
                    f"data:\n  train_file: {data}\n  eval_file: {data}\n")
    return path


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.mark.parametrize(("kind", "score"), [("sft", "eval_token_accuracy"),
                                             ("rm", "eval_accuracy"),
                                             ("dpo", "eval_rewards/accuracies")])
def test_each_trainer_writes_its_run_and_resumes(kind, score, tiny_lm_dir, rows, tmp_path):  # noqa: F811
    out = tmp_path / "run"
    config = _config(tmp_path, rows, kind)
    result = invoke("llm", kind, "--config", str(config), "--model", str(tiny_lm_dir),
                    "--out", str(out), "--set", "seed=5")
    assert result.exit_code == 0, result.output
    assert "model saved to" in result.output
    for name in ("model", "metrics.jsonl", "summary.json", "config.yaml", "checkpoints"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 2 and score in summary["final_eval"]
    assert summary["config"]["seed"] == 5 and summary["config"]["model"] == str(tiny_lm_dir)
    # Another run into the same OUT is refused; --resume extends this one.
    again = runner.invoke(app, ["llm", kind, "--config", str(config), "--model",
                                str(tiny_lm_dir), "--out", str(out)])
    assert isinstance(again.exception, PathrlError)
    assert "already holds a previous run" in str(again.exception)
    resumed = invoke("llm", kind, "--out", str(out), "--resume", "--set", "max_steps=3")
    assert resumed.exit_code == 0, resumed.output
    assert [r["step"] for r in read_jsonl(out / "metrics.jsonl")] == [0, 1, 2]
    assert json.loads((out / "summary.json").read_text())["steps_run"] == 1


def test_eval_prints_and_saves_the_report(tiny_lm_dir, tmp_path):  # noqa: F811
    out = tmp_path / "eval"
    args = ["llm", "eval", "--model", str(tiny_lm_dir), "--out", str(out), "--set",
            "device=cpu", "--set", "limit=3", "--set", "max_new_tokens=4", "--set",
            "data.n_train=2", "--set", "data.n_eval=1", "--set", "data.n_test=4"]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "[all] 3 problems" in result.output and "Exact correct" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["n"] == 3 and len(report["results"]) == 3
    assert report["length_unit"] == "tokens"
    assert (out / "report.txt").read_text().startswith("[all] 3 problems")
    refused = runner.invoke(app, args)  # the report is not overwritten without --force
    assert isinstance(refused.exception, PathrlError)
    assert invoke(*args, "--force").exit_code == 0


def _run_main(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["pathrl", *args])
    with pytest.raises(SystemExit) as info:
        main()
    return int(info.value.code), capsys.readouterr().err


@pytest.mark.parametrize(("args", "expected"), [
    (["llm", "sft", "--set", "batch_sise=4"], "unknown config key 'batch_sise' (valid: model,"),
    (["llm", "dpo", "--set", "beta=high"], "config key 'beta': 'high' is not a number"),
    (["llm", "dpo", "--set", "loss_type=kto"], "unknown DPO loss 'kto'"),
    (["llm", "rm", "--config", "missing.yaml"], "config file not found: missing.yaml"),
    (["llm", "sft", "--resume"], "--resume: no checkpoint of a run in"),
    (["llm", "sft", "--resume", "--model", "x"], "--resume reads the run's own"),
    (["llm", "sft", "--resume", "--force"], "--resume continues the run in OUT"),
    (["llm", "eval", "--model", "no/such/dir"], "unknown backbone 'no/such/dir'"),
    (["llm", "sft", "--set", "lora.r=0"], "lora r and alpha must be >= 1"),
])
def test_user_mistakes_are_one_line_and_write_nothing(args, expected, monkeypatch, capsys,
                                                      tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "60")
    code, err = _run_main(monkeypatch, capsys, *args, *(
        ["--out", str(tmp_path / "out")] if args[1] != "eval" else []))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert expected in lines[0]
    assert not (tmp_path / "out").exists()
