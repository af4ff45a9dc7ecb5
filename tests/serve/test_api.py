"""`pathrl serve`'s HTTP API: each endpoint's contract, every refusal, the token, CORS, the
playground mount, batching of concurrent requests, and the real CLI server process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pathrl.paths import PathVocab
from pathrl.router.protocol import RankedRoute, Routing
from pathrl.serve import ServeConfig, create_app
from pathrl.service import RouteService, open_service

QUESTION = "Show the contracts of project Riyadh Railway"


class FixedRouter:
    """Routes every question to project>contract (0.7), then project (0.2): the entity and
    the rows are known in advance (the tiny router's routes are legal but random)."""

    def __init__(self, vocab: PathVocab):
        self.vocab = vocab
        self.routes = [(vocab.path_by_id["project>contract"], 0.7),
                       (vocab.path_by_id["project"], 0.2)]

    def route_batch(self, questions: Sequence[str], top_k: int = 3) -> list[Routing]:
        return [Routing(q, [RankedRoute(p, pr) for p, pr in self.routes[:top_k]])
                for q in questions]


@pytest.fixture(scope="module")
def service(tiny_router_dir) -> Iterator[RouteService]:
    svc = open_service(tiny_router_dir)
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def fixed(service) -> RouteService:
    """The same schema and database behind a deterministic router."""
    return RouteService(schema=service.schema, database=service.database,
                        router=FixedRouter(service.vocab), model_dir=service.model_dir)


def _client(svc: RouteService, playground: Path | None = None, **config) -> TestClient:
    app = create_app(svc, ServeConfig(**config), playground=playground)
    return TestClient(app, raise_server_exceptions=False, follow_redirects=False)


@pytest.fixture(scope="module")
def client(service) -> Iterator[TestClient]:
    with _client(service) as c:
        yield c


@pytest.fixture(scope="module")
def fixed_client(fixed) -> Iterator[TestClient]:
    with _client(fixed, row_limit=5) as c:
        yield c


def _contract_rows(svc: RouteService) -> int:
    return svc.database.execute("SELECT count(*) AS n FROM contract").rows[0]["n"]


# -- POST /route -------------------------------------------------------------------------------
def test_route_one_question_gives_legal_routes_ranked(client, service):
    response = client.post("/route", json={"question": QUESTION})
    assert response.status_code == 200
    [result] = response.json()["results"]
    assert result["question"] == QUESTION
    assert 1 <= len(result["routes"]) <= service.top_k
    for route in result["routes"]:
        legal = service.vocab.path_by_id[route["path"]]  # KeyError: not a legal path
        assert (route["anchor"], route["via"], route["target"]) == (
            legal.anchor, list(legal.via), legal.target)
    probabilities = [r["probability"] for r in result["routes"]]
    assert probabilities == sorted(probabilities, reverse=True)
    assert sum(probabilities) <= 1.0 + 1e-3


def test_route_many_questions_in_order_with_their_top_k(client, service):
    questions = [QUESTION, "How many suppliers are there?", "payments of contract HT-2022-001"]
    response = client.post("/route", json={"questions": questions, "top_k": 2})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["question"] for r in results] == questions
    assert all(1 <= len(r["routes"]) <= 2 for r in results)
    direct = service.route(questions, top_k=2)
    assert [[r["path"] for r in res["routes"]] for res in results] == [
        [r.path.id for r in routing.routes] for routing in direct]


def test_route_entity_is_the_one_of_the_top_route_anchor(fixed_client):
    results = fixed_client.post("/route", json={"questions": [
        QUESTION, "How many contracts are there?"]}).json()["results"]
    assert results[0]["routes"][0]["path"] == "project>contract"
    assert results[0]["entity"] == {"mention": "Riyadh Railway", "field": "name",
                                    "value": "Riyadh Railway", "values": ["Riyadh Railway"]}
    assert results[1]["entity"] is None


# -- POST /query -------------------------------------------------------------------------------
def test_query_by_question_routes_then_runs_with_a_bound_entity(fixed_client, fixed):
    response = fixed_client.post("/query", json={"question": QUESTION})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["language"] == "sql"
    assert body["route"]["path"] == "project>contract" and body["entity"] == "Riyadh Railway"
    expected = fixed.qa.ask(QUESTION)
    assert body["count"] == expected.result.count == len(body["rows"])
    assert body["truncated"] is False
    assert "Riyadh Railway" not in body["query"]  # a bound parameter, not SQL text
    assert all(row["project_id"] == expected.rows[0]["project_id"] for row in body["rows"])


