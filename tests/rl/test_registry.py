"""Advantage estimators, policy losses, KL estimators and loss aggregation by name."""

from __future__ import annotations

import pytest
import torch

from pathrl.errors import PathrlError
from pathrl.rl.registry import (
    ADVANTAGE_ESTIMATORS,
    KL_ESTIMATORS,
    POLICY_LOSSES,
    aggregate,
    lookup,
    register,
)


def test_gae_matches_a_hand_computation():
    rewards = torch.tensor([[0.0, 0.0, 1.0, 0.0]])
    values = torch.tensor([[0.5, 0.4, 0.3, 9.0]])  # the last token is padding
    mask = torch.tensor([[1, 1, 1, 0]])
    gamma, lam = 0.9, 0.8
    adv, ret = ADVANTAGE_ESTIMATORS["gae"](rewards, values, mask, gamma=gamma, lam=lam)
    d2 = 1.0 - 0.3  # the episode ends after token 2: next value 0
    d1 = 0.0 + gamma * 0.3 - 0.4
    d0 = 0.0 + gamma * 0.4 - 0.5
    a2, a1 = d2, d1 + gamma * lam * d2
    a0 = d0 + gamma * lam * a1
    assert adv[0].tolist() == pytest.approx([a0, a1, a2, 0.0])
    assert ret[0].tolist() == pytest.approx([a0 + 0.5, a1 + 0.4, a2 + 0.3, 0.0])


def test_group_estimators():
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 2.0, 2.0])
    grpo = ADVANTAGE_ESTIMATORS["grpo"](rewards, group_size=3)
    first = torch.tensor([1.0, 0.0, 0.0])
    expected = (first - first.mean()) / (first.std() + 1e-4)
    assert grpo[:3].tolist() == pytest.approx(expected.tolist(), rel=1e-5)
    assert ADVANTAGE_ESTIMATORS["grpo"](rewards, group_size=3, scale=False)[3:].tolist() == \
        pytest.approx([-2 / 3, 1 / 3, 1 / 3])
    rloo = ADVANTAGE_ESTIMATORS["rloo"](rewards, group_size=3)
    assert rloo[:3].tolist() == pytest.approx([1.0, -0.5, -0.5])
    with pytest.raises(PathrlError, match="groups of 4"):
        ADVANTAGE_ESTIMATORS["grpo"](rewards, group_size=4)
    assert ADVANTAGE_ESTIMATORS["one_step"](torch.tensor([1.0]), torch.tensor([0.25])).item() \
        == 0.75


def test_aggregation_modes_weigh_tokens_differently():
    loss = torch.tensor([[1.0, 1.0, 1.0, 1.0], [4.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 0, 0, 0]])
    assert aggregate(loss, mask, "token_mean").item() == pytest.approx(8 / 5)
    assert aggregate(loss, mask, "seq_mean_token_mean").item() == pytest.approx((1 + 4) / 2)
    assert aggregate(loss, mask, "seq_mean_token_sum").item() == pytest.approx((4 + 4) / 2)
    with pytest.raises(PathrlError, match="unknown loss aggregation"):
        aggregate(loss, mask, "sum")


def test_policy_losses_and_kl_by_name():
    logp_old = torch.log(torch.tensor([0.5, 0.5]))
    logp_new = torch.log(torch.tensor([0.8, 0.2]))
    adv = torch.tensor([1.0, -1.0])
    clipped = POLICY_LOSSES["ppo_clip"](logp_new, logp_old, adv, clip_range=0.2)
    vanilla = POLICY_LOSSES["vanilla"](logp_new, logp_old, adv)
    # pessimistic min: ratio 1.6 counts as 1.2 for A=+1; ratio 0.4 counts as 0.8 for A=-1
    assert clipped.loss.item() == pytest.approx(-(1.2 * 1 + 0.8 * -1) / 2)
    assert vanilla.loss.item() == pytest.approx(-(1.6 - 0.4) / 2)
    k3 = KL_ESTIMATORS["k3"](logp_new, logp_old)
    assert bool((k3 >= 0).all())
    assert KL_ESTIMATORS["k1"](logp_new, logp_old).tolist() == pytest.approx(
        (logp_new - logp_old).tolist())


def test_lookup_and_register():
    with pytest.raises(PathrlError, match="known: .*grpo"):
        lookup(ADVANTAGE_ESTIMATORS, "nope", "advantage estimator")
    with pytest.raises(ValueError, match="already registered"):
        register(ADVANTAGE_ESTIMATORS, "gae")(lambda: None)
