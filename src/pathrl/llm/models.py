"""The model layer of pathrl's RLHF toolkit for generative LLMs: load, save, render, sample,
score tokens.

    model, tokenizer = load_policy("smollm2", lora=LoraSettings(r=16))   # packaged, offline
    prompt = render_prompt(tokenizer, [{"role": "user", "content": "What is 2 + 3?"}])
    out = generate(model, tokenizer, [prompt], max_new_tokens=32, temperature=0.7, seed=1)
    logp = sequence_logprobs(model, out.input_ids, out.attention_mask, out.full_completion_mask)
    save_policy(model, tokenizer, "runs/policy/model")

Models come from `pathrl.backbones` (the packaged SmolLM2-135M-Instruct GGUF, or any local
Hugging Face directory such as Qwen2.5-0.5B-Instruct; nothing is downloaded) or from a
directory `save_policy` wrote. A LoRA directory (adapter only) loads as its merged model, so
every trainer starts from plain weights and a fresh adapter; a frozen reference of a LoRA
policy is then the same weights with the adapter switched off (`ReferencePolicy`).

Sequences are laid out as [left padding | prompt | completion | right padding]: prompts are
left-padded so that generation continues every row from its last prompt token, and position
ids always come from the attention mask, so a padded row scores exactly as it would alone.
Every per-token tensor here has the shape of `input_ids`; entry t of `sequence_logprobs` is
log π(x_t | x_<t) (the logits at t − 1 predict token t: the shift by one lives here only).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from pathrl.devices import model_device, resolve_device
from pathrl.errors import PathrlError
from pathrl.local_lm import render_prompt as _render_messages
from pathrl.local_lm import stop_token_ids

Messages = list[dict[str, str]]
Prompt = str | Messages
"""A prompt: chat messages (rendered by the chat template) or text already rendered."""

META_FILE = "pathrl_llm.json"
"""Written beside every saved policy: which base model a LoRA adapter belongs to."""
VALUE_HEAD_FILE = "value_head.safetensors"

LORA_TARGETS: dict[str, tuple[str, ...]] = {
    # Every linear layer of attention and MLP (the QLoRA recipe), by architecture.
    **dict.fromkeys(("llama", "qwen2", "qwen3", "mistral", "gemma", "gemma2", "gemma3_text"),
                    ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                     "down_proj")),
    "phi3": ("qkv_proj", "o_proj", "gate_up_proj", "down_proj"),
    "gpt2": ("c_attn", "c_proj", "c_fc"),
}


@dataclass
class LoraSettings:
    """A LoRA adapter (peft) for the policy: only the adapter trains, the base stays frozen."""

    r: int = 16
    """Rank of each adapter matrix."""
    alpha: int = 32
    """Scale: the update is (alpha / r) · B A."""
    dropout: float = 0.05
    """Dropout on the adapter's input."""
    target_modules: list[str] | None = None
    """Module names to adapt; None: every attention and MLP projection of the architecture
    (`LORA_TARGETS`)."""

    def __post_init__(self) -> None:
        if self.r < 1 or self.alpha < 1:
            raise PathrlError(f"lora r and alpha must be >= 1, got r={self.r}, "
                              f"alpha={self.alpha}")
        if not 0 <= self.dropout < 1:
            raise PathrlError(f"lora dropout must be in [0, 1), got {self.dropout}")


class LoadedPolicy(NamedTuple):
    model: Any
    tokenizer: Any


