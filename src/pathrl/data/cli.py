"""`pathrl data` (placeholder until the dataset pipeline lands)."""

import typer

app = typer.Typer(help="Build and inspect Router datasets.", no_args_is_help=True)
