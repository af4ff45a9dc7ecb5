"""The live callback flags symptoms when they appear and stops training on a critical one."""

from __future__ import annotations

import logging

import pytest
from doctor_scenarios import SCENARIOS
from doctor_synth import ONSET, healthy_router_ppo

from pathrl.doctor import DoctorCallback, Finding


def _feed(callback: DoctorCallback, records: list[dict[str, float]]) -> dict[str, int]:
    """Feed updates until the callback asks to stop; return rule -> update it appeared at."""
    appeared: dict[str, int] = {}
    for record in records:
        step = int(record["step"])
        for finding in callback.on_update(step, record):
            assert isinstance(finding, Finding)
            appeared.setdefault(finding.rule, step)
        if callback.should_stop:
            break
    return appeared


def test_healthy_run_never_stops() -> None:
    callback = DoctorCallback(stop_on_critical=True)
    assert _feed(callback, healthy_router_ppo()) == {}
    assert not callback.should_stop and callback.findings == []


def test_critical_finding_stops_training_soon_after_onset() -> None:
    callback = DoctorCallback(stop_on_critical=True)
    appeared = _feed(callback, SCENARIOS["approx_kl_high"]())
    assert callback.should_stop
    # Three consecutive points above 0.1 are a warning episode; critical once half of ten
    # consecutive updates are above it (the fifth), so a short blip never stops a run.
    assert appeared == {"approx_kl_episode": ONSET + 2, "approx_kl_high": ONSET + 4}


def test_collapse_is_caught_live() -> None:
    callback = DoctorCallback(stop_on_critical=False)
    appeared = _feed(callback, SCENARIOS["policy_collapse"]())
    assert not callback.should_stop  # stop_on_critical=False only reports
    assert {"approx_kl_high", "policy_collapse", "value_loss_oscillation"} <= set(appeared)
    assert min(appeared.values()) >= ONSET - 10  # nothing flagged during the healthy part


def test_each_rule_is_reported_once() -> None:
    callback = DoctorCallback(stop_on_critical=False)
    _feed(callback, SCENARIOS["approx_kl_high"]())
    assert [f.rule for f in callback.findings] == ["approx_kl_episode", "approx_kl_high"]


def test_nan_metric_stops_training(caplog: pytest.LogCaptureFixture) -> None:
    callback = DoctorCallback()
    with caplog.at_level(logging.WARNING, logger="pathrl.doctor"):
        appeared = _feed(callback, SCENARIOS["non_finite_metrics"]())
    assert callback.should_stop and appeared == {"non_finite_metrics": 40}
    assert "non_finite_metrics" in caplog.text


def test_on_finding_hook_and_check_every() -> None:
    seen: list[str] = []
    callback = DoctorCallback(check_every=5, on_finding=lambda f: seen.append(f.rule))
    _feed(callback, SCENARIOS["approx_kl_high"]())
    assert seen == ["approx_kl_high"]
    assert callback.should_stop


def test_accepts_numpy_scalars_and_ignores_non_numbers() -> None:
    import numpy as np

    callback = DoctorCallback()
    assert callback.on_update(0, {"approx_kl": np.float32(0.01), "note": "text"}) == []


@pytest.mark.parametrize("scenario", ["kl_rising", "approx_kl_high"])
def test_a_resumed_doctor_sees_the_whole_run(scenario: str) -> None:
    """The trainer checkpoints the callback's state: a doctor restored mid-run reports what an
    uninterrupted one reports, at the same updates (a trend that began before the cut too)."""
    import pickle

    records = SCENARIOS[scenario]()
    whole = DoctorCallback(stop_on_critical=False)
    expected = _feed(whole, records)
    assert expected  # the scenario raises something to compare
    cut = min(expected.values()) - 1  # inside the symptom, one update before its report
    first = DoctorCallback(stop_on_critical=False)
    before = _feed(first, records[:cut])
    saved = pickle.loads(pickle.dumps(first.state_dict()))  # as torch.save stores it
    resumed = DoctorCallback(stop_on_critical=False)
    resumed.load_state_dict(saved)
    after = _feed(resumed, records[cut:])
    assert {**before, **after} == expected
    assert [f.rule for f in resumed.findings] == [f.rule for f in whole.findings]
    fresh = DoctorCallback(stop_on_critical=False)  # what resuming did before: no history
    assert _feed(fresh, records[cut:]) != {k: v for k, v in expected.items()
                                          if k not in before}
