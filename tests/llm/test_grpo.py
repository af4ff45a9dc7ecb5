"""GRPO (pathrl.llm.grpo) on a tiny random chat LM: group advantages, masks, the first-update
loss, KL to the reference, learning a toy reward, exact resume, the doctor's view."""

from __future__ import annotations

import json

import pytest
import torch
from llm_fixtures import tiny_lm_dir  # noqa: F401

from pathrl.doctor.signals import build_run_log
from pathrl.errors import PathrlError
from pathrl.llm.grpo import GRPOConfig, GRPORollout, GRPOTrainer, group_advantages
from pathrl.llm.models import (
    Generation,
    LoraSettings,
    completion_mask_until_stop,
    encode_prompt,
    load_policy,
    pad_left,
)
from pathrl.llm.rewards import RewardSet
from pathrl.llm.rollout import RLSummary, task_evaluator
from pathrl.rl.metrics import GRPO_METRICS, metric_documented

ROWS = [{"prompt": [{"role": "user", "content": f"What is {i} plus 3?"}], "answer": i + 3}
        for i in range(12)]


def digit_ids(tokenizer) -> set[int]:
    return {i for token, i in tokenizer.get_vocab().items() if len(token) == 1 and token.isdigit()}


def digit_reward(tokenizer):
    """A reward favouring single-digit tokens: their share of the completion."""
    digits = digit_ids(tokenizer)

    def digit_share(completions, completion_ids, **kwargs):
        return [sum(t in digits for t in ids) / max(len(ids), 1) for ids in completion_ids]

    return digit_share


def low_id_share(completions, completion_ids, **kwargs):
    """A dense reward (about half the vocabulary scores): every group has a spread."""
    return [sum(t < 195 for t in ids) / max(len(ids), 1) for ids in completion_ids]


def small_config(**overrides) -> GRPOConfig:
    values = dict(num_generations=4, prompts_per_step=2, max_completion_length=8,
                  learning_rate=3e-2, beta=0.04, total_steps=3, eval_every=0,
                  checkpoint_every=0, micro_batch_size=4, doctor=False, seed=3)
    values.update(overrides)
    return GRPOConfig(**values)


def trainer_for(tiny_lm_dir, tmp_path, rewards=None, rows=ROWS, **overrides):  # noqa: F811
    model, tokenizer = load_policy(str(tiny_lm_dir), device="cpu")
    rewards = rewards if rewards is not None else [digit_reward(tokenizer)]
    return GRPOTrainer(model, tokenizer, rewards, rows, small_config(**overrides), tmp_path)


def log(path) -> list[dict]:
    return [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]


# -- advantages --------------------------------------------------------------------------------
def test_group_advantages_normalise_each_group_and_zero_the_unscorable():
    rewards = torch.tensor([1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 2.0, float("nan")])
    advantages = group_advantages(rewards, group_size=4)
    assert torch.equal(advantages[:4], torch.zeros(4))  # equal rewards: no signal
    # the unscorable completion gets 0 and its group's mean fills in for the statistics
    assert advantages[7] == 0
    centred = torch.tensor([-1.0, 0.0, 1.0, 0.0])
    assert torch.allclose(advantages[4:], centred / (centred.std() + 1e-4))
    rloo = group_advantages(torch.tensor([0.0, 0.0, 3.0]), group_size=3, estimator="rloo")
    assert torch.allclose(rloo, torch.tensor([-1.5, -1.5, 3.0]))
    dr_grpo = group_advantages(torch.tensor([0.0, 2.0]), group_size=2, scale=False)
    assert torch.allclose(dr_grpo, torch.tensor([-1.0, 1.0]))


def test_a_group_with_equal_rewards_has_zero_advantage_and_counts_in_frac_zero_std(
        tiny_lm_dir, tmp_path):  # noqa: F811
    def reward(completions, answer, completion_ids, **kwargs):
        # prompts with answer 3 (the first row) always score 1; the others by length
        return [1.0 if a == 3 else float(len(ids)) + 0.1 * i
                for i, (a, ids) in enumerate(zip(answer, completion_ids, strict=True))]

    trainer = trainer_for(tiny_lm_dir, tmp_path, rewards=[reward])
    batch = trainer.rollout(ROWS[:2])
    assert torch.equal(batch.advantages[:4], torch.zeros(4))
    assert bool((batch.advantages[4:] != 0).all())
    metrics = batch.scores.metrics(group_size=4)
    assert metrics["frac_reward_zero_std"] == 0.5
    assert metrics["rewards/reward/mean"] == pytest.approx(float(batch.rewards.mean()))


