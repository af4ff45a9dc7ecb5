"""`pathrl mcp`: parse the options, load the router once, serve (see pathrl.mcp_server)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Annotated

import typer

from pathrl.errors import PathrlError
from pathrl.schema_cli import BackendOpt, DbOpt, SchemaOpt, SeedOpt

TRANSPORTS = ("stdio", "http")


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """In stdio mode stdout is the protocol channel: anything printed while the router loads
    (a library's notice, a progress bar written to fd 1) goes to stderr instead. Python-level
    and descriptor-level writes are both diverted; the SDK claims stdout afterwards."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def mcp(model: Annotated[Path, typer.Option("--model", "-m", help="Router directory (holds "
                                            "router.json).")],
        schema: SchemaOpt = None, backend: BackendOpt = "sqlite", db: DbOpt = None,
        seed: SeedOpt = 7,
        transport: Annotated[str, typer.Option(
            help="stdio (an agent starts this command) | http (streamable HTTP at "
                 "http://HOST:PORT/mcp).")] = "stdio",
        host: Annotated[str, typer.Option(help="HTTP: address to listen on (keep it "
                                          "loopback unless you mean it).")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="HTTP: port.")] = 8765) -> None:
    """Serve the router to agents over the Model Context Protocol: tools route_question,
    run_route, list_paths, describe_schema (read-only). stdio by default; nothing but the
    protocol goes to stdout."""
    from pathrl.mcp_server.server import build_server, check_port_free, serve
    from pathrl.service import open_service

    if transport not in TRANSPORTS:
        raise PathrlError(f"--transport must be stdio or http, got '{transport}'")
    if not 0 < port < 65536:
        raise PathrlError(f"--port must be between 1 and 65535, got {port}")
    if transport == "http":
        check_port_free(host, port)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    with _stdout_to_stderr():
        service = open_service(model, schema_path=schema, backend=backend, db_url=db,
                               seed=seed)
        server = build_server(service)
    try:
        serve(server, "stdio" if transport == "stdio" else "http", host=host, port=port)
    finally:
        service.close()