# -- devices: resolve_device and model_device live in pathrl.devices -------------------
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """`None` or "auto": bfloat16 on a CUDA device that supports it, else float32."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, "", "auto"):
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if dtype not in DTYPES:
        raise PathrlError(f"unknown dtype '{dtype}' (auto, {', '.join(DTYPES)})")
    return DTYPES[dtype]


# -- loading and saving ----------------------------------------------------------------------
def lora_targets(model_type: str) -> list[str]:
    if model_type not in LORA_TARGETS:
        raise PathrlError(f"no default LoRA target modules for architecture '{model_type}' "
                          f"(known: {', '.join(sorted(LORA_TARGETS))}); set "
                          "lora.target_modules")
    return list(LORA_TARGETS[model_type])


def add_lora(model: Any, settings: LoraSettings, task_type: str = "CAUSAL_LM") -> Any:
    """Wrap `model` in a fresh peft LoRA adapter (B = 0: it starts as the same function)."""
    from peft import LoraConfig, get_peft_model

    targets = settings.target_modules or lora_targets(model.config.model_type)
    config = LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                        target_modules=targets, task_type=task_type)
    try:
        return get_peft_model(model, config)
    except ValueError as exc:  # target modules not in the model
        raise PathrlError(f"cannot add LoRA: {exc}") from None


def read_meta(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / META_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _adapter_base(directory: Path) -> str:
    """The base model a saved LoRA adapter belongs to (our meta file, else peft's record)."""
    base = read_meta(directory).get("base")
    if base:
        return base
    config = json.loads((directory / "adapter_config.json").read_text())
    if not config.get("base_model_name_or_path"):
        raise PathrlError(f"{directory}: the adapter does not say which base model it is for")
    return config["base_model_name_or_path"]


def load_base(name_or_dir: str, auto_class: Any = None) -> tuple[Any, Any, str]:
    """(model, tokenizer, base name) from an alias, a Hugging Face directory or a directory
    `save_policy` wrote; a LoRA adapter is merged into its base. `auto_class` defaults to
    AutoModelForCausalLM (the reward model passes AutoModel)."""
    from transformers import AutoModelForCausalLM

    from pathrl.backbones import BackboneSource, _load, load_tokenizer, resolve_backbone

    auto_class = auto_class or AutoModelForCausalLM
    directory = Path(name_or_dir).expanduser()
    if (directory / "adapter_config.json").is_file():
        from peft import PeftModel

        base_name = _adapter_base(directory)
        base, _tok, _ = load_base(base_name, AutoModelForCausalLM)
        try:
            merged = PeftModel.from_pretrained(base, str(directory)).merge_and_unload()
        except (OSError, ValueError, RuntimeError) as exc:
            raise PathrlError(f"cannot load the LoRA adapter in {directory}: {exc}") from None
        own_tokenizer = (directory / "tokenizer_config.json").is_file()
        tokenizer = load_tokenizer(BackboneSource(str(directory)) if own_tokenizer
                                   else resolve_backbone(base_name))
        if auto_class is not AutoModelForCausalLM:
            merged = merged.base_model if hasattr(merged, "base_model") else merged
        # The base of what is built on top is this adapter (which chains to its own base),
        # not its base: a second adapter saved on it must not drop the first one's weights.
        return merged, tokenizer, str(directory.resolve())
    source = resolve_backbone(name_or_dir)
    model = _load(auto_class, source, "language model")
    tokenizer = load_tokenizer(source)
    # A directory's weights are the base of an adapter trained on them (the directory's own
    # record of where it came from would drop them); an alias stays an alias.
    return model, tokenizer, str(directory.resolve()) if directory.is_dir() else name_or_dir


def load_policy(name_or_dir: str = "smollm2", device: str | torch.device | None = None,
                dtype: str | torch.dtype | None = None,
                lora: LoraSettings | None = None) -> LoadedPolicy:
    """A causal LM and its tokenizer, on `device` (auto: cuda, mps, cpu) in `dtype` (auto:
    bf16 on CUDA, else fp32), with a fresh LoRA adapter when `lora` is given, in eval mode.
    The tokenizer has a pad token (its EOS when it had none) and `model.config.pad_token_id`
    is set."""
    model, tokenizer, base = load_base(name_or_dir)
    target = resolve_device(device)
    model = model.to(device=target, dtype=resolve_dtype(dtype, target))
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if getattr(model, "generation_config", None) is not None and \
            model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    if lora is not None:
        model = add_lora(model, lora)
    model.pathrl_base = base
    model.eval()  # trainers switch to train mode themselves
    return LoadedPolicy(model, tokenizer)


def is_peft(model: Any) -> bool:
    return hasattr(model, "peft_config") and hasattr(model, "disable_adapter")


def save_policy(model: Any, tokenizer: Any, directory: str | Path, *,
                merge_lora: bool = False, base: str | None = None,
                extra_tensors: dict[str, dict[str, torch.Tensor]] | None = None,
                meta: dict[str, Any] | None = None) -> Path:
    """Save `model` (atomically: the directory appears whole or not at all) with its
    tokenizer. A LoRA policy saves its adapter only unless `merge_lora` (then the merged full
    weights; the live model is left as it is). GGUF-loaded weights drop their quantizer fields
    so they save as plain safetensors. `base` (default: what `load_policy` loaded) is recorded
    in `pathrl_llm.json` so the adapter can be loaded again, with `meta`; `extra_tensors`
    (file name -> tensors) are saved beside the weights (a value head, a reward head)."""
    from safetensors.torch import save_file

    from pathrl.backbones import _drop_quantizer
    from pathrl.io import atomic_dir

    base = base or getattr(model, "pathrl_base", None)
    peft = is_peft(model)
    to_save = copy.deepcopy(model).merge_and_unload() if peft and merge_lora else model
    if not (peft and not merge_lora):
        _drop_quantizer(to_save)
    with atomic_dir(directory) as tmp:
        to_save.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        for name, tensors in (extra_tensors or {}).items():
            save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()},
                      str(tmp / name))
        record = {"base": base, "adapter": peft and not merge_lora, **(meta or {})}
        (tmp / META_FILE).write_text(json.dumps(record, indent=2) + "\n")
    return Path(directory)


