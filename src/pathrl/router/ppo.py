"""PPO for the Router (docs/method.md §5-6): one-step episodes over the (anchor, target, via) heads.

Each update: sample a batch of training questions, sample a triple from the three heads of the
current policy (factorised policy: joint log-prob = sum of the heads' log-probs), score it with
the layered reward, then run `n_epochs` of clipped-surrogate updates. Advantage = reward - value
(a one-step episode has no bootstrapping: GAE reduces to this). The losses come from
`pathrl.rl.ppo_core`, shared with the token-level trainers.

Defaults are the conservative "golden config" (method §6.1); `PPOConfig.aggressive()` is the
left column of that table, to reproduce the collapse (accuracy falls, KL climbs, value loss
swings) and let `pathrl doctor` diagnose it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from pathrl.devices import resolve_device
from pathrl.errors import PathrlError
from pathrl.rl.batching import (
    length_sorted_chunks,
    restore_order,
    sorted_micro_batches,
    take_rows,
    token_lengths,
)
from pathrl.rl.ppo_core import (
    AdaptiveKLController,
    entropy_from_logits,
    explained_variance,
    kl_estimate,
    normalize,
    policy_loss,
    value_loss,
)
from pathrl.rl.registry import ADVANTAGE_ESTIMATORS
from pathrl.rl.trainer import LoopSettings, StepResult, Trainer
from pathrl.router.model import RouterModel
from pathrl.router.reward import LayeredReward, RewardConfig
from pathrl.router.types import LabelledQuestion


@dataclass
class PPOConfig:
    """Router PPO hyperparameters. Defaults: the golden (conservative) config of method §6.1."""

    total_updates: int = 30
    """Number of rollout + optimisation rounds."""
    rollout_batch_size: int = 128
    """Questions per rollout ("batch size: larger is better" — stable gradients)."""
    minibatch_size: int = 64
    """Questions per optimiser step."""
    micro_batch_size: int = 32
    """Questions per forward/backward; gradients accumulate up to `minibatch_size`."""
    n_epochs: int = 2
    """Passes over each rollout (method §6.1: 10 collapses, 2-4 is stable)."""
    learning_rate: float = 5e-6
    """Actor learning rate (method §6.1: 1e-6...5e-6, an order of magnitude below SFT)."""
    head_learning_rate: float | None = 5e-4
    """Learning rate of what SFT trains at its head rate (the heads, the path scorer's
    projections and linking weights, added-character embeddings); None: `learning_rate`.
    At the backbone's 5e-6 the heads barely move in a few updates, and PPO changes nothing;
    5e-4 (a quarter of SFT's head rate) was chosen on questions the generator wrote with three
    other seeds, not on the demo's test split (docs/router.md, PPO)."""
    critic_learning_rate: float = 2.5e-5
    """Critic learning rate, above the actor's (method §6.2: e.g. 5e-6 vs 1e-6): must fit fast."""
    value_head_learning_rate: float = 1e-3
    """The value head itself starts from zero (only the features below it come from SFT):
    under Adam a backbone-sized rate would leave it near zero for the whole run."""
    cosine_decay: bool = True
    """Cosine-decay both learning rates to 0 over `total_updates`."""
    clip_range: float = 0.15
    """PPO ratio clip epsilon (method §6.1: 0.1-0.15; aggressive 0.2)."""
    clip_range_vf: float | None = 0.2
    """Value clipping around the rollout's values (None disables)."""
    vf_coef: float = 0.05
    """Weight of the value loss (method §6.1: 0.01-0.1; 0.5 drags the actor)."""
    ent_coef: float = 0.001
    """Entropy bonus (sum of the three heads' entropies)."""
    target_kl: float | None = 0.03
    """Circuit breaker: stop this update's epochs when approx_kl > 1.5 x target_kl."""
    max_kl_trips: int = 4
    """Stop training when the breaker trips on this many consecutive updates."""
    kl_coef: float = 0.05
    """Initial coefficient of the KL-to-reference (SFT) penalty in the loss."""
    kl_target: float | None = 0.02
    """Target of the adaptive KL coefficient (None keeps kl_coef fixed)."""
    kl_horizon: int = 2_000
    """Horizon (in questions) of the adaptive KL controller."""
    kl_estimator: str = "k3"
    """Estimator of KL(pi || pi_ref) on sampled actions: k1, k2 or k3."""
    normalize_advantage: bool = True
    max_grad_norm: float = 1.0
    freeze_layers: int = 3
    """Freeze the embeddings + first N backbone layers (method §6.1: first 10 of Qwen-0.5B's 24;
    MiniLM has 6)."""
    critic: str = "shared"
    """`shared` (method §4.1: value gradients reach the backbone) or `separate` (own copy)."""
    value_head_init: str = "zero"
    """`zero`: values start at 0 (with SFT features below: the critic starts from SFT);
    `random`: a randomly initialised head (method §5.4's collapse cause)."""
    critic_warmup_updates: int = 2
    """First updates train only the critic, so advantages are not driven by a blank critic."""
    eval_every: int = 5
    """Greedy exact match on the validation split every N updates (0 = never)."""
    checkpoint_every: int = 10
    """Save model, optimiser, scheduler and RNG state every N updates (0 = never)."""
    doctor: bool = True
    """Run `pathrl doctor`'s rules live on the metrics."""
    stop_on_critical: bool = False
    """Stop training when the doctor raises a critical finding."""
    exec_feedback: bool = False
    """Add the execution-feedback reward (runs the routed query; slower)."""
    keep_best: bool = True
    """Save the policy of the best greedy validation exact match (measured every
    `eval_every` updates, the SFT start included), not the last one: PPO drift that costs
    validation accuracy is never shipped."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    seed: int = 7
    device: str = "auto"
    """Where the policy, the reference and the critic run: auto (cuda, then mps, else cpu),
    cpu, cuda, cuda:N, mps. Sampling, rewards and advantages stay on the CPU (the trainer's
    seeded generator), so a seed draws the same routes on any device."""

    def __post_init__(self) -> None:
        if isinstance(self.reward, dict):
            self.reward = RewardConfig(**self.reward)
        problems = []
        if min(self.learning_rate, self.critic_learning_rate, self.value_head_learning_rate,
               1.0 if self.head_learning_rate is None else self.head_learning_rate) <= 0:
            problems.append("learning rates must be > 0")
        if not 0 < self.clip_range < 1:
            problems.append(f"clip_range must be in (0, 1), got {self.clip_range}")
        if self.vf_coef < 0 or self.ent_coef < 0 or self.kl_coef < 0:
            problems.append("vf_coef, ent_coef and kl_coef must be >= 0")
        if self.target_kl is not None and self.target_kl <= 0:
            problems.append(f"target_kl must be > 0 or None, got {self.target_kl}")
        for name in ("total_updates", "rollout_batch_size", "minibatch_size",
                     "micro_batch_size", "n_epochs", "max_kl_trips"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.minibatch_size > self.rollout_batch_size:
            problems.append("minibatch_size must be <= rollout_batch_size")
        if self.kl_estimator not in ("k1", "k2", "k3"):
            problems.append(f"kl_estimator must be k1|k2|k3, got '{self.kl_estimator}'")
        if self.critic not in ("shared", "separate"):
            problems.append(f"critic must be shared|separate, got '{self.critic}'")
        if self.value_head_init not in ("zero", "random"):
            problems.append("value_head_init must be zero|random")
        if self.freeze_layers < 0:
            problems.append("freeze_layers must be >= 0")
        if problems:
            raise PathrlError("bad PPO config: " + "; ".join(problems))

    @classmethod
    def aggressive(cls, **overrides: Any) -> PPOConfig:
        """The left column of method §6.1: collapses on a pretrained backbone."""
        values = dict(learning_rate=3e-4, critic_learning_rate=3e-4,
                      value_head_learning_rate=3e-4, vf_coef=0.5,
                      clip_range=0.2, target_kl=0.1, max_kl_trips=10_000, n_epochs=10,
                      freeze_layers=0, rollout_batch_size=32, minibatch_size=8,
                      micro_batch_size=8, kl_coef=0.0, kl_target=None, cosine_decay=False,
                      value_head_init="random", critic_warmup_updates=0, clip_range_vf=None,
                      head_learning_rate=None)
        values.update(overrides)
        return cls(**values)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> PPOConfig:
        if name == "golden":
            return cls(**overrides)
        if name == "aggressive":
            return cls.aggressive(**overrides)
        raise PathrlError(f"unknown PPO preset '{name}' (golden or aggressive)")


def _sample(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.multinomial(torch.softmax(logits, -1), 1, generator=generator).squeeze(-1)


def _head_logps(logits: dict[str, torch.Tensor], actions: dict[str, torch.Tensor]) -> torch.Tensor:
    """Log-probability of a joint action: the sum over the policy's heads (three for the
    factored router, one "path" head for the path scorer)."""
    return sum(torch.log_softmax(logits[h], -1).gather(1, actions[h][:, None]).squeeze(1)
               for h in actions)


@dataclass
class RouterRollout:
    """One rollout batch: the sampled routes of `questions` and what PPO needs of them."""

    idx: torch.Tensor  # [n] indices into the prompt pool
    questions: list[str]
    encoded: dict[str, torch.Tensor]  # the questions tokenized once, for every epoch
    actions: dict[str, torch.Tensor]  # head -> [n] sampled class
    logp: torch.Tensor  # [n] joint log-prob under the rollout policy
    ref_logp: torch.Tensor  # [n] under the frozen SFT reference
    values: torch.Tensor  # [n] critic values
    rewards: torch.Tensor  # [n] layered reward
    components: dict[str, float]  # mean reward per layer (anchor, target, via, ...)
    predicted: list[Any]  # sampled triples
    labels: list[Any]  # label triples
    entropy: dict[str, float]  # head -> mean entropy


class RouterPPOTrainer(Trainer):
    """PPO from an SFT router, on the shared skeleton (`pathrl.rl.trainer.Trainer`: loop,
    checkpoints, exact resume, keep-best, doctor callback). `train()` logs every update to
    `<out_dir>/metrics.jsonl` (+ TensorBoard), checkpoints to `<out_dir>/checkpoints/`, and
    saves the shipped policy to `<out_dir>/model`. Metric names:
    `pathrl.rl.metrics.ROUTER_PPO_METRICS`."""

    def __init__(self, model: RouterModel, config: PPOConfig,
                 train: Sequence[LabelledQuestion], val: Sequence[LabelledQuestion],
                 out_dir: str | Path, executor: Callable | None = None,
                 prompt_weights: Sequence[float] | None = None):
        """`train` is the prompt pool rollouts draw from; `prompt_weights` (one per prompt,
        >= 0) make the draw weighted, e.g. towards the questions the SFT router gets wrong
        (`pathrl.router.workflows.prompt_pool`); without them the draw is uniform."""
        if not train:
            raise PathrlError("PPO needs training questions")
        self.model, self.config = model, config
        self.train_set, self.val_set = list(train), list(val)
        self.prompt_weights: torch.Tensor | None = None
        if prompt_weights is not None:
            weights = torch.tensor(list(prompt_weights), dtype=torch.float64)
            if len(weights) != len(self.train_set) or bool((weights < 0).any()) or not bool(
                    weights.sum() > 0):
                raise PathrlError("prompt_weights must be one non-negative weight per prompt, "
                                  "not all zero")
            self.prompt_weights = weights
        self.reward_fn = LayeredReward(config.reward, model.vocab,
                                       executor if config.exec_feedback else None)
        super().__init__(out_dir, LoopSettings(
            total_steps=config.total_updates, seed=config.seed, eval_every=config.eval_every,
            eval_metric="greedy_exact_match", keep_best=config.keep_best,
            checkpoint_every=config.checkpoint_every, max_kl_trips=config.max_kl_trips))
        self.device = resolve_device(config.device)
        model.to(self.device)
        # The reference is the frozen SFT policy: every KL is measured against it.
        self.ref_model = copy.deepcopy(model).eval().requires_grad_(False)
        model.config.freeze_layers = config.freeze_layers
        model.setup_trainable()
        if config.critic == "separate":
            model.make_separate_critic()
        if config.value_head_init == "random":
            torch.nn.init.normal_(model.value_head.weight, std=1.0)
            torch.nn.init.normal_(model.value_head.bias, std=1.0)
        value_head = list(model.value_head.parameters())
        value_ids = {id(p) for p in value_head}
        heads = [] if config.head_learning_rate is None else [
            *model.fresh_parameters(), *model.link_parameters()]
        head_ids = {id(p) for p in heads}
        groups = [
            {"params": [p for p in model.actor_parameters() if id(p) not in head_ids],
             "lr": config.learning_rate},
            {"params": [p for p in model.critic_parameters() if id(p) not in value_ids],
             "lr": config.critic_learning_rate},
            {"params": value_head, "lr": config.value_head_learning_rate},
        ]
        if heads:
            groups.append({"params": heads, "lr": config.head_learning_rate})
        self.optimizer = torch.optim.AdamW(groups, weight_decay=0.0)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)
        self.kl_ctl = AdaptiveKLController(config.kl_coef, config.kl_target, config.kl_horizon)
        model.label_tensors(self.train_set)  # every label must be a legal path
        self.label_triples = [ex.triple for ex in self.train_set]
        self.label_null_rate = sum(not t[2] for t in self.label_triples) / len(self.train_set)
        self.doctor = None
        if config.doctor:
            from pathrl.doctor import DoctorCallback, DoctorConfig

            # We log the pre-clip gradient norm; with clipping on, a steady norm above 5 is
            # already tamed, so only its spikes (grad_norm_explosion) are worth a finding.
            disabled = frozenset({"grad_norm_high"}) if config.max_grad_norm else frozenset()
            self.doctor = DoctorCallback(DoctorConfig(disabled=disabled),
                                         stop_on_critical=config.stop_on_critical)
            self.callbacks.append(self.doctor)

    @property
    def update(self) -> int:
        """Updates done (the skeleton's step counter)."""
        return self.step

    def _lr_factor(self, update: int) -> float:
        if not self.config.cosine_decay:
            return 1.0
        return 0.5 * (1.0 + math.cos(math.pi * min(update, self.config.total_updates)
                                     / self.config.total_updates))

    # -- one update ----------------------------------------------------------------------------
    @torch.no_grad()
    def rollout(self) -> RouterRollout:
        cfg, model = self.config, self.model
        n = len(self.train_set)
        k = min(cfg.rollout_batch_size, n)
        if self.prompt_weights is None:
            idx = torch.randperm(n, generator=self.generator)[:k]
        else:
            idx = torch.multinomial(self.prompt_weights, k, replacement=False,
                                    generator=self.generator)
        idx_list = idx.tolist()
        questions = [self.train_set[i].question for i in idx_list]
        model.eval()
        heads = model.action_heads
        encoded = dict(model.tokenize(questions))
        batches, inverse = sorted_micro_batches(encoded, cfg.micro_batch_size)
        outs = [model.policy(b) for b in batches]
        refs = [self.ref_model.policy(b, with_value=False) for b in batches]
        # The rollout's record lives on the CPU, whatever the model's device.
        cat = {h: restore_order([o.logits[h] for o in outs], inverse).cpu() for h in heads}
        ref_cat = {h: restore_order([r.logits[h] for r in refs], inverse).cpu()
                   for h in heads}
        values = restore_order([o.value for o in outs], inverse).cpu()
        actions = {h: _sample(cat[h], self.generator) for h in heads}
        logp = _head_logps(cat, actions)
        ref_logp = _head_logps(ref_cat, actions)
        predicted = model.triples_of(actions)
        labels = [self.label_triples[i] for i in idx_list]
        rewards, components = self.reward_fn(predicted, labels, idx_list)
        entropy = {h: entropy_from_logits(cat[h]).mean().item() for h in heads}
        return RouterRollout(idx=idx, questions=questions, encoded=encoded, actions=actions,
                             logp=logp, ref_logp=ref_logp, values=values, rewards=rewards,
                             components=components, predicted=predicted, labels=labels,
                             entropy=entropy)

    def optimise(self, batch: RouterRollout) -> dict[str, float]:
        cfg, model = self.config, self.model
        rewards, values_old = batch.rewards, batch.values
        returns = rewards
        advantages = ADVANTAGE_ESTIMATORS["one_step"](rewards, values_old)
        if cfg.normalize_advantage and len(advantages) > 1:
            advantages = normalize(advantages)
        critic_only = self.update < cfg.critic_warmup_updates
        stats: dict[str, list[float]] = {k: [] for k in (
            "policy_loss", "value_loss", "approx_kl", "clip_fraction", "kl_to_ref_live",
            "grad_norm", "entropy")}
        n = len(rewards)
        lengths = token_lengths(batch.encoded)
        tripped = False
        model.eval()  # no dropout: the ratio must be 1 before the first step
        for _epoch in range(cfg.n_epochs):
            order = torch.randperm(n, generator=self.generator).tolist()
            for start in range(0, n, cfg.minibatch_size):
                mb = order[start:start + cfg.minibatch_size]
                self.optimizer.zero_grad()
                mb_kl = 0.0
                # The minibatch's gradient is the sum over its micro-batches however they
                # are cut: cut them by length, so they carry little padding.
                for micro in length_sorted_chunks(mb, lengths, cfg.micro_batch_size):
                    out = model.policy(take_rows(batch.encoded, micro))
                    device = out.value.device  # the rollout's record is on the CPU
                    acts = {h: batch.actions[h][micro].to(device) for h in model.action_heads}
                    logp_new = _head_logps(out.logits, acts)
                    pl = policy_loss(logp_new, batch.logp[micro].to(device),
                                     advantages[micro].to(device), cfg.clip_range)
                    vl = value_loss(out.value, returns[micro].to(device),
                                    values_old[micro].to(device), cfg.clip_range_vf)
                    ent = sum(entropy_from_logits(out.logits[h]) for h in acts).mean()
                    kl_ref = kl_estimate(logp_new, batch.ref_logp[micro].to(device),
                                         cfg.kl_estimator).mean()
                    if critic_only:
                        loss = cfg.vf_coef * vl
                    else:
                        loss = (pl.loss + cfg.vf_coef * vl - cfg.ent_coef * ent
                                + self.kl_ctl.value * kl_ref)
                    (loss * len(micro) / len(mb)).backward()
                    weight = len(micro) / len(mb)
                    mb_kl += pl.approx_kl.item() * weight
                    stats["policy_loss"].append(pl.loss.item())
                    stats["value_loss"].append(vl.item())
                    stats["clip_fraction"].append(pl.clip_fraction.item())
                    stats["kl_to_ref_live"].append(kl_ref.item())
                    stats["entropy"].append(ent.item())
                stats["approx_kl"].append(mb_kl)
                if cfg.target_kl is not None and mb_kl > 1.5 * cfg.target_kl:
                    tripped = True  # method §6.1's circuit breaker: drop this step, end the epochs
                    self.optimizer.zero_grad()
                    break
                params = [p for g in self.optimizer.param_groups for p in g["params"]]
                if critic_only:
                    for p in model.actor_parameters():
                        p.grad = None
                grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                stats["grad_norm"].append(float(grad_norm))
                self.optimizer.step()
            if tripped:
                break
        out = {k: (sum(v) / len(v) if v else float("nan")) for k, v in stats.items()}
        out["kl_early_stop"] = float(tripped)
        return out

    def evaluate(self) -> float:
        """Greedy (constrained) exact match on the validation split."""
        from pathrl.router.evaluate import triple_metrics

        if not self.val_set:
            return float("nan")
        preds = self.model.predict([ex.question for ex in self.val_set])
        return triple_metrics(preds, [ex.triple for ex in self.val_set],
                              self.model.vocab)["exact_match"]

    def save_model(self, directory: Path) -> None:
        self.model.save_pretrained(directory)

    def run_step(self) -> StepResult:
        """One PPO update: rollout, optimisation, LR and KL-coefficient steps, the metrics."""
        cfg = self.config
        batch = self.rollout()
        opt = self.optimise(batch)
        self.scheduler.step()
        kl_to_ref = float(kl_estimate(batch.logp, batch.ref_logp, cfg.kl_estimator).mean())
        self.kl_ctl.update(kl_to_ref, len(batch.rewards))
        predicted, labels, comps = batch.predicted, batch.labels, batch.components
        metrics = {
            "samples": (self.update + 1) * len(predicted),
            "reward_mean": float(batch.rewards.mean()),
            "reward_std": float(batch.rewards.std()) if len(predicted) > 1 else 0.0,
            **{f"reward/{k}": comps[k] for k in ("anchor", "target", "via", "legal", "exact",
                                                 "exec")},
            "reward_raw": comps["raw"],
            "exact_match": sum(p == t for p, t in zip(predicted, labels, strict=True))
            / len(labels),
            "approx_kl": opt["approx_kl"],
            "kl_to_ref": kl_to_ref,
            "kl_coef": self.kl_ctl.value,
            "clip_fraction": opt["clip_fraction"],
            **{f"entropy/{h}": batch.entropy[h] for h in batch.entropy},
            "entropy": sum(batch.entropy.values()),
            "policy_loss": opt["policy_loss"],
            "value_loss": opt["value_loss"],
            "explained_variance": explained_variance(batch.values, batch.rewards),
            "grad_norm": opt["grad_norm"],
            "lr": self.optimizer.param_groups[0]["lr"],
            "critic_lr": self.optimizer.param_groups[2]["lr"],
            "via_null_rate_pred": sum(not p[2] for p in predicted) / len(predicted),
            "via_null_rate_label": sum(not t[2] for t in labels) / len(labels),
            "kl_early_stop": opt["kl_early_stop"],
        }
        return StepResult(metrics, kl_early_stop=bool(opt["kl_early_stop"]))

    def train(self, resume: bool = False,
              progress: Callable[[int, int, dict], None] | None = None) -> dict[str, Any]:
        """The skeleton's loop; returns the run summary (`summary.json`'s content)."""
        result = super().train(resume=resume, progress=progress)
        kept = ({"update": result.kept.step, "val_exact_match": result.kept.score}
                if result.kept is not None else None)
        return {"updates": result.steps, "updates_run": result.steps_run,
                "wall_s": result.wall_s, "kept": kept, "updates_per_s": result.steps_per_s,
                "stop_reason": result.stop_reason, "findings": result.findings,
                "config": asdict(self.config)}
