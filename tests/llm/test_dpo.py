"""pathrl.llm.dpo: the losses and implicit rewards by hand, step 0 against the reference, the
logged rewards against a manual computation, accuracy rising on a toy set, precomputed
reference log-probs."""

from __future__ import annotations

import math

import pytest
import torch
from llm_fixtures import tiny_lm_dir  # noqa: F401

from pathrl.errors import PathrlError
from pathrl.llm.dpo import DPO_LOSSES, DPOConfig, DPOTrainer, dpo_terms
from pathrl.llm.models import LoraSettings, load_policy, sequence_logprobs
from pathrl.llm.training import Preference, encode_pairs, pair_batch
from pathrl.rl.logging import read_jsonl
from pathrl.rl.metrics import DPO_METRICS


def _pairs(numbers) -> list[Preference]:
    return [Preference([{"role": "user", "content": f"What is {a} plus {b}?"}],
                       f"The answer is {a + b}.", f"{a + b} apples")
            for a, b in numbers]


TRAIN = _pairs([(1, 2), (3, 4), (5, 6), (7, 8), (2, 9), (4, 4), (6, 1), (8, 3)])
HELD_OUT = _pairs([(2, 2), (5, 1), (6, 6), (4, 9), (1, 1), (8, 8), (3, 7), (9, 2)])


def test_losses_and_implicit_rewards_by_hand():
    pc, pr = torch.tensor([-3.0, -5.0]), torch.tensor([-4.0, -2.0])
    rc, rr = torch.tensor([-3.5, -4.0]), torch.tensor([-3.5, -3.0])
    # rho(chosen) = [0.5, -1.0], rho(rejected) = [-0.5, 1.0], h = [1.0, -2.0]
    terms = dpo_terms(pc, pr, rc, rr, beta=0.1)
    assert terms.chosen_rewards.tolist() == pytest.approx([0.05, -0.1])
    assert terms.rejected_rewards.tolist() == pytest.approx([-0.05, 0.1])
    assert terms.margins.tolist() == pytest.approx([0.1, -0.2])
    assert terms.accuracies.tolist() == [1.0, 0.0]
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert terms.losses.tolist() == pytest.approx([-math.log(sig(0.1)), -math.log(sig(-0.2))])
    smooth = dpo_terms(pc, pr, rc, rr, beta=0.1, label_smoothing=0.2).losses
    assert smooth[0].item() == pytest.approx(-0.8 * math.log(sig(0.1)) - 0.2 * math.log(sig(-0.1)))
    ipo = dpo_terms(pc, pr, rc, rr, beta=0.5, loss_type="ipo").losses
    assert ipo.tolist() == pytest.approx([(1.0 - 1.0) ** 2, (-2.0 - 1.0) ** 2])
    hinge = dpo_terms(pc, pr, rc, rr, beta=0.5, loss_type="hinge").losses
    assert hinge.tolist() == pytest.approx([0.5, 2.0])
    assert set(DPO_LOSSES) == {"sigmoid", "ipo", "hinge"}


def _config(**overrides) -> DPOConfig:
    values = {"learning_rate": 5e-3, "batch_size": 4, "max_steps": 16, "warmup_ratio": 0.0,
              "lr_scheduler": "constant", "eval_every": 8, "beta": 0.5, "seed": 0}
    values.update(overrides)
    return DPOConfig(**values)


def _trainer(tiny_lm_dir, out, lora=None, **overrides):  # noqa: F811
    torch.manual_seed(0)
    model, tokenizer = load_policy(str(tiny_lm_dir), device="cpu", lora=lora)
    return DPOTrainer(model, tokenizer, _config(lora=lora, **overrides), TRAIN, HELD_OUT, out)


@pytest.mark.parametrize("lora", [None, LoraSettings(r=8, alpha=16, dropout=0.1)],
                         ids=["full", "lora"])
