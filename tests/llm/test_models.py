"""pathrl.llm.models: loading, chat rendering, batched generation, token log-probs, LoRA,
reference policy and value head, on a tiny random chat LM."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from llm_fixtures import tiny_lm_dir  # noqa: F401

from pathrl.errors import PathrlError
from pathrl.llm.models import (
    LoraSettings,
    PolicyWithValueHead,
    ReferencePolicy,
    collate_completions,
    completion_mask_until_stop,
    encode_completion,
    encode_prompt,
    end_of_turn_text,
    generate,
    load_policy,
    logprobs_from_logits,
    lora_targets,
    render_prompt,
    resolve_device,
    resolve_dtype,
    save_policy,
    sequence_logprobs,
    shared_prompt_logits,
)
from pathrl.llm.rollout import completion_scores

PROMPTS = [[{"role": "user", "content": "What is 12 plus 30?"}],
           [{"role": "user", "content": "hi"}],
           [{"role": "system", "content": "answer"},
            {"role": "user", "content": "Tom has 7 apples and buys 5 more. How many?"}]]


@pytest.fixture(scope="module")
def policy(tiny_lm_dir):  # noqa: F811
    model, tokenizer = load_policy(str(tiny_lm_dir), device="cpu")
    return model, tokenizer


def test_render_prompt_uses_the_chat_template_with_the_generation_prompt(policy):
    _model, tokenizer = policy
    text = render_prompt(tokenizer, PROMPTS[1])
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert render_prompt(tokenizer, "already rendered") == "already rendered"
    assert end_of_turn_text(tokenizer) == "<|im_end|>"
    assert encode_completion(tokenizer, "12")[-1] == tokenizer.convert_tokens_to_ids("<|im_end|>")
    # The template writes the special tokens itself: none are added in front.
    assert encode_prompt(tokenizer, PROMPTS[1])[0] == tokenizer.convert_tokens_to_ids(
        "<|im_start|>")


def test_render_prompt_without_a_template_is_plain_text(policy):
    _model, tokenizer = policy
    template, tokenizer.chat_template = tokenizer.chat_template, None
    try:
        assert render_prompt(tokenizer, PROMPTS[2]) == (
            "answer\n\nQuestion: Tom has 7 apples and buys 5 more. How many?\nAnswer: ")
        assert end_of_turn_text(tokenizer) == tokenizer.eos_token
    finally:
        tokenizer.chat_template = template


def test_left_padded_batched_greedy_equals_one_prompt_at_a_time(policy):
    model, tokenizer = policy
    batched = generate(model, tokenizer, PROMPTS, max_new_tokens=12, temperature=0.0,
                       stop_ids=[])
    lengths = [len(encode_prompt(tokenizer, p)) for p in PROMPTS]
    assert len(set(lengths)) == 3  # the batch really is padded
    assert batched.prompt_mask.sum(dim=1).tolist() == lengths
    assert batched.prompt_mask[:, -1].tolist() == [1, 1, 1]  # left padding
    for i, prompt in enumerate(PROMPTS):
        alone = generate(model, tokenizer, [prompt], max_new_tokens=12, temperature=0.0,
                         stop_ids=[])
        assert alone.completion_ids[0].tolist() == batched.completion_ids[i].tolist()
        assert alone.texts[0] == batched.texts[i]
    assert len(set(batched.texts)) > 1  # not a collapsed model: the comparison means something


def test_sampling_is_reproducible_with_a_seed_and_rows_are_prompt_major(policy):
    model, tokenizer = policy
    first = generate(model, tokenizer, PROMPTS[:2], max_new_tokens=8, temperature=1.0,
                     num_return_sequences=3, seed=11, stop_ids=[])
    again = generate(model, tokenizer, PROMPTS[:2], max_new_tokens=8, temperature=1.0,
                     num_return_sequences=3, seed=11, stop_ids=[])
    other = generate(model, tokenizer, PROMPTS[:2], max_new_tokens=8, temperature=1.0,
                     num_return_sequences=3, seed=12, stop_ids=[])
    assert first.prompt_index == [0, 0, 0, 1, 1, 1]
    assert first.completion_ids.shape == (6, 8)
    assert torch.equal(first.completion_ids, again.completion_ids)
    assert not torch.equal(first.completion_ids, other.completion_ids)
    # Each row's prompt is its own prompt.
    assert torch.equal(first.prompt_ids[0], first.prompt_ids[2])
    assert not torch.equal(first.prompt_ids[0], first.prompt_ids[3])


def test_shared_prompt_prefill_samples_what_transformers_samples_per_copy(policy):
    model, tokenizer = policy
    shared = generate(model, tokenizer, PROMPTS, max_new_tokens=10, temperature=1.0,
                      num_return_sequences=4, seed=5, stop_ids=[])
    import pathrl.llm.models as models

    def per_copy(model, ids, mask, copies, options):  # transformers runs every copy's prompt
        return model.generate(input_ids=ids, attention_mask=mask, num_return_sequences=copies,
                              **options)

    original, models.sample_copies = models.sample_copies, per_copy
    try:
        plain = generate(model, tokenizer, PROMPTS, max_new_tokens=10, temperature=1.0,
                         num_return_sequences=4, seed=5, stop_ids=[])
    finally:
        models.sample_copies = original
    assert torch.equal(shared.prompt_ids, plain.prompt_ids)
    assert torch.equal(shared.completion_ids, plain.completion_ids)
    assert len(set(shared.texts)) > 4  # sampled, not collapsed: the comparison means something


def _grouped_rows(policy, prompts=PROMPTS, copies=3):
    model, tokenizer = policy
    out = generate(model, tokenizer, prompts, max_new_tokens=9, temperature=1.0,
                   num_return_sequences=copies, seed=2)
    return out.input_ids, out.attention_mask, out.prompt_ids.shape[1], out


def test_shared_prompt_pass_gives_the_logprobs_and_gradients_of_whole_rows(policy):
    model, _tokenizer = policy
    ids, mask, prompt_width, _out = _grouped_rows(policy)
    mask = mask.clone()
    mask[0, prompt_width + 4:] = 0  # two rows end early (right padding after their EOS)
    mask[4, prompt_width + 2:] = 0
    completion_mask = mask[:, prompt_width:]
    width = ids.shape[1] - prompt_width
    results = []
    for shared in (prompt_width, None):
        model.zero_grad()
        scores = completion_scores(model, ids, mask, width, temperature=0.7, with_entropy=True,
                                   prompt_width=shared)
        (scores.logps * completion_mask).sum().backward()
        grads = torch.cat([p.grad.flatten() for p in model.parameters()])
        results.append((scores.logps.detach(), scores.entropy, grads))
    model.zero_grad()
    (logps, entropy, grads), (logps_whole, entropy_whole, grads_whole) = results
    kept = completion_mask.bool()
    assert torch.allclose(logps[kept], logps_whole[kept], atol=1e-5)
    assert torch.allclose(entropy[kept], entropy_whole[kept], atol=1e-5)
    assert grads_whole.abs().max() > 0
    assert torch.allclose(grads, grads_whole, atol=1e-4, rtol=1e-4)


def test_shared_prompt_pass_steps_aside_when_nothing_is_shared(policy):
    model, tokenizer = policy
    ids, mask, prompt_width, _out = _grouped_rows(policy, copies=1)
    assert shared_prompt_logits(model, ids, mask, prompt_width) is None  # three prompts, 3 rows
    ids, mask, prompt_width, _out = _grouped_rows(policy)
    logits = shared_prompt_logits(model, ids, mask, prompt_width)
    assert logits.shape[:2] == (ids.shape[0], ids.shape[1] - prompt_width)
    with pytest.raises(PathrlError, match="not a"):
        completion_scores(model, ids, mask, 3, prompt_width=prompt_width)


def test_completion_mask_stops_after_the_first_stop_token_even_when_pad_is_eos():
    eos = 2
    ids = torch.tensor([[5, 6, eos, eos, eos], [5, eos, 7, 8, eos], [5, 6, 7, 8, 9]])
    mask, truncated = completion_mask_until_stop(ids, [eos])
    assert mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]]
    assert truncated.tolist() == [False, False, True]


def test_generation_stops_at_a_stop_token_and_flags_truncation(policy):
    model, tokenizer = policy
    free = generate(model, tokenizer, PROMPTS[:1], max_new_tokens=10, temperature=0.0,
                    stop_ids=[])
    tokens = free.completion_ids[0].tolist()
    stop = tokens[2]
    first = tokens.index(stop)
    stopped = generate(model, tokenizer, PROMPTS, max_new_tokens=10, temperature=0.0,
                       stop_ids=[stop])
    assert stopped.completion_mask[0].tolist()[:first + 2] == [1] * (first + 1) + [0]
    assert stopped.completion_lengths[0] == first + 1
    assert not stopped.truncated[0]
    assert stopped.completion_ids[0, :first + 1].tolist() == tokens[:first + 1]
    assert free.truncated[0]
    # Masked-out positions hold the pad id, and the text stops at the stop token.
    pad = tokenizer.pad_token_id
    assert all(t == pad for t in stopped.completion_ids[0, first + 1:].tolist())
    assert stopped.texts[0] == tokenizer.decode(tokens[:first + 1], skip_special_tokens=True)


def test_sequence_logprobs_equals_a_manual_computation_and_ignores_padding(policy):
    model, tokenizer = policy
    prompts = [encode_prompt(tokenizer, p) for p in PROMPTS]
    completions = [encode_completion(tokenizer, c) for c in ("42", "hello there", "12")]
    batch = collate_completions(prompts, completions, tokenizer.pad_token_id)
    with torch.no_grad():
        logp = sequence_logprobs(model, batch.input_ids, batch.attention_mask,
                                 batch.completion_mask)
        for i, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
            row = torch.tensor([prompt + completion])
            logits = model(input_ids=row).logits[0]
            manual = torch.log_softmax(logits, dim=-1)
            expected = [manual[t - 1, row[0, t]].item()
                        for t in range(len(prompt), len(prompt) + len(completion))]
            got = logp[i, len(prompt):len(prompt) + len(completion)].tolist()
            assert got == pytest.approx(expected, abs=1e-5)
            assert logp[i, :len(prompt)].abs().sum() == 0  # prompt tokens are not scored
            assert logp[i, len(prompt) + len(completion):].abs().sum() == 0  # nor padding
    # Left padding (a generation's layout) scores like no padding, thanks to position ids.
    out = generate(model, tokenizer, PROMPTS, max_new_tokens=6, temperature=0.0, stop_ids=[])
    with torch.no_grad():
        padded = sequence_logprobs(model, out.input_ids, out.attention_mask,
                                   out.full_completion_mask)
        last = len(PROMPTS) - 1
        width = int(out.prompt_mask[1].sum())
        alone = torch.cat([out.prompt_ids[1, -width:], out.completion_ids[1]])[None]
        mask = torch.cat([torch.zeros(width, dtype=torch.long), out.completion_mask[1]])[None]
        single = sequence_logprobs(model, alone, torch.ones_like(alone), mask)
    assert padded[1, -6:].tolist() == pytest.approx(single[0, -6:].tolist(), abs=1e-5)
    assert padded[last].sum() < 0


def test_logprobs_from_logits_shifts_by_one_and_applies_temperature():
    logits = torch.zeros(1, 3, 4)
    logits[0, 0, 2] = 2.0  # position 0 predicts token 1 (= 2)
    ids = torch.tensor([[0, 2, 1]])
    mask = torch.tensor([[0, 1, 0]])
    out = logprobs_from_logits(logits, ids, mask)
    expected = torch.log_softmax(torch.tensor([0.0, 0.0, 2.0, 0.0]), dim=0)[2]
    assert out[0].tolist() == pytest.approx([0.0, expected.item(), 0.0])
    hot = logprobs_from_logits(logits, ids, mask, temperature=2.0)
    expected_hot = torch.log_softmax(torch.tensor([0.0, 0.0, 1.0, 0.0]), dim=0)[2]
    assert hot[0, 1].item() == pytest.approx(expected_hot.item())


def test_collate_completions_layout_and_truncation():
    batch = collate_completions([[1, 2], [3]], [[4, 5], [6, 7, 8]], pad_id=0, max_length=4)
    assert batch.input_ids.tolist() == [[1, 2, 4, 5], [3, 6, 7, 8]]
    assert batch.completion_mask.tolist() == [[0, 0, 1, 1], [0, 1, 1, 1]]
    short = collate_completions([[1, 2, 3]], [[4, 5]], pad_id=0, max_length=4)
    assert short.input_ids.tolist() == [[1, 2, 3, 4]]
    assert short.completion_mask.tolist() == [[0, 0, 0, 1]]
    ragged = collate_completions([[1], [1, 2]], [[3], [3, 4]], pad_id=9)
    assert ragged.input_ids.tolist() == [[1, 3, 9, 9], [1, 2, 3, 4]]
    assert ragged.last_token_index.tolist() == [1, 3]


def test_lora_trains_only_the_adapter_on_every_projection(tiny_lm_dir):  # noqa: F811
    model, _tok = load_policy(str(tiny_lm_dir), device="cpu", lora=LoraSettings(r=4, alpha=8))
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    adapted = {n.split(".")[-4] for n in trainable}  # ...q_proj.lora_A.default.weight
    assert adapted == set(lora_targets("llama"))
    with pytest.raises(PathrlError, match="no default LoRA target modules"):
        lora_targets("some_new_arch")
    with pytest.raises(PathrlError, match="cannot add LoRA"):
        load_policy(str(tiny_lm_dir), device="cpu",
                    lora=LoraSettings(target_modules=["no_such_proj"]))


def _perturb_lora(model) -> None:
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.5)


def test_lora_adapter_saves_alone_and_loads_back_merged(policy, tiny_lm_dir, tmp_path):  # noqa: F811
    model, tokenizer = load_policy(str(tiny_lm_dir), device="cpu", lora=LoraSettings(r=4))
    _perturb_lora(model)
    out = save_policy(model, tokenizer, tmp_path / "adapter")
    assert (out / "adapter_config.json").is_file() and not (out / "config.json").exists()
    assert json.loads((out / "pathrl_llm.json").read_text()) == {
        "base": str(tiny_lm_dir), "adapter": True}
    merged_dir = save_policy(model, tokenizer, tmp_path / "merged", merge_lora=True)
    assert (merged_dir / "config.json").is_file()
    ids = torch.tensor([encode_prompt(tokenizer, PROMPTS[0])])
    with torch.no_grad():
        live = model(input_ids=ids).logits
        base = policy[0](input_ids=ids).logits
        for directory in (out, merged_dir):
            reloaded, _ = load_policy(str(directory), device="cpu")
            assert torch.allclose(reloaded(input_ids=ids).logits, live, atol=2e-3)
    assert not torch.allclose(live, base, atol=0.1)  # the adapter did change the model
    assert any("lora_" in n for n, _ in model.named_parameters())  # live model not merged


def test_an_adapter_trained_on_a_saved_policy_keeps_that_policy(tiny_lm_dir, tmp_path):  # noqa: F811
    """SFT adapter, then a second adapter on the SFT policy (SFT -> DPO/GRPO): loading the
    second one must give the live model, the first adapter's weights included."""
    first, tokenizer = load_policy(str(tiny_lm_dir), device="cpu", lora=LoraSettings(r=4))
    _perturb_lora(first)
    sft_dir = save_policy(first, tokenizer, tmp_path / "sft")
    merged_dir = save_policy(first, tokenizer, tmp_path / "sft_merged", merge_lora=True)
    ids = torch.tensor([encode_prompt(tokenizer, PROMPTS[0])])
    for start in (sft_dir, merged_dir):
        second, _ = load_policy(str(start), device="cpu", lora=LoraSettings(r=4))
        _perturb_lora(second)
        out = save_policy(second, tokenizer, tmp_path / f"second_on_{start.name}")
        assert json.loads((out / "pathrl_llm.json").read_text())["base"] == str(start.resolve())
        with torch.no_grad():
            live = second(input_ids=ids).logits
            reloaded, _ = load_policy(str(out), device="cpu")
            assert torch.allclose(reloaded(input_ids=ids).logits, live, atol=2e-3)
            plain, _ = load_policy(str(tiny_lm_dir), device="cpu")
            assert not torch.allclose(plain(input_ids=ids).logits, live, atol=0.1)


