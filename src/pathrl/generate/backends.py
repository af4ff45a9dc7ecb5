"""LLMs that write queries, behind one small protocol: `generate(prompts) -> list[str]`.

- `ChatLLM`: any OpenAI-compatible chat endpoint (vLLM, Ollama, DashScope, OpenAI...) through
  the data builder's client (`pathrl.data.llm.ChatClient`: retries, rate limit) and its disk
  cache (`ResponseCache`); temperature 0, one request per prompt.
- `LocalLLM`: a local causal LM (the packaged SmolLM2-135M-Instruct by default, or any local
  Hugging Face directory) through `pathrl.local_lm.LocalLM`: greedy, batched, the shared
  system prompt encoded once, at most `max_new_tokens` per answer. The answer is primed with
  the start of a code block (```sql + SELECT, or ```json + {"collection": ") and a row stops
  as soon as its statement is complete (a ';' or the closing fence; for JSON the closing
  brace), so a small model does not ramble past its query.

`make_llm` picks one from the CLI flags (an endpoint or a local model, never both).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pathrl.errors import PathrlError
from pathrl.generate.prompt import Prompt

DEFAULT_LOCAL = "smollm2"
DEFAULT_MAX_NEW_TOKENS = 256
SQL_PRIME = "```sql\nSELECT"
MONGO_PRIME = '```json\n{"collection": "'


@runtime_checkable
class QueryLLM(Protocol):
    """Writes one completion per prompt, in order."""

    def generate(self, prompts: Sequence[Prompt]) -> list[str]:
        ...

    def describe(self) -> str:
        ...


class ChatLLM:
    """An OpenAI-compatible chat endpoint (see module doc)."""

    def __init__(self, settings: Any, client: Any = None):
        from pathrl.data.llm import ChatClient, ResponseCache

        self.settings = settings
        self.client = client or ChatClient(settings)
        self.cache = ResponseCache(settings)

    def describe(self) -> str:
        return self.settings.describe()

    def generate(self, prompts: Sequence[Prompt]) -> list[str]:
        out = []
        for prompt in prompts:
            messages = prompt.messages
            cached = self.cache.read(messages)
            if cached is None:
                cached = self.client.complete(messages)
                self.cache.write(messages, cached)
            out.append(cached)
        return out


def _prime(backend: str) -> str:
    return MONGO_PRIME if backend == "mongo" else SQL_PRIME


def statement_complete(text: str, backend: str) -> bool:
    """Whether a primed answer already holds a whole statement: after the opening fence, a
    closing fence, or (SQL) a ';', or (JSON) the object's closing brace."""
    body = text.split("\n", 1)[1] if text.startswith("```") and "\n" in text else text
    if "```" in body:
        return True
    if backend != "mongo":
        return ";" in body
    depth, in_string, escaped = 0, False, False
    for ch in body:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return True
    return False


class _StatementStop:
    """transformers stopping criterion: a row is done once `statement_complete`."""

    def __init__(self, tokenizer: Any, start: int, prime: str, backend: str):
        self.tokenizer, self.start, self.prime, self.backend = tokenizer, start, prime, backend

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        texts = self.tokenizer.batch_decode(input_ids[:, self.start:], skip_special_tokens=True)
        return torch.tensor([statement_complete(self.prime + t, self.backend) for t in texts],
                            dtype=torch.bool, device=input_ids.device)


class LocalLLM:
    """A local causal LM (see module doc); loaded on the first `generate`."""

    def __init__(self, backbone: str = DEFAULT_LOCAL, *,
                 max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, batch_size: int = 8,
                 prime: bool = True, model: Any = None, tokenizer: Any = None):
        from pathrl.local_lm import LocalLM

        if max_new_tokens < 16:
            raise PathrlError(f"max new tokens must be >= 16, got {max_new_tokens}")
        if batch_size < 1:
            raise PathrlError(f"batch size must be >= 1, got {batch_size}")
        self.backbone = backbone
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.prime = prime
        self.lm = LocalLM(backbone, model, tokenizer)

    def describe(self) -> str:
        name = Path(self.backbone).name if self.backbone != DEFAULT_LOCAL else (
            "SmolLM2-135M-Instruct (packaged GGUF)")
        return f"local {name}, greedy, <= {self.max_new_tokens} new tokens"

    def generate(self, prompts: Sequence[Prompt]) -> list[str]:
        if not prompts:
            return []
        out: list[str] = [""] * len(prompts)
        # One pass per shared beginning (backend, system prompt, worked example): each
        # encodes its prefix once.
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, prompt in enumerate(prompts):
            key = (prompt.backend, *(m["content"] for m in prompt.shared))
            groups.setdefault(key, []).append(i)
        for indices in groups.values():
            backend = prompts[indices[0]].backend
            prime = _prime(backend) if self.prime else ""
            first = prompts[indices[0]]
            prefix, suffixes = self.lm.render(first.shared,
                                              [prompts[i].messages for i in indices], prime)
            texts = self.lm.complete(
                prefix, suffixes, max_new_tokens=self.max_new_tokens,
                batch_size=self.batch_size,
                stopping=lambda start, p=prime, b=backend: _StatementStop(
                    self.lm.tokenizer, start, p, b))
            for i, text in zip(indices, texts, strict=True):
                out[i] = prime + text
        return out


def make_llm(*, base_url: str | None = None, model: str | None = None,
             api_key: str | None = None, local: str | None = None,
             max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, batch_size: int = 8,
             timeout_s: float = 60.0, cache_dir: Path | None = None) -> QueryLLM:
    """An endpoint (`base_url`, else $PATHRL_LLM_BASE_URL unless `local` is given) or a
    local model (`local`: "smollm2" or a Hugging Face directory; the default)."""
    from pathrl.data.llm import LLMSettings

    if base_url and local:
        raise PathrlError("choose one LLM: --llm-base-url (an endpoint) or --llm-local "
                          "(a local model), not both")
    if local is None:
        settings = LLMSettings.from_env(base_url, model, api_key, timeout_s=timeout_s,
                                        temperature=0.0, requests_per_minute=0.0,
                                        answer_length=max_new_tokens, cache_dir=cache_dir)
        if settings is not None:
            return ChatLLM(settings)
    elif model:
        raise PathrlError("--llm-model names a model at an endpoint; with --llm-local give "
                          "the local model itself (smollm2 or a directory)")
    return LocalLLM(local or DEFAULT_LOCAL, max_new_tokens=max_new_tokens,
                    batch_size=batch_size)