def frozen_copy(model: nn.Module) -> nn.Module:
    """A deep copy in eval mode with no parameter requiring gradients."""
    reference = copy.deepcopy(model).eval()
    for parameter in reference.parameters():
        parameter.requires_grad_(False)
    return reference


def disable_dropout(model: nn.Module) -> None:
    """Set every dropout probability to 0 (DPO/RM training, as TRL does by default)."""
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


# -- prompts and tokens ----------------------------------------------------------------------
def render_prompt(tokenizer: Any, prompt: Prompt) -> str:
    """A prompt as the text the model continues: chat messages rendered by the tokenizer's
    chat template with the generation prompt (plain "Question:/Answer:" text without a
    template); a string is taken as already rendered."""
    return prompt if isinstance(prompt, str) else _render_messages(tokenizer, prompt)


def end_of_turn_text(tokenizer: Any) -> str:
    """What closes an assistant answer, so a trained model learns to stop: the chat
    template's turn terminator (e.g. "<|im_end|>"), else the EOS token."""
    if getattr(tokenizer, "chat_template", None):
        marker = "\u2063pathrl\u2063"
        rendered = tokenizer.apply_chat_template(
            [{"role": "user", "content": "q"}, {"role": "assistant", "content": marker}],
            tokenize=False)
        tail = rendered.split(marker, 1)[1].rstrip() if marker in rendered else ""
        if tail:
            return tail
    return tokenizer.eos_token or ""


def encode_prompt(tokenizer: Any, prompt: Prompt) -> list[int]:
    """Token ids of a rendered prompt. A chat template writes its own special tokens, so
    none are added; a plain-text prompt gets the tokenizer's usual ones (e.g. BOS)."""
    text = render_prompt(tokenizer, prompt)
    chat = not isinstance(prompt, str) or bool(getattr(tokenizer, "chat_template", None))
    return tokenizer(text, add_special_tokens=not chat).input_ids


def encode_completion(tokenizer: Any, completion: str, end_of_turn: bool = True) -> list[int]:
    """Token ids of an answer, closed by the end-of-turn text (tokenized apart from the
    prompt: generation continues from the prompt's own tokens, so training sees the same)."""
    text = completion + (end_of_turn_text(tokenizer) if end_of_turn else "")
    return tokenizer(text, add_special_tokens=False).input_ids


@dataclass
class CompletionBatch:
    """Prompt + completion rows, right-padded: [prompt | completion | pad]."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    completion_mask: torch.Tensor
    """1 on completion tokens (the ones scored or trained on)."""

    def to(self, device: torch.device) -> CompletionBatch:
        return CompletionBatch(self.input_ids.to(device), self.attention_mask.to(device),
                               self.completion_mask.to(device))

    @property
    def last_token_index(self) -> torch.Tensor:
        """Index of each row's last real token (where a reward model reads its score)."""
        positions = torch.arange(self.attention_mask.shape[1], device=self.attention_mask.device)
        return (positions * self.attention_mask).argmax(dim=1)


def collate_completions(prompt_ids: Sequence[Sequence[int]],
                        completion_ids: Sequence[Sequence[int]], pad_id: int,
                        max_length: int | None = None) -> CompletionBatch:
    """Concatenate each prompt with its completion and right-pad to the longest row. A row
    over `max_length` keeps its first `max_length` tokens (the completion's end goes first)."""
    rows, masks = [], []
    for prompt, completion in zip(prompt_ids, completion_ids, strict=True):
        row = list(prompt) + list(completion)
        mask = [0] * len(prompt) + [1] * len(completion)
        if max_length is not None:
            row, mask = row[:max_length], mask[:max_length]
        rows.append(row)
        masks.append(mask)
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    completion = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (row, mask) in enumerate(zip(rows, masks, strict=True)):
        input_ids[i, :len(row)] = torch.tensor(row, dtype=torch.long)
        attention[i, :len(row)] = 1
        completion[i, :len(mask)] = torch.tensor(mask, dtype=torch.long)
    return CompletionBatch(input_ids, attention, completion)


