"""Token-level PPO (pathrl.llm.ppo) on a tiny random chat LM with a value head: the reward at
EOS plus per-token KL, GAE and value clipping, KL to the reference, learning a toy reward,
the circuit breaker, adaptive beta, exact resume, the doctor's view."""

from __future__ import annotations

import json
import math

import pytest
import torch
from llm_fixtures import tiny_lm_dir  # noqa: F401

from pathrl.doctor.signals import build_run_log
from pathrl.errors import PathrlError
from pathrl.llm.models import PolicyWithValueHead, load_policy
from pathrl.llm.ppo import TokenPPOConfig, TokenPPOTrainer, last_token_rewards
from pathrl.llm.rewards import RewardSet, correctness_reward
from pathrl.rl.metrics import TOKEN_PPO_METRICS, metric_documented
from pathrl.rl.registry import ADVANTAGE_ESTIMATORS

ROWS = [{"prompt": [{"role": "user", "content": f"What is {i} plus 3?"}], "answer": i + 3}
        for i in range(12)]


def digit_score(prompts, completions):
    """A reward model stand-in: 10 × the share of digit characters in the completion."""
    return [10 * sum(c.isdigit() for c in text) / max(len(text), 1) for text in completions]


def small_config(**overrides) -> TokenPPOConfig:
    values = dict(prompts_per_step=8, max_completion_length=8, learning_rate=1e-2,
                  temperature=1.0, total_steps=3, eval_every=0, checkpoint_every=0,
                  micro_batch_size=4, ppo_epochs=2, num_mini_batches=2, doctor=False,
                  target_kl=None, seed=5)
    values.update(overrides)
    return TokenPPOConfig(**values)


def trainer_for(tiny_lm_dir, tmp_path, reward=digit_score, **overrides):  # noqa: F811
    model, tokenizer = load_policy(str(tiny_lm_dir), device="cpu")
    return TokenPPOTrainer(PolicyWithValueHead(model), tokenizer, reward, ROWS,
                           small_config(**overrides), tmp_path)


def log(path) -> list[dict]:
    return [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]


def test_the_score_sits_on_the_last_real_token():
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]])
    rewards = last_token_rewards(torch.tensor([2.0, -1.0, 5.0]), mask)
    assert rewards.tolist() == [[0, 0, 2.0, 0, 0], [0, 0, 0, 0, -1.0], [0, 0, 0, 0, 0]]


def test_rollout_rewards_are_minus_beta_kl_plus_the_score_and_gae_is_wired(
        tiny_lm_dir, tmp_path):  # noqa: F811
    trainer = trainer_for(tiny_lm_dir, tmp_path, whiten_advantages=False, init_kl_coef=0.2,
                          missing_eos_penalty=1.0)
    trainer.train()  # three steps: the policy has moved, so the KL term is not zero
    batch = trainer.rollout(ROWS[:8])
    mask = batch.mask
    raw = torch.tensor(digit_score(None, batch.generation.texts))
    assert torch.allclose(batch.scores, raw - batch.generation.truncated.float())
    assert float(batch.kl.abs().sum()) > 0
    per_sequence = batch.rewards.sum(dim=1)
    assert torch.allclose(per_sequence, batch.scores - batch.kl_coef * batch.kl.sum(dim=1),
                          atol=1e-5)
    assert float((batch.rewards * (1 - mask)).abs().sum()) == 0  # nothing after EOS
    advantages, returns = ADVANTAGE_ESTIMATORS["gae"](batch.rewards, batch.values, mask,
                                                      gamma=1.0, lam=0.95)
    assert torch.allclose(batch.advantages, advantages)
    assert torch.allclose(batch.returns, returns)
    assert torch.allclose(batch.returns, (batch.advantages + batch.values) * mask)


def test_value_clipping_binds_when_the_clip_range_is_tiny(tiny_lm_dir, tmp_path):  # noqa: F811
    clipped = trainer_for(tiny_lm_dir, tmp_path / "a", clip_range_value=1e-4, total_steps=2)
    clipped.train()
    free = trainer_for(tiny_lm_dir, tmp_path / "b", clip_range_value=None, total_steps=2)
    free.train()
    assert log(tmp_path / "a")[1]["val/clipfrac_avg"] > 0.1  # 0 on the first, unmoved pass
    assert all(row["val/clipfrac_avg"] == 0.0 for row in log(tmp_path / "b"))
    # the value head starts at zero: V = 0 everywhere before the first update
    assert log(tmp_path / "a")[0]["explained_variance"] == pytest.approx(0.0, abs=1e-6)