def test_query_reports_how_the_question_was_read(fixed_client, fixed):
    question = "How many contracts does project Riyadh Railway have?"
    body = fixed_client.post("/query", json={"question": question}).json()
    expected = fixed.qa.ask(question)
    assert body["intent"]["kind"] == expected.intent.kind == "count"
    assert body["answer_kind"] == "answer" and body["value"] == expected.value
    dated = fixed_client.post("/query", json={
        "question": "contracts of project Riyadh Railway signed in 2022"}).json()
    assert [{k: v for k, v in c.items() if v is not None}
            for c in dated["intent"]["conditions"]] == [c.to_dict() for c in fixed.qa.ask(
        "contracts of project Riyadh Railway signed in 2022").intent.conditions]
    by_path = fixed_client.post("/query", json={"path": "contract"}).json()
    assert by_path["intent"] is None and by_path["answer_kind"] == "rows_along_route"


def test_query_by_path_with_and_without_entity(fixed_client, fixed):
    by_entity = fixed_client.post("/query", json={"path": "project>contract",
                                                  "entity": "riyadh railway"}).json()
    assert by_entity["status"] == "ok" and by_entity["entity"] == "Riyadh Railway"
    assert by_entity["route"] == {"anchor": "project", "via": [], "target": "contract",
                                  "path": "project>contract", "probability": 1.0}
    every = fixed_client.post("/query", json={"path": "contract", "limit": 3}).json()
    assert every["status"] == "no_entity" and every["entity"] is None
    assert every["count"] == _contract_rows(fixed) > 3
    assert len(every["rows"]) == 3 and every["truncated"] is True


def test_query_rows_are_cut_to_the_row_limit(fixed_client, fixed):
    body = fixed_client.post("/query", json={"path": "contract"}).json()
    assert len(body["rows"]) == 5 and body["count"] == _contract_rows(fixed)
    response = fixed_client.post("/query", json={"path": "contract", "limit": 6})
    assert response.status_code == 422 and "at most 5" in response.json()["detail"]


def test_query_unknown_entity_runs_nothing_and_suggests(fixed_client):
    body = fixed_client.post("/query", json={"path": "project>contract",
                                             "entity": "Riyadh Railwy"}).json()
    assert body["status"] == "entity_not_found"
    assert "Riyadh Railway" in body["suggestions"]
    assert body["query"] == "" and body["rows"] == [] and body["count"] == 0


def test_query_hostile_entity_stays_a_value(fixed_client, fixed):
    hostile = "Riyadh Railway'; DROP TABLE contract; --"
    body = fixed_client.post("/query", json={"question": f"contracts of project {hostile}"})
    assert body.status_code == 200
    assert "DROP" not in body.json()["query"]
    assert _contract_rows(fixed) > 0


def test_query_unknown_path_is_404(fixed_client):
    response = fixed_client.post("/query", json={"path": "project>nowhere"})
    assert response.status_code == 404
    assert "'project>nowhere' is not a legal path" in response.json()["detail"]


# -- GET /paths, /schema, /health --------------------------------------------------------------
def test_paths_lists_every_legal_path_with_its_joins(client, service):
    paths = client.get("/paths").json()["paths"]
    assert len(paths) == len(service.paths) == 55
    by_id = {p["id"]: p for p in paths}
    legal = service.vocab.path_by_id["project>contract>contract_change_log"]
    entry = by_id[legal.id]
    assert entry["hops"] == 2 and entry["via"] == ["contract"]
    assert [(j["from"], j["to"]) for j in entry["joins"]] == [
        (f"{h.src_table}.{h.src_field}", f"{h.dst_table}.{h.dst_field}") for h in legal.hops]


def test_schema_lists_tables_fields_and_relations(client, service):
    body = client.get("/schema").json()
    assert body["name"] == "demo_pm" and len(body["tables"]) == 12
    project = next(t for t in body["tables"] if t["name"] == "project")
    assert project["key"] == "id" and project["display"] == "name"
    assert {f["name"]: f["type"] for f in project["fields"]} == {
        f.name: f.type for f in service.schema.table("project").fields}
    assert len(body["relations"]) == len(service.schema.relations)
    names = {t["name"] for t in body["tables"]}
    for relation in body["relations"]:
        assert relation["from"].split(".")[0] == relation["from_table"] in names
        assert relation["to"].split(".")[0] == relation["to_table"] in names


