"""Input formats and the clear messages for broken input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from doctor_scenarios import SCENARIOS
from doctor_synth import healthy_router_ppo

from pathrl.doctor import diagnose, run_doctor
from pathrl.doctor.signals import parse_mapping
from pathrl.errors import PathrlError


def _write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _rules(findings) -> set[str]:
    return {f.rule for f in findings}


def test_router_run_dir_with_metrics_jsonl(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "metrics.jsonl", SCENARIOS["approx_kl_high"]())
    assert _rules(diagnose(tmp_path)) == {"approx_kl_high"}


def test_run_dir_with_ppo_and_sft_logs_reads_both(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "metrics.jsonl", healthy_router_ppo())
    _write_jsonl(tmp_path / "sft_metrics.jsonl", SCENARIOS["sft_below_target"]())
    report = run_doctor(tmp_path)
    assert len(report.logs) == 2
    (finding,) = report.findings
    assert finding.rule == "sft_below_target" and finding.source.endswith("sft_metrics.jsonl")


def test_truncated_last_line_is_a_note_not_an_error(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "metrics.jsonl", SCENARIOS["approx_kl_high"]())
    with path.open("a") as handle:
        handle.write('{"step": 60, "approx_kl": 0.2, "rew')
    report = run_doctor(path)
    assert any("truncated" in note for note in report.notes)
    assert _rules(report.findings) == {"approx_kl_high"}


def test_corrupt_middle_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 0, "approx_kl": 0.01}\nnot json\n{"step": 1, "approx_kl": 0.01}\n')
    with pytest.raises(PathrlError, match=r"metrics.jsonl:2: not valid JSON"):
        diagnose(path)


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_log(tmp_path: Path, content: str) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text(content)
    with pytest.raises(PathrlError, match="empty"):
        diagnose(path)


def test_missing_path() -> None:
    with pytest.raises(PathrlError, match="no such file or directory"):
        diagnose("/nonexistent/run")


def test_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    path.write_text("epoch 1: loss went down, nice\n")
    with pytest.raises(PathrlError, match="unknown log format"):
        diagnose(path)


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "weights.jsonl"
    path.write_bytes(b"\xff\xfe\x00\x81" * 10)
    with pytest.raises(PathrlError, match="not a text file"):
        diagnose(path)


def test_directory_without_logs(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"\x00")
    with pytest.raises(PathrlError, match="no run log found"):
        diagnose(tmp_path)


def test_unknown_metric_names_suggest_mapping(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "m.jsonl", [{"step": i, "foo": 1.0} for i in range(5)])
    with pytest.raises(PathrlError, match=r"none of the metric names are known.*--map"):
        diagnose(path)


def test_mapping_makes_unknown_names_usable(tmp_path: Path) -> None:
    records = [{"step": r["step"], "my_kl": r["approx_kl"]} for r in SCENARIOS["approx_kl_high"]()]
    path = _write_jsonl(tmp_path / "m.jsonl", records)
    findings = diagnose(path, mapping=parse_mapping(["my_kl=approx_kl"]))
    assert _rules(findings) == {"approx_kl_high"}
    assert findings[0].evidence[0].metric == "my_kl"


def test_bad_mapping() -> None:
    with pytest.raises(PathrlError, match="RAW=SIGNAL"):
        parse_mapping(["nonsense"])
    with pytest.raises(PathrlError, match="unknown signal"):
        parse_mapping(["x=not_a_signal"])


def test_nan_values_are_reported_not_crashed(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps(r) for r in healthy_router_ppo()]
    lines[40] = lines[40].replace('"value_loss": ', '"value_loss": NaN, "x": ', 1)
    path.write_text("\n".join(lines) + "\n")
    findings = diagnose(path)
    assert _rules(findings) == {"non_finite_metrics"}
    assert "step 40" in findings[0].evidence[0].observation


def test_all_nan_log_is_an_error(tmp_path: Path) -> None:
    records = [{"step": i, "approx_kl": "nan", "value_loss": float("nan")} for i in range(10)]
    path = _write_jsonl(tmp_path / "metrics.jsonl", records)
    with pytest.raises(PathrlError, match="NaN or infinite"):
        diagnose(path)


def test_csv_with_step_column(tmp_path: Path) -> None:
    records = SCENARIOS["via_all_null"]()
    keys = list(records[0])
    lines = [",".join(["Step", *keys[1:]])]
    lines += [",".join(str(r[k]) for k in keys) for r in records]
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n")
    assert _rules(diagnose(path)) == {"via_all_null"}


def test_csv_truncated_row_and_empty_cells(tmp_path: Path) -> None:
    rows = ["step,approx_kl,reward_mean"] + [f"{i},0.2,{i}" for i in range(10)] + ["10,0.2"]
    rows[3] = "2,,2"
    path = tmp_path / "m.csv"
    path.write_text("\n".join(rows) + "\n")
    report = run_doctor(path)
    assert any("truncated" in note for note in report.notes)
    assert _rules(report.findings) == {"approx_kl_high"}


def test_csv_header_only(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("step,approx_kl\n")
    with pytest.raises(PathrlError, match="no rows"):
        diagnose(path)


def test_trl_trainer_state_in_latest_checkpoint(tmp_path: Path) -> None:
    history = [
        {"step": r["step"] + 1, "reward": r["reward"], "kl": r["kl"], "epoch": 0.01 * r["step"],
         "frac_reward_zero_std": r["frac_reward_zero_std"]}
        for r in SCENARIOS["frac_reward_zero_std_high"]()
    ]
    for number in (10, 60):
        checkpoint = tmp_path / f"checkpoint-{number}"
        checkpoint.mkdir()
        state = {"log_history": history[:number]}
        (checkpoint / "trainer_state.json").write_text(json.dumps(state))
    report = run_doctor(tmp_path)
    assert report.logs[0].source.endswith("checkpoint-60/trainer_state.json")
    assert _rules(report.findings) == {"frac_reward_zero_std_high"}
    assert "trl_grpo" in report.logs[0].flavors


def test_records_without_step_use_their_position() -> None:
    records = [{k: v for k, v in r.items() if k != "step"} for r in SCENARIOS["approx_kl_high"]()]
    report = run_doctor(records)
    assert any("position" in note for note in report.notes)
    assert _rules(report.findings) == {"approx_kl_high"}


def test_tensorboard_events_with_sb3_names(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path / "PPO_1"))
    for record in SCENARIOS["approx_kl_high"]():
        step = int(record["step"]) * 2048
        writer.add_scalar("train/approx_kl", record["approx_kl"], step)
        writer.add_scalar("rollout/ep_rew_mean", 20 + record["step"], step)
        writer.add_scalar("train/entropy_loss", -0.69, step)
    writer.close()
    report = run_doctor(tmp_path)
    assert "sb3" in report.logs[0].flavors
    assert report.logs[0].get("entropy").values[0] == pytest.approx(0.69)  # sign flipped
    (finding,) = report.findings
    assert finding.rule == "approx_kl_high" and finding.evidence[0].window[0] == 30 * 2048


def test_tensorboard_without_scalars(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path))
    writer.add_text("note", "hello", 0)
    writer.close()
    with pytest.raises(PathrlError, match="no scalars"):
        diagnose(tmp_path)