def test_kl_to_the_reference_starts_at_zero_and_grows(tiny_lm_dir, tmp_path):  # noqa: F811
    trainer = trainer_for(tiny_lm_dir, tmp_path, total_steps=3)
    trainer.train()
    rows = log(tmp_path)
    assert rows[0]["objective/kl"] == 0.0 and rows[0]["kl"] == 0.0
    assert rows[2]["objective/kl"] > rows[1]["objective/kl"] > 0.0
    assert set().union(*rows) <= set(TOKEN_PPO_METRICS)  # every name is documented


def test_a_reward_for_digits_makes_them_more_frequent(tiny_lm_dir, tmp_path):  # noqa: F811
    trainer = trainer_for(tiny_lm_dir, tmp_path, total_steps=8, prompts_per_step=12,
                          init_kl_coef=0.0, kl_target=None, learning_rate=3e-2)
    trainer.train()
    scores = [row["objective/scores"] for row in log(tmp_path)]
    start, end = sum(scores[:2]) / 2, sum(scores[-2:]) / 2
    assert start < 1.0  # a random model writes few digits
    assert end > 1.5 * start and end - start > 0.5


def test_the_circuit_breaker_ends_the_epochs_and_then_the_run(tiny_lm_dir, tmp_path):  # noqa: F811
    trainer = trainer_for(tiny_lm_dir, tmp_path, target_kl=1e-6, max_kl_trips=2,
                          total_steps=5)
    summary = trainer.fit()
    rows = log(tmp_path)
    assert [row["kl_early_stop"] for row in rows] == [1.0, 1.0]
    assert summary.steps == 2 and "circuit breaker" in summary.stop_reason


def test_beta_adapts_to_the_measured_kl(tiny_lm_dir, tmp_path):  # noqa: F811
    trainer = trainer_for(tiny_lm_dir, tmp_path, total_steps=3, init_kl_coef=0.1,
                          kl_target=1e-3, kl_horizon=10)
    trainer.train()
    betas = [row["kl_coef"] for row in log(tmp_path)]
    assert betas[0] == 0.1
    assert betas[2] > betas[1]  # KL far above its target: beta rises (at most 20% a step)
    assert betas[2] <= betas[1] * (1 + 0.2 * 8 / 10) + 1e-9


def test_rule_rewards_score_with_the_dataset_columns(tiny_lm_dir, tmp_path):  # noqa: F811
    trainer = trainer_for(tiny_lm_dir, tmp_path, reward=RewardSet([correctness_reward]))
    texts = ["<answer>\n3\n</answer>", "<answer>\n5\n</answer>"]
    assert trainer.score(ROWS[:2], texts).tolist() == [2.0, 0.0]


def test_interrupted_run_resumes_to_the_same_parameters_and_log(tiny_lm_dir, tmp_path):  # noqa: F811
    settings = dict(total_steps=4, checkpoint_every=1, doctor=True, kl_target=0.5,
                    kl_horizon=20)

    def make(out):
        return trainer_for(tiny_lm_dir, out, **settings)

    whole = make(tmp_path / "whole")
    whole.train()
    cut = make(tmp_path / "cut")

    def stop_at_2(step, total, metrics):
        if step == 2:
            cut._interrupt.requested = True  # what Ctrl-C does

    with pytest.raises(KeyboardInterrupt):
        cut.train(progress=stop_at_2)
    resumed = make(tmp_path / "cut")
    resumed.train(resume=True)
    for (name, a), (_, b) in zip(whole.model.named_parameters(),
                                 resumed.model.named_parameters(), strict=True):
        assert torch.equal(a, b), name
    assert log(tmp_path / "whole") == log(tmp_path / "cut")
    assert whole.kl_ctl.value == resumed.kl_ctl.value != 0.05
    assert (tmp_path / "cut" / "model" / "value_head.safetensors").is_file()


