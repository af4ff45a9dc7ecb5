"""Helpers for the generation tests: hand-written labelled questions with the right and wrong
queries a fake LLM answers with, a stub router that answers the labelled routes, and a fake
OpenAI-compatible endpoint on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pathrl.data.example import Condition, Example
from pathrl.paths import PathVocab
from pathrl.router.protocol import RankedRoute, Routing


def example(vocab: PathVocab, question: str, path_id: str, entity: str = "",
            condition: Condition | None = None, category: str = "list") -> Example:
    path = vocab.path_by_id[path_id]
    return Example(id=hashlib.sha1(question.encode()).hexdigest()[:12], question=question,
                   language="en", anchor=path.anchor, target=path.target, via=path.via,
                   path_id=path_id, hops=path.n_hops, wording="precise", style="test",
                   category=category, priority="P0", entity=entity,
                   filter={"entity": entity or None, "date_from": None, "date_to": None},
                   condition=condition)


@dataclass(frozen=True)
class Case:
    """A labelled question and what the fake LLM answers with and without the route."""

    example: Example
    routed: str
    direct: str


def cases(vocab: PathVocab) -> list[Case]:
    """Four questions: with the route the fake LLM writes the right query every time;
    without it, it skips the bridge table (empty), writes a DELETE (rejected), answers in
    prose (unparsable), or gets a single-table question right."""
    return [
        Case(example(vocab, "List the contract change records of the contracts of project "
                            "Riyadh Railway.", "project>contract>contract_change_log",
                     "Riyadh Railway"),
             "```sql\nSELECT DISTINCT contract_change_log.* FROM project JOIN contract ON "
             "project.id = contract.project_id JOIN contract_change_log ON contract.id = "
             "contract_change_log.contract_id WHERE project.name = 'Riyadh Railway';\n```",
             "```sql\nSELECT contract_change_log.* FROM project JOIN contract_change_log ON "
             "project.id = contract_change_log.contract_id WHERE project.name = "
             "'Riyadh Railway';\n```"),
        Case(example(vocab, "List the suppliers of the contracts of project Jakarta Bridge.",
                     "project>contract>supplier", "Jakarta Bridge"),
             "Here you go:\nSELECT DISTINCT s.id, s.name FROM project p JOIN contract c ON "
             "c.project_id = p.id JOIN supplier s ON s.id = c.supplier_id WHERE p.name = "
             "'Jakarta Bridge'",
             "```sql\nDELETE FROM supplier;\n```"),
        Case(example(vocab, "List the contracts of project Chongqing Railway.",
                     "project>contract", "Chongqing Railway"),
             "```sql\nSELECT contract.* FROM contract JOIN project ON contract.project_id = "
             "project.id WHERE project.name = 'Chongqing Railway'\n```",
             "I am sorry, I cannot write that query."),
        Case(example(vocab, "Show supplier Ironclad Cables Inc.", "supplier",
                     "Ironclad Cables Inc."),
             "```sql\nSELECT * FROM supplier WHERE name = 'Ironclad Cables Inc.'\n```",
             "```sql\nSELECT * FROM supplier WHERE name = 'Ironclad Cables Inc.'\n```"),
    ]


class StubRouter:
    """A `Router` that answers each known question with its labelled route."""

    def __init__(self, vocab: PathVocab, labels: dict[str, str]):
        self.vocab = vocab
        self.labels = labels

    def route_batch(self, questions: Sequence[str], top_k: int = 3) -> list[Routing]:
        return [Routing(q, [RankedRoute(self.vocab.path_by_id[self.labels[q]], 1.0)]
                        if q in self.labels else []) for q in questions]


class FakeChat:
    """chat/completions on 127.0.0.1: answers each question (read from the last user
    message) with its case's routed completion when the message holds a route, else with
    its direct one; records every request."""

    def __init__(self, answers: dict[str, tuple[str, str]]):
        self.answers = answers
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                last = body["messages"][-1]["content"]
                question = last.split("\n", 1)[0].removeprefix("Question: ").strip()
                routed, direct = fake.answers.get(question, ("no idea", "no idea"))
                content = routed if "\nRoute (" in last else direct
                payload = json.dumps({"choices": [{"message": {
                    "role": "assistant", "content": content}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
