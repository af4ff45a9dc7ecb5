"""The MCP server: `RouterTools` published through the official SDK's `MCPServer`.

    server = build_server(open_service(model_dir))
    serve(server, "stdio")                                   # what `pathrl mcp` does
    serve(server, "http", host="127.0.0.1", port=8765)       # streamable HTTP at /mcp

Each tool returns the record's JSON as structured content (its schema is the tool's output
schema) and its `summary()` as text, for clients that show the model text only. A caller's
mistake comes back as a tool error (`isError`) with a one-line message; the server keeps
serving.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from pathrl import __version__
from pathrl.errors import PathrlError
from pathrl.mcp_server.tools import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_QUESTION_CHARS,
    MAX_TOP_K,
    ListPathsResult,
    RouteQuestionResult,
    RouterTools,
    RunRouteResult,
    SchemaDescription,
    ToolRecord,
)
from pathrl.service import RouteService

Transport = Literal["stdio", "http"]
HTTP_PATH = "/mcp"
LOOPBACK = ("127.0.0.1", "localhost", "::1")

INSTRUCTIONS = """\
pathrl answers questions about one business database by routing them to a legal join path
(anchor table -> via tables -> target table) and running a read-only query along it.
Start with describe_schema to learn the tables. run_route(question=...) answers in one call;
route_question shows the ranked routes first, so that you can pick one and call
run_route(path=..., entity=...). list_paths lists every legal path with its join keys.
Statuses entity_not_found and ambiguous_entity come with suggestions: retry with one of them."""

ROUTE_DESCRIPTION = """\
Route a natural-language question about the database to its most probable legal join paths
(anchor -> via -> target tables), best first, with the router's probability and the path id
to pass to run_route. Also reports the entity the question names (looked up in the best
route's anchor table: found with its rows, or not found with the closest values). Runs no
query."""
RUN_DESCRIPTION = f"""\
Answer a question with rows from the database (read-only). Give `question` to let the router
pick the route, or `path` (an id from route_question or list_paths) to use that route; give
`entity` (a value of the route's anchor table, e.g. a project name) to filter on it instead
of the entity found in the question. Returns the status, a one-line message, the route, the
query (SQL or MongoDB MQL, values as bound parameters), the row count and the first `limit`
rows (1..{MAX_LIMIT}). Status entity_not_found / ambiguous_entity lists suggestions and runs
no query; no_entity means the query ran unfiltered (every row along the route)."""
LIST_DESCRIPTION = """\
List the legal join paths of the schema (the only routes the router can choose), each with
its id, anchor, via tables, target and the join keys of every hop. Give `table` to list only
the paths that touch that table."""
DESCRIBE_DESCRIPTION = """\
Describe the database schema: its tables (key, display field, fields with types, synonyms,
whether a question may start from or ask for the table) and its foreign-key relations
(from table.field, to table.field, cardinality), with the number of legal paths."""

_READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                             open_world_hint=False)

Question = Annotated[str, Field(
    description="The user's question in natural language (English or Chinese), at most "
                f"{MAX_QUESTION_CHARS} characters.")]
# Bounds are published in the schema and checked by the tool itself, so that a value out of
# range gets one line ("top_k must be between 1 and 10, got 11"), not pydantic's report.
TopK = Annotated[int, Field(description="How many routes to return.",
                            json_schema_extra={"minimum": 1, "maximum": MAX_TOP_K})]
Limit = Annotated[int, Field(description="At most this many rows are returned (the count is "
                                         "the full one).",
                             json_schema_extra={"minimum": 1, "maximum": MAX_LIMIT})]
OptionalQuestion = Annotated[str | None, Field(
    description="The question; routed by the model unless `path` is given (then it is only "
                "searched for the entity).")]
PathId = Annotated[str | None, Field(
    description="A legal path id such as 'project>contract' (from route_question or "
                "list_paths).")]
Entity = Annotated[str | None, Field(
    description="A value of the route's anchor table to filter on: its display field (a "
                "project's name, a contract's number; see describe_schema), any case.")]
TableName = Annotated[str | None, Field(description="Only paths passing through this table.")]


def _respond(call: Callable[[], ToolRecord]) -> CallToolResult:
    try:
        record = call()
    except PathrlError as exc:
        raise ToolError(str(exc)) from None
    return CallToolResult(content=[TextContent(type="text", text=record.summary())],
                          structured_content=record.model_dump(mode="json"))


def build_server(service: RouteService) -> MCPServer:
    """An MCP server with the four tools over `service` (loaded once, by the caller)."""
    tools = RouterTools(service)
    info = service.describe()
    server = MCPServer("pathrl", title=f"pathrl router ({info['schema']})",
                       instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")

    @server.tool(name="route_question", title="Route a question",
                 description=ROUTE_DESCRIPTION, annotations=_READ_ONLY)
    def route_question(question: Question,
                       top_k: TopK = 3) -> Annotated[CallToolResult, RouteQuestionResult]:
        return _respond(lambda: tools.route_question(question, top_k))

    @server.tool(name="run_route", title="Answer a question with rows",
                 description=RUN_DESCRIPTION, annotations=_READ_ONLY)
    def run_route(question: OptionalQuestion = None, path: PathId = None, entity: Entity = None,
                  limit: Limit = DEFAULT_LIMIT) -> Annotated[CallToolResult, RunRouteResult]:
        return _respond(lambda: tools.run_route(question, path, entity, limit))

    @server.tool(name="list_paths", title="List legal join paths",
                 description=LIST_DESCRIPTION, annotations=_READ_ONLY)
    def list_paths(table: TableName = None) -> Annotated[CallToolResult, ListPathsResult]:
        return _respond(lambda: tools.list_paths(table))

    @server.tool(name="describe_schema", title="Describe the schema",
                 description=DESCRIBE_DESCRIPTION, annotations=_READ_ONLY)
    def describe_schema() -> Annotated[CallToolResult, SchemaDescription]:
        return _respond(tools.describe_schema)

    return server


def check_port_free(host: str, port: int) -> None:
    """A clear error now for a port in use, rather than uvicorn's log line after loading."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PathrlError(f"cannot listen on {host}:{port}: {exc.strerror} (pick another "
                              "--port)") from None


def serve(server: MCPServer, transport: Transport = "stdio", host: str = "127.0.0.1",
          port: int = 8765) -> None:
    """Run until the client disconnects (stdio) or Ctrl-C (http)."""
    if transport == "stdio":
        server.run("stdio")
        return
    if host not in LOOPBACK:
        print(f"warning: listening on {host}: anyone who can reach it can query the database "
              "(no authentication)", file=sys.stderr)
    print(f"pathrl MCP server: http://{host}:{port}{HTTP_PATH} (streamable HTTP)",
          file=sys.stderr, flush=True)
    server.run("streamable-http", host=host, port=port, streamable_http_path=HTTP_PATH)