# -- masks and the first update ----------------------------------------------------------------
def handmade_rollout(trainer, completions: list[list[int]], advantages: list[float]):
    """A rollout of given completion tokens for the first prompt (no sampling), with old
    log-probs of 0 so the loss depends on the tokens' log-probs (ratio = π, not 1)."""
    tokenizer = trainer.tokenizer
    prompt = encode_prompt(tokenizer, ROWS[0]["prompt"])
    prompt_ids, prompt_mask = pad_left([prompt] * len(completions), tokenizer.pad_token_id)
    completion_ids = torch.tensor(completions)
    mask, truncated = completion_mask_until_stop(completion_ids, [tokenizer.eos_token_id])
    generation = Generation(prompt_ids, prompt_mask, completion_ids, mask, truncated,
                            ["x"] * len(completions), [0] * len(completions))
    rows = [ROWS[0]] * len(completions)
    scores = RewardSet([digit_reward(tokenizer)]).score(["x"] * len(completions),
                                                        completion_ids=completions)
    return GRPORollout(rows, generation, scores, torch.zeros(len(completions)),
                       torch.tensor(advantages), mask.float(),
                       torch.zeros(completion_ids.shape), None)


def test_tokens_after_eos_carry_no_loss(tiny_lm_dir, tmp_path):  # noqa: F811
    trainer = trainer_for(tiny_lm_dir, tmp_path, beta=0.0)
    eos = trainer.tokenizer.eos_token_id
    ended = [[20, 21, eos, 22, 23, 24], [25, 26, 27, 28, 29, 30]]
    garbage_after_eos = [[20, 21, eos, 100, 200, 300], [25, 26, 27, 28, 29, 30]]
    garbage_before_eos = [[20, 99, eos, 22, 23, 24], [25, 26, 27, 28, 29, 30]]
    batch = handmade_rollout(trainer, ended, [1.0, -1.0])
    assert batch.loss_mask[0].tolist() == [1, 1, 1, 0, 0, 0]  # up to and including EOS
    assert not batch.generation.truncated[0] and batch.generation.truncated[1]

    def loss(completions):
        with torch.no_grad():
            return float(trainer.micro_batch_loss(handmade_rollout(trainer, completions,
                                                                   [1.0, -1.0]), [0, 1], 1.0)[0])

    assert loss(ended) == pytest.approx(loss(garbage_after_eos), abs=1e-7)
    assert loss(ended) != pytest.approx(loss(garbage_before_eos), abs=1e-4)


def test_first_update_is_on_policy_and_its_loss_is_minus_the_mean_advantage(
        tiny_lm_dir, tmp_path):  # noqa: F811
    trainer = trainer_for(tiny_lm_dir, tmp_path, beta=0.0)
    batch = trainer.rollout(ROWS[:2])
    assert batch.ref_logps is None and batch.old_logps is None  # beta 0: no reference at all
    out = trainer.optimise(batch)
    mask = batch.loss_mask
    expected = -float((batch.advantages.unsqueeze(1) * mask).sum() / mask.sum())
    assert out["loss"] == pytest.approx(expected, abs=1e-6)
    assert out["clip_ratio/region_mean"] == 0.0  # ratio exactly 1: nothing clipped
    assert "kl" not in out and "approx_kl" not in out


def test_seq_mean_aggregation_weighs_each_completion_the_same(tiny_lm_dir, tmp_path):  # noqa: F811
    trainer = trainer_for(tiny_lm_dir, tmp_path, beta=0.0,
                          loss_aggregation="seq_mean_token_mean")
    batch = trainer.rollout(ROWS[:2])
    out = trainer.optimise(batch)
    assert out["loss"] == pytest.approx(-float(batch.advantages.mean()), abs=1e-6)


# -- KL to the reference, learning ---------------------------------------------------------------
def test_kl_to_the_reference_starts_at_zero_and_grows(tiny_lm_dir, tmp_path):  # noqa: F811
    trainer = trainer_for(tiny_lm_dir, tmp_path, rewards=[low_id_share], total_steps=3)
    trainer.train()
    kl = [row["kl"] for row in log(tmp_path)]
    # Policy = reference at step 0; the reference pass (no gradient) and the update's pass
    # may run different attention kernels, so "zero" is zero to float precision.
    assert kl[0] == pytest.approx(0.0, abs=1e-9)
    assert kl[2] > kl[1] > 0.0