def test_health_says_what_is_loaded_and_how_it_batched(service):
    with _client(service) as c:
        before = c.get("/health").json()
        c.post("/route", json={"questions": ["how many projects", "list suppliers"]})
        after = c.get("/health").json()
    assert before == {"status": "ok", "schema": "demo_pm", "backend": "sqlite", "tables": 12,
                      "paths": 55, "model": str(service.model_dir), "router_calls": 0,
                      "questions_routed": 0, "largest_batch": 0}
    assert (after["router_calls"], after["questions_routed"], after["largest_batch"]) == (
        1, 2, 2)


def test_openapi_documents_every_endpoint_and_body(client):
    spec = client.get("/openapi.json").json()
    assert {"/route", "/query", "/paths", "/schema", "/health"} <= set(spec["paths"])
    route_body = spec["paths"]["/route"]["post"]["requestBody"]["content"]["application/json"]
    assert route_body["schema"]["$ref"].endswith("/RouteRequest")
    assert {"RouteResponse", "QueryRequest", "QueryResponse", "SchemaResponse",
            "Problem"} <= set(spec["components"]["schemas"])


# -- refusals ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("body", "status", "detail"), [
    (b'{"question": "unterminated', 400, "malformed JSON"),
    (b'["a list"]', 400, "must be a JSON object"),
    (b'{"question": ""}', 422, "question is empty"),
    (b'{"question": "   "}', 422, "question is empty"),
    (b'{"questions": []}', 422, "empty list"),
    (b'{"questions": ["ok", " "]}', 422, "questions[1] is empty"),
    (b'{"questions": ["ok", 3]}', 422, "questions.1"),
    (b'{"question": "a", "questions": ["b"]}', 422, "either 'question' or 'questions'"),
    (b'{}', 422, "either 'question' or 'questions'"),
    (b'{"questoin": "a typo"}', 422, "questoin"),
    (b'{"question": "a", "top_k": 0}', 422, "top_k"),
    (b'{"question": "a", "top_k": 11}', 422, "top_k"),
    (json.dumps({"questions": ["q"] * 65}).encode(), 422, "at most 64 questions"),
    (json.dumps({"question": "q" * 1001}).encode(), 422, "longer than 1000 characters"),
])
def test_route_refusals_are_one_clear_line(client, body, status, detail):
    response = client.post("/route", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert detail in response.json()["detail"]
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize(("body", "detail"), [
    ({"question": QUESTION, "path": "project"}, "either 'question' or 'path'"),
    ({"question": QUESTION, "entity": "Riyadh Railway"}, "'entity' goes with 'path'"),
    ({"path": "project", "entity": " "}, "entity is empty"),
    ({"path": "project", "limit": 0}, "limit"),
])
def test_query_refusals(fixed_client, body, detail):
    response = fixed_client.post("/query", json=body)
    assert response.status_code == 422 and detail in response.json()["detail"]


def test_body_over_the_limit_is_413_declared_or_streamed(service):
    big = json.dumps({"question": "x" * 400}).encode()

    def streamed() -> Iterator[bytes]:  # no Content-Length: chunked
        yield big[:200]
        yield big[200:]

    with _client(service, max_body_bytes=256) as c:
        declared = c.post("/route", content=big, headers={"Content-Type": "application/json"})
        chunked = c.post("/route", content=streamed(),
                         headers={"Content-Type": "application/json"})
        small = c.post("/route", json={"question": "x" * 100})
    for response in (declared, chunked):
        assert response.status_code == 413
        assert response.json() == {"detail": "request body over 256 bytes"}
    assert small.status_code == 200


def test_token_guards_every_api_endpoint_but_health(service, tmp_path):
    (tmp_path / "index.html").write_text("<h1>playground</h1>")
    with _client(service, playground=tmp_path, token="s3cret") as c:
        for method, path, body in (("POST", "/route", {"question": QUESTION}),
                                   ("POST", "/query", {"path": "project"}),
                                   ("GET", "/paths", None), ("GET", "/schema", None)):
            for headers in ({}, {"Authorization": "Bearer wrong"},
                            {"Authorization": "Basic czNjcmV0"}):
                refused = c.request(method, path, json=body, headers=headers)
                assert refused.status_code == 401, (path, headers)
                assert refused.json() == {"detail": "missing or wrong bearer token"}
            allowed = c.request(method, path, json=body,
                                headers={"Authorization": "Bearer s3cret"})
            assert allowed.status_code == 200, path
        assert c.get("/health").status_code == 200
        assert c.get("/").text == "<h1>playground</h1>"


def test_no_cors_headers_unless_configured(service):
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    with _client(service) as c:
        assert "access-control-allow-origin" not in c.get(
            "/health", headers={"Origin": "https://app.example"}).headers
        assert "access-control-allow-origin" not in c.options("/route",
                                                              headers=preflight).headers
    with _client(service, cors_origins=("https://app.example",)) as c:
        allowed = c.get("/health", headers={"Origin": "https://app.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        assert c.options("/route", headers=preflight).status_code == 200
        other = c.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_unexpected_error_is_a_generic_500(service):
    class BrokenRouter(FixedRouter):
        def route_batch(self, questions, top_k=3):
            raise RuntimeError("secret internals at /srv/pathrl/model.py line 42")

    broken = RouteService(schema=service.schema, database=service.database,
                          router=BrokenRouter(service.vocab))
    with _client(broken) as c:
        response = c.post("/route", json={"question": QUESTION})
        assert c.get("/health").status_code == 200  # the server goes on
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    assert "Traceback" not in response.text and "secret" not in response.text


def test_a_request_over_the_timeout_is_504(service):
    class SlowRouter(FixedRouter):
        def route_batch(self, questions, top_k=3):
            time.sleep(0.5)
            return super().route_batch(questions, top_k)

    slow = RouteService(schema=service.schema, database=service.database,
                        router=SlowRouter(service.vocab))
    with _client(slow, request_timeout_s=0.05) as c:
        response = c.post("/route", json={"question": QUESTION})
    assert response.status_code == 504
    assert response.json() == {"detail": "the request took longer than 0.05 s"}


def test_root_serves_the_playground_or_redirects_to_the_docs(service, tmp_path):
    with _client(service, playground=tmp_path) as c:  # no index.html
        response = c.get("/")
        assert response.status_code in (302, 307) and response.headers["location"] == "/docs"
    (tmp_path / "index.html").write_text("<h1>playground</h1>")
    (tmp_path / "app.js").write_text("console.log('hi')")
    with _client(service, playground=tmp_path) as c:
        assert c.get("/").text == "<h1>playground</h1>"
        assert c.get("/app.js").text == "console.log('hi')"
        assert c.get("/health").json()["status"] == "ok"  # API routes still win


# -- batching ----------------------------------------------------------------------------------
def test_concurrent_requests_share_router_calls_one_at_a_time(service):
    calls: list[list[str]] = []
    in_flight = max_in_flight = 0
    lock = threading.Lock()
    original = service.route

    def counting_route(questions, top_k=None):
        nonlocal in_flight, max_in_flight
        with lock:
            in_flight += 1
            max_in_flight = max(max_in_flight, in_flight)
            calls.append(list(questions))
        try:
            time.sleep(0.2)  # the first call holds the model while the others queue up
            return original(questions, top_k)
        finally:
            with lock:
                in_flight -= 1

    counted = RouteService(schema=service.schema, database=service.database,
                           router=service.router, model_dir=service.model_dir)
    counted.route = counting_route  # type: ignore[method-assign]
    questions = [f"contracts of project number {i}" for i in range(8)]
    with _client(counted, batch_window_ms=20) as c, ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda q: c.post("/route", json={"question": q}), questions))
    assert [r.status_code for r in responses] == [200] * 8
    assert [r.json()["results"][0]["question"] for r in responses] == questions
    assert len(calls) < 8 and sorted(q for call in calls for q in call) == sorted(questions)
    assert max_in_flight == 1
    direct = service.route(questions)
    for response, routing in zip(responses, direct, strict=True):
        assert [r["path"] for r in response.json()["results"][0]["routes"]] == [
            r.path.id for r in routing.routes]


# -- the real server process -------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_cli_serves_over_http(tiny_router_dir):
    port = _free_port()
    command = [sys.executable, "-m", "pathrl.cli", "serve", "--model", str(tiny_router_dir),
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    env = {**os.environ, "PATHRL_TOKEN": "t0ken"}
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.communicate()[0]
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                    health = json.load(r)
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.3)
        assert health["paths"] == 55
        request = urllib.request.Request(
            f"{base}/route", data=json.dumps({"question": QUESTION}).encode(),
            headers={"Content-Type": "application/json", "Authorization": "Bearer t0ken"})
        with urllib.request.urlopen(request, timeout=30) as r:
            [result] = json.load(r)["results"]
        assert result["question"] == QUESTION and result["routes"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_cli_bad_model_is_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pathrl.cli", "serve", "--model",
                           str(tmp_path), "--port", str(_free_port())],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "is not a saved router" in done.stderr and "Traceback" not in done.stderr


def test_cli_port_in_use_is_one_line(tiny_router_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "pathrl.cli", "serve", "--model",
                               str(tiny_router_dir), "--port", str(port)],
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"127.0.0.1:{port} is in use" in done.stderr and "Traceback" not in done.stderr
