"""`pathrl warmup` (placeholder until the lab lands)."""

import typer

app = typer.Typer(help="RL warm-up lab.", no_args_is_help=True)
