"""A stable-baselines3 policy that drives a `RouterModel` (the same network `RouterPPOTrainer`
trains), so SB3's PPO can train the Router on `RouterEnv` and the two trainers can be compared
machinery against machinery.

The features extractor is the router's backbone + pooling (`RouterFeaturesExtractor`), the
action distribution is SB3's `MultiCategoricalDistribution` over the concatenated logits of the
anchor, target and via heads (log-prob = sum of the heads' log-probs, as in our trainer), and the
value is the router's `value_head` (on its separate critic backbone when it has one). Every
forward goes through `RouterModel.forward`, so nothing of the network is re-implemented here.

    from stable_baselines3 import PPO
    from pathrl.router.env import RouterEnv
    from pathrl.router.sb3_policy import RouterActorCriticPolicy

    env = RouterEnv(train, router.vocab, router.tokenizer, max_length=router.config.max_length)
    ppo = PPO(RouterActorCriticPolicy, env, policy_kwargs={"router": router},
              n_steps=64, batch_size=32, n_epochs=2, learning_rate=5e-6, device="cpu")
    ppo.learn(total_timesteps=5 * 64)  # 5 updates; `router` is trained in place

Two details keep the comparison with `RouterPPOTrainer` honest: observations arrive padded to
`max_length`, and each batch is cut back to its longest real sequence before the backbone runs
(exact with right padding, the same shapes our trainer's dynamic padding gives); and the router
stays in eval mode while SB3 trains (no dropout), as in our trainer, so the PPO ratio is exactly 1
before the first step (`dropout=True` turns dropout on during SB3's optimisation phase).
"""

from __future__ import annotations

from typing import Any

import gymnasium
import torch
from gymnasium import spaces
from stable_baselines3.common.distributions import MultiCategoricalDistribution
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule

from pathrl.errors import PathrlError
from pathrl.router.model import HEADS, RouterModel, RouterOutput


def router_inputs(obs: PyTorchObs) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask) as long tensors from a `RouterEnv` observation batch, cut to
    the batch's longest real sequence (right padding: the cut drops only padding)."""
    if not isinstance(obs, dict) or "input_ids" not in obs or "attention_mask" not in obs:
        raise PathrlError("expected RouterEnv observations: a dict with input_ids and "
                          "attention_mask")
    ids, mask = obs["input_ids"].long(), obs["attention_mask"].long()
    if ids.dim() == 1:
        ids, mask = ids[None], mask[None]
    length = max(int(mask.sum(1).max()), 1)
    return ids[:, :length], mask[:, :length]


class RouterFeaturesExtractor(BaseFeaturesExtractor):
    """SB3 features extractor: the router's backbone + pooling (pooled question vector)."""

    def __init__(self, observation_space: gymnasium.Space, router: RouterModel):
        super().__init__(observation_space, features_dim=router.backbone.config.hidden_size)
        self.router = router

    def forward(self, observations: PyTorchObs) -> torch.Tensor:
        return self.router.encode(*router_inputs(observations))


class RouterActorCriticPolicy(ActorCriticPolicy):
    """SB3 actor-critic whose network is a `RouterModel` (pass it as `policy_kwargs={"router":
    model}`); the model is trained in place. Only parameters with `requires_grad` go to the
    optimiser (freeze layers first with `router.setup_trainable()` if wanted). The optimiser
    defaults to AdamW(weight_decay=0, eps=1e-8), the one `RouterPPOTrainer` uses."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space,
                 lr_schedule: Schedule, router: RouterModel | None = None,
                 dropout: bool = False,
                 optimizer_class: type[torch.optim.Optimizer] = torch.optim.AdamW,
                 optimizer_kwargs: dict[str, Any] | None = None, **kwargs: Any):
        if not isinstance(router, RouterModel):
            raise PathrlError("RouterActorCriticPolicy needs policy_kwargs={'router': "
                              "<RouterModel>}")
        expected = [len(router.vocab.anchors), len(router.vocab.targets), len(router.vocab.vias)]
        if not isinstance(action_space, spaces.MultiDiscrete) or \
                action_space.nvec.tolist() != expected:
            raise PathrlError(f"the action space must be MultiDiscrete({expected}) (the router's "
                              f"anchor/target/via vocabularies), got {action_space}")
        if not isinstance(observation_space, spaces.Dict):
            raise PathrlError("the observation space must be RouterEnv's Dict(input_ids, "
                              f"attention_mask), got {observation_space}")
        for key in ("net_arch", "features_extractor_class", "features_extractor_kwargs",
                    "share_features_extractor", "ortho_init"):
            if key in kwargs:
                raise PathrlError(f"RouterActorCriticPolicy builds its own network: drop "
                                  f"policy_kwargs['{key}']")
        if kwargs.get("use_sde"):
            raise PathrlError("use_sde is for continuous actions; the Router's are discrete")
        kwargs.pop("use_sde", None)
        self._dropout = dropout
        super().__init__(
            observation_space, action_space, lr_schedule, net_arch=[], ortho_init=False,
            features_extractor_class=RouterFeaturesExtractor,
            features_extractor_kwargs={"router": router}, share_features_extractor=True,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs if optimizer_kwargs is not None
            else {"weight_decay": 0.0, "eps": 1e-8},
            **kwargs)

    @property
    def router(self) -> RouterModel:
        return self.features_extractor.router

    def _build(self, lr_schedule: Schedule) -> None:
        # No MLP extractor, action net or value net: the router's heads are all of them.
        self.action_dist = MultiCategoricalDistribution(self.action_space.nvec.tolist())
        params = [p for p in self.parameters() if p.requires_grad]
        self.optimizer = self.optimizer_class(params, lr=lr_schedule(1),
                                              **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {"observation_space": self.observation_space, "action_space": self.action_space,
                "router": self.router, "dropout": self._dropout,
                "optimizer_class": self.optimizer_class,
                "optimizer_kwargs": self.optimizer_kwargs,
                "normalize_images": self.normalize_images}

    def set_training_mode(self, mode: bool) -> None:
        super().set_training_mode(mode and self._dropout)
        self.training = mode

    # -- forward passes, all through RouterModel.forward ----------------------------------------
    def _router_forward(self, obs: PyTorchObs, with_value: bool = True) -> RouterOutput:
        return self.router(*router_inputs(obs), with_value=with_value)

    def _distribution(self, out: RouterOutput) -> MultiCategoricalDistribution:
        logits = torch.cat([out.logits[h] for h in HEADS], dim=-1)
        return self.action_dist.proba_distribution(action_logits=logits)

    def forward(self, obs: PyTorchObs,
                deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self._router_forward(obs)
        dist = self._distribution(out)
        actions = dist.get_actions(deterministic=deterministic)
        return actions, out.value[:, None], dist.log_prob(actions)

    def evaluate_actions(self, obs: PyTorchObs, actions: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        out = self._router_forward(obs)
        dist = self._distribution(out)
        return out.value[:, None], dist.log_prob(actions), dist.entropy()

    def get_distribution(self, obs: PyTorchObs) -> MultiCategoricalDistribution:
        return self._distribution(self._router_forward(obs, with_value=False))

    def predict_values(self, obs: PyTorchObs) -> torch.Tensor:
        return self._router_forward(obs).value[:, None]

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> torch.Tensor:
        return self.get_distribution(observation).get_actions(deterministic=deterministic)
