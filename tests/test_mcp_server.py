"""`pathrl mcp`: the four tools through the MCP SDK's own client, in-process for most cases,
then the real command over stdio (SDK client, and raw JSON-RPC to check stdout carries only
the protocol) and over streamable HTTP on a free 127.0.0.1 port."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult
from typer.testing import CliRunner

from pathrl.demo import demo_schema
from pathrl.errors import PathrlError
from pathrl.mcp_server.server import build_server
from pathrl.mcp_server.tools import MAX_LIMIT, MAX_TOP_K, N_ALTERNATIVES
from pathrl.paths import PathVocab
from pathrl.query import Filter
from pathrl.service import open_service

TOOLS = {"route_question": {"question"}, "run_route": set(), "list_paths": set(),
         "describe_schema": set()}
VOCAB = PathVocab.from_schema(demo_schema())
LEGAL_IDS = {p.id for p in VOCAB.paths}
START_TIMEOUT_S = 120  # a cold start on a loaded 2-core machine; typically a few seconds


@pytest.fixture(scope="module")
def service(tiny_router_dir):
    service = open_service(tiny_router_dir)
    yield service
    service.close()


@pytest.fixture(scope="module")
def server(service):
    return build_server(service)


def _with_client(target: Any, use: Callable[[Client], Awaitable[Any]], **options: Any) -> Any:
    async def main() -> Any:
        async with Client(target, **options) as client:
            return await use(client)

    return anyio.run(main)


def _call(server, name: str, arguments: dict[str, Any]) -> CallToolResult:
    return _with_client(server, lambda client: client.call_tool(name, arguments))


def _ok(server, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = _call(server, name, arguments)
    assert not result.is_error, result.content[0].text
    assert result.content and result.content[0].text.strip()
    return result.structured_content


# -- in-process -----------------------------------------------------------------------------
def test_lists_four_tools_with_descriptions_and_schemas(server):
    listed = _with_client(server, lambda client: client.list_tools()).tools
    assert {t.name for t in listed} == set(TOOLS)
    for tool in listed:
        assert len(tool.description) > 80, tool.name
        assert set(tool.input_schema.get("required", [])) == TOOLS[tool.name]
        assert tool.output_schema and tool.output_schema["type"] == "object"
        assert tool.annotations.read_only_hint is True
    by_name = {t.name: t for t in listed}
    top_k = by_name["route_question"].input_schema["properties"]["top_k"]
    assert (top_k["type"], top_k["minimum"], top_k["maximum"]) == ("integer", 1, MAX_TOP_K)
    assert set(by_name["run_route"].input_schema["properties"]) == {
        "question", "path", "entity", "limit"}
    assert by_name["run_route"].input_schema["properties"]["limit"]["maximum"] == MAX_LIMIT


def test_route_question_returns_ranked_legal_routes_and_the_entity(server):
    data = _ok(server, "route_question", {"question": "contracts of project Riyadh Railway",
                                          "top_k": 4})
    routes = data["routes"]
    assert len(routes) == 4
    assert {r["path"] for r in routes} <= LEGAL_IDS
    probabilities = [r["probability"] for r in routes]
    assert probabilities == sorted(probabilities, reverse=True)
    for r in routes:
        path = VOCAB.path_by_id[r["path"]]
        assert (r["anchor"], r["via"], r["target"], r["hops"]) == (
            path.anchor, list(path.via), path.target, path.n_hops)
    entity = data["entity"]
    assert entity["table"] == routes[0]["anchor"]
    if entity["table"] == "project":  # the untrained router may start elsewhere
        assert entity["found"] and entity["values"] == ["Riyadh Railway"]


def test_run_route_by_path_returns_rows_of_the_target_table(server, service):
    data = _ok(server, "run_route", {"path": "project>contract", "entity": "Riyadh Railway",
                                     "limit": 1})
    assert data["status"] == "ok" and data["entity"] == "Riyadh Railway"
    assert data["route"]["path"] == "project>contract" and data["route"]["probability"] == 1.0
    assert data["language"] == "sql" and data["query"].startswith("SELECT")
    assert "Riyadh Railway" not in data["query"]  # a bound parameter, not spliced text
    contract_fields = set(demo_schema().table("contract").field_names)
    assert data["count"] > 1 and len(data["rows"]) == 1 and data["truncated"]
    assert all(set(row) == contract_fields for row in data["rows"])
    every = _ok(server, "run_route", {"path": "project>contract", "entity": "Riyadh Railway"})
    (riyadh,) = service.database.run_path(service.path("project"),
                                          Filter(entity="Riyadh Railway")).rows
    assert len(every["rows"]) == every["count"] == data["count"]
    assert {row["project_id"] for row in every["rows"]} == {riyadh["id"]}


def test_run_route_entity_from_the_question_on_a_given_path(server):
    data = _ok(server, "run_route", {"path": "project>contract",
                                     "question": "which contracts does Riyadh Railway have"})
    assert (data["status"], data["entity"]) == ("ok", "Riyadh Railway")
    assert data["question"] == "which contracts does Riyadh Railway have"


def test_run_route_entity_is_a_display_value_in_any_case(server):
    data = _ok(server, "run_route", {"path": "project>milestone", "entity": "riyadh railway"})
    assert (data["status"], data["entity"], data["mention"]) == (
        "ok", "Riyadh Railway", "riyadh railway")
    assert data["rows"] and all(row["project_id"] == data["rows"][0]["project_id"]
                                for row in data["rows"])


def test_run_route_unknown_entity_suggests_and_runs_nothing(server):
    data = _ok(server, "run_route", {"path": "project>contract", "entity": "Riyadh Railwya"})
    assert data["status"] == "entity_not_found"
    assert "Riyadh Railway" in data["suggestions"]
    assert (data["query"], data["count"], data["rows"]) == ("", 0, [])


def test_run_route_by_question_routes_with_the_model(server):
    data = _ok(server, "run_route", {"question": "list all suppliers"})
    assert data["route"]["path"] in LEGAL_IDS
    assert len(data["alternatives"]) == N_ALTERNATIVES
    assert {r["path"] for r in data["alternatives"]} <= LEGAL_IDS
    assert data["status"] in {"ok", "empty", "no_entity", "entity_not_found"}


def test_list_paths_all_and_by_table(server):
    everything = _ok(server, "list_paths", {})
    assert everything["count"] == len(everything["paths"]) == 55
    assert [p["id"] for p in everything["paths"]] == [p.id for p in VOCAB.paths]
    two_hops = next(p for p in everything["paths"] if p["id"] == "project>contract>payment")
    assert two_hops["joins"] == [
        {"from": "project.id", "to": "contract.project_id", "direction": "backward"},
        {"from": "contract.id", "to": "payment.contract_id", "direction": "backward"}]
    invoice = _ok(server, "list_paths", {"table": "invoice"})
    assert invoice["count"] == len(invoice["paths"]) > 0
    assert all("invoice" in (p["anchor"], *p["via"], p["target"]) for p in invoice["paths"])
    assert invoice["count"] == sum("invoice" in p.tables for p in VOCAB.paths)


def test_describe_schema_lists_tables_and_relations(server):
    data = _ok(server, "describe_schema", {})
    schema = demo_schema()
    assert data["schema_name"] == "demo_pm" and len(data["tables"]) == 12
    assert data["n_paths"] == 55 and data["backend"] == "sqlite"
    project = next(t for t in data["tables"] if t["name"] == "project")
    assert (project["key"], project["display"]) == ("id", "name")
    assert {"name": "budget", "type": "float", "description": "Budget in CNY"} in (
        project["fields"])
    assert len(data["relations"]) == len(schema.relations)
    assert {"from": "contract.project_id", "to": "project.id",
            "cardinality": "many_to_one"} in data["relations"]


@pytest.mark.parametrize(("name", "arguments", "message"), [
    ("run_route", {"path": "project>nowhere"}, "not a legal path id"),
    ("run_route", {}, "give a question"),
    ("run_route", {"path": "project", "limit": 0}, "limit must be between 1 and 100, got 0"),
    ("run_route", {"path": "project", "limit": MAX_LIMIT + 1}, "limit must be between"),
    ("run_route", {"path": "project", "entity": "  "}, "entity is empty"),
    ("route_question", {"question": "   "}, "question is empty"),
    ("route_question", {"question": "x" * 2001}, "at most 2000"),
    ("route_question", {"question": "suppliers", "top_k": 0}, "top_k must be between 1 and 10"),
    ("route_question", {"question": "suppliers", "top_k": 11}, "got 11"),
    ("list_paths", {"table": "nowhere"}, "unknown table 'nowhere'"),
])
def test_user_mistakes_are_tool_errors_with_one_line(server, name, arguments, message):
    result = _call(server, name, arguments)
    assert result.is_error
    text = result.content[0].text
    assert message in text and "\n" not in text and "Traceback" not in text


def test_a_mistake_leaves_the_session_serving(server):
    async def use(client: Client) -> tuple[CallToolResult, CallToolResult]:
        bad = await client.call_tool("run_route", {"path": "projekt>contract"})
        good = await client.call_tool("run_route", {"path": "project", "limit": 1})
        return bad, good

    bad, good = _with_client(server, use)
    assert bad.is_error and "'project>contract'" in bad.content[0].text  # closest id offered
    assert not good.is_error and good.structured_content["status"] == "no_entity"


# -- the real command ---------------------------------------------------------------------------
def _command(model: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pathrl.cli", "mcp", "--model", str(model), *extra]


def _env() -> dict[str, str]:
    # The SDK's stdio client passes only a minimal environment; the demo data lives under the
    # test's PATHRL_HOME, and nothing may reach the network.
    return {**os.environ, "HF_HUB_OFFLINE": "1"}


def test_stdio_subprocess_with_the_sdk_client(tiny_router_dir):
    params = StdioServerParameters(command=sys.executable, args=_command(tiny_router_dir)[1:],
                                   env=_env())

    async def use(client: Client) -> tuple[Any, CallToolResult, CallToolResult]:
        tools = await client.list_tools()
        routed = await client.call_tool("route_question", {"question": "suppliers in Germany",
                                                           "top_k": 2})
        wrong = await client.call_tool("run_route", {"path": "nowhere"})
        return tools, routed, wrong

    # mode="legacy": the initialize handshake that desktop clients use.
    tools, routed, wrong = _with_client(params, use, mode="legacy")
    assert {t.name for t in tools.tools} == set(TOOLS)
    assert not routed.is_error and len(routed.structured_content["routes"]) == 2
    assert {r["path"] for r in routed.structured_content["routes"]} <= LEGAL_IDS
    assert "Routes for: suppliers in Germany" in routed.content[0].text
    assert wrong.is_error and "not a legal path id" in wrong.content[0].text


def _read_line(stream, timeout_s: float) -> bytes:
    ready, _, _ = select.select([stream], [], [], timeout_s)
    assert ready, "no reply from the server"
    return stream.readline()


def test_stdio_stdout_carries_only_json_rpc(tiny_router_dir):
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "raw-test", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
         "params": {"name": "list_paths", "arguments": {"table": "payment"}}},
    ]
    with subprocess.Popen(_command(tiny_router_dir), stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          env=_env()) as proc:
        try:
            for message in messages:
                proc.stdin.write((json.dumps(message) + "\n").encode())
            proc.stdin.flush()
            replies = [json.loads(_read_line(proc.stdout, START_TIMEOUT_S)) for _ in range(2)]
        finally:
            proc.stdin.close()
            proc.wait(timeout=30)
        rest = proc.stdout.read()
    assert proc.returncode == 0  # the server exits cleanly when the client closes stdin
    assert [r["id"] for r in replies] == [1, 2]
    assert replies[0]["result"]["serverInfo"]["name"] == "pathrl"
    listed = replies[1]["result"]["structuredContent"]
    assert listed["table"] == "payment" and listed["count"] == len(listed["paths"]) > 0
    assert rest.strip() == b""  # nothing but the two replies on stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_listening(proc: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"server exited: {log.read_text()[-2000:]}"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"server not listening after {START_TIMEOUT_S}s")


def test_streamable_http_on_loopback(tiny_router_dir, tmp_path):
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as sink, subprocess.Popen(
            _command(tiny_router_dir, "--transport", "http", "--port", str(port)),
            stdout=sink, stderr=subprocess.STDOUT, env=_env()) as proc:
        try:
            _wait_listening(proc, port, log)

            async def use(client: Client) -> tuple[Any, CallToolResult]:
                return (await client.list_tools(),
                        await client.call_tool("describe_schema", {}))

            tools, described = _with_client(f"http://127.0.0.1:{port}/mcp", use)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    assert {t.name for t in tools.tools} == set(TOOLS)
    assert not described.is_error and len(described.structured_content["tables"]) == 12
    assert f"http://127.0.0.1:{port}/mcp" in log.read_text()


# -- command-line mistakes ----------------------------------------------------------------------
def test_cli_mistakes_are_pathrl_errors(tiny_router_dir, tmp_path):
    from pathrl.cli import app

    runner = CliRunner()
    cases = [
        (["mcp", "--model", str(tmp_path)], "not a saved router"),
        (["mcp", "--model", str(tiny_router_dir), "--transport", "sse"], "stdio or http"),
        (["mcp", "--model", str(tiny_router_dir), "--transport", "http", "--port", "0"],
         "--port must be between"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert isinstance(result.exception, PathrlError), args
        assert message in str(result.exception)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["mcp", "--model", str(tiny_router_dir), "--transport",
                                     "http", "--port", str(port)])
    assert isinstance(result.exception, PathrlError)
    assert f"cannot listen on 127.0.0.1:{port}" in str(result.exception)
