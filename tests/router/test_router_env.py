"""RouterEnv (Gymnasium, pathrl/Router-v0) and the SB3 policy driving a RouterModel."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from pathrl.errors import PathrlError
from pathrl.paths import PathVocab
from pathrl.router.env import ENV_ID, RouterEnv
from pathrl.router.model import RouterConfig, RouterModel
from pathrl.router.reward import LayeredReward, RewardConfig
from pathrl.schema import Schema


@dataclass(frozen=True)
class Q:
    question: str
    anchor: str
    target: str
    via: tuple[str, ...] = ()

    @property
    def triple(self) -> tuple[str, str, tuple[str, ...]]:
        return (self.anchor, self.target, self.via)


# customer <- orders -> product: 6 legal join paths, vias () and ("orders",) (single-table
# routes off, so "customer -> customer" stays an illegal action).
TINY = Schema.from_dict({
    "name": "tiny",
    "rules": {"max_hops": 2, "single_table": False},
    "tables": {
        "customer": {"key": "id", "fields": ["id", "name"]},
        "product": {"key": "id", "fields": ["id", "title"]},
        "orders": {"key": "id", "fields": ["id", "customer_id", "product_id"]},
    },
    "relations": [{"from": "orders.customer_id", "to": "customer.id"},
                  {"from": "orders.product_id", "to": "product.id"}],
})
QUESTIONS = [
    Q("orders of customer Alice", "customer", "orders"),
    Q("which customer placed order 17", "orders", "customer"),
    Q("products bought by customer Bob", "customer", "product", ("orders",)),
    Q("customers who bought the red kettle", "product", "customer", ("orders",)),
    Q("product of order 42", "orders", "product"),
    Q("orders containing product kettle", "product", "orders"),
]


@pytest.fixture(scope="module")
def vocab() -> PathVocab:
    return PathVocab.from_schema(TINY)


@pytest.fixture(scope="module")
def router(vocab: PathVocab) -> Iterator[RouterModel]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batches: one thread is fastest on a shared machine
    torch.manual_seed(0)
    model = RouterModel(RouterConfig(backbone="minilm", max_length=16), vocab,
                        TINY.fingerprint())
    model.setup_trainable()
    yield model
    torch.set_num_threads(threads)


@pytest.fixture
def env(router: RouterModel, vocab: PathVocab) -> RouterEnv:
    return RouterEnv(QUESTIONS, vocab, router.tokenizer, max_length=16)


def action_of(vocab: PathVocab, anchor: str, target: str, via: tuple[str, ...]) -> np.ndarray:
    return np.array([vocab.anchor_index[anchor], vocab.target_index[target],
                     vocab.via_index[via]])


def test_check_env_and_spaces(env: RouterEnv, vocab: PathVocab) -> None:
    check_env(env, skip_render_check=True)
    assert env.action_space.nvec.tolist() == [len(vocab.anchors), len(vocab.targets),
                                              len(vocab.vias)]
    obs, info = env.reset(seed=0)
    assert obs["input_ids"].shape == obs["attention_mask"].shape == (16,)
    assert obs["input_ids"].dtype == np.int64 and obs in env.observation_space
    assert env.examples[info["index"]].question == info["question"]


def test_gymnasium_make(router: RouterModel, vocab: PathVocab) -> None:
    made = gymnasium.make(ENV_ID, examples=QUESTIONS, vocab=vocab, tokenizer=router.tokenizer,
                          reward_config=RewardConfig(clip=None), max_length=16)
    assert isinstance(made.unwrapped, RouterEnv)
    obs, _ = made.reset(seed=1)
    _, reward, terminated, truncated, info = made.step(made.action_space.sample())
    assert terminated and not truncated and isinstance(reward, float)
    assert {"components", "predicted", "label", "legal", "exact", "raw"} <= set(info)
    made.close()


def test_reward_matches_layered_reward(env: RouterEnv, vocab: PathVocab) -> None:
    reward_fn = LayeredReward(env.reward_config, vocab)
    rng = np.random.default_rng(0)
    for index, q in enumerate(QUESTIONS):
        randoms = [rng.integers(env.action_space.nvec) for _ in range(3)]
        for action in [action_of(vocab, *q.triple), *randoms]:
            env.reset(options={"index": index})
            _, reward, *_, info = env.step(action)
            expected, _ = reward_fn([info["predicted"]], [q.triple], [index])
            assert reward == pytest.approx(float(expected[0]))
            assert info["raw"] == pytest.approx(reward_fn.raw(info["predicted"], q.triple))
    env.reset(options={"index": 2})
    _, reward, *_, info = env.step(action_of(vocab, *QUESTIONS[2].triple))
    assert info["exact"] and info["legal"] and reward == pytest.approx(2.0)  # clipped max


def test_illegal_action_gets_the_illegal_penalty(env: RouterEnv, vocab: PathVocab) -> None:
    env.reset(options={"index": 0})
    _, reward, *_, info = env.step(action_of(vocab, "customer", "customer", ()))
    assert not info["legal"] and not info["exact"]
    assert info["components"]["legal"] == env.reward_config.illegal
    assert reward < 0


def test_one_step_episodes(env: RouterEnv) -> None:
    env.reset(seed=3)
    _, _, terminated, truncated, _ = env.step(env.action_space.sample())
    assert terminated and not truncated
    with pytest.raises(PathrlError, match="reset"):
        env.step(env.action_space.sample())


def test_seeding_repeats_the_question_sequence(env: RouterEnv, router: RouterModel,
                                               vocab: PathVocab) -> None:
    def sequence(e: RouterEnv, seed: int) -> list[int]:
        out = [e.reset(seed=seed)[1]["index"]]
        out += [e.reset()[1]["index"] for _ in range(15)]
        return out

    other = RouterEnv(QUESTIONS, vocab, router.tokenizer, max_length=16)
    assert sequence(env, 5) == sequence(other, 5)
    assert sequence(env, 5) != sequence(env, 6)


def test_user_mistakes_are_pathrl_errors(env: RouterEnv, router: RouterModel,
                                         vocab: PathVocab) -> None:
    with pytest.raises(PathrlError, match="index"):
        env.reset(options={"index": 99})
    with pytest.raises(PathrlError, match="legal paths"):
        RouterEnv([Q("?", "customer", "customer")], vocab, router.tokenizer)
    with pytest.raises(PathrlError, match="at least one"):
        RouterEnv([], vocab, router.tokenizer)
    env.reset()
    with pytest.raises(PathrlError, match="outside"):
        env.step(np.array([99, 0, 0]))


def test_sb3_ppo_smoke_trains_the_router(router: RouterModel, vocab: PathVocab) -> None:
    from stable_baselines3 import PPO

    from pathrl.router.sb3_policy import RouterActorCriticPolicy

    env = RouterEnv(QUESTIONS, vocab, router.tokenizer, max_length=16)
    with pytest.raises(PathrlError, match="router"):
        PPO(RouterActorCriticPolicy, env, n_steps=8, batch_size=4, device="cpu")
    ppo = PPO(RouterActorCriticPolicy, env, policy_kwargs={"router": router}, n_steps=8,
              batch_size=4, n_epochs=1, learning_rate=1e-3, seed=0, device="cpu")
    assert ppo.policy.router is router
    before = {n: p.detach().clone() for n, p in router.named_parameters() if p.requires_grad}
    ppo.learn(total_timesteps=8)
    assert ppo.num_timesteps == 8 and ppo._n_updates == 1
    changed = [n for n, p in router.named_parameters()
               if n in before and not torch.equal(before[n], p.detach())]
    assert any(n.startswith("heads.") for n in changed)
    assert any(n.startswith("backbone.") for n in changed)
    assert "value_head.weight" in changed
    action, _ = ppo.predict(env.reset(seed=0)[0], deterministic=True)
    assert env.action_space.contains(np.asarray(action))
