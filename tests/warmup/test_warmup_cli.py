"""`pathrl warmup lunarlander train|compare|gif` end to end (tiny runs) and error handling."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from pathrl.errors import PathrlError
from pathrl.warmup.cli import app, parse_hyperparams

runner = CliRunner()
TINY = ["--eval-episodes", "1", "--max-episode-steps", "80", "--no-progress"]


def test_train_ppo_writes_report_json_and_gif_command_renders_model(tmp_path) -> None:
    out = tmp_path / "ppo"
    args = ["lunarlander", "train", "--algo", "ppo", "--timesteps", "512", "--out", str(out)]
    args += ["--n-envs", "1", "--hp", "n_steps=256", "--hp", "batch_size=64", *TINY]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    (run,) = report["runs"]
    assert run["algo"] == "ppo" and run["timesteps"] == 512 and run["n_envs"] == 1
    assert run["hyperparams"]["n_steps"] == 256 and run["hyperparams"]["gamma"] == 0.999
    assert isinstance(run["mean_reward"], float) and isinstance(run["std_reward"], float)
    assert (out / "ppo-default" / "episode.gif").is_file()
    assert run["gif_steps"] <= 80  # the GIF episode honours --max-episode-steps
    # PPO keeps a checkpoint by default; 512 steps < 25,000 leave only the end-of-run check
    assert run["selection"]["every"] == 25_000 and run["selection"]["kept_timesteps"] == 512
    assert run["selection"]["last_eval"]["mean_reward"] == run["mean_reward"]

    gif_path = tmp_path / "again.gif"
    model = out / "ppo-default" / "model.zip"
    result = runner.invoke(
        app, ["lunarlander", "gif", str(model), "--out", str(gif_path), "--max-steps", "30"]
    )
    assert result.exit_code == 0, result.output
    assert gif_path.stat().st_size > 0 and "30 steps" in result.output


def test_compare_default_vs_custom_reward_same_algo_and_seed(tmp_path) -> None:
    out = tmp_path / "cmp"
    args = ["lunarlander", "compare", "--algos", "a2c", "--rewards", "default,custom"]
    args += ["--timesteps", "400", "--out", str(out), "--no-gif", *TINY]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    runs = json.loads((out / "report.json").read_text())["runs"]
    assert [r["name"] for r in runs] == ["a2c-default", "a2c-custom"]
    assert {r["seed"] for r in runs} == {0} and {r["timesteps"] for r in runs} == {400}
    assert runs[0]["reward_config"]["replace_reward"] is False
    assert runs[1]["reward_config"]["replace_reward"] is True
    assert all(r["gif_path"] is None for r in runs)
    markdown = (out / "report.md").read_text()
    assert "| a2c-default |" in markdown and "| a2c-custom |" in markdown


def test_compare_scores_every_algorithm_on_its_last_model(tmp_path) -> None:
    out = tmp_path / "cmp"
    args = ["lunarlander", "compare", "--algos", "ppo", "--timesteps", "512", "--out", str(out)]
    result = runner.invoke(app, [*args, "--no-gif", *TINY], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (run,) = json.loads((out / "report.json").read_text())["runs"]
    assert run["config"]["select_every"] == 0 and "selection" not in run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--algo", "reinforce"], "unknown algorithm"),
        (["train", "--timesteps", "-10"], "must be positive"),
        (["compare", "--algos", "ppo,ppo"], "duplicate runs"),
        (["gif", "missing.zip"], "model file not found"),
    ],
)
def test_user_mistakes_raise_pathrl_error(args, message, tmp_path) -> None:
    result = runner.invoke(app, ["lunarlander", *args, *(["--out", str(tmp_path / "o")])])
    assert isinstance(result.exception, PathrlError)
    assert message in str(result.exception)


def test_root_cli_prints_one_red_line_and_exits_2(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = subprocess.run(
        [sys.executable, "-m", "pathrl.cli", "warmup", "lunarlander", "train"]
        + ["--timesteps", "100", "--out", str(blocker / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "cannot create output directory" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_module_keeps_heavy_imports_lazy() -> None:
    code = (
        "import sys, pathrl.warmup.cli; "
        "print(sorted(m for m in ('torch', 'gymnasium', 'stable_baselines3') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_parse_hyperparams() -> None:
    assert parse_hyperparams(["n_steps=256", "learning_rate=lin_3e-4", "x={'a': [1]}"]) == {
        "n_steps": 256,
        "learning_rate": "lin_3e-4",
        "x": {"a": [1]},
    }
    with pytest.raises(PathrlError, match="KEY=VALUE"):
        parse_hyperparams(["n_steps"])
