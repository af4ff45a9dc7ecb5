"""`pathrl doctor` (placeholder until the doctor lands)."""

import typer

app = typer.Typer(help="Diagnose an RL training run from its logs.", no_args_is_help=True)
