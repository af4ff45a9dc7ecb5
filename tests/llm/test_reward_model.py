"""pathrl.llm.reward_model: Bradley–Terry loss, accuracy on a separable toy set, the score
position, save/load, and the scorer (tensor for PPO, TRL reward-function call)."""

from __future__ import annotations

import math

import pytest
import torch
from llm_fixtures import tiny_lm_dir  # noqa: F401

from pathrl.errors import PathrlError
from pathrl.llm.models import LoraSettings
from pathrl.llm.reward_model import (
    RewardModel,
    RewardModelConfig,
    RewardModelTrainer,
    RewardScorer,
    bradley_terry_loss,
)
from pathrl.llm.training import Preference, preference_examples
from pathrl.rl.logging import read_jsonl
from pathrl.rl.metrics import REWARD_MODEL_METRICS


def _pairs(numbers) -> list[Preference]:
    # Separable: the chosen answer is a sentence with "answer", the rejected one "apples".
    return [Preference([{"role": "user", "content": f"What is {a} plus {b}?"}],
                       f"The answer is {a + b}.", f"{a + b} apples")
            for a, b in numbers]


TRAIN = _pairs([(1, 2), (3, 4), (5, 6), (7, 8), (2, 9), (4, 4), (6, 1), (8, 3), (9, 9), (0, 5),
                (3, 3), (7, 1)])
HELD_OUT = _pairs([(2, 2), (5, 1), (6, 6), (4, 9), (1, 1), (8, 8), (3, 7), (9, 2), (0, 4),
                   (7, 7)])


def test_bradley_terry_loss_by_hand():
    chosen, rejected = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 1.0])
    loss = bradley_terry_loss(chosen, rejected)
    assert loss.tolist() == pytest.approx([math.log1p(math.exp(-1.0)),
                                           math.log1p(math.exp(1.0))])
    with_margin = bradley_terry_loss(chosen, rejected, margin=0.5)
    assert with_margin[0].item() == pytest.approx(math.log1p(math.exp(-0.5)))
    centred = bradley_terry_loss(chosen, rejected, center_coefficient=0.1)
    assert (centred - loss).tolist() == pytest.approx([0.1 * 9.0, 0.1 * 1.0])


def test_reward_is_read_at_the_last_real_token(tiny_lm_dir):  # noqa: F811
    model, tokenizer = RewardModel.from_backbone(str(tiny_lm_dir), device="cpu")
    scorer = RewardScorer(model, tokenizer, batch_size=8)
    prompts = [p.prompt for p in TRAIN[:3]]
    completions = ["The answer is 3.", "7", "The answer is 11. It is"]
    together = scorer.score(prompts, completions)
    alone = torch.cat([scorer.score([p], [c]) for p, c in zip(prompts, completions,
                                                                 strict=True)])
    assert together.shape == (3,)
    assert torch.allclose(together, alone, atol=1e-5)  # padding does not move the score
    assert len(set(together.tolist())) == 3


@pytest.mark.parametrize("lora", [None, LoraSettings(r=8, alpha=16)], ids=["full", "lora"])
def test_accuracy_rises_above_0_9_on_a_separable_toy_set(tiny_lm_dir, tmp_path, lora):  # noqa: F811
    torch.manual_seed(0)
    model, tokenizer = RewardModel.from_backbone(str(tiny_lm_dir), device="cpu", lora=lora)
    config = RewardModelConfig(learning_rate=1e-2 if lora is None else 3e-2, batch_size=4,
                               max_steps=24, warmup_ratio=0.0, lr_scheduler="constant",
                               eval_every=8, lora=lora, seed=0)
    trainer = RewardModelTrainer(model, tokenizer, config, TRAIN, HELD_OUT, tmp_path)
    summary = trainer.fit()
    log = read_jsonl(tmp_path / "metrics.jsonl")
    assert summary.final_eval["eval_accuracy"] > 0.9
    assert summary.final_eval["eval_accuracy"] > summary.initial_eval["eval_accuracy"]
    assert summary.final_eval["eval_loss"] < summary.initial_eval["eval_loss"]
    assert log[-1]["eval_accuracy"] == summary.final_eval["eval_accuracy"]
    assert {"loss", "accuracy", "margin", "rewards/chosen", "rewards/rejected"} <= set(log[0])
    assert log[-1]["margin"] > log[0]["margin"]
    assert set().union(*log) <= set(REWARD_MODEL_METRICS)  # every name is documented
    # Saved merged with its head; the scorer reads the same rewards back.
    saved = tmp_path / "model"
    assert (saved / "reward_head.safetensors").is_file() and (saved / "config.json").is_file()
    scorer = RewardScorer.from_pretrained(saved, device="cpu")
    prompts = [p.prompt for p in HELD_OUT]
    live = RewardScorer(trainer.model, tokenizer).score(prompts, [p.chosen for p in HELD_OUT])
    assert torch.allclose(scorer.score(prompts, [p.chosen for p in HELD_OUT]), live,
                          atol=1e-4)
    # As a TRL-style reward function: completions first, prompts as a keyword.
    as_reward = scorer([[{"role": "assistant", "content": p.chosen}] for p in HELD_OUT],
                       prompts=prompts)
    assert as_reward == pytest.approx(live.tolist(), abs=1e-4)
    assert scorer.__name__ == "reward_model"


def test_scorer_and_loading_errors_are_clear(tiny_lm_dir, tmp_path):  # noqa: F811
    with pytest.raises(PathrlError, match="not a reward model directory"):
        RewardModel.from_pretrained(tiny_lm_dir)
    model, tokenizer = RewardModel.from_backbone(str(tiny_lm_dir), device="cpu")
    scorer = RewardScorer(model, tokenizer)
    with pytest.raises(PathrlError, match="2 prompts for 1 completions"):
        scorer.score(["a", "b"], ["c"])
    with pytest.raises(PathrlError, match="pass prompts="):
        scorer(["c"])


def test_default_pairs_come_from_the_arithmetic_task():
    from pathrl.llm.training import TaskDataConfig

    train, held_out = preference_examples(TaskDataConfig(n_train=10, n_eval=5, n_test=3))
    assert len(train) == 10 and len(held_out) == 5
    assert all(p.chosen != p.rejected for p in train)
    assert all(p.chosen.startswith("<reasoning>") for p in train)


def test_pairs_can_differ_in_correctness_only():
    from pathrl.llm.rewards import answer_integer, is_strict_format
    from pathrl.llm.training import TaskDataConfig

    kinds = ["wrong_answer", "near_miss"]
    train, _ = preference_examples(TaskDataConfig(n_train=12, n_eval=2, n_test=3,
                                                  rejection_kinds=kinds))
    assert len(train) == 12
    for pair in train:  # both in the strict format, only the number differs
        assert is_strict_format(pair.chosen) and is_strict_format(pair.rejected)
        assert answer_integer(pair.chosen) != answer_integer(pair.rejected)
    everything, _ = preference_examples(TaskDataConfig(n_train=12, n_eval=2, n_test=3))
    assert any(not is_strict_format(p.rejected) for p in everything)  # the default mixes forms


@pytest.mark.parametrize("kinds, message", [(["nope"], "unknown rejection kind nope"),
                                             ([], "no rejection kind given")])
def test_unknown_rejection_kinds_are_one_clear_error(kinds, message):
    from pathrl.llm.training import TaskDataConfig

    with pytest.raises(PathrlError, match=message):
        TaskDataConfig(rejection_kinds=kinds)
