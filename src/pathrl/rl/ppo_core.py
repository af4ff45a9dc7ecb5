"""PPO losses, written once for every pathrl trainer.

The router trainer calls these with one log-prob per question (a one-step episode whose action is
the (anchor, target, via) triple, log-prob = sum of the three heads); a token-level LLM trainer
calls them with one log-prob per generated token and a mask. Every function takes an optional
`mask` (1 = counts) so both shapes share one implementation.

References: Schulman et al. 2017 (clipped surrogate), Ziegler et al. 2019 (adaptive KL
controller), Schulman's "Approximating KL divergence" note (k1/k2/k3 estimators).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    if mask is None:
        return x.mean()
    mask = mask.to(x.dtype)
    return (x * mask).sum() / mask.sum().clamp_min(1.0)


def normalize(x: torch.Tensor, mask: torch.Tensor | None = None, eps: float = 1e-8,
              shift_mean: bool = True) -> torch.Tensor:
    """Whitening (advantage normalisation): zero mean, unit variance over the masked entries."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    out = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        out = out + mean
    return out if mask is None else out * mask.to(x.dtype)


@dataclass
class PolicyLossOutput:
    loss: torch.Tensor
    clip_fraction: torch.Tensor
    approx_kl: torch.Tensor
    ratio_mean: torch.Tensor


def policy_loss(logp_new: torch.Tensor, logp_old: torch.Tensor, advantages: torch.Tensor,
                clip_range: float, mask: torch.Tensor | None = None) -> PolicyLossOutput:
    """Clipped surrogate: -E[min(r A, clip(r, 1-eps, 1+eps) A)], r = exp(logp_new - logp_old).

    `approx_kl` is the k3 estimate of KL(old || new), E[(r - 1) - log r] (always >= 0), the
    number the target_kl circuit breaker watches."""
    log_ratio = logp_new - logp_old
    ratio = torch.exp(log_ratio)
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range) * advantages
    loss = -masked_mean(torch.min(unclipped, clipped), mask)
    with torch.no_grad():
        clip_fraction = masked_mean(((ratio - 1.0).abs() > clip_range).float(), mask)
        approx_kl = masked_mean((ratio - 1.0) - log_ratio, mask)
        ratio_mean = masked_mean(ratio, mask)
    return PolicyLossOutput(loss, clip_fraction, approx_kl, ratio_mean)


def value_loss(values: torch.Tensor, returns: torch.Tensor, old_values: torch.Tensor | None = None,
               clip_range_vf: float | None = None,
               mask: torch.Tensor | None = None) -> torch.Tensor:
    """0.5 * MSE(values, returns); with `clip_range_vf`, the pessimistic max of the clipped and
    unclipped errors (values may move at most clip_range_vf from the rollout's values)."""
    error = (values - returns) ** 2
    if clip_range_vf is not None and old_values is not None:
        clipped = old_values + torch.clamp(values - old_values, -clip_range_vf, clip_range_vf)
        error = torch.max(error, (clipped - returns) ** 2)
    return 0.5 * masked_mean(error, mask)


def kl_estimate(logp: torch.Tensor, logp_ref: torch.Tensor, kind: str = "k3") -> torch.Tensor:
    """Per-sample estimate of KL(pi || pi_ref) from log-probs of actions sampled from pi.

    k1 = log pi - log pi_ref (unbiased, can be negative); k2 = 0.5 (log ratio)^2;
    k3 = (ratio - 1) - log ratio with ratio = pi_ref / pi (unbiased, always >= 0)."""
    log_ratio = logp - logp_ref
    if kind == "k1":
        return log_ratio
    if kind == "k2":
        return 0.5 * log_ratio**2
    if kind == "k3":
        return torch.expm1(-log_ratio) + log_ratio
    raise ValueError(f"unknown KL estimator '{kind}' (k1, k2 or k3)")


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the categorical distribution(s) defined by `logits` (last dim)."""
    logp = torch.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def explained_variance(values: torch.Tensor, returns: torch.Tensor) -> float:
    """1 - Var(returns - values) / Var(returns); 1 is perfect, 0 is a constant predictor."""
    var_returns = returns.var(unbiased=False)
    if var_returns.item() == 0:
        return float("nan")
    return float(1.0 - (returns - values).var(unbiased=False) / var_returns)


class AdaptiveKLController:
    """Multiplicative, smooth KL-coefficient control (Ziegler et al. 2019):
    beta <- beta * (1 + clip(kl / target - 1, -0.2, 0.2) * n_steps / horizon)."""

    def __init__(self, init_coef: float, target: float | None, horizon: int = 10_000):
        self.value = init_coef
        self.target = target
        self.horizon = horizon

    def update(self, current_kl: float, n_steps: int) -> float:
        if self.target:
            error = max(-0.2, min(0.2, current_kl / self.target - 1.0))
            self.value *= 1.0 + error * n_steps / self.horizon
        return self.value

    def state_dict(self) -> dict[str, float]:
        return {"value": self.value}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.value = state["value"]