def pad_left(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, attention mask) of `rows` left-padded to the longest."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            ids[i, width - len(row):] = torch.tensor(list(row), dtype=torch.long)
            mask[i, width - len(row):] = 1
    return ids, mask


def position_ids_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions counted over real tokens only (0 on left padding), as generation uses."""
    return (attention_mask.long().cumsum(dim=1) - 1).clamp_min(0)


# -- generation ------------------------------------------------------------------------------
@dataclass
class Generation:
    """Sampled completions. Rows are prompt-major: the `num_return_sequences` completions of
    prompt i are rows i·n … i·n + n − 1 (`prompt_index` says which prompt a row answers)."""

    prompt_ids: torch.Tensor
    """[rows, P] left-padded prompts."""
    prompt_mask: torch.Tensor
    completion_ids: torch.Tensor
    """[rows, C] generated tokens, the pad id after the end."""
    completion_mask: torch.Tensor
    """[rows, C] 1 up to and including the first stop token (EOS / end of turn)."""
    truncated: torch.Tensor
    """[rows] bool: no stop token within max_new_tokens."""
    texts: list[str]
    """Decoded completions (special tokens dropped)."""
    prompt_index: list[int]

    @property
    def input_ids(self) -> torch.Tensor:
        return torch.cat([self.prompt_ids, self.completion_ids], dim=1)

    @property
    def attention_mask(self) -> torch.Tensor:
        return torch.cat([self.prompt_mask, self.completion_mask], dim=1)

    @property
    def full_completion_mask(self) -> torch.Tensor:
        """`completion_mask` placed over `input_ids` (0 on the prompt columns)."""
        return torch.cat([torch.zeros_like(self.prompt_mask), self.completion_mask], dim=1)

    @property
    def completion_lengths(self) -> torch.Tensor:
        return self.completion_mask.sum(dim=1)


def completion_mask_until_stop(completion_ids: torch.Tensor,
                               stop_ids: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask, truncated): the mask is 1 up to and including each row's first stop token;
    a row without one is truncated (all its tokens count). Works when pad == EOS."""
    if not stop_ids:
        ones = torch.ones_like(completion_ids)
        return ones, torch.ones(completion_ids.shape[0], dtype=torch.bool)
    is_stop = torch.isin(completion_ids, torch.tensor(list(stop_ids),
                                                      device=completion_ids.device))
    stops_before = is_stop.long().cumsum(dim=1) - is_stop.long()  # stops strictly before t
    mask = (stops_before == 0).long()
    return mask, ~is_stop.any(dim=1)


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Temporarily in eval mode (no dropout), restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def generate(model: Any, tokenizer: Any, prompts: Sequence[Prompt], max_new_tokens: int = 128,
             temperature: float = 1.0, top_p: float = 1.0, top_k: int = 0,
             num_return_sequences: int = 1, seed: int | None = None, batch_size: int = 16,
             stop_ids: Sequence[int] | None = None) -> Generation:
    """Sample completions of `prompts` in left-padded batches with the KV cache (transformers'
    `generate`). `temperature` 0 is greedy decoding; `top_p` < 1 is nucleus sampling; `top_k`
    0 is off. `seed` makes sampling reproducible (the global torch RNG is forked, so the
    caller's stream is untouched). Stops at EOS / end-of-turn (`stop_ids`)."""
    if max_new_tokens < 1 or num_return_sequences < 1 or batch_size < 1:
        raise PathrlError("max_new_tokens, num_return_sequences and batch_size must be >= 1")
    if temperature < 0 or not 0 < top_p <= 1:
        raise PathrlError(f"temperature must be >= 0 and top_p in (0, 1], got {temperature}, "
                          f"{top_p}")
    if not prompts:
        raise PathrlError("generate: no prompts")
    stops = list(stop_ids) if stop_ids is not None else stop_token_ids(tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stops[0]
    device = model_device(model)
    encoded = [encode_prompt(tokenizer, p) for p in prompts]
    sampling = temperature > 0
    options: dict[str, Any] = {
        "max_new_tokens": max_new_tokens, "do_sample": sampling, "num_beams": 1,
        "use_cache": True,
        "eos_token_id": stops or None, "pad_token_id": pad,
        "temperature": temperature if sampling else None,
        "top_p": top_p if sampling else None, "top_k": top_k if sampling else None}
    chunks: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    fork = torch.random.fork_rng(devices=[device] if device.type == "cuda" else [])
    with torch.no_grad(), eval_mode(model), fork:
        if seed is not None:
            torch.manual_seed(seed)
        for start in range(0, len(encoded), batch_size):
            ids, mask = pad_left(encoded[start:start + batch_size], pad)
            ids, mask = ids.to(device), mask.to(device)
            out = sample_copies(model, ids, mask, num_return_sequences, options)
            rows_mask = mask.repeat_interleave(num_return_sequences, dim=0)
            chunks.append((out[:, :ids.shape[1]], rows_mask, out[:, ids.shape[1]:]))
    prompt_width = max(c[0].shape[1] for c in chunks)
    completion_width = max(c[2].shape[1] for c in chunks)
    prompt_ids, prompt_masks, completion_ids = [], [], []
    for prompt_part, mask_part, completion_part in chunks:
        left = prompt_width - prompt_part.shape[1]
        right = completion_width - completion_part.shape[1]
        prompt_ids.append(nn.functional.pad(prompt_part, (left, 0), value=pad))
        prompt_masks.append(nn.functional.pad(mask_part, (left, 0), value=0))
        completion_ids.append(nn.functional.pad(completion_part, (0, right), value=pad))
    completions = torch.cat(completion_ids).cpu()
    completion_mask, truncated = completion_mask_until_stop(completions, stops)
    completions = torch.where(completion_mask.bool(), completions, torch.full_like(
        completions, pad))
    texts = [tokenizer.decode(row[:int(n)], skip_special_tokens=True)
             for row, n in zip(completions, completion_mask.sum(dim=1), strict=True)]
    return Generation(prompt_ids=torch.cat(prompt_ids).cpu(),
                      prompt_mask=torch.cat(prompt_masks).cpu(), completion_ids=completions,
                      completion_mask=completion_mask, truncated=truncated, texts=texts,
                      prompt_index=[i for i in range(len(prompts))
                                    for _ in range(num_return_sequences)])


def sample_copies(model: Any, ids: torch.Tensor, mask: torch.Tensor, copies: int,
                  options: dict[str, Any]) -> torch.Tensor:
    """`model.generate` of `copies` completions of every row (prompt-major rows, as
    transformers' num_return_sequences orders them). With copies > 1 the prompt's columns but
    its last go through the model once per prompt and their KV cache is copied to the copies:
    transformers would run every copy's prompt. Models that are not plain transformers /
    peft models (a wrapper with its own cache) take transformers' path."""
    from transformers import PreTrainedModel

    base = model.get_base_model() if is_peft(model) else model
    if copies == 1 or ids.shape[1] < 2 or not isinstance(base, PreTrainedModel):
        return model.generate(input_ids=ids, attention_mask=mask, num_return_sequences=copies,
                              **options)
    _last_logits, cache = prompt_pass(model, ids[:, :-1], mask[:, :-1])
    rows = torch.arange(ids.shape[0], device=ids.device).repeat_interleave(copies)
    return model.generate(input_ids=ids[rows], attention_mask=mask[rows],
                          **{cache_kwarg(model): select_rows(cache, rows)}, **options)


def generate_texts(model: Any, tokenizer: Any, prompts: Sequence[Prompt],
                   max_new_tokens: int = 128, batch_size: int = 16) -> list[str]:
    """Greedy completions as text (what an evaluation's `generate(prompts)` callable needs)."""
    if not prompts:
        return []
    return generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, temperature=0.0,
                    batch_size=batch_size).texts


