"""Regressions from a user's run of the doctor on 15 real public logs (TRL, SB3).

Each test rebuilds the shape of one real log (values, noise, metric names) and checks the
verdict a practitioner gives it: the old rule set overcalled (or missed) every one of them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pathrl.doctor import DoctorConfig, run_doctor
from pathrl.doctor.engine import DoctorReport

Records = list[dict[str, float]]


def _rules(report: DoctorReport) -> set[str]:
    return {f.rule for f in report.findings}


def _critical(report: DoctorReport) -> set[str]:
    return {f.rule for f in report.findings if f.severity == "critical"}


def _records(n: int, **columns: np.ndarray) -> Records:
    return [
        {"step": float(i + 1), **{k: float(v[i]) for k, v in columns.items()}} for i in range(n)
    ]


def _sb3_ppo_healthy(n: int = 400, seed: int = 0) -> Records:
    """SB3 PPO as logged: ep_rew_mean climbs, train/loss is a signed sum near zero, the value
    loss wobbles 0.02–0.13 from update to update, approx_kl ~0.01 with a 4-update blip."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, n)
    approx_kl = 0.012 * np.exp(0.4 * rng.standard_normal(n))
    approx_kl[n // 2 : n // 2 + 4] = [0.13, 0.16, 0.12, 0.11]
    return _records(
        n,
        **{
            "rollout/ep_rew_mean": 20 + 400 * (1 - np.exp(-5 * t)) + 5 * rng.standard_normal(n),
            "train/loss": 0.02 * rng.standard_normal(n),
            "train/value_loss": rng.uniform(0.02, 0.13, n),
            "train/approx_kl": approx_kl,
            "train/clip_fraction": 0.08 + 0.02 * rng.standard_normal(n),
            "train/entropy_loss": -(0.69 - 0.3 * t),
            "train/explained_variance": 0.5 + 0.3 * t,
            "train/policy_gradient_loss": -0.01 + 0.003 * rng.standard_normal(n),
        },
    )


def test_reward_that_learned_early_then_held_is_not_flat() -> None:
    """Reward 1.9 -> 13.6 in the first 5% of steps, then ~17 (thirds' medians 17.08 vs 17.18)."""
    rng = np.random.default_rng(3)
    n = 300
    reward = np.concatenate([np.linspace(1.9, 13.6, 15), 17.1 + 0.8 * rng.standard_normal(n - 15)])
    records = _records(n, reward=reward, kl=np.full(n, 0.05), grad_norm=np.full(n, 0.5))
    report = run_doctor(records)
    assert "reward_flat" not in _rules(report)
    assert not any("SFT weights" in cause for f in report.findings for cause in f.causes)
    # A reward that never moved is still flat.
    flat = _records(n, reward=1.9 + 0.1 * rng.standard_normal(n), kl=np.full(n, 0.05))
    assert "reward_flat" in _rules(run_doctor(flat))


def test_healthy_sb3_ppo_has_no_loss_value_or_critical_approx_kl_finding() -> None:
    report = run_doctor(_sb3_ppo_healthy())
    assert "sb3" in report.logs[0].flavors
    rules = _rules(report)
    assert "loss_unstable" not in rules
    assert "value_loss_oscillation" not in rules
    assert "approx_kl_high" not in rules and "approx_kl_episode" in rules
    assert _critical(report) == set()


def test_real_value_loss_oscillation_is_still_flagged() -> None:
    records = _sb3_ppo_healthy()
    for record in records:  # method §5.3's collapse: 0.1 <-> 3.0 from update to update
        if record["step"] > 300:
            record["train/value_loss"] = 3.0 if record["step"] % 2 else 0.1
    assert "value_loss_oscillation" in _rules(run_doctor(records))


def test_sustained_approx_kl_is_critical() -> None:
    records = _sb3_ppo_healthy()
    for record in records:
        if record["step"] > 300:
            record["train/approx_kl"] = 0.2
    assert "approx_kl_high" in _critical(run_doctor(records))


def test_hf_trainer_sft_pre_clip_grad_norm_is_not_high(tmp_path: Path) -> None:
    """HF Trainer logs grad_norm before clipping at max_grad_norm=1.0: 6–9 there is clipped."""
    rng = np.random.default_rng(1)
    history = [
        {
            "epoch": round(0.01 * i, 4),
            "grad_norm": float(7 + rng.standard_normal()),
            "learning_rate": 2e-5,
            "loss": float(2.0 * np.exp(-i / 40) + 0.3),
            "step": 10 * i,
        }
        for i in range(1, 81)
    ]
    history.append({"epoch": 0.8, "step": 800, "train_loss": 0.9, "total_flos": 1e15})
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps({"global_step": 800, "log_history": history}))
    report = run_doctor(path)
    assert "hf_trainer" in report.logs[0].flavors
    assert "grad_norm_high" not in _rules(report)
    assert report.findings == []
    # Without the HF Trainer context (a plain JSONL), the same level is flagged.
    plain = [{k: v for k, v in r.items() if k in {"grad_norm", "loss", "step"}} for r in history]
    assert "grad_norm_high" in _rules(run_doctor(plain))