def test_a_reward_for_digit_tokens_makes_them_more_frequent(tiny_lm_dir, tmp_path):  # noqa: F811
    trainer = trainer_for(tiny_lm_dir, tmp_path, total_steps=8, num_generations=8,
                          prompts_per_step=2, max_completion_length=8, beta=0.0,
                          learning_rate=0.1)
    trainer.train()
    reward = [row["reward"] for row in log(tmp_path)]
    assert reward[0] < 0.1  # a random model rarely writes a digit (10 of 390 tokens)
    assert sum(reward[-2:]) / 2 > 0.5


def test_lora_policy_uses_its_own_weights_as_reference_and_checkpoints_the_adapter(
        tiny_lm_dir, tmp_path):  # noqa: F811
    model, tokenizer = load_policy(str(tiny_lm_dir), device="cpu",
                                   lora=LoraSettings(r=4, alpha=8))
    trainer = GRPOTrainer(model, tokenizer, [low_id_share], ROWS,
                          small_config(total_steps=2, learning_rate=5e-2), tmp_path)
    assert trainer.reference is not None and trainer.reference.shared  # no copy
    trainer.train()
    kl = [row["kl"] for row in log(tmp_path)]
    assert kl[0] == pytest.approx(0.0, abs=1e-9) and kl[1] > 1e-6
    state = torch.load(trainer.latest_checkpoint(), weights_only=False)["model"]
    assert state and all("lora_" in name for name in state)
    assert (tmp_path / "model" / "adapter_config.json").is_file()


@pytest.mark.parametrize("lora", [False, True])
def test_shared_prompt_passes_train_the_same_policy_as_whole_rows(tiny_lm_dir, tmp_path, lora):  # noqa: F811
    """share_prompt_pass runs each prompt once per micro-batch (reference and updates);
    a step with it equals a step without, for full weights and for LoRA (the reference is
    then the adapter switched off), over shuffled mini-batches that mix groups."""
    results = []
    for share in (True, False):
        torch.manual_seed(0)  # the same LoRA initialisation in both runs
        model, tokenizer = load_policy(str(tiny_lm_dir), device="cpu",
                                       lora=LoraSettings(r=4, alpha=8) if lora else None)
        trainer = GRPOTrainer(model, tokenizer, [low_id_share], ROWS, small_config(
            total_steps=2, share_prompt_pass=share, num_iterations=2, mini_batches=2,
            micro_batch_size=3), tmp_path / str(share))
        trainer.train()
        weights = torch.cat([p.detach().flatten() for p in model.parameters()
                             if p.requires_grad])
        results.append((log(tmp_path / str(share)), weights))
    (shared_log, shared_weights), (whole_log, whole_weights) = results
    for shared_row, whole_row in zip(shared_log, whole_log, strict=True):
        for key in ("loss", "kl", "approx_kl", "reward", "grad_norm"):
            assert shared_row[key] == pytest.approx(whole_row[key], rel=1e-4, abs=1e-6), key
    assert whole_log[1]["kl"] > 0  # the policy moved: the comparison means something
    # Adam moves every weight ~lr = 0.03 a step; summation order differs by ~1e-5.
    assert torch.allclose(shared_weights, whole_weights, atol=5e-4)


# -- resume, doctor, config ----------------------------------------------------------------------
def test_interrupted_run_resumes_to_the_same_parameters_and_log(tiny_lm_dir, tmp_path):  # noqa: F811
    from pathrl.llm.tasks import generate_problems

    problems = generate_problems(2, seed=1, langs=("en",), difficulties=(1,))
    settings = dict(total_steps=4, num_iterations=2, mini_batches=2, eval_every=2,
                    checkpoint_every=1, doctor=True)

    def make(out):
        model, tokenizer = load_policy(str(tiny_lm_dir), device="cpu")
        return GRPOTrainer(model, tokenizer, [low_id_share], ROWS,
                           small_config(**settings), out,
                           evaluator=task_evaluator(problems, max_new_tokens=6))

    whole = make(tmp_path / "whole")
    whole.train()
    cut = make(tmp_path / "cut")

    def stop_at_2(step, total, metrics):
        if step == 2:
            cut._interrupt.requested = True  # what Ctrl-C does

    with pytest.raises(KeyboardInterrupt):
        cut.train(progress=stop_at_2)
    resumed = make(tmp_path / "cut")
    summary = resumed.fit(resume=True)
    assert isinstance(summary, RLSummary) and summary.steps == 4 and summary.steps_run == 2
    for (name, a), (_, b) in zip(whole.model.named_parameters(),
                                 resumed.model.named_parameters(), strict=True):
        assert torch.equal(a, b), name
    assert log(tmp_path / "whole") == log(tmp_path / "cut")
    assert "eval/format_rate" in log(tmp_path / "cut")[1]  # the whole eval block, logged
    assert all(row["approx_kl"] > 0 for row in log(tmp_path / "cut"))  # the batch is reused
    names = set().union(*log(tmp_path / "cut"))
    assert all(metric_documented(name, GRPO_METRICS) for name in names), names
    assert summary.initial_eval == whole.initial_eval and summary.initial_eval


