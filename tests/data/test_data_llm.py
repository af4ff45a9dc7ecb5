"""The OpenAI-compatible paraphraser against a fake HTTP server on 127.0.0.1: answers, cache,
retries, timeouts, malformed answers, and a build that fails cleanly (nothing written)."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pathrl.data import DatasetConfig, build_dataset
from pathrl.data.llm import ChatClient, LLMError, LLMParaphraser, LLMSettings, parse_string_list
from pathrl.db import open_database
from pathrl.demo import demo_schema


class FakeEndpoint:
    """A chat-completions server whose behaviour each test sets: `mode` is one of
    echo (valid paraphrases of the question), slow, garbage_content, garbage_body, error500,
    flaky (one 503 then echo), refuse (HTTP 401)."""

    def __init__(self) -> None:
        self.mode = "echo"
        self.requests: list[dict] = []
        self.delay = 0.0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.requests.append({"path": self.path, "body": body,
                                          "auth": self.headers.get("Authorization")})
                mode = endpoint.mode
                if mode == "flaky":
                    endpoint.mode = "echo"
                    return self._send(503, b'{"error": "busy"}')
                if mode == "refuse":
                    return self._send(401, b'{"error": "bad key"}')
                if mode == "error500":
                    return self._send(500, b"oops")
                if mode == "slow":
                    time.sleep(endpoint.delay)
                if mode == "garbage_body":
                    return self._send(200, b"<html>not json</html>")
                if mode == "garbage_content":
                    content = "Sure! Here are some paraphrases: one, two."
                else:
                    content = json.dumps(_echo(body["messages"][-1]["content"]),
                                         ensure_ascii=False)
                reply = {"choices": [{"message": {"role": "assistant", "content": content}}]}
                self._send(200, json.dumps(reply).encode())

            def _send(self, code: int, payload: bytes) -> None:
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _echo(prompt: str) -> list[str]:
    question = prompt.rsplit("Question: ", 1)[-1]
    if re.search(r"[\u4e00-\u9fff]", question):
        return [f"请问{question}", f"{question}，谢谢", f"麻烦看下：{question}"]
    return [f"Quick question: {question}", f"{question} Thanks!", f"Hi, {question}"]


@pytest.fixture()
def endpoint():
    server = FakeEndpoint()
    yield server
    server.close()


def _settings(endpoint, tmp_path, **kw) -> LLMSettings:
    base = {"timeout_s": 2.0, "max_retries": 2, "requests_per_minute": 0,
            "cache_dir": tmp_path / "cache", "api_key": "sk-test"}
    base.update(kw)
    return LLMSettings(endpoint.url, "fake-model", **base)


def _paraphraser(settings: LLMSettings) -> LLMParaphraser:
    return LLMParaphraser(settings, ChatClient(settings, sleep=lambda s: None))


def test_paraphrases_cached_and_key_sent(endpoint, tmp_path):
    para = _paraphraser(_settings(endpoint, tmp_path))
    first = para.paraphrase("List the payments of contract HT-2022-001.", "en", 3,
                            ["HT-2022-001"])
    assert len(first) == 3 and all("HT-2022-001" in q for q in first)
    assert endpoint.requests[0]["path"] == "/v1/chat/completions"
    assert endpoint.requests[0]["auth"] == "Bearer sk-test"
    assert endpoint.requests[0]["body"]["model"] == "fake-model"
    again = para.paraphrase("List the payments of contract HT-2022-001.", "en", 3,
                            ["HT-2022-001"])
    assert again == first and len(endpoint.requests) == 1  # served from the cache
    cached = list((tmp_path / "cache").rglob("*.json"))
    assert len(cached) == 1 and "sk-test" not in cached[0].read_text()


def test_retry_after_server_busy(endpoint, tmp_path):
    endpoint.mode = "flaky"
    para = _paraphraser(_settings(endpoint, tmp_path))
    assert para.paraphrase("Show the milestones of project X.", "en", 3, ["X"])
    assert len(endpoint.requests) == 2


def test_timeout_is_a_clear_error(endpoint, tmp_path):
    endpoint.mode, endpoint.delay = "slow", 1.0
    para = _paraphraser(_settings(endpoint, tmp_path, timeout_s=0.2, max_retries=1))
    with pytest.raises(LLMError, match="timed out"):
        para.paraphrase("Show the milestones of project X.", "en", 3, ["X"])
    assert len(endpoint.requests) == 2
    assert not list((tmp_path / "cache").rglob("*.json"))


@pytest.mark.parametrize("mode, message", [
    ("garbage_content", "JSON list of strings"),
    ("garbage_body", "malformed response"),
    ("error500", "HTTP 500"),
    ("refuse", "refused the request"),
])
def test_bad_answers_are_clear_errors_and_not_cached(endpoint, tmp_path, mode, message):
    endpoint.mode = mode
    para = _paraphraser(_settings(endpoint, tmp_path, max_retries=1))
    with pytest.raises(LLMError, match=message):
        para.paraphrase("Show the milestones of project X.", "en", 3, ["X"])
    assert not list((tmp_path / "cache").rglob("*.json"))


def test_unreachable_endpoint(tmp_path):
    settings = LLMSettings("http://127.0.0.1:9/v1", "m", timeout_s=0.5, max_retries=0)
    with pytest.raises(LLMError, match="failed after 1 attempt"):
        _paraphraser(settings).paraphrase("q", "en", 2, [])


def test_parse_string_list_variants():
    assert parse_string_list('```json\n["a", "b"]\n```') == ["a", "b"]
    assert parse_string_list('{"paraphrases": ["a"]}') == ["a"]
    with pytest.raises(ValueError):
        parse_string_list('[1, 2]')


def test_settings_from_env(monkeypatch):
    monkeypatch.delenv("PATHRL_LLM_BASE_URL", raising=False)
    assert LLMSettings.from_env() is None
    monkeypatch.setenv("PATHRL_LLM_BASE_URL", "http://localhost:8000/v1/")
    monkeypatch.setenv("PATHRL_LLM_MODEL", "qwen")
    monkeypatch.setenv("PATHRL_LLM_API_KEY", "k")
    s = LLMSettings.from_env()
    assert (s.base_url, s.model, s.api_key) == ("http://localhost:8000/v1", "qwen", "k")
    assert "k" not in repr(s)
    monkeypatch.delenv("PATHRL_LLM_MODEL")
    with pytest.raises(LLMError, match="model"):
        LLMSettings.from_env()


def test_build_with_endpoint_uses_checked_paraphrases(endpoint, tmp_path):
    schema = demo_schema()
    database = open_database(schema, demo_seed=7)
    cfg = DatasetConfig(examples_per_path=5, min_per_path=4, llm_share=0.5,
                        llm_paraphrases=3)
    splits = build_dataset(schema, database, cfg,
                           paraphraser=_paraphraser(_settings(endpoint, tmp_path)))
    every = [ex for rows in splits.values() for ex in rows]
    llm = [ex for ex in every if ex.style == "llm"]
    assert llm and not [ex for ex in splits["heldout"] if ex.style == "llm"]
    assert all(ex.entity in ex.question for ex in llm)
    assert splits.report["llm"]["used"] == len(llm)
    database.close()


def test_build_cli_with_malformed_endpoint_writes_nothing(endpoint, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pathrl.cli import app

    endpoint.mode = "garbage_content"
    out = tmp_path / "ds"
    monkeypatch.setenv("PATHRL_LLM_BASE_URL", endpoint.url)
    monkeypatch.setenv("PATHRL_LLM_MODEL", "fake-model")
    monkeypatch.setattr("pathrl.data.llm.time.sleep", lambda s: None)
    result = CliRunner().invoke(app, ["data", "build", "--out", str(out), "--per-path", "4",
                                      "--llm-rpm", "0", "--llm-cache", str(tmp_path / "c")])
    assert isinstance(result.exception, LLMError)
    assert "JSON list of strings" in str(result.exception)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ds")]