def test_the_doctor_reads_the_trl_ppo_names(tiny_lm_dir, tmp_path):  # noqa: F811
    trainer = trainer_for(tiny_lm_dir, tmp_path, total_steps=2, doctor=True)
    trainer.train()
    history = trainer.doctor._history
    assert len(history["objective/kl"]) == 2
    run = build_run_log(history, "live")
    assert {"reward", "reward_std", "kl", "kl_sequence", "kl_coef", "approx_kl",
            "clip_fraction", "policy_ratio", "value_loss", "policy_loss", "entropy",
            "explained_variance", "non_score_reward", "grad_norm", "lr", "completion_length",
            "clipped_ratio", "kl_early_stop"} <= set(run.signals)
    assert run.signals["reward"].raw_name == "objective/scores"
    assert run.signals["kl"].raw_name == "kl"  # per token: the unit of the doctor's KL bands
    assert "trl_ppo" in run.flavors
    assert all(metric_documented(name, TOKEN_PPO_METRICS) for name in history)


@pytest.mark.parametrize("override, message", [
    ({"ppo_epochs": 0}, "ppo_epochs must be >= 1"),
    ({"clip_range": 0.0}, r"clip_range must be in \(0, 1\)"),
    ({"kl_penalty": "k9"}, "kl_penalty must be one of"),
    ({"lam": 1.5}, "lam in"),
])
def test_bad_config_is_one_clear_error(override, message):
    with pytest.raises(PathrlError, match=message):
        small_config(**override)


def test_a_bare_causal_lm_is_refused(tiny_lm_dir, tmp_path):  # noqa: F811
    model, tokenizer = load_policy(str(tiny_lm_dir), device="cpu")
    with pytest.raises(PathrlError, match="PolicyWithValueHead"):
        TokenPPOTrainer(model, tokenizer, digit_score, ROWS, small_config(), tmp_path)


def test_cli_ppo_with_rule_rewards_writes_its_run(tiny_lm_dir, tmp_path):  # noqa: F811
    from typer.testing import CliRunner

    from pathrl.cli import app

    out = tmp_path / "run"
    args = ["llm", "ppo", "--model", str(tiny_lm_dir), "--out", str(out)]
    for item in ("device=cpu", "total_steps=2", "prompts_per_step=2", "max_completion_length=4",
                 "eval_every=1", "ppo_epochs=1", "data.n_train=4", "data.n_eval=2",
                 "data.n_test=2", "data.langs=en"):
        args += ["--set", item]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 2 and "eval/exact_match" in summary["final_eval"]
    assert (out / "model" / "value_head.safetensors").is_file()
    assert "objective/scores" in json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert summary["curves"] == str(out / "curves.png") and "curves.png" in result.output
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_ppo_with_a_reward_model_logs_its_held_out_score(tiny_lm_dir, tmp_path):  # noqa: F811
    from typer.testing import CliRunner

    from pathrl.cli import app
    from pathrl.llm.reward_model import RewardModel

    torch.manual_seed(0)
    reward_model, tokenizer = RewardModel.from_backbone(str(tiny_lm_dir), device="cpu")
    reward_model.save_pretrained(tmp_path / "rm", tokenizer)
    out = tmp_path / "run"
    args = ["llm", "ppo", "--model", str(tiny_lm_dir), "--out", str(out)]
    for item in ("device=cpu", "total_steps=2", "prompts_per_step=2", "max_completion_length=4",
                 "eval_every=1", "ppo_epochs=1", "data.n_train=4", "data.n_eval=2",
                 "data.n_test=2", "data.langs=en", f"reward_model={tmp_path / 'rm'}"):
        args += ["--set", item]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    rows = log(out)
    evaluated = [row for row in rows if "eval/reward_model_score" in row]
    assert [row["step"] for row in evaluated] == [0, 1]
    assert summary["final_eval"]["eval/reward_model_score"] == evaluated[-1][
        "eval/reward_model_score"]
    assert all(math.isfinite(row["eval/reward_model_score"]) for row in evaluated)
    assert rows[0]["objective/scores"] != 0.0  # the reward model scored the rollouts


