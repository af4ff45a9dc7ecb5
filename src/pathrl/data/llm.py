"""Optional paraphrases from any OpenAI-compatible chat endpoint (vLLM, Ollama, DashScope...).

Only the standard library is used (urllib): `POST {base_url}/chat/completions`. Answers are
cached on disk by `ResponseCache` (keyed by endpoint, model, prompt and temperature; the API key
is never stored; `pathrl.generate`'s chat backend shares it), requests are rate limited and
retried with exponential backoff on timeouts, connection errors, HTTP 429 and 5xx, and a
malformed answer (not a JSON list of strings) is asked again and then raised as an `LLMError`
with a clear message. The builder re-checks every paraphrase (entity kept, language kept, reads
back as exactly its path) before using it.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pathrl.errors import PathrlError
from pathrl.io import atomic_write_text

ENV_BASE_URL = "PATHRL_LLM_BASE_URL"
ENV_MODEL = "PATHRL_LLM_MODEL"
ENV_API_KEY = "PATHRL_LLM_API_KEY"
_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


class LLMError(PathrlError):
    """The endpoint could not be used: unreachable, refusing, timing out or answering nonsense."""


@dataclass(frozen=True)
class LLMSettings:
    """Where and how to call the endpoint. `api_key` is optional (local vLLM / Ollama)."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 30.0
    max_retries: int = 3
    requests_per_minute: float = 60.0
    temperature: float = 0.8
    cache_dir: Path | None = None
    answer_length: int | None = None  # cap on the answer in tokens, sent as max_tokens

    @classmethod
    def from_env(cls, base_url: str | None = None, model: str | None = None,
                 api_key: str | None = None, **kwargs: Any) -> LLMSettings | None:
        """Flags first, then PATHRL_LLM_* environment variables; None when no endpoint set."""
        base_url = base_url or os.environ.get(ENV_BASE_URL)
        if not base_url:
            return None
        model = model or os.environ.get(ENV_MODEL)
        if not model:
            raise LLMError(f"an LLM endpoint needs a model name (--llm-model or {ENV_MODEL})")
        if not base_url.startswith(("http://", "https://")):
            raise LLMError(f"LLM base URL must start with http:// or https://, got {base_url}")
        return cls(base_url.rstrip("/"), model, api_key or os.environ.get(ENV_API_KEY),
                   **kwargs)

    def describe(self) -> str:
        return f"{self.model} @ {self.base_url}"


