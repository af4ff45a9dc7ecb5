"""pathrl.llm.sft: completion-only labels, the loss falls on a tiny set, Ctrl-C + --resume
gives the same parameters as an uninterrupted run, LoRA checkpoints hold only the adapter."""

from __future__ import annotations

import os
import signal

import pytest
import torch
from llm_fixtures import tiny_lm_dir  # noqa: F401

from pathrl.llm.models import LoraSettings, encode_completion, encode_prompt, load_policy
from pathrl.llm.sft import (
    IGNORE_INDEX,
    LLMSFTConfig,
    LLMSFTTrainer,
    SFTExample,
    encode_sft,
    sft_batch,
    sft_examples,
    sft_rows,
)
from pathrl.llm.training import TaskDataConfig
from pathrl.rl.logging import read_jsonl
from pathrl.rl.metrics import LLM_SFT_METRICS

TRAIN = [SFTExample([{"role": "user", "content": f"What is {a} plus {b}?"}], str(a + b))
         for a, b in [(1, 2), (3, 4), (5, 6), (7, 8), (2, 9), (4, 4), (6, 1), (8, 3)]]
HELD_OUT = [SFTExample([{"role": "user", "content": "What is 2 plus 2?"}], "4")]


def _config(**overrides) -> LLMSFTConfig:
    values = {"learning_rate": 1e-2, "batch_size": 4, "max_steps": 6, "warmup_ratio": 0.0,
              "lr_scheduler": "constant", "eval_every": 2, "seed": 3}
    values.update(overrides)
    return LLMSFTConfig(**values)


def test_prompt_tokens_are_masked_and_the_answer_ends_with_the_end_of_turn(tiny_lm_dir):  # noqa: F811
    _model, tokenizer = load_policy(str(tiny_lm_dir), device="cpu")
    encoded = encode_sft(tokenizer, TRAIN[:2], max_length=512)
    batch, labels = sft_batch(encoded, tokenizer.pad_token_id)
    for row, example in enumerate(TRAIN[:2]):
        prompt = encode_prompt(tokenizer, example.prompt)
        answer = encode_completion(tokenizer, example.completion)
        assert labels[row, :len(prompt)].tolist() == [IGNORE_INDEX] * len(prompt)
        assert labels[row, len(prompt):len(prompt) + len(answer)].tolist() == answer
        assert (labels[row, len(prompt) + len(answer):] == IGNORE_INDEX).all()
        assert answer[-1] == tokenizer.convert_tokens_to_ids("<|im_end|>")
    # A row over max_length loses its answer's end, never its prompt's start.
    short = encode_sft(tokenizer, TRAIN[:1], max_length=len(encoded[0].prompt_ids) + 1)[0]
    assert short.prompt_ids == encoded[0].prompt_ids and len(short.completion_ids) == 1


@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16-autocast"])
def test_sft_loss_falls_on_a_tiny_set(tiny_lm_dir, tmp_path, bf16):  # noqa: F811
    model, tokenizer = load_policy(str(tiny_lm_dir), device="cpu")
    trainer = LLMSFTTrainer(model, tokenizer, _config(max_steps=30, eval_every=0, bf16=bf16),
                            TRAIN, [], tmp_path)
    trainer.fit()
    log = read_jsonl(tmp_path / "metrics.jsonl")
    assert len(log) == 30
    first, last = log[0]["loss"], sum(r["loss"] for r in log[-3:]) / 3
    assert last < 0.5 * first
    assert log[-1]["token_accuracy"] > log[0]["token_accuracy"]
    assert {"loss", "token_accuracy", "lr", "grad_norm", "epoch"} <= set(log[0])
    assert (tmp_path / "model" / "config.json").is_file()


def _interrupt_at(step: int):
    def progress(done: int, total: int, metrics: dict) -> None:
        if done == step:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C: honoured after the step
    return progress


def _trainer(tiny_lm_dir, out, lora: LoraSettings | None = None, **overrides):  # noqa: F811
    torch.manual_seed(0)  # the same LoRA initialisation in every run
    model, tokenizer = load_policy(str(tiny_lm_dir), device="cpu", lora=lora)
    config = _config(lora=lora, gradient_accumulation_steps=2, batch_size=2, **overrides)
    return LLMSFTTrainer(model, tokenizer, config, TRAIN, HELD_OUT, out)


@pytest.mark.parametrize("lora", [None, LoraSettings(r=4, dropout=0.1)], ids=["full", "lora"])
def test_ctrl_c_then_resume_equals_an_uninterrupted_run(tiny_lm_dir, tmp_path, lora):  # noqa: F811
    straight = _trainer(tiny_lm_dir, tmp_path / "straight", lora)
    straight.fit()
    interrupted = _trainer(tiny_lm_dir, tmp_path / "resumed", lora)
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(progress=_interrupt_at(3))
    assert interrupted.step == 3
    resumed = _trainer(tiny_lm_dir, tmp_path / "resumed", lora)
    summary = resumed.fit(resume=True)
    assert summary.steps == 6 and summary.steps_run == 3
    for (name, a), (_, b) in zip(straight.model.state_dict().items(),
                                 resumed.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    log_a = read_jsonl(tmp_path / "straight" / "metrics.jsonl")
    log_b = read_jsonl(tmp_path / "resumed" / "metrics.jsonl")
    assert [r["loss"] for r in log_a] == [r["loss"] for r in log_b]
    assert [r.get("eval_loss") for r in log_a] == [r.get("eval_loss") for r in log_b]
    assert log_a[1]["eval_loss"] is not None and "eval_loss" not in log_a[0]
    assert set().union(*log_a) <= set(LLM_SFT_METRICS)  # every name is documented
    if lora is not None:  # the checkpoint holds the adapter, not the frozen base
        state = torch.load(resumed.latest_checkpoint(), weights_only=False)
        assert state["model"] and all("lora_" in k for k in state["model"])


def test_save_total_limit_keeps_the_latest_checkpoints(tiny_lm_dir, tmp_path):  # noqa: F811
    trainer = _trainer(tiny_lm_dir, tmp_path, checkpoint_every=1, save_total_limit=2)
    trainer.fit()
    kept = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert kept == ["step_00005.pt", "step_00006.pt"]


def test_default_data_is_the_arithmetic_task_and_rows_load_from_jsonl(tmp_path):
    train, held_out = sft_examples(TaskDataConfig(n_train=6, n_eval=2, n_test=3))
    assert len(train) == 6 and len(held_out) == 2
    assert train[0].prompt[0]["role"] == "system" and train[0].prompt[1]["role"] == "user"
    assert train[0].completion.startswith("<reasoning>\n")
    assert train[0].completion.endswith("</answer>")
    assert not {str(e.prompt) for e in train} & {str(e.prompt) for e in held_out}
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"prompt": "Q: 1+1?", "completion": "2"}\n\n'
                    '{"messages": [{"role": "user", "content": "hi"}, '
                    '{"role": "assistant", "content": "hello"}]}\n')
    loaded = sft_rows(rows)
    assert loaded == [SFTExample("Q: 1+1?", "2"),
                      SFTExample([{"role": "user", "content": "hi"}], "hello")]
    rows.write_text('{"prompt": "Q"}\n')
    with pytest.raises(Exception, match="row 1: expected 'prompt' and 'completion'"):
        sft_rows(rows)
