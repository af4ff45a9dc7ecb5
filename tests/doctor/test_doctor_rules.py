"""Every rule fires on a synthetic log showing its symptom; healthy and noisy runs stay clean."""

from __future__ import annotations

from pathlib import Path

import pytest
from doctor_scenarios import HEALTHY, SCENARIOS
from doctor_synth import ONSET, healthy_grpo, healthy_router_ppo, modify

from pathrl.doctor import DoctorConfig, build_rules, diagnose
from pathrl.doctor.rules import rules_markdown

RULES = {rule.id: rule for rule in build_rules()}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "doctor.md"


def test_every_rule_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(RULES)


@pytest.mark.parametrize("rule_id", sorted(SCENARIOS))
def test_symptom_is_flagged_with_its_diagnosis(rule_id: str) -> None:
    findings = {f.rule: f for f in diagnose(SCENARIOS[rule_id]())}
    assert rule_id in findings, f"{rule_id} not flagged; got {sorted(findings)}"
    finding = findings[rule_id]
    rule = RULES[rule_id]
    assert finding.severity == rule.severity
    assert finding.diagnosis == rule.diagnosis
    assert finding.causes and finding.fixes
    assert finding.evidence, "a finding must carry evidence"
    for evidence in finding.evidence:
        assert evidence.window[0] <= evidence.window[1]
        assert evidence.observation
    data = finding.to_dict()
    assert {"rule", "severity", "diagnosis", "fixes", "evidence"} <= set(data)


@pytest.mark.parametrize("flavor", sorted(HEALTHY))
def test_healthy_runs_have_no_findings(flavor: str) -> None:
    assert diagnose(HEALTHY[flavor]()) == []


@pytest.mark.parametrize("seed", range(5))
def test_noisy_healthy_router_runs_raise_no_critical(seed: int) -> None:
    findings = diagnose(healthy_router_ppo(seed=seed + 10))
    assert [f.rule for f in findings if f.severity == "critical"] == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("approx_kl", 0.5),
        ("kl_to_ref", 0.6),
        ("grad_norm", 50.0),
        ("value_loss", 5.0),
        ("clip_fraction", 0.9),
        ("via_null_rate_pred", 1.0),
        ("exact_match", 0.1),
        ("greedy_exact_match", 0.1),
        ("entropy", 0.1),
    ],
)
def test_a_single_spike_is_not_an_alarm(key: str, value: float) -> None:
    records = modify(healthy_router_ppo(), key, lambda step, old: value if step == ONSET else old)
    assert diagnose(records) == []


def test_single_grpo_spikes_are_not_alarms() -> None:
    records = healthy_grpo()
    for key, value in [("kl", 0.9), ("grad_norm", 12.0), ("completions/clipped_ratio", 0.8)]:
        records = modify(records, key, lambda step, old, v=value: v if step == ONSET else old)
    assert diagnose(records) == []


def test_collapse_names_the_seed_signature() -> None:
    """Method §5.3: accuracy falls, KL rises, approx_kl above threshold, value loss swings."""
    findings = diagnose(SCENARIOS["policy_collapse"]())
    rules = [f.rule for f in findings]
    assert rules[0] == "policy_collapse"  # worst first: the collapse heads the report
    assert {"approx_kl_high", "kl_rising", "value_loss_oscillation"} <= set(rules)
    collapse_signals = {e.signal for e in findings[0].evidence}
    assert {"eval_exact_match", "kl", "approx_kl", "value_loss"} <= collapse_signals


def test_findings_are_sorted_worst_first() -> None:
    findings = diagnose(SCENARIOS["policy_collapse"]())
    ranks = [{"critical": 0, "warning": 1, "info": 2}[f.severity] for f in findings]
    assert ranks == sorted(ranks)


def test_level_evidence_points_at_the_onset() -> None:
    (finding,) = diagnose(SCENARIOS["approx_kl_high"]())
    evidence = finding.evidence[0]
    assert evidence.window[0] == ONSET
    assert evidence.threshold == pytest.approx(0.1)
    assert all(value > 0.1 for _, value in evidence.values)


def test_thresholds_come_from_the_config() -> None:
    records = modify(healthy_router_ppo(), "approx_kl", lambda step, old: 0.05)
    assert diagnose(records) == []
    strict = DoctorConfig(approx_kl_max=0.03)
    assert [f.rule for f in diagnose(records, strict)] == ["approx_kl_high"]


def test_rules_can_be_disabled() -> None:
    config = DoctorConfig(disabled=frozenset({"approx_kl_high", "approx_kl_episode"}))
    assert diagnose(SCENARIOS["approx_kl_high"](), config) == []


def test_superseded_findings_are_dropped() -> None:
    rules = [f.rule for f in diagnose(SCENARIOS["via_all_null"]())]
    assert "via_all_null" in rules and "via_null_above_label" not in rules


def test_config_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "doctor.yaml"
    path.write_text("approx_kl_max: 0.05\nwindow: 30\ndisabled: [kl_spike]\n")
    config = DoctorConfig.from_file(path)
    assert config.approx_kl_max == 0.05 and config.window == 30
    assert "kl_spike" not in {r.id for r in build_rules(config)}


def test_docs_cover_every_rule() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for rule_id in RULES:
        assert f"`{rule_id}`" in text, f"docs/doctor.md does not document {rule_id}"
    assert rules_markdown() in text, "regenerate the rule catalog in docs/doctor.md"
