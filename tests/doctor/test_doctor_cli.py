"""`pathrl doctor` through the real console script: output, files, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from doctor_scenarios import SCENARIOS
from doctor_synth import healthy_router_ppo

PATHRL = Path(sys.executable).parent / "pathrl"


def _write_run(directory: Path, records: list[dict]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return directory


def _doctor(*args: str) -> subprocess.CompletedProcess[str]:
    if not PATHRL.exists():
        pytest.skip("pathrl console script not installed in this environment")
    return subprocess.run(
        [str(PATHRL), "doctor", *args], capture_output=True, text=True, timeout=120
    )


def test_critical_run_json_and_exit_code_1(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "run", SCENARIOS["policy_collapse"]())
    result = _doctor(str(run), "--json")
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)
    assert findings[0]["rule"] == "policy_collapse"
    for finding in findings:
        assert {"rule", "severity", "diagnosis", "fixes", "evidence"} <= set(finding)
        assert finding["severity"] in {"info", "warning", "critical"}


def test_healthy_run_exit_0_and_rich_report(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "run", healthy_router_ppo())
    result = _doctor(str(run))
    assert result.returncode == 0, result.stderr
    assert "no findings" in result.stdout


def test_warning_only_exits_0(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "run", SCENARIOS["value_loss_oscillation"]())
    result = _doctor(str(run))
    assert result.returncode == 0
    assert "value_loss_oscillation" in result.stdout and "Fixes" in result.stdout


def test_user_error_is_one_red_line_exit_2(tmp_path: Path) -> None:
    empty = tmp_path / "metrics.jsonl"
    empty.write_text("")
    result = _doctor(str(empty))
    assert result.returncode == 2
    assert "error:" in result.stderr and "empty" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_out_dir_has_markdown_json_and_plots(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "run", SCENARIOS["policy_collapse"]())
    out = tmp_path / "report"
    markdown = tmp_path / "doc" / "doctor.md"
    result = _doctor(str(run), "--out", str(out), "--markdown", str(markdown))
    assert result.returncode == 1
    findings = json.loads((out / "findings.json").read_text())
    pngs = sorted((out / "plots").glob("*.png"))
    assert len(pngs) == len(findings)
    assert pngs[0].name == "01_policy_collapse.png" and pngs[0].stat().st_size > 1000
    report = (out / "report.md").read_text()
    assert "![policy_collapse](plots/01_policy_collapse.png)" in report
    assert "**Fixes**" in report
    assert markdown.exists() and "policy_collapse" in markdown.read_text()


def test_list_rules() -> None:
    result = _doctor("--list-rules")
    assert result.returncode == 0
    assert "approx_kl_high" in result.stdout and "via_all_null" in result.stdout