class ChatClient:
    """Minimal OpenAI-compatible chat client with rate limiting and retries."""

    def __init__(self, settings: LLMSettings, sleep: Callable[[float], None] | None = None):
        self.settings = settings
        self.sleep = sleep or (lambda seconds: time.sleep(seconds))
        self._last_request = 0.0
        self.requests = 0

    def _wait_for_rate_limit(self) -> None:
        if self.settings.requests_per_minute <= 0:
            return
        gap = 60.0 / self.settings.requests_per_minute
        wait = self._last_request + gap - time.monotonic()
        if wait > 0:
            self.sleep(wait)
        self._last_request = time.monotonic()

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The assistant message content; LLMError after `max_retries` retries."""
        s = self.settings
        payload: dict[str, Any] = {"model": s.model, "messages": messages,
                                   "temperature": s.temperature}
        if s.answer_length is not None:
            payload["max_tokens"] = s.answer_length
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if s.api_key:
            headers["Authorization"] = f"Bearer {s.api_key}"
        last_error = "no attempt"
        for attempt in range(s.max_retries + 1):
            if attempt:
                self.sleep(min(30.0, 0.5 * 2 ** (attempt - 1)))
            self._wait_for_rate_limit()
            self.requests += 1
            request = urllib.request.Request(f"{s.base_url}/chat/completions", data=body,
                                             headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=s.timeout_s) as response:
                    raw = response.read()
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:300].decode("utf-8", "replace")
                last_error = f"HTTP {exc.code}: {detail}"
                if exc.code in _RETRY_STATUS:
                    continue
                raise LLMError(f"LLM endpoint {s.describe()} refused the request "
                               f"({last_error})") from None
            except TimeoutError:
                last_error = f"timed out after {s.timeout_s:g} s"
                continue
            except (urllib.error.URLError, ConnectionError, http.client.HTTPException) as exc:
                reason = getattr(exc, "reason", exc)
                if isinstance(reason, TimeoutError):
                    last_error = f"timed out after {s.timeout_s:g} s"
                else:
                    last_error = f"{type(exc).__name__}: {reason}"
                continue
            try:
                content = json.loads(raw)["choices"][0]["message"]["content"]
                if not isinstance(content, str):
                    raise TypeError("content is not a string")
                return content
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                last_error = (f"malformed response ({type(exc).__name__}: {exc}): "
                              f"{raw[:200].decode('utf-8', 'replace')!r}")
                continue
        raise LLMError(f"LLM endpoint {s.describe()} failed after {s.max_retries + 1} "
                       f"attempt(s): {last_error}")


class ResponseCache:
    """Answers on disk, one JSON file per request, keyed by endpoint, model, temperature,
    answer cap and messages (never the API key). Entries are written atomically; settings
    without a `cache_dir` cache nothing. Shared by the paraphraser and the query generator."""

    def __init__(self, settings: LLMSettings):
        self.settings = settings
        self.hits = 0

    def path(self, messages: list[dict[str, str]]) -> Path | None:
        s = self.settings
        if s.cache_dir is None:
            return None
        request: dict[str, Any] = {"base_url": s.base_url, "model": s.model,
                                   "temperature": s.temperature, "messages": messages}
        if s.answer_length is not None:  # absent otherwise: earlier entries keep their keys
            request["max_tokens"] = s.answer_length
        key = json.dumps(request, ensure_ascii=False, sort_keys=True)
        digest = hashlib.sha256(key.encode()).hexdigest()
        return Path(s.cache_dir) / digest[:2] / f"{digest}.json"

    def read(self, messages: list[dict[str, str]]) -> str | None:
        path = self.path(messages)
        if path is None or not path.is_file():
            return None
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        self.hits += 1
        return text

    def drop(self, messages: list[dict[str, str]]) -> None:
        """Forget a damaged entry (it will be asked again)."""
        path = self.path(messages)
        if path is not None:
            path.unlink(missing_ok=True)

    def write(self, messages: list[dict[str, str]], text: str) -> None:
        path = self.path(messages)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)  # a reader never sees half an entry


T = TypeVar("T")


def ask_parsed(client: ChatClient, cache: ResponseCache, messages: list[dict[str, str]],
               parse: Callable[[str], T], max_retries: int,
               store: Callable[[T], str] | None = None, failure: str = "no usable answer") -> T:
    """The parsed answer to `messages`: from the disk cache when it holds a readable one (a
    damaged entry is dropped and asked again), else asked up to `max_retries + 1` times
    until `parse` accepts it (then cached, as `store(parsed)` or the raw text); an
    `LLMError` saying `failure` and the last problem otherwise."""
    cached = cache.read(messages)
    if cached is not None:
        try:
            return parse(cached)
        except ValueError:
            cache.drop(messages)
    problem = ""
    for _ in range(max_retries + 1):
        content = client.complete(messages)
        try:
            parsed = parse(content)
        except ValueError as exc:
            problem = f"{exc}; got {content[:200]!r}"
            continue
        cache.write(messages, store(parsed) if store is not None else content)
        return parsed
    raise LLMError(f"{failure} after {max_retries + 1} attempt(s): {problem}")


def parse_string_list(content: str) -> list[str]:
    """A JSON array of strings, possibly inside a ```json fence; ValueError otherwise."""
    text = _FENCE.sub("", content.strip()).strip()
    data = json.loads(text)
    if isinstance(data, dict):  # {"paraphrases": [...]} is a common variant
        lists = [v for v in data.values() if isinstance(v, list)]
        data = lists[0] if len(lists) == 1 else data
    if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
        raise ValueError("expected a JSON array of strings")
    return [x.strip() for x in data if x.strip()]


class LLMParaphraser:
    """Paraphrases questions through a `ChatClient`, caching valid answers on disk."""

    def __init__(self, settings: LLMSettings, client: ChatClient | None = None):
        self.settings = settings
        self.client = client or ChatClient(settings)
        self.cache = ResponseCache(settings)

    def describe(self) -> str:
        return self.settings.describe()

    @staticmethod
    def messages(question: str, lang: str, n: int, keep: list[str]) -> list[dict[str, str]]:
        language = "Chinese (简体中文)" if lang == "zh" else "English"
        kept = ", ".join(f'"{k}"' for k in keep)
        return [
            {"role": "system", "content": (
                "You rewrite questions that business users ask a database assistant. Keep the "
                "meaning exactly: the same thing asked for, the same business objects, the same "
                "filters. Vary the wording the way real users do: word order, synonyms, "
                "colloquial or terse forms.")},
            {"role": "user", "content": (
                f"Write {n} different paraphrases of this {language} question, in {language}. "
                f"Copy these values exactly as written: {kept}. Mention every business object "
                f"the question mentions (synonyms are fine). Answer with a JSON array of {n} "
                f"strings and nothing else.\nQuestion: {question}")},
        ]

    @property
    def cache_hits(self) -> int:
        return self.cache.hits

    def paraphrase(self, question: str, lang: str, n: int, keep: list[str]) -> list[str]:
        messages = self.messages(question, lang, n, keep)
        answers = ask_parsed(self.client, self.cache, messages, parse_string_list,
                             self.settings.max_retries,
                             store=lambda a: json.dumps(a, ensure_ascii=False),
                             failure=f"LLM endpoint {self.describe()} did not answer with a "
                                     "JSON list of strings")
        return answers[:n]