# -- token log-probabilities -----------------------------------------------------------------
def logprobs_from_logits(logits: torch.Tensor, input_ids: torch.Tensor,
                         completion_mask: torch.Tensor, temperature: float = 1.0,
                         start: int = 0) -> torch.Tensor:
    """Per-token log π(x_t | x_<t) [B, T] from logits [B, T − start, V] of positions
    start … T − 1 (all of them by default): entry t uses the logits at t − 1. Zero where
    `completion_mask` is 0 (and up to `start`, which no kept logit predicts). Computed in
    float32 whatever the model's dtype."""
    logits = logits[:, :-1].float()
    if temperature != 1.0:
        logits = logits / temperature
    targets = input_ids[:, start + 1:]
    picked = torch.gather(logits, -1, targets.unsqueeze(-1)).squeeze(-1)
    token_logp = picked - torch.logsumexp(logits, dim=-1)
    out = torch.zeros(input_ids.shape, dtype=token_logp.dtype, device=input_ids.device)
    out[:, start + 1:] = token_logp
    return out * completion_mask.to(out.dtype)


def first_scored_position(mask: torch.Tensor) -> int:
    """The first column any row scores (0 when none does): logits before it are not needed."""
    columns = mask.any(dim=0).nonzero()
    return int(columns[0]) if len(columns) else 0


