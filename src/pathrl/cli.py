"""The `pathrl` command line. Each area owns its sub-app; this module only assembles them.

Sub-app modules keep heavy imports (torch, transformers, gymnasium) inside their commands so
that `pathrl --help` stays fast.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from pathrl.environment import prepare_command_environment
from pathrl.errors import PathrlError

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    name="pathrl",
    help="Teach a model the join paths of a business database (SFT then PPO), and RL tooling.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from pathrl.data.cli import app as data_app
    from pathrl.doctor.cli import app as doctor_app
    from pathrl.generate.cli import ab, generate
    from pathrl.llm.cli import app as llm_app
    from pathrl.mcp_server.cli import mcp
    from pathrl.router.cli import demo, eval_cmd, route, train_app
    from pathrl.schema_cli import db_app, query, schema_app
    from pathrl.serve.cli import serve
    from pathrl.synth.cli import app as synth_app
    from pathrl.warmup.cli import app as warmup_app

    app.add_typer(schema_app, name="schema")
    app.add_typer(db_app, name="db")
    app.add_typer(data_app, name="data")
    app.add_typer(train_app, name="train")
    app.command("route")(route)
    app.command("eval")(eval_cmd)
    app.command("demo")(demo)
    app.command("query")(query)
    app.command("generate")(generate)
    app.command("ab")(ab)
    app.command("serve")(serve)
    app.command("mcp")(mcp)
    app.add_typer(doctor_app, name="doctor")
    app.add_typer(warmup_app, name="warmup")
    app.add_typer(synth_app, name="synth")
    app.add_typer(llm_app, name="llm")


_register()


def main() -> None:
    """Console-script entry point: user mistakes become one red line and exit code 2."""
    prepare_command_environment()  # process-wide settings, before any command loads torch
    try:
        app()
    except PathrlError as exc:
        _print_error(str(exc))
        sys.exit(2)
    except OSError as exc:  # the environment said no (permissions, a full disk): not a bug
        where = "".join(f": {name}" for name in (exc.filename, exc.filename2) if name)
        _print_error(f"{exc.strerror or exc}{where}")
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)


def _print_error(message: str) -> None:
    """One line whatever the terminal width and however many lines the message has (a list
    of problems becomes "first: a; b"); the message is text, never Rich markup."""
    lines = [line.strip().removeprefix("- ") for line in message.splitlines() if line.strip()]
    text = lines[0] if lines else message
    for line in lines[1:]:
        text += (" " if text.endswith(":") else "; ") + line
    err_console.print(f"[bold red]error:[/] {escape(text)}", soft_wrap=True)


if __name__ == "__main__":
    main()