def test_trl_ppo_sequence_kl_is_not_judged_against_per_token_limits() -> None:
    """TRL PPO's objective/kl is summed over the response: 2 -> 9 nats is a healthy run."""
    rng = np.random.default_rng(2)
    n = 120
    t = np.linspace(0, 1, n)
    records = _records(
        n,
        **{
            "objective/kl": 2 + 7 * t + 0.3 * rng.standard_normal(n),
            "objective/scores": 0.5 + 1.5 * t + 0.1 * rng.standard_normal(n),
            "objective/non_score_reward": -(2 + 7 * t) * 0.05,
            "policy/approxkl_avg": 0.02 * np.exp(0.3 * rng.standard_normal(n)),
            "episode": 64.0 * np.arange(1, n + 1),
        },
    )
    report = run_doctor(records)
    log = report.logs[0]
    assert "kl" not in log.signals and log.get("kl_sequence").raw_name == "objective/kl"
    assert log.get("non_score_reward") is not None
    assert {"kl_divergent", "kl_above_safe", "reward_up_kl_exploding"}.isdisjoint(_rules(report))
    assert _critical(report) == set()


def _dead_grpo(n: int = 60) -> Records:
    zeros = np.zeros(n)
    return _records(
        n,
        reward=zeros,
        reward_std=zeros,
        frac_reward_zero_std=np.ones(n),
        loss=zeros,
        grad_norm=zeros,
        kl=zeros,
        **{"completions/mean_length": np.full(n, 120.0)},
    )


def test_run_without_any_learning_signal_is_critical_not_beta_too_high() -> None:
    report = run_doctor(_dead_grpo())
    assert "no_learning_signal" in _critical(report)
    # KL is low because every advantage is zero: no "beta too high" reading.
    assert {"kl_low_reward_flat", "policy_not_moving", "reward_flat"}.isdisjoint(_rules(report))
    assert not any("beta" in cause for f in report.findings for cause in f.causes)


def test_sparse_but_alive_grpo_does_not_blame_beta() -> None:
    rng = np.random.default_rng(4)
    n = 60
    records = _records(
        n,
        reward=0.1 + 0.01 * rng.standard_normal(n),
        frac_reward_zero_std=np.full(n, 0.9),
        kl=np.full(n, 0.001),
        grad_norm=0.3 + 0.05 * rng.standard_normal(n),
    )
    rules = _rules(run_doctor(records))
    assert "frac_reward_zero_std_high" in rules
    assert "kl_low_reward_flat" not in rules and "no_learning_signal" not in rules


def test_dead_run_exits_1_through_the_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pathrl.doctor.cli import app

    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _dead_grpo()))
    result = CliRunner().invoke(app, [str(path), "--json"])
    assert result.exit_code == 1
    assert "no_learning_signal" in {f["rule"] for f in json.loads(result.stdout)}


def test_kl_nan_from_step_one_is_not_a_divergence() -> None:
    rng = np.random.default_rng(5)
    n = 40
    reward = np.linspace(0.2, 0.8, n) + 0.02 * rng.standard_normal(n)
    records = _records(
        n, reward=reward, kl=np.full(n, np.nan), frac_reward_zero_std=np.full(n, 0.1)
    )
    report = run_doctor(records)
    assert "metric_never_finite" in _rules(report)
    assert "non_finite_metrics" not in _rules(report) and not report.has_critical
    # A KL that was finite and then went NaN is a divergence.
    diverged = [dict(r, kl=0.05 if r["step"] < 30 else float("nan")) for r in records]
    assert "non_finite_metrics" in _critical(run_doctor(diverged))


def test_shaped_reward_up_with_flat_success_rate() -> None:
    rng = np.random.default_rng(6)
    n = 100
    records = _records(
        n,
        **{
            "rollout/ep_rew_mean": np.linspace(-50, 80, n) + 3 * rng.standard_normal(n),
            "rollout/success_rate": np.clip(0.05 + 0.01 * rng.standard_normal(n), 0, 1),
        },
    )
    assert "reward_up_success_flat" in _rules(run_doctor(records))
    learning = [dict(r, **{"rollout/success_rate": r["step"] / n}) for r in records]
    assert "reward_up_success_flat" not in _rules(run_doctor(learning))


