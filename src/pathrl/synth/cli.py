"""`pathrl synth schemas|erp|stats`: generated training schemas with data, and ERP scale tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(help="Generate realistic schemas with data: many small business schemas to "
                       "train on, or big ERP schemas to test scale.", no_args_is_help=True)

OutOpt = Annotated[Path, typer.Option(
    "--out", "-o", help="Folder to write (empty, or pass --force).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed: same seed, same schemas and data.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Write into a non-empty --out.")]
RowsOpt = Annotated[int, typer.Option("--rows", help="Rows per table.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@contextmanager
def _progress(total: int, what: str) -> Iterator:
    """A Rich bar on stderr (stdout stays clean for --json); yields the per-step callback."""
    bar = Progress(TextColumn(f"[bold]{what}[/]"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.description}"), TimeElapsedColumn(),
                   console=err_console, transient=True)
    with bar:
        task = bar.add_task("", total=total)
        done = [False]

        def step(name: str) -> None:
            if done[0]:
                bar.advance(task)
            done[0] = True
            bar.update(task, description=name)

        yield step
        bar.update(task, completed=total)


def _entries_table(entries, title: str) -> RichTable:
    table = RichTable(title=title)
    for col in ("name", "tables", "relations", "legal paths", "rows"):
        table.add_column(col, justify="left" if col == "name" else "right")
    for e in entries:
        table.add_row(e.name, str(e.n_tables), str(e.n_relations), str(e.n_paths),
                      str(e.n_rows))
    return table


@app.command("schemas")
def schemas(
    out: OutOpt,
    count: Annotated[int, typer.Option("--count", "-n", help="How many schemas.")] = 12,
    seed: SeedOpt = 0,
    domains: Annotated[list[str] | None, typer.Option(
        "--domains", help="Domains to draw from (repeat or comma-separate; default: all of "
                          "sales, hr, hospital, school, logistics, projects).")] = None,
    min_tables: Annotated[int, typer.Option(
        "--min-tables", help="Fewest tables in a schema (>= 3).")] = 3,
    max_tables: Annotated[int, typer.Option(
        "--max-tables", help="Most tables in a schema (<= 15).")] = 15,
    naming: Annotated[list[str] | None, typer.Option(
        "--naming", help="Naming styles to draw from: snake, camel, plural, prefixed, abbrev "
                         "(repeat or comma-separate; default: all).")] = None,
    rows: RowsOpt = 30,
    zh_ratio: Annotated[float, typer.Option(
        "--zh-ratio", help="Share of person/company names and cities written in Chinese.")] = 0.0,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Many small business schemas (3-15 tables each) with SQLite data, plus index.json."""
    from pathrl.synth.corpus import plan_schema_set, write_schema_set

    plans = plan_schema_set(count, seed, _split(domains), min_tables, max_tables,
                            _split(naming))
    with _progress(len(plans), "schemas") as step:
        entries = write_schema_set(out, plans, rows, zh_ratio, force, on_step=step)
    _report(entries, out, as_json)


@app.command("erp")
def erp(
    out: OutOpt,
    tables: Annotated[list[int], typer.Option(
        "--tables", "-t", help="Tables in the ERP schema (repeat for several sizes).")],
    seed: SeedOpt = 0,
    rows: RowsOpt = 30,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """ERP-like schemas (hub tables + modules, 1-3 foreign keys each) with SQLite data."""
    from pathrl.synth.corpus import write_erp_set

    with _progress(len(tables), "erp") as step:
        entries = write_erp_set(out, tables, seed, rows, force, on_step=step)
    _report(entries, out, as_json)


@app.command("stats")
def stats(
    tables: Annotated[list[int] | None, typer.Option(
        "--tables", "-t", help="ERP sizes to measure (repeat).")] = None,
    seed: SeedOpt = 0,
    max_hops: Annotated[int, typer.Option(
        "--max-hops", help="Longest legal path counted, in joins.")] = 3,
    rows: Annotated[int, typer.Option(
        "--rows", help="Rows per table for the populate timing (0: skip populating).")] = 30,
    as_json: JsonOpt = False,
) -> None:
    """Measure ERP schemas: relations, legal paths at --max-hops, seconds per stage."""
    from pathrl.errors import PathrlError
    from pathrl.synth.corpus import measure_erp

    sizes = tables or [12, 25, 50, 100, 200]
    if rows < 0:
        raise PathrlError(f"--rows must be >= 0, got {rows}")
    with _progress(len(sizes), "measuring") as step:
        results = measure_erp(sizes, seed, max_hops, rows or None, on_step=step)
    if as_json:
        print(json.dumps([asdict(r) for r in results], indent=2))
        return
    table = RichTable(title=f"ERP schemas (seed {seed}, max_hops {max_hops})")
    for col in ("tables", "relations", "legal paths", "join paths", "generate s",
                "enumerate s", "populate s", "rows"):
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(str(r.n_tables), str(r.n_relations), str(r.n_paths), str(r.n_join_paths),
                      f"{r.generate_s:.3f}", f"{r.enumerate_s:.3f}",
                      "-" if r.populate_s is None else f"{r.populate_s:.3f}",
                      "-" if r.n_rows is None else str(r.n_rows))
    console.print(table)


def _split(values: list[str] | None) -> list[str] | None:
    """`--domains sales,hr --domains school` -> [sales, hr, school]."""
    if not values:
        return None
    return [v.strip() for raw in values for v in raw.split(",") if v.strip()]


def _report(entries, out: Path, as_json: bool) -> None:
    if as_json:
        print(json.dumps([asdict(e) for e in entries], indent=2))
        return
    console.print(_entries_table(entries, f"{len(entries)} schemas in {out}"))
    console.print(f"wrote [bold]{out / 'index.json'}[/]")
