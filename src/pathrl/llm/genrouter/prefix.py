"""A causal LM whose every sequence starts with one fixed text: the generative router's schema
prompt (instructions + every legal path, ~600 tokens on the demo schema), while a question
and its answer are ~40 tokens.

    lm = PrefixedLM(model, tokenizer, prefix_text)
    logits = lm(input_ids=suffix_ids, attention_mask=suffix_mask).logits   # suffix only
    out = lm.generate(input_ids=suffix_ids, attention_mask=suffix_mask, max_new_tokens=16)

Callers see sequences without the prefix: ids, masks, logits and generated rows are the
suffix's. Inside, the prefix's KV cache is computed once for the current weights and copied in
front of every row (rows may be left-padded between the prefix and their own tokens; position
ids continue after the prefix), so a training step, a GRPO rollout or a routing call pays
for the questions only. That makes the pathrl trainers (`LLMSFTTrainer`, `GRPOTrainer`), which
call `forward` / `generate` on whatever model they hold, about 15x cheaper per example here.

The prefix is encoded without gradient (a stop-gradient): training adapts how the model reads
the listed paths from the question and answer tokens, not how it encodes the list itself. The
function is the same at training and inference: the cache is recomputed whenever a trainable
weight changed (PyTorch's in-place version counters say so) and kept apart for the LoRA
policy with its adapter switched off (GRPO's reference).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from pathrl.errors import PathrlError
from pathrl.llm.models import (
    cache_kwarg,
    eval_mode,
    is_peft,
    model_device,
    output_cache,
    position_ids_from_mask,
    select_rows,
)


class PrefixedLM(nn.Module):
    """`model` with `prefix_text` in front of every sequence (see the module doc). It stands in
    for the model in pathrl's trainers: the same `forward` / `generate` / `disable_adapter`
    surface, parameters are the wrapped model's (under `inner.`)."""

    def __init__(self, model: Any, tokenizer: Any, prefix_text: str):
        super().__init__()
        if not prefix_text:
            raise PathrlError("PrefixedLM needs a non-empty prefix")
        self.inner = model
        self.prefix_text = prefix_text
        self.prefix_ids: list[int] = tokenizer(prefix_text, add_special_tokens=False).input_ids
        self._adapter_off = False
        self._caches: dict[tuple, Any] = {}
        self.cache_kwarg = cache_kwarg(model)

    # -- what trainers read off a model ------------------------------------------------------
    @property
    def config(self) -> Any:
        return self.inner.config

    @property
    def generation_config(self) -> Any:
        return self.inner.generation_config

    @property
    def peft_config(self) -> Any:
        """The wrapped LoRA model's (AttributeError for a plain model, so `is_peft` says no)."""
        if not is_peft(self.inner):
            raise AttributeError("peft_config")
        return self.inner.peft_config

    @property
    def prefix_length(self) -> int:
        return len(self.prefix_ids)

    @contextlib.contextmanager
    def disable_adapter(self) -> Iterator[None]:
        """The LoRA policy with its adapter off (and the prefix encoded that way too)."""
        if not is_peft(self.inner):
            raise PathrlError("disable_adapter: the wrapped model has no LoRA adapter")
        with self.inner.disable_adapter():
            self._adapter_off = True
            try:
                yield
            finally:
                self._adapter_off = False

    # -- the prefix cache --------------------------------------------------------------------
    def _weights_key(self) -> tuple:
        device = model_device(self.inner)
        # Under autocast the cached keys and values come out in bfloat16: a cache per mode.
        autocast = torch.is_autocast_enabled(device.type) and str(
            torch.get_autocast_dtype(device.type))
        if self._adapter_off:
            return ("adapter-off", str(device), autocast)
        # Every optimiser update bumps the in-place version counter of the weights it changes.
        versions = sum(p._version for p in self.inner.parameters() if p.requires_grad)
        return ("policy", str(device), autocast, versions)

    def prefix_cache(self, batch: int) -> Any:
        """A fresh copy of the prefix's KV cache for `batch` rows (the model appends to it)."""
        key = self._weights_key()
        if key not in self._caches:
            # Only the current weights' caches are worth keeping (stale versions go).
            self._caches = {k: v for k, v in self._caches.items() if k[:3] != key[:3]}
            ids = torch.tensor([self.prefix_ids], device=model_device(self.inner))
            with torch.no_grad(), eval_mode(self.inner):
                self._caches[key] = output_cache(self.inner(input_ids=ids, use_cache=True))
        index = torch.zeros(batch, dtype=torch.long, device=model_device(self.inner))
        return select_rows(self._caches[key], index)

    def full_mask(self, attention_mask: torch.Tensor) -> torch.Tensor:
        """A suffix attention mask with the prefix's ones in front."""
        ones = torch.ones((attention_mask.shape[0], self.prefix_length),
                          dtype=attention_mask.dtype, device=attention_mask.device)
        return torch.cat([ones, attention_mask], dim=1)

    # -- forward and generate ----------------------------------------------------------------
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None, use_cache: bool = False,
                **kwargs: Any) -> Any:
        """The wrapped model's output on `input_ids` read after the prefix (logits of the
        suffix positions only). `use_cache` returns the cache (prefix included). A cache
        given (`past_key_values` / `cache`) must be one this model returned: it continues it,
        and `attention_mask` / `position_ids` then cover the suffix columns it holds too."""
        given = [kwargs.pop(name) for name in ("past_key_values", "cache") if name in kwargs]
        cache = next((c for c in given if c is not None), None)
        if cache is not None and attention_mask is None:
            raise PathrlError("PrefixedLM.forward: a cache given needs the attention mask of "
                              "the suffix columns it holds and of the new ones")
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if position_ids is None:
            position_ids = position_ids_from_mask(attention_mask)
        out = self.inner(input_ids=input_ids, attention_mask=self.full_mask(attention_mask),
                         position_ids=position_ids + self.prefix_length,
                         use_cache=True, **kwargs,
                         **{self.cache_kwarg: cache if cache is not None
                            else self.prefix_cache(input_ids.shape[0])})
        if not use_cache:  # the copied prefix is large: let it go now
            for name in ("cache", "past_key_values"):
                if name in out:
                    out[name] = None
        return out

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                 num_return_sequences: int = 1, **options: Any) -> torch.Tensor:
        """`generate` of the wrapped model after the prefix; returns [suffix | new tokens],
        rows prompt-major when `num_return_sequences` > 1 (as transformers orders them)."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if num_return_sequences > 1:
            # transformers does not expand a cache it is given: expand everything here.
            input_ids = input_ids.repeat_interleave(num_return_sequences, dim=0)
            attention_mask = attention_mask.repeat_interleave(num_return_sequences, dim=0)
        rows = input_ids.shape[0]
        prefix = torch.tensor([self.prefix_ids], dtype=input_ids.dtype,
                              device=input_ids.device).expand(rows, -1)
        out = self.inner.generate(input_ids=torch.cat([prefix, input_ids], dim=1),
                                  attention_mask=self.full_mask(attention_mask),
                                  **{self.cache_kwarg: self.prefix_cache(rows)}, **options)
        return out[:, self.prefix_length:]
