"""Registries of the interchangeable parts of a policy-gradient trainer (as verl does):
advantage estimators, policy losses, KL estimators and loss aggregation modes.

    advantages = ADVANTAGE_ESTIMATORS["grpo"](rewards=r, group_size=8)
    loss = POLICY_LOSSES["ppo_clip"](logp_new, logp_old, advantages, clip_range=0.2, mask=m)
    kl = KL_ESTIMATORS["k3"](logp, logp_ref)
    value = aggregate(per_token_loss, mask, "token_mean")

A trainer's config names them by string (`advantage_estimator: grpo`), so a new estimator is
one decorated function: `@register(ADVANTAGE_ESTIMATORS, "my_estimator")`. Names:

- advantages: `one_step` (reward − value: a one-step episode, the router), `gae` (token-level
  generalised advantage estimation, γ and λ), `grpo` (group-normalised: (r − mean_g) / (std_g +
  ε) over the G completions of one prompt), `rloo` (leave-one-out: r − mean of the others).
- policy losses: `ppo_clip` (clipped surrogate), `vanilla` (−ratio·A, no clip, for ablations).
- KL estimators: `k1`, `k2`, `k3` (Schulman's note; k3 is unbiased and ≥ 0).
- aggregation: `token_mean` (every token weighs the same, DAPO / Dr.GRPO style),
  `seq_mean_token_mean` (mean per sequence, then over sequences: the original GRPO),
  `seq_mean_token_sum` (sum per sequence, then mean: longer answers weigh more).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch

from pathrl.errors import PathrlError
from pathrl.rl.ppo_core import PolicyLossOutput, kl_estimate, masked_mean, policy_loss

F = TypeVar("F", bound=Callable)

ADVANTAGE_ESTIMATORS: dict[str, Callable[..., torch.Tensor]] = {}
POLICY_LOSSES: dict[str, Callable[..., PolicyLossOutput]] = {}
KL_ESTIMATORS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {}
AGGREGATIONS = ("token_mean", "seq_mean_token_mean", "seq_mean_token_sum")


def register(registry: dict[str, Callable], name: str) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        if name in registry:
            raise ValueError(f"'{name}' is already registered")
        registry[name] = fn
        return fn

    return decorate


def lookup(registry: dict[str, Callable], name: str, what: str) -> Callable:
    """The registered function, or a clear error listing the known names."""
    if name not in registry:
        raise PathrlError(f"unknown {what} '{name}' (known: {', '.join(sorted(registry))})")
    return registry[name]


# -- advantage estimators ----------------------------------------------------------------------
@register(ADVANTAGE_ESTIMATORS, "one_step")
def one_step_advantages(rewards: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """A one-step episode (the router): no bootstrapping, GAE reduces to reward − value."""
    return rewards - values


@register(ADVANTAGE_ESTIMATORS, "gae")
def gae_advantages(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor,
                   gamma: float = 1.0, lam: float = 0.95) -> tuple[torch.Tensor, torch.Tensor]:
    """Token-level GAE over [batch, tokens] (mask: 1 on completion tokens, contiguous from the
    first). The value after the last real token is 0 (the episode ends at EOS or truncation).
    Returns (advantages, returns), both 0 where masked."""
    mask = mask.to(rewards.dtype)
    values = values * mask
    advantages = torch.zeros_like(rewards)
    last = torch.zeros(rewards.shape[0], dtype=rewards.dtype, device=rewards.device)
    for t in reversed(range(rewards.shape[1])):
        next_value = values[:, t + 1] if t + 1 < rewards.shape[1] else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = (delta + gamma * lam * last) * mask[:, t]
        advantages[:, t] = last
    returns = (advantages + values) * mask
    return advantages * mask, returns


def _groups(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    if group_size < 1 or rewards.numel() % group_size:
        raise PathrlError(f"{rewards.numel()} rewards do not split into groups of {group_size}")
    return rewards.reshape(-1, group_size)


@register(ADVANTAGE_ESTIMATORS, "grpo")
def group_normalised_advantages(rewards: torch.Tensor, group_size: int, eps: float = 1e-4,
                                scale: bool = True) -> torch.Tensor:
    """(r − mean of its group) / (std of its group + eps); rewards are ordered group by group
    (the G completions of a prompt are consecutive). `scale=False`: no division (Dr. GRPO)."""
    grouped = _groups(rewards, group_size)
    centred = grouped - grouped.mean(dim=1, keepdim=True)
    if scale and group_size > 1:
        centred = centred / (grouped.std(dim=1, keepdim=True) + eps)
    return centred.reshape(-1)


@register(ADVANTAGE_ESTIMATORS, "rloo")
def leave_one_out_advantages(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """r − mean of the other G − 1 rewards of its group (RLOO)."""
    if group_size < 2:
        raise PathrlError("rloo needs groups of at least 2 completions")
    grouped = _groups(rewards, group_size)
    others = (grouped.sum(dim=1, keepdim=True) - grouped) / (group_size - 1)
    return (grouped - others).reshape(-1)


# -- policy losses -----------------------------------------------------------------------------
register(POLICY_LOSSES, "ppo_clip")(policy_loss)


@register(POLICY_LOSSES, "vanilla")
def vanilla_policy_loss(logp_new: torch.Tensor, logp_old: torch.Tensor,
                        advantages: torch.Tensor, clip_range: float = 0.0,
                        mask: torch.Tensor | None = None) -> PolicyLossOutput:
    """−ratio · A without clipping (same gradient as REINFORCE at ratio 1)."""
    log_ratio = logp_new - logp_old
    ratio = torch.exp(log_ratio)
    loss = -masked_mean(ratio * advantages, mask)
    with torch.no_grad():
        zero = torch.zeros((), device=ratio.device)
        approx_kl = masked_mean((ratio - 1.0) - log_ratio, mask)
    return PolicyLossOutput(loss, zero, approx_kl, masked_mean(ratio.detach(), mask))


# -- KL estimators -----------------------------------------------------------------------------
for _name in ("k1", "k2", "k3"):
    register(KL_ESTIMATORS, _name)(
        lambda logp, logp_ref, _kind=_name: kl_estimate(logp, logp_ref, _kind))


# -- loss aggregation --------------------------------------------------------------------------
def aggregate(values: torch.Tensor, mask: torch.Tensor, mode: str = "token_mean") -> torch.Tensor:
    """Reduce a [batch, tokens] loss over the masked tokens (see the module doc)."""
    mask = mask.to(values.dtype)
    if mode == "token_mean":
        return (values * mask).sum() / mask.sum().clamp_min(1.0)
    per_sequence = (values * mask).sum(dim=1)
    if mode == "seq_mean_token_mean":
        return (per_sequence / mask.sum(dim=1).clamp_min(1.0)).mean()
    if mode == "seq_mean_token_sum":
        return per_sequence.mean()
    raise PathrlError(f"unknown loss aggregation '{mode}' (known: {', '.join(AGGREGATIONS)})")