def test_the_doctor_receives_the_metrics_under_names_it_reads(tiny_lm_dir, tmp_path):  # noqa: F811
    trainer = trainer_for(tiny_lm_dir, tmp_path, rewards=[low_id_share], total_steps=2,
                          doctor=True)
    trainer.train()
    history = trainer.doctor._history
    assert {"reward", "reward_std", "frac_reward_zero_std", "completions/clipped_ratio",
            "completions/mean_length", "kl", "clip_ratio/region_mean", "entropy",
            "grad_norm", "learning_rate", "rewards/low_id_share/mean"} <= set(history)
    assert len(history["kl"]) == 2
    run = build_run_log(history, "live")
    assert {"reward", "reward_std", "frac_reward_zero_std", "clipped_ratio",
            "completion_length", "kl", "clip_fraction",
            "clip_fraction_low", "clip_fraction_high", "entropy", "grad_norm", "lr",
            "loss"} <= set(run.signals)
    assert "trl_grpo" in run.flavors
    assert all(metric_documented(name, GRPO_METRICS) for name in history)


@pytest.mark.parametrize("override, message", [
    ({"num_generations": 0}, "num_generations must be >= 1"),
    ({"loss_aggregation": "sum"}, "loss_aggregation must be one of"),
    ({"advantage_estimator": "gae"}, "advantage_estimator must be grpo or rloo"),
    ({"epsilon": 1.5}, "epsilon must be in (0, 1)"),
    ({"kl_estimator": "k4"}, "kl_estimator must be one of"),
])
def test_bad_config_is_one_clear_error(override, message):
    with pytest.raises(PathrlError, match=message.replace("(", r"\(").replace(")", r"\)")):
        small_config(**override)


def test_prompts_over_max_prompt_length_are_refused(tiny_lm_dir, tmp_path):  # noqa: F811
    with pytest.raises(PathrlError, match="longer than max_prompt_length=4"):
        trainer_for(tiny_lm_dir, tmp_path, max_prompt_length=4)


def test_cli_grpo_writes_its_run_refuses_to_overwrite_and_resumes(tiny_lm_dir, tmp_path):  # noqa: F811
    from typer.testing import CliRunner

    from pathrl.cli import app
    from pathrl.rl.logging import read_jsonl

    runner = CliRunner()
    out = tmp_path / "run"
    sets = ["device=cpu", "total_steps=2", "num_generations=2", "prompts_per_step=2",
            "max_completion_length=4", "eval_every=1", "checkpoint_every=1", "rewards=simple",
            "data.n_train=4", "data.n_eval=2", "data.n_test=2", "data.langs=en"]
    args = ["llm", "grpo", "--model", str(tiny_lm_dir), "--out", str(out)]
    for item in sets:
        args += ["--set", item]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "held-out eval/exact_match" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 2 and "eval/format_rate" in summary["initial_eval"]
    assert summary["config"]["rewards"] == "simple"
    assert "rewards/strict_format_reward/mean" in read_jsonl(out / "metrics.jsonl")[0]
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = runner.invoke(app, args)
    assert isinstance(again.exception, PathrlError)
    resumed = runner.invoke(app, ["llm", "grpo", "--out", str(out), "--resume", "--set",
                                  "total_steps=3"], catch_exceptions=False)
    assert resumed.exit_code == 0, resumed.output
    assert [r["step"] for r in read_jsonl(out / "metrics.jsonl")] == [0, 1, 2]


def test_bf16_autocast_keeps_the_on_policy_invariants(tiny_lm_dir, tmp_path):  # noqa: F811
    trainer = trainer_for(tiny_lm_dir, tmp_path, rewards=[low_id_share], bf16=True,
                          total_steps=2)
    trainer.train()
    rows = log(tmp_path)
    assert rows[0]["kl"] == 0.0 and rows[1]["kl"] > 0.0  # policy and reference, same casts
    assert all(row["clip_ratio/region_mean"] == 0.0 for row in rows)
    assert next(trainer.model.parameters()).dtype == torch.float32  # master weights


def test_docs_describe_every_config_field_and_metric():
    import dataclasses
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "llm_rl.md").read_text()
    for field in dataclasses.fields(GRPOConfig):
        assert f"| `{field.name}` |" in text, field.name
    for name in GRPO_METRICS:
        if name != "step" and "<lang>" not in name:
            assert f"`{name}`" in text, name
