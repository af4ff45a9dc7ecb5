"""Greedy, batched text generation with a local causal LM (the packaged SmolLM2 or any local
Hugging Face directory), for the prompted-LLM router baseline and the query generator.

    lm = LocalLM("smollm2")                      # loaded on first use, offline
    prefix, suffixes = lm.render(shared_messages, [messages_1, messages_2], prime="SELECT")
    texts = lm.complete(prefix, suffixes, max_new_tokens=160, batch_size=8)

Prompts that share a long beginning (instructions + schema) are rendered as one shared prefix
plus per-prompt suffixes: the prefix is encoded once and its KV cache is copied into every
batch, so a batch pays only for its questions. Rows are left-padded between the prefix and
each suffix. Decoding is greedy (no sampling), bounded by `max_new_tokens`, and stops at the
end-of-turn tokens (and optionally at a newline or a caller's stopping rule).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from pathrl.errors import PathrlError

Messages = list[dict[str, str]]
StoppingFactory = Callable[[int], Any]
"""Builds a transformers `StoppingCriteria` given the index where generated tokens start."""


class LocalLM:
    """A local causal LM and its tokenizer, loaded on the first call (or pass both)."""

    def __init__(self, backbone: str = "smollm2", model: Any = None, tokenizer: Any = None):
        self.backbone = backbone
        self.model = model
        self.tokenizer = tokenizer
        self._prefix: tuple[Any, int, str] | None = None  # (kv cache, length, text)

    def load(self) -> None:
        if self.model is not None and self.tokenizer is not None:
            return
        from pathrl.backbones import load_causal_lm, load_tokenizer, resolve_backbone

        source = resolve_backbone(self.backbone)
        self.tokenizer = self.tokenizer or load_tokenizer(source)
        self.model = self.model or load_causal_lm(source)
        self.model.eval()

    def render(self, shared: Messages, prompts: Sequence[Messages], prime: str = "",
               prefix_cache: bool = True) -> tuple[str, list[str]]:
        """(shared prefix, per-prompt suffixes) of the rendered prompts. `shared` is the
        messages every prompt starts with; `prime` starts the assistant's answer. With a
        chat template the prompts are rendered by it; a base model gets plain text with the
        same content. The prefix is "" when caching is off or the template does not render
        `shared` as a prefix of every prompt."""
        self.load()
        tok = self.tokenizer
        has_template = bool(getattr(tok, "chat_template", None))
        prefix = (tok.apply_chat_template(shared, tokenize=False) if has_template
                  else _plain_text(shared))
        fulls = [render_prompt(tok, m, prime) for m in prompts]
        if not prefix_cache or not all(f.startswith(prefix) for f in fulls):
            return "", fulls
        return prefix, [f[len(prefix):] for f in fulls]

    def stop_ids(self, newline: bool = False) -> list[int]:
        """End-of-sequence / end-of-turn token ids (and the newline token when asked)."""
        self.load()
        return stop_token_ids(self.tokenizer, newline)

    def complete(self, prefix_text: str, suffixes: Sequence[str], *, max_new_tokens: int,
                 batch_size: int = 8, stop_ids: Sequence[int] | None = None,
                 stopping: StoppingFactory | None = None,
                 on_batch: Callable[[int], None] | None = None) -> list[str]:
        """One greedy completion per suffix (decoded, special tokens dropped). `on_batch`
        is called with the number of prompts finished after each batch."""
        import torch

        if max_new_tokens < 1 or batch_size < 1:
            raise PathrlError("max_new_tokens and batch_size must be >= 1")
        self.load()
        tok, model = self.tokenizer, self.model
        stops = list(stop_ids) if stop_ids is not None else self.stop_ids()
        pad = tok.pad_token_id if tok.pad_token_id is not None else (stops[0] if stops else 0)
        outputs: list[str] = []
        with torch.inference_mode():
            prefix_ids: list[int] = []
            cache = None
            if prefix_text:
                cache, prefix_ids = self._prefix_cache(prefix_text)
            for i in range(0, len(suffixes), batch_size):
                chunk = suffixes[i:i + batch_size]
                encoded = [tok(s, add_special_tokens=not prefix_text).input_ids for s in chunk]
                width = max(len(e) for e in encoded)
                # Left padding, between the shared prefix and each prompt's own part.
                rows = [prefix_ids + [pad] * (width - len(e)) + e for e in encoded]
                mask = [[1] * len(prefix_ids) + [0] * (width - len(e)) + [1] * len(e)
                        for e in encoded]
                kwargs: dict[str, Any] = {}
                if cache is not None:
                    past = copy.deepcopy(cache)
                    if len(chunk) > 1:
                        past.batch_repeat_interleave(len(chunk))
                    kwargs["past_key_values"] = past
                start = len(rows[0])
                if stopping is not None:
                    kwargs["stopping_criteria"] = [stopping(start)]
                with warnings.catch_warnings():
                    # transformers 5 renames generate's `past_key_values` to `cache`; the old
                    # name works on every supported version, the new one only on 5.x.
                    warnings.filterwarnings("ignore", message=".*past_key_values.*",
                                            category=FutureWarning)
                    generated = model.generate(
                        input_ids=torch.tensor(rows), attention_mask=torch.tensor(mask),
                        max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                        use_cache=True, eos_token_id=stops or None, pad_token_id=pad,
                        temperature=None, top_p=None, top_k=None, **kwargs)
                outputs += [tok.decode(row, skip_special_tokens=True)
                            for row in generated[:, start:]]
                if on_batch is not None:
                    on_batch(len(chunk))
        return outputs

    def _prefix_cache(self, prefix_text: str) -> tuple[Any, list[int]]:
        """The shared prefix's KV cache (computed once per distinct prefix) and its ids."""
        tok, model = self.tokenizer, self.model
        if self._prefix is None or self._prefix[2] != prefix_text:
            ids = tok(prefix_text, add_special_tokens=False, return_tensors="pt").input_ids
            past = model(input_ids=ids, use_cache=True).past_key_values
            self._prefix = (past, ids.shape[1], prefix_text)
        prefix_ids = tok(prefix_text, add_special_tokens=False).input_ids
        if len(prefix_ids) != self._prefix[1]:
            raise PathrlError("tokenizer is not deterministic on the prompt prefix")
        return self._prefix[0], prefix_ids


def render_prompt(tokenizer: Any, messages: Messages, prime: str = "") -> str:
    """`messages` rendered for the assistant's turn: by the tokenizer's chat template (with
    the generation prompt), or as plain text ending in "Answer: " for a model without one.
    `prime` starts the assistant's answer."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False,
                                             add_generation_prompt=True) + prime
    return _plain_text(messages) + "Answer: " + prime


def stop_token_ids(tokenizer: Any, newline: bool = False) -> list[int]:
    """End-of-sequence / end-of-turn token ids (and the newline token when asked)."""
    ids = {i for i in (tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>"))
           if isinstance(i, int) and i >= 0 and i != tokenizer.unk_token_id}
    if newline:
        encoded = tokenizer.encode("\n", add_special_tokens=False)
        if len(encoded) == 1:
            ids.add(encoded[0])
    return sorted(ids)


def _plain_text(messages: Messages) -> str:
    """Chat messages as plain text for a model without a chat template."""
    if not messages:
        return ""
    head, rest = messages[0], messages[1:]
    text = head["content"] + "\n\n" if head["role"] == "system" else ""
    if head["role"] != "system":
        rest = messages
    return text + "".join(f"Question: {m['content']}\n" if m["role"] == "user"
                          else f"Answer: {m['content']}\n\n" for m in rest)