def _write_monitor(path: Path, returns: np.ndarray, length: int = 200) -> Path:
    lines = ['#{"t_start": 1700000000.0, "env_id": "LunarLander-v2"}', "r,l,t"]
    lines += [f"{r:.3f},{length},{i * 0.5:.2f}" for i, r in enumerate(returns)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_sb3_monitor_csv_is_read_and_a_lost_reward_peak_is_flagged(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    up = np.linspace(-200, 200, 600)
    down = np.linspace(200, -80, 400)
    returns = np.concatenate([up, down]) + 20 * rng.standard_normal(1000)
    report = run_doctor(_write_monitor(tmp_path / "monitor.csv", returns))
    log = report.logs[0]
    assert "sb3" in log.flavors
    reward = log.get("reward")
    assert reward.raw_name == "monitor/ep_rew_mean"
    assert reward.steps[0] == 200 and reward.steps[-1] == 200 * 1000  # cumulative env steps
    assert "reward_gain_lost" in _rules(report)
    # The same rise without the fall is healthy.
    healthy = _write_monitor(tmp_path / "healthy.monitor.csv", up + 20 * rng.standard_normal(600))
    assert run_doctor(healthy).findings == []


def test_sb3_run_directory_reads_monitor_and_tensorboard(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    rng = np.random.default_rng(8)
    _write_monitor(tmp_path / "monitor.csv", np.linspace(20, 400, 300) + rng.standard_normal(300))
    writer = SummaryWriter(str(tmp_path / "PPO_1"))
    for record in _sb3_ppo_healthy(n=60):
        for name in ("train/approx_kl", "train/value_loss", "train/loss"):
            writer.add_scalar(name, record[name], int(record["step"]) * 2048)
    writer.close()
    report = run_doctor(tmp_path)
    sources = sorted(Path(log.source).name for log in report.logs)
    assert sources == ["PPO_1", "monitor.csv"]
    assert all("sb3" in log.flavors for log in report.logs)
    assert not report.has_critical


def test_broken_monitor_csv_is_a_clear_error(tmp_path: Path) -> None:
    from pathrl.errors import PathrlError

    path = tmp_path / "monitor.csv"
    path.write_text('#{"t_start": 1}\nreward,len\n1,2\n')
    with pytest.raises(PathrlError, match="r,l,t"):
        run_doctor(path)


def test_trl_and_verl_metric_names_are_mapped() -> None:
    trl = {
        "step": 1.0,
        "episode": 64.0,
        "rewards/accuracy_reward/mean": 0.4,
        "rewards/accuracy_reward/std": 0.3,
        "clip_ratio/low_mean": 0.01,
        "clip_ratio/high_mean": 0.02,
        "clip_ratio/region_mean": 0.03,
        "completions/mean_terminated_length": 88.0,
        "eval_loss": 1.2,
        "train_loss": 1.4,
    }
    log = run_doctor([dict(trl, step=float(i)) for i in range(3)]).logs[0]
    expected = {
        "success": "rewards/accuracy_reward/mean",
        "clip_fraction": "clip_ratio/region_mean",
        "clip_fraction_low": "clip_ratio/low_mean",
        "clip_fraction_high": "clip_ratio/high_mean",
        "terminated_length": "completions/mean_terminated_length",
        "eval_loss": "eval_loss",
        "loss": "train_loss",
    }
    assert {k: log.get(k).raw_name for k in expected} == expected
    # `episode` is the step when nothing else is.
    no_step = run_doctor([{"episode": 64.0 * (i + 1), "objective/kl": 3.0} for i in range(3)])
    assert list(no_step.logs[0].get("kl_sequence").steps) == [64.0, 128.0, 192.0]
    verl = {
        "training/global_step": 1.0,
        "actor/ppo_kl": 0.01,
        "actor/kl_loss": 0.02,
        "critic/score/mean": 0.5,
        "response_length/clip_ratio": 0.1,
        "response_length/mean": 300.0,
        "actor/pg_clipfrac": 0.02,
        "actor/entropy": 0.9,
    }
    records = [dict(verl, **{"training/global_step": float(i)}) for i in range(3)]
    log = run_doctor(records).logs[0]
    assert "verl" in log.flavors
    assert {
        k: log.get(k).raw_name
        for k in ("approx_kl", "kl", "reward", "clipped_ratio", "completion_length")
    } == {
        "approx_kl": "actor/ppo_kl",
        "kl": "actor/kl_loss",
        "reward": "critic/score/mean",
        "clipped_ratio": "response_length/clip_ratio",
        "completion_length": "response_length/mean",
    }


def test_new_thresholds_are_configurable() -> None:
    strict = DoctorConfig(approx_kl_sustained_fraction=0.3)
    assert "approx_kl_high" in _critical(run_doctor(_sb3_ppo_healthy(), strict))


# --- real logs (tests/doctor/fixtures, MIT / Apache-2.0; see SOURCES.md there) -------------

FIXTURES = Path(__file__).parent / "fixtures"


def test_real_sb3_dqn_run_that_never_learned_is_flat_not_unstable() -> None:
    """17k steps at ep_rew_mean ~21 (a random CartPole policy): flat; SB3's loss is no alarm."""
    report = run_doctor(FIXTURES / "sb3_dqn_cartpole_flat")
    assert "sb3" in report.logs[0].flavors
    assert _rules(report) == {"reward_flat"}
    assert not report.has_critical


def test_real_hf_trainer_state_is_healthy() -> None:
    report = run_doctor(FIXTURES / "hf_trainer_state_classifier" / "trainer_state.json")
    assert "hf_trainer" in report.logs[0].flavors
    assert report.findings == []


def test_real_llamafactory_trainer_log_uses_current_steps() -> None:
    report = run_doctor(FIXTURES / "llamafactory_trainer_log")
    loss = report.logs[0].get("loss")
    assert loss.steps[0] == 1 and loss.steps[-1] == 202
    assert not any("position" in note for note in report.notes)
    assert report.findings == []


def test_a_few_zero_std_steps_at_the_start_are_not_a_dead_run() -> None:
    """A hard task gives all-zero-std groups for the first steps of a healthy GRPO run."""
    records = _dead_grpo(n=12)
    assert "no_learning_signal" not in _rules(run_doctor(records))


def test_dead_run_stops_training_live() -> None:
    from pathrl.doctor import DoctorCallback

    callback = DoctorCallback(stop_on_critical=True)
    for record in _dead_grpo():
        callback.on_update(int(record["step"]), record)
        if callback.should_stop:
            break
    assert callback.should_stop
    assert "no_learning_signal" in {f.rule for f in callback.findings}


# The two GRPO runs of docs/llm_rl.md, step by step as logged (SmolLM2 after an SFT cold start).
_HEALTHY_GRPO_TABLE = {  # 10 steps, lr 1e-5, beta 0.04
    "reward": [1.750, 1.469, 2.188, 2.000, 2.875, 2.000, 1.625, 1.500, 2.438, 1.500],
    "rewards/correctness_reward/mean": [0.25, 0.0, 0.625, 0.5, 1.0, 0.5, 0.0, 0.0, 0.625, 0.0],
    "frac_reward_zero_std": [0.5, 0.5, 0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 0.5, 1.0],
    "kl": [0.0, 0.001, 0.001, 0.002, 0.008, 0.006, 0.003, 0.008, 0.003, 0.008],
    "entropy": [0.097, 0.144, 0.150, 0.108, 0.060, 0.116, 0.170, 0.150, 0.081, 0.168],
    "completions/mean_length": [88.1, 67.5, 89.9, 72.3, 73.6, 85.9, 90.8, 95.6, 83.3, 99.1],
    "grad_norm": [0.27, 0.91, 0.85, 0.75, 0.96, 0.60, 0.56, 0.02, 0.37, 0.05],
    "learning_rate": [1e-5] * 10,
}
_BROKEN_GRPO_TABLE = {  # 8 steps, lr 1e-3, beta 0, num_iterations 8: collapsed at step 0-1
    "reward": [1.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    "frac_reward_zero_std": [0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    "approx_kl": [2.3, 2.6, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    "entropy": [0.3606, 0.30, 0.20, 0.15, 0.13, 0.13, 0.12, 0.1248],
    "completions/mean_length": [47.62, 8.0, 128, 128, 128, 128, 128, 128],
    "completions/clipped_ratio": [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    "grad_norm": [0.9, 0.4, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    "learning_rate": [1e-3] * 8,
}


def _table(columns: dict[str, list[float]]) -> Records:
    n = len(next(iter(columns.values())))
    return _records(n, **{k: np.asarray(v, dtype=float) for k, v in columns.items()})


def test_a_grpo_policy_that_collapsed_is_critical_and_stops_live() -> None:
    """The broken run: its reward and its learning signal were gone from step 1; before the
    rule, four warnings and no critical finding (stop_on_critical would not have stopped)."""
    from pathrl.doctor import DoctorCallback

    assert _critical(run_doctor(_table(_BROKEN_GRPO_TABLE))) == {"learning_signal_lost"}
    callback = DoctorCallback(stop_on_critical=True)
    stopped_at = None
    for record in _table(_BROKEN_GRPO_TABLE):
        callback.on_update(int(record["step"]), record)
        if callback.should_stop:
            stopped_at = int(record["step"])
            break
    assert stopped_at == 5  # 4 dead steps after the one that still had a signal


def test_the_healthy_grpo_run_is_not_a_collapse() -> None:
    """Its zero-std steps (7 and 9) are isolated and its reward comes back."""
    report = run_doctor(_table(_HEALTHY_GRPO_TABLE))
    assert _critical(report) == set()
    assert "learning_signal_lost" not in _rules(report)
