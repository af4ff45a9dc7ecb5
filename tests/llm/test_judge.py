"""The LLM-judge reward against a fake OpenAI-compatible server on 127.0.0.1: scores, the
format gate, the disk cache, malformed judge answers, and the judge beside the rule rewards."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pathrl.data.llm import LLMError, LLMSettings
from pathrl.llm.judge import JudgeReward, parse_judge_score
from pathrl.llm.rewards import RewardSet, correctness_reward, strict_format_reward
from pathrl.llm.tasks import generate_problems, sft_target, to_messages


class FakeJudge:
    """Answers every chat request with `reply` and records the requests."""

    def __init__(self) -> None:
        self.reply = '{"score": 8}'
        self.requests: list[dict] = []
        judge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                judge.requests.append(body)
                payload = json.dumps({"choices": [{"message": {
                    "role": "assistant", "content": judge.reply}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def server() -> Iterator[FakeJudge]:
    judge = FakeJudge()
    yield judge
    judge.close()


@pytest.fixture
def endpoint(server: FakeJudge) -> FakeJudge:
    server.reply = '{"score": 8}'
    server.requests.clear()
    return server


def settings(endpoint: FakeJudge, tmp_path=None, retries: int = 1) -> LLMSettings:
    return LLMSettings(base_url=endpoint.url, model="judge-model", temperature=0.0,
                       max_retries=retries, requests_per_minute=0, timeout_s=5,
                       cache_dir=tmp_path)


@pytest.fixture(scope="module")
def batch() -> tuple[list, list[str], list[int]]:
    problems = generate_problems(2, seed=0)
    prompts = [to_messages(p) for p in problems for _ in range(2)]
    good = [sft_target(p) for p in problems]
    completions = [good[0], "no tags, just 12", good[1], good[1].replace("<answer>", "")]
    answers = [p.answer for p in problems for _ in range(2)]
    return prompts, completions, answers


def test_judge_scores_only_well_formatted_completions(endpoint: FakeJudge, batch) -> None:
    prompts, completions, answers = batch
    judge = JudgeReward(settings(endpoint))
    assert judge.__name__ == "judge_reward"
    scores = judge(completions, prompts=prompts, answer=answers)
    assert scores == [0.8, 0.0, 0.8, 0.0]
    assert len(endpoint.requests) == 2  # the two malformed ones were never sent
    sent = endpoint.requests[0]
    assert sent["model"] == "judge-model" and sent["temperature"] == 0.0
    user = sent["messages"][-1]["content"]
    assert prompts[0][-1]["content"] in user
    assert f"Reference answer: {answers[0]}" in user
    assert completions[0] in user


def test_require_correct_gates_wrong_answers(endpoint: FakeJudge, batch) -> None:
    prompts, completions, answers = batch
    judge = JudgeReward(settings(endpoint), require_correct=True)
    wrong = [a + 1 for a in answers]
    assert judge(completions, prompts=prompts, answer=wrong) == [0.0] * 4
    assert endpoint.requests == []


def test_judge_answers_are_cached_on_disk(endpoint: FakeJudge, batch, tmp_path) -> None:
    prompts, completions, answers = batch
    first = JudgeReward(settings(endpoint, tmp_path))
    assert first(completions, prompts=prompts, answer=answers) == [0.8, 0.0, 0.8, 0.0]
    endpoint.reply = '{"score": 2}'  # a cached answer wins over a new one
    again = JudgeReward(settings(endpoint, tmp_path))
    assert again(completions, prompts=prompts, answer=answers) == [0.8, 0.0, 0.8, 0.0]
    assert len(endpoint.requests) == 2 and again.cache.hits == 2


def test_malformed_judge_answers(endpoint: FakeJudge, batch) -> None:
    prompts, completions, answers = batch
    endpoint.reply = "The solution looks fine to me."
    with pytest.raises(LLMError, match="gave no score after 2 attempt"):
        JudgeReward(settings(endpoint))(completions, prompts=prompts, answer=answers)
    skip = JudgeReward(settings(endpoint), on_error="skip")
    assert skip(completions, prompts=prompts, answer=answers) == [None, 0.0, None, 0.0]
    with pytest.raises(ValueError, match="needs the prompts"):
        skip(completions, answer=answers)


@pytest.mark.parametrize(("content", "score"), [
    ('{"score": 7}', 0.7), ('```json\n{"score": 10}\n```', 1.0), ("3", 0.3), ("6/10", 0.6),
    ('{"score": 14}', 1.0), ('{"score": -2}', 0.0), ('{"score": 7.5}', 0.75),
])
def test_parse_judge_score(content: str, score: float) -> None:
    assert parse_judge_score(content) == pytest.approx(score)


@pytest.mark.parametrize("content", ['{"grade": 7}', '{"score": "high"}', "great", "[7]"])
def test_parse_judge_score_rejects_other_answers(content: str) -> None:
    with pytest.raises(ValueError):
        parse_judge_score(content)


def test_judge_adds_a_weighted_soft_score_beside_the_rules(endpoint: FakeJudge, batch) -> None:
    prompts, completions, answers = batch
    rewards = RewardSet([strict_format_reward, correctness_reward,
                         (JudgeReward(settings(endpoint)), 0.5)])
    scores = rewards.score(completions, prompts=prompts, answer=answers)
    assert scores.columns["judge_reward"] == [0.8, 0.0, 0.8, 0.0]
    assert scores.total == pytest.approx([0.5 + 2.0 + 0.4, 0.0, 2.9, 0.0])
    assert scores.metrics()["rewards/judge_reward/mean"] == pytest.approx(0.4)