def test_bf16_autocast_keeps_the_value_head_in_float32(tiny_lm_dir, tmp_path):  # noqa: F811
    trainer = trainer_for(tiny_lm_dir, tmp_path, bf16=True, total_steps=1)
    with trainer.autocast():
        batch = trainer.rollout(ROWS[:4])
        width = batch.generation.completion_ids.shape[1]
        scores, values = trainer._forward(batch.input_ids, batch.attention_mask, width)
    assert values.dtype == torch.float32 and scores.logps.dtype == torch.float32
    trainer.train()
    assert log(tmp_path)[0]["objective/kl"] == 0.0


def test_docs_describe_every_config_field_and_metric():
    import dataclasses
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "llm_rl.md").read_text()
    ppo_part = text[text.index("## Token-level PPO"):]
    for field in dataclasses.fields(TokenPPOConfig):
        assert f"| `{field.name}` |" in ppo_part, field.name
    for name in TOKEN_PPO_METRICS:
        if name != "step" and not name.startswith(("eval/", "completions/")):
            assert f"`{name}`" in ppo_part, name


def test_the_curves_mark_the_kl_target(tmp_path):
    from pathrl.llm.ppo import TokenPPOConfig, TokenPPOTrainer
    from pathrl.plots import training_curves

    trainer = TokenPPOTrainer.__new__(TokenPPOTrainer)  # curve_targets reads the config only
    trainer.config = TokenPPOConfig(kl_target=4.0)
    assert trainer.curve_targets() == {"objective/kl": 4.0}
    trainer.config = TokenPPOConfig(kl_target=None)
    assert trainer.curve_targets() == {}
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps({"step": i, "objective/kl": 0.5 * i}) + "\n"
                           for i in range(6)))
    keys = ("objective/kl",)
    plain = training_curves(log, tmp_path / "plain.png", keys=keys).read_bytes()
    marked = training_curves(log, tmp_path / "marked.png", keys=keys,
                             targets={"objective/kl": 4.0}).read_bytes()
    assert plain[:4] == marked[:4] == b"\x89PNG" and plain != marked  # the target line is drawn


def test_the_curves_start_with_the_evaluation_before_training(tmp_path):
    from pathrl.plots import curve_series, training_curves

    records = [{"step": 0, "loss": 2.0}, {"step": 1, "eval/score": 0.5, "loss": 1.0},
               {"step": 2, "loss": 0.5}, {"step": 3, "eval/score": 0.9}]
    assert curve_series(records, "eval/score") == [(1, 0.5), (3, 0.9)]
    assert curve_series(records, "eval/score", start=0.1) == [(-1.0, 0.1), (1, 0.5), (3, 0.9)]
    assert curve_series(records, "loss", start=None) == [(0, 2.0), (1, 1.0), (2, 0.5)]
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    keys = ("eval/score", "loss")
    plain = training_curves(log, tmp_path / "plain.png", keys=keys).read_bytes()
    started = training_curves(log, tmp_path / "started.png", keys=keys,
                              starts={"eval/score": 0.1}).read_bytes()
    assert plain != started


def test_a_reward_model_adds_its_score_of_the_greedy_held_out_completions(
        tiny_lm_dir, tmp_path):  # noqa: F811
    from pathrl.llm.models import generate_texts, load_policy
    from pathrl.llm.rollout import task_evaluator
    from pathrl.llm.tasks import generate_problems, to_messages

    problems = generate_problems(3, seed=2, langs=("en",), difficulties=(1,))
    seen: list[tuple[list, list]] = []

    def scorer(prompts, completions):
        seen.append((prompts, completions))
        return digit_score(prompts, completions)

    model, tokenizer = load_policy(str(tiny_lm_dir), device="cpu")
    with_scores = task_evaluator(problems, max_new_tokens=6, batch_size=2,
                                 scorer=scorer)(model, tokenizer)
    plain = task_evaluator(problems, max_new_tokens=6)(model, tokenizer)
    prompts = [to_messages(p) for p in problems]
    texts = generate_texts(model, tokenizer, prompts, max_new_tokens=6)
    assert [p for batch, _ in seen for p in batch] == prompts  # 2 + 1: every problem once
    assert [t for _, batch in seen for t in batch] == texts
    expected = sum(digit_score(prompts, texts)) / len(texts)
    assert with_scores["eval/reward_model_score"] == pytest.approx(expected)
    assert "eval/reward_model_score" not in plain
    assert {k: v for k, v in with_scores.items() if k != "eval/reward_model_score"} == plain