def test_save_policy_drops_gguf_quantizer_fields(tiny_lm_dir, tmp_path):  # noqa: F811
    model, tokenizer = load_policy(str(tiny_lm_dir), device="cpu")
    model.hf_quantizer = None
    model.config.quantization_config = {"quant_method": "gguf"}
    out = save_policy(model, tokenizer, tmp_path / "full")
    assert "quantization_config" not in json.loads((out / "config.json").read_text())
    reloaded, _ = load_policy(str(out), device="cpu")
    for (name, a), (_, b) in zip(model.state_dict().items(), reloaded.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name


def test_reference_policy_is_the_start_point_and_stays_frozen(tiny_lm_dir):  # noqa: F811
    lora_model, tokenizer = load_policy(str(tiny_lm_dir), device="cpu", lora=LoraSettings(r=4))
    full_model, _ = load_policy(str(tiny_lm_dir), device="cpu")
    batch = collate_completions([encode_prompt(tokenizer, PROMPTS[0])],
                                [encode_completion(tokenizer, "42")], tokenizer.pad_token_id)
    args = (batch.input_ids, batch.attention_mask, batch.completion_mask)
    with torch.no_grad():
        start = sequence_logprobs(full_model, *args)
    shared = ReferencePolicy(lora_model)
    copied = ReferencePolicy(full_model)
    assert shared.shared and shared.model is lora_model
    assert not copied.shared and copied.model is not full_model
    _perturb_lora(lora_model)
    with torch.no_grad():
        for parameter in full_model.parameters():
            parameter.add_(0.1)
        moved = sequence_logprobs(lora_model, *args)
    assert not torch.allclose(moved, start, atol=1e-4)
    lora_model.train()  # a policy mid-training: the reference runs without dropout...
    assert torch.allclose(shared.logprobs(*args), start, atol=1e-5)
    assert lora_model.training  # ...and leaves its mode as it was
    assert torch.allclose(copied.logprobs(*args), start, atol=1e-5)
    with pytest.raises(PathrlError, match="only a LoRA policy"):
        ReferencePolicy(full_model, share_weights=True)


def test_value_head_is_per_token_starts_at_zero_and_round_trips(policy, tmp_path):
    model, tokenizer = policy
    wrapped = PolicyWithValueHead(model)
    batch = collate_completions([encode_prompt(tokenizer, PROMPTS[0])],
                                [encode_completion(tokenizer, "42")], tokenizer.pad_token_id)
    out = wrapped(batch.input_ids, batch.attention_mask)
    assert out.values.shape == batch.input_ids.shape
    assert out.logits.shape[:2] == batch.input_ids.shape
    assert out.values.abs().sum() == 0
    with torch.no_grad():
        wrapped.value_head.weight.normal_()
    values = wrapped(batch.input_ids, batch.attention_mask).values
    wrapped.save_pretrained(tmp_path / "critic", tokenizer)
    reloaded, _ = PolicyWithValueHead.from_pretrained(tmp_path / "critic", device="cpu")
    assert torch.allclose(reloaded(batch.input_ids, batch.attention_mask).values, values,
                          atol=1e-5)


def test_device_and_dtype_errors_are_one_line():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(None).type in {"cpu", "cuda", "mps"}
    with pytest.raises(PathrlError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(PathrlError, match="CUDA is not available"):
            resolve_device("cuda")
    assert resolve_dtype(None, torch.device("cpu")) == torch.float32
    assert resolve_dtype("bfloat16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(PathrlError, match="unknown dtype 'fp8'"):
        resolve_dtype("fp8", torch.device("cpu"))


def test_unknown_model_is_a_clear_error(tmp_path):
    with pytest.raises(PathrlError, match="unknown backbone"):
        load_policy(str(tmp_path / "missing"))


@pytest.mark.slow
def test_packaged_smollm2_chat_template_and_two_prompt_generation():
    model, tokenizer = load_policy("smollm2", device="cpu")
    text = render_prompt(tokenizer, [{"role": "user", "content": "What is 2 + 3?"}])
    assert text.startswith("<|im_start|>system\n")
    assert text.endswith("<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n")
    out = generate(model, tokenizer, [[{"role": "user", "content": "What is 2 + 3?"}],
                                      [{"role": "user", "content": "Say hello."}]],
                   max_new_tokens=24, temperature=0.0)
    assert len(out.texts) == 2 and all(t.strip() for t in out.texts)
    assert not out.truncated[0] and "5" in out.texts[0]


@pytest.mark.slow
def test_packaged_gguf_is_converted_once_and_gives_the_same_numbers():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pathrl.backbones import converted, load_causal_lm, load_tokenizer, resolve_backbone

    gguf = resolve_backbone("smollm2")
    source = converted(gguf)
    cached = Path(source.path)
    assert source.gguf_file is None and (cached / "config.json").is_file()
    assert cached.is_relative_to(Path(os.environ["PATHRL_HOME"]))
    stamp = (cached / "config.json").stat().st_mtime_ns
    assert converted(gguf) == source and (cached / "config.json").stat().st_mtime_ns == stamp

    direct = AutoModelForCausalLM.from_pretrained(gguf.path, **gguf.kwargs).eval()
    model, tokenizer = load_causal_lm(gguf).eval(), load_tokenizer(gguf)
    ids = tokenizer("Which projects have contracts?", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.equal(direct(ids).logits, model(ids).logits)
    original = AutoTokenizer.from_pretrained(gguf.path, **gguf.kwargs)
    assert tokenizer.chat_template == original.chat_template
    assert tokenizer("合同 of 项目").input_ids == original("合同 of 项目").input_ids


def test_a_broken_gguf_file_is_one_clear_error_and_is_not_cached(tmp_path):
    from pathrl.backbones import load_causal_lm, load_tokenizer, resolve_backbone

    (tmp_path / "model.gguf").write_text("not a gguf")
    source = resolve_backbone(str(tmp_path))
    for load in (load_tokenizer, load_causal_lm):
        with pytest.raises(PathrlError, match="not a GGUF file"):
            load(source)
    assert not list((Path(os.environ["PATHRL_HOME"]) / "models").glob("model-*"))
