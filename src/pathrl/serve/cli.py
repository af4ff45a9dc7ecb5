"""`pathrl serve`: load a router once and serve it over HTTP (uvicorn). Parses and prints only."""

from __future__ import annotations

import errno
import ipaddress
import socket
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from pathrl.errors import PathrlError
from pathrl.schema_cli import BackendOpt, DbOpt, SchemaOpt, SeedOpt

console = Console(stderr=True)


def _check_port_free(host: str, port: int) -> None:
    """Fail before the model loads (seconds) when the address is taken or not ours."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            why = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound ({exc})"
            raise PathrlError(f"{host}:{port} {why}; pick another --port or --host") from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(model: Annotated[Path, typer.Option("--model", "-m", help="Router directory.")],
          schema: SchemaOpt = None, backend: BackendOpt = "sqlite", db: DbOpt = None,
          seed: SeedOpt = 7,
          host: Annotated[str, typer.Option(
              help="Address to listen on (default: this machine only).")] = "127.0.0.1",
          port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
          token: Annotated[str | None, typer.Option(
              envvar="PATHRL_TOKEN", show_default=False,
              help="Bearer token every API call must send (env PATHRL_TOKEN).")] = None,
          top_k: Annotated[int, typer.Option(min=1, max=10,
                                             help="Default routes per question.")] = 3,
          row_limit: Annotated[int, typer.Option(
              min=1, help="The most rows /query returns.")] = 100,
          cors_origin: Annotated[list[str] | None, typer.Option(
              help="Origin allowed to call from a browser (repeat; default: none).")] = None,
          timeout: Annotated[float, typer.Option(
              min=0.001, help="Seconds before a request is answered 504.")] = 10.0,
          batch_window_ms: Annotated[float, typer.Option(
              min=0, help="Milliseconds to gather concurrent questions into one model "
                          "call.")] = 5.0,
          log_level: Annotated[str, typer.Option(
              help="uvicorn log level: critical | error | warning | info | debug.")] = "info",
          ) -> None:
    """Serve the router as an HTTP API (POST /route, POST /query, GET /paths, /schema,
    /health; docs at /docs) and the playground page at /."""
    from pathrl.serve.config import ServeConfig

    levels = ("critical", "error", "warning", "info", "debug")
    if log_level not in levels:
        raise typer.BadParameter(f"must be one of {', '.join(levels)}", param_hint="--log-level")
    config = ServeConfig(token=token, row_limit=row_limit,
                         cors_origins=tuple(cors_origin or ()), request_timeout_s=timeout,
                         batch_window_ms=batch_window_ms)
    _check_port_free(host, port)  # before the slow imports and the model

    import uvicorn

    from pathrl.serve.app import create_app
    from pathrl.service import open_service

    if not _is_loopback(host) and token is None:
        console.print(f"[yellow]warning:[/] listening on {escape(host)} without --token: "
                      "anyone who can reach this port can query the database")
    with console.status("loading the router"):
        service = open_service(model, schema_path=schema, backend=backend, db_url=db,
                               seed=seed, top_k=top_k)
    info = service.describe()
    console.print(f"serving schema [bold]{escape(info['schema'])}[/] ({info['paths']} legal "
                  f"paths) with router {escape(str(model))} at http://{escape(host)}:{port} "
                  f"(API docs: /docs)", soft_wrap=True)
    try:
        uvicorn.run(create_app(service, config), host=host, port=port, log_level=log_level)
    finally:
        service.close()