def test_dpo_starts_at_log_2_and_raises_held_out_accuracy(tiny_lm_dir, tmp_path, lora):  # noqa: F811
    overrides = {"learning_rate": 2e-2} if lora is not None else {}
    trainer = _trainer(tiny_lm_dir, tmp_path, lora, **overrides)
    summary = trainer.fit()
    log = read_jsonl(tmp_path / "metrics.jsonl")
    # Step 0: the policy is its reference (dropout off), so every implicit reward is 0.
    assert log[0]["loss"] == pytest.approx(math.log(2), abs=1e-5)
    assert log[0]["rewards/margins"] == pytest.approx(0.0, abs=1e-5)
    assert summary.initial_eval["eval_rewards/accuracies"] == 0.0  # ties are not wins
    assert summary.final_eval["eval_rewards/accuracies"] >= 0.9
    assert log[-1]["eval_rewards/margins"] > 0
    assert {"loss", "rewards/chosen", "rewards/rejected", "rewards/margins",
            "rewards/accuracies", "logps/chosen", "logps/rejected", "lr",
            "grad_norm"} <= set(log[0])
    assert set().union(*log) <= set(DPO_METRICS)  # every name is documented


def test_logged_implicit_rewards_match_a_manual_computation(tiny_lm_dir, tmp_path):  # noqa: F811
    trainer = _trainer(tiny_lm_dir, tmp_path, max_steps=4, eval_every=4)
    summary = trainer.fit()
    reference, tokenizer = load_policy(str(tiny_lm_dir), device="cpu")
    encoded = encode_pairs(tokenizer, HELD_OUT, 512)
    batch = pair_batch(encoded, tokenizer.pad_token_id)
    args = (batch.input_ids, batch.attention_mask, batch.completion_mask)
    with torch.no_grad():
        trainer.model.eval()
        policy = sequence_logprobs(trainer.model, *args).sum(dim=1)
        ref = sequence_logprobs(reference, *args).sum(dim=1)
    n = len(HELD_OUT)
    chosen = 0.5 * (policy[:n] - ref[:n])
    rejected = 0.5 * (policy[n:] - ref[n:])
    got = summary.final_eval
    assert got["eval_rewards/chosen"] == pytest.approx(chosen.mean().item(), abs=1e-4)
    assert got["eval_rewards/rejected"] == pytest.approx(rejected.mean().item(), abs=1e-4)
    assert got["eval_rewards/margins"] == pytest.approx((chosen - rejected).mean().item(),
                                                        abs=1e-4)
    assert got["eval_rewards/accuracies"] == pytest.approx(
        (chosen > rejected).float().mean().item())
    assert got["eval_logps/chosen"] == pytest.approx(policy[:n].mean().item(), abs=1e-3)
    assert abs(got["eval_rewards/chosen"]) > 1e-3  # the policy did move


def test_precomputed_reference_logprobs_train_the_same(tiny_lm_dir, tmp_path):  # noqa: F811
    live = _trainer(tiny_lm_dir, tmp_path / "live", max_steps=4, eval_every=0)
    live.fit()
    pre = _trainer(tiny_lm_dir, tmp_path / "pre", max_steps=4, eval_every=0,
                   precompute_ref_logprobs=True)
    assert pre.reference is None and pre.train_set[0].reference_chosen is not None
    pre.fit()
    a = [r["loss"] for r in read_jsonl(tmp_path / "live" / "metrics.jsonl")]
    b = [r["loss"] for r in read_jsonl(tmp_path / "pre" / "metrics.jsonl")]
    assert b == pytest.approx(a, abs=1e-5)


def test_config_errors_are_one_line():
    with pytest.raises(PathrlError, match=r"unknown DPO loss 'kto' \(known: hinge, ipo, sigmoid\)"):
        DPOConfig(loss_type="kto")
    with pytest.raises(PathrlError, match="beta must be > 0"):
        DPOConfig(beta=0)
    with pytest.raises(PathrlError, match="label_smoothing applies to loss_type sigmoid"):
        DPOConfig(loss_type="ipo", label_smoothing=0.1)
