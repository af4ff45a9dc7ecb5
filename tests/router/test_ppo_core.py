"""PPO losses on hand-computed tensors (pathrl.rl.ppo_core)."""

import math

import pytest
import torch

from pathrl.rl.ppo_core import (
    AdaptiveKLController,
    entropy_from_logits,
    explained_variance,
    kl_estimate,
    masked_mean,
    normalize,
    policy_loss,
    value_loss,
)


def test_policy_loss_clips_both_sides():
    # ratios 1.5 (A>0: clipped to 1.2) and 0.5 (A<0: clipped to 0.8 -> min picks 0.8 * -1)
    logp_old = torch.zeros(2)
    logp_new = torch.log(torch.tensor([1.5, 0.5]))
    adv = torch.tensor([1.0, -1.0])
    out = policy_loss(logp_new, logp_old, adv, clip_range=0.2)
    # min(1.5*1, 1.2*1) = 1.2 ; min(0.5*-1, 0.8*-1) = -0.8 ; loss = -(1.2 - 0.8)/2 = -0.2
    assert out.loss.item() == pytest.approx(-0.2)
    assert out.clip_fraction.item() == pytest.approx(1.0)
    expected_kl = ((1.5 - 1) - math.log(1.5) + (0.5 - 1) - math.log(0.5)) / 2
    assert out.approx_kl.item() == pytest.approx(expected_kl)


def test_policy_loss_unclipped_inside_range_and_mask():
    logp_old = torch.zeros(3)
    logp_new = torch.log(torch.tensor([1.1, 0.95, 3.0]))
    adv = torch.tensor([2.0, 1.0, 5.0])
    mask = torch.tensor([1.0, 1.0, 0.0])  # third entry ignored
    out = policy_loss(logp_new, logp_old, adv, clip_range=0.2, mask=mask)
    assert out.loss.item() == pytest.approx(-(1.1 * 2 + 0.95 * 1) / 2)
    assert out.clip_fraction.item() == 0.0


def test_value_loss_with_and_without_clipping():
    values = torch.tensor([2.0])
    returns = torch.tensor([0.0])
    old = torch.tensor([1.0])
    assert value_loss(values, returns).item() == pytest.approx(0.5 * 4.0)
    # clipped value = 1 + clamp(1, -0.5, 0.5) = 1.5 -> error 2.25; max(4, 2.25) = 4
    assert value_loss(values, returns, old, 0.5).item() == pytest.approx(2.0)
    # value moved toward the return: unclipped error 0.25, clipped 1.5^2=2.25 -> pessimistic
    assert value_loss(torch.tensor([0.5]), returns, torch.tensor([2.0]), 0.5).item() == (
        pytest.approx(0.5 * 2.25))


def test_kl_estimators():
    logp = torch.log(torch.tensor([0.5]))
    logp_ref = torch.log(torch.tensor([0.25]))
    k1 = math.log(2)
    assert kl_estimate(logp, logp_ref, "k1").item() == pytest.approx(k1)
    assert kl_estimate(logp, logp_ref, "k2").item() == pytest.approx(0.5 * k1**2)
    assert kl_estimate(logp, logp_ref, "k3").item() == pytest.approx((0.5 - 1) + k1)
    assert kl_estimate(logp, logp, "k3").item() == pytest.approx(0.0)
    with pytest.raises(ValueError, match="k4"):
        kl_estimate(logp, logp_ref, "k4")


def test_k3_is_unbiased_for_categorical_kl():
    torch.manual_seed(0)
    p = torch.tensor([0.6, 0.3, 0.1])
    q = torch.tensor([0.3, 0.3, 0.4])
    exact = (p * (p / q).log()).sum().item()
    samples = torch.multinomial(p, 200_000, replacement=True)
    est = kl_estimate(p.log()[samples], q.log()[samples], "k3").mean().item()
    assert est == pytest.approx(exact, rel=0.03)


def test_normalize_and_masked_mean():
    x = torch.tensor([1.0, 2.0, 3.0, 100.0])
    mask = torch.tensor([1.0, 1.0, 1.0, 0.0])
    assert masked_mean(x, mask).item() == pytest.approx(2.0)
    out = normalize(x, mask)
    assert out[:3].mean().item() == pytest.approx(0.0, abs=1e-6)
    assert out[:3].pow(2).mean().item() == pytest.approx(1.0, rel=1e-4)
    assert out[3].item() == 0.0


def test_entropy_and_explained_variance():
    uniform = torch.zeros(4)
    assert entropy_from_logits(uniform).item() == pytest.approx(math.log(4))
    returns = torch.tensor([1.0, 2.0, 3.0])
    assert explained_variance(returns, returns) == pytest.approx(1.0)
    assert explained_variance(torch.full((3,), 2.0), returns) == pytest.approx(0.0)
    assert math.isnan(explained_variance(returns, torch.ones(3)))


def test_adaptive_kl_controller_moves_smoothly_toward_target():
    ctl = AdaptiveKLController(0.1, target=0.02, horizon=100)
    assert ctl.update(0.2, 10) == pytest.approx(0.1 * (1 + 0.2 * 0.1))  # error capped at +0.2
    value = ctl.value
    assert ctl.update(0.0, 10) == pytest.approx(value * (1 - 0.2 * 0.1))
    fixed = AdaptiveKLController(0.1, target=None)
    assert fixed.update(5.0, 1000) == 0.1
