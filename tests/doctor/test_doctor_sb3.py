"""A real (tiny) stable-baselines3 PPO run on CartPole is diagnosed as healthy."""

from __future__ import annotations

from pathlib import Path

import pytest

from pathrl.doctor import run_doctor


@pytest.mark.slow
def test_real_short_sb3_ppo_run_has_no_critical_finding(tmp_path: Path) -> None:
    stable_baselines3 = pytest.importorskip("stable_baselines3")
    import torch

    # A tiny MLP: extra threads only fight the other tests for the two shared cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model = stable_baselines3.PPO(
        "MlpPolicy",
        "CartPole-v1",
        n_steps=128,
        batch_size=64,
        n_epochs=4,
        seed=0,
        device="cpu",
        verbose=0,
        tensorboard_log=str(tmp_path),
    )
    try:
        model.learn(total_timesteps=4096)
    finally:
        torch.set_num_threads(threads)
    report = run_doctor(tmp_path)
    log = report.logs[0]
    assert "sb3" in log.flavors
    assert {"approx_kl", "value_loss", "reward", "entropy", "clip_fraction"} <= set(log.signals)
    assert len(log.get("approx_kl")) >= 20
    assert [f.rule for f in report.findings if f.severity == "critical"] == []