def forward_logits(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                   start: int = 0, **kwargs: Any) -> Any:
    """The model's forward with position ids taken from the attention mask. With `start`
    > 0 only the logits of positions start … T − 1 are computed (transformers'
    `logits_to_keep`: the LM head and its softmax skip the prompt)."""
    if start > 0:
        kwargs["logits_to_keep"] = input_ids.shape[1] - start
    return model(input_ids=input_ids, attention_mask=attention_mask,
                 position_ids=position_ids_from_mask(attention_mask), use_cache=False, **kwargs)


def sequence_logprobs(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                      completion_mask: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Per-token log-probs [B, T] of the completion tokens under `model` (see
    `logprobs_from_logits`); differentiable unless called under `torch.no_grad()`. Sum over
    the last dim for a sequence log-prob (DPO), keep per token for GRPO/PPO. Only the logits
    from the token before the first completion token on are computed."""
    start = max(first_scored_position(completion_mask) - 1, 0)
    logits = forward_logits(model, input_ids, attention_mask, start=start).logits
    if logits.shape[1] != input_ids.shape[1] - start:  # a model that ignores logits_to_keep
        logits = logits[:, start:]
    return logprobs_from_logits(logits, input_ids, completion_mask, temperature, start)


# -- KV caches -------------------------------------------------------------------------------
def select_rows(cache: Any, index: torch.Tensor) -> Any:
    """A new KV cache holding rows `index` of `cache` (rows may repeat), which stays as it
    was: the model appends to the copy in place."""
    selected = copy.copy(cache)
    selected.layers = [copy.copy(layer) for layer in cache.layers]
    for layer in selected.layers:
        layer.reorder_cache(index)  # index_select: new tensors on the copied layer only
    return selected


def cache_kwarg(model: Any) -> str:
    """The keyword a transformers causal LM takes its KV cache under: `cache` (transformers
    >= 5.24) or `past_key_values` (earlier)."""
    base = model.get_base_model() if is_peft(model) else model
    return "cache" if "cache" in inspect.signature(base.forward).parameters \
        else "past_key_values"


def output_cache(output: Any) -> Any:
    """The KV cache a forward returned, whichever name the transformers version gives it."""
    cache = output.get("cache") if "cache" in output else None
    return cache if cache is not None else output.get("past_key_values")


def prompt_pass(model: Any, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, Any]:
    """One forward over left-padded prompts: (logits of the last column [rows, 1, V], the KV
    cache to continue from; None if the model returns none)."""
    out = model(input_ids=ids, attention_mask=mask, position_ids=position_ids_from_mask(mask),
                use_cache=True, logits_to_keep=1)
    return out.logits[:, -1:], output_cache(out)


def shared_prompt_logits(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                         prompt_width: int) -> torch.Tensor | None:
    """The logits that predict every completion token of [prompt | completion] rows (columns
    `prompt_width` … T − 1; [rows, T − prompt_width, V]), with each distinct prompt run once.

    GRPO's G completions of a prompt repeat its P columns G times; here the prompt goes through
    the model once, its KV cache is copied to its rows (an index_select, so gradients flow back
    through the copies into the one prompt pass) and only the completion columns run per row.
    The same function as one pass over the whole rows, at (G − 1)·P fewer token positions.
    None when no two rows share a prompt, when the model is gradient-checkpointed (it drops
    caches while training) or when it returns no cache: call `forward_logits` then."""
    if torch.is_grad_enabled() and any(getattr(module, "gradient_checkpointing", False) is True
                                       for module in model.modules()):
        return None
    prompt_ids, prompt_mask = input_ids[:, :prompt_width], attention_mask[:, :prompt_width]
    keys = torch.cat([prompt_ids, prompt_mask.to(prompt_ids.dtype)], dim=1)
    distinct, row_prompt = torch.unique(keys, dim=0, return_inverse=True)
    if distinct.shape[0] == input_ids.shape[0]:
        return None
    last_logits, cache = prompt_pass(model, distinct[:, :prompt_width],
                                     distinct[:, prompt_width:].to(attention_mask.dtype))
    if cache is None:
        return None
    first = last_logits[row_prompt]  # predicts each row's first completion token
    tail_width = input_ids.shape[1] - prompt_width - 1
    if tail_width == 0:
        return first
    mask = attention_mask[:, :-1]
    tail = model(input_ids=input_ids[:, prompt_width:-1], attention_mask=mask,
                 position_ids=position_ids_from_mask(mask)[:, prompt_width:], use_cache=True,
                 **{cache_kwarg(model): select_rows(cache, row_prompt)})
    return torch.cat([first, tail.logits], dim=1)


class ReferencePolicy:
    """The frozen reference π_ref, anchor of every KL and of DPO's implicit reward.

    A LoRA policy whose adapter started fresh (as `load_policy` always gives) shares its
    weights: the reference is the same model with the adapter switched off, no copy. Any
    other policy gets a frozen deep copy (`share_weights=False` forces the copy)."""

    def __init__(self, policy: Any, share_weights: bool | None = None):
        share = is_peft(policy) if share_weights is None else share_weights
        if share and not is_peft(policy):
            raise PathrlError("ReferencePolicy: only a LoRA policy can share its weights")
        self.shared = share
        self.model = policy if share else frozen_copy(policy)

    @classmethod
    def of_model(cls, model: Any) -> ReferencePolicy:
        """A separately loaded reference model, frozen in place (no copy)."""
        reference = cls.__new__(cls)
        reference.shared = False
        reference.model = model.eval()
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        return reference

    @contextlib.contextmanager
    def _active(self) -> Iterator[Any]:
        with eval_mode(self.model), torch.no_grad():
            if self.shared:
                with self.model.disable_adapter():
                    yield self.model
            else:
                yield self.model

    def logprobs(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                 completion_mask: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        with self._active() as model:
            return sequence_logprobs(model, input_ids, attention_mask, completion_mask,
                                     temperature)


# -- value head ------------------------------------------------------------------------------
@dataclass
class ValueHeadOutput:
    logits: torch.Tensor
    """[B, T, V] the policy's logits."""
    values: torch.Tensor
    """[B, T] V(s_t): the value of the state after token t (float32)."""


def hidden_size(model: Any) -> int:
    config = model.get_base_model().config if is_peft(model) else model.config
    return int(getattr(config, "hidden_size", None) or config.text_config.hidden_size)


class PolicyWithValueHead(nn.Module):
    """A causal LM plus a scalar value head on its last hidden state, per token (token-level
    PPO's critic sharing the actor's body). The head starts at zero (V = 0 everywhere), so
    the first advantages are the raw returns; it runs in float32."""

    def __init__(self, policy: Any):
        super().__init__()
        self.policy = policy
        self.value_head = nn.Linear(hidden_size(policy), 1, device=model_device(policy))
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> ValueHeadOutput:
        out = forward_logits(self.policy, input_ids, attention_mask, output_hidden_states=True)
        values = self.value_head(out.hidden_states[-1].float()).squeeze(-1)
        return ValueHeadOutput(out.logits, values)

    def save_pretrained(self, directory: str | Path, tokenizer: Any,
                        merge_lora: bool = False) -> Path:
        return save_policy(self.policy, tokenizer, directory, merge_lora=merge_lora,
                           extra_tensors={VALUE_HEAD_FILE: self.value_head.state_dict()})

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device | None = None,
                        dtype: str | torch.dtype | None = None,
                        lora: LoraSettings | None = None) -> tuple[PolicyWithValueHead, Any]:
        """(model, tokenizer); the value head is read back when the directory has one."""
        from safetensors.torch import load_file

        model, tokenizer = load_policy(str(directory), device=device, dtype=dtype, lora=lora)
        wrapped = cls(model)
        head = Path(directory) / VALUE_HEAD_FILE
        if head.is_file():
            wrapped.value_head.load_state_dict(load_file(str(head)))
        return wrapped, tokenizer
