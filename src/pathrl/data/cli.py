"""`pathrl data build` and `pathrl data stats`: Router datasets from the terminal."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table as RichTable

from pathrl.errors import PathrlError
from pathrl.schema_cli import BackendOpt, DbOpt, JsonOpt, SchemaOpt

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(help="Build and inspect Router datasets.", no_args_is_help=True)


def _floats(text: str, what: str, n: int | None = None) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise PathrlError(f"{what} must be comma-separated numbers, got '{text}'") from None
    if n is not None and len(values) != n:
        raise PathrlError(f"{what} needs {n} comma-separated numbers, got '{text}'")
    return values


@app.command("build")
def build(
    out: Annotated[Path, typer.Option("--out", "-o", help="Dataset directory to write.")],
    schema: SchemaOpt = None, backend: BackendOpt = "sqlite", db: DbOpt = None,
    data_seed: Annotated[int, typer.Option(
        "--data-seed", help="Seed of the demo database (with the demo schema).")] = 7,
    seed: Annotated[int, typer.Option("--seed", help="Dataset seed: same seed -> "
                                      "byte-identical files.")] = 7,
    languages: Annotated[str, typer.Option(help="Comma-separated: en, zh.")] = "en,zh",
    per_path: Annotated[float, typer.Option(
        "--per-path", help="Average examples per legal path (held-out included).")] = 13.5,
    fuzzy_ratio: Annotated[float, typer.Option(help="Share of fuzzy questions.")] = 0.4,
    single_table_share: Annotated[float, typer.Option(
        help="Share of examples on single-table paths (anchor = target).")] = 0.45,
    usage_share: Annotated[float, typer.Option(
        help="Share of usage questions (filters, counts, groups, superlatives...) per "
             "path; the rest are entity lookups.")] = 0.55,
    max_examples: Annotated[int, typer.Option(
        help="Cap on the total size (paths are sampled beyond it).")] = 30000,
    heldout_share: Annotated[float, typer.Option(
        help="Share written in held-out (long-tail) styles.")] = 0.1,
    split: Annotated[str, typer.Option(help="train,val,test shares.")] = "0.8,0.1,0.1",
    force: Annotated[bool, typer.Option(help="Replace an existing dataset at --out.")] = False,
    llm_base_url: Annotated[str | None, typer.Option(
        envvar="PATHRL_LLM_BASE_URL", help="OpenAI-compatible endpoint, e.g. "
        "http://localhost:8000/v1 (vLLM), http://localhost:11434/v1 (Ollama). "
        "Default: offline rule-based paraphrases only.")] = None,
    llm_model: Annotated[str | None, typer.Option(envvar="PATHRL_LLM_MODEL",
                                                  help="Model name at the endpoint.")] = None,
    llm_api_key: Annotated[str | None, typer.Option(
        envvar="PATHRL_LLM_API_KEY", help="API key (prefer the environment variable).",
        show_default=False)] = None,
    llm_share: Annotated[float, typer.Option(help="Share of slots filled by LLM "
                                                  "paraphrases.")] = 0.3,
    llm_timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 30.0,
    llm_rpm: Annotated[float, typer.Option(help="Requests per minute at most.")] = 60.0,
    llm_cache: Annotated[Path | None, typer.Option(
        help="Answer cache directory (default: $PATHRL_HOME/llm_cache).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate questions for every legal path, check and split them, write JSONL."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from pathrl.data import DatasetConfig, build_dataset, write_dataset
    from pathrl.data.build import DatasetWarning
    from pathrl.data.example import MANIFEST
    from pathrl.data.llm import LLMParaphraser, LLMSettings
    from pathrl.io import cache_dir, check_writable
    from pathrl.schema_cli import open_db

    if out.exists() and not force and (out / MANIFEST).exists():
        raise PathrlError(f"{out} already holds a dataset (pass --force to replace it)")
    check_writable(out, "--out")  # before minutes of question writing
    cfg = DatasetConfig(
        seed=seed, languages=tuple(x.strip() for x in languages.split(",") if x.strip()),
        examples_per_path=per_path, fuzzy_ratio=fuzzy_ratio,
        single_table_share=single_table_share, usage_share=usage_share,
        max_examples=max_examples,
        heldout_share=heldout_share,
        split_ratios=_floats(split, "--split", 3),  # type: ignore[arg-type]
        llm_share=llm_share)
    cfg.validate()
    settings = LLMSettings.from_env(llm_base_url, llm_model, llm_api_key,
                                    timeout_s=llm_timeout, requests_per_minute=llm_rpm,
                                    cache_dir=llm_cache or cache_dir() / "llm_cache")
    paraphraser = LLMParaphraser(settings) if settings else None
    sch, database = open_db(schema, backend, db, data_seed)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=err_console, disable=as_json, transient=False) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage == "start":
                tasks["questions"] = bar.add_task("writing questions", total=total)
            elif stage == "verify_start":
                tasks["verify"] = bar.add_task("executing filters", total=total)
            elif stage in tasks:
                bar.advance(tasks[stage], done)

        try:
            with warnings.catch_warnings():  # reported below, one line, not a traceback
                warnings.simplefilter("ignore", DatasetWarning)
                splits = build_dataset(sch, database, cfg, paraphraser=paraphraser,
                                       progress=progress)
        finally:
            database.close()
    write_dataset(splits, out, overwrite=True)
    from pathrl.data.stats import dataset_stats

    stats = dataset_stats(splits)
    report = splits.report
    if as_json:
        print(json.dumps({"out": str(out), "counts": {k: len(v) for k, v in splits.items()},
                          "via_null_ratio": stats["all"]["via_null_ratio"],
                          "single_table_ratio": stats["all"]["single_table_ratio"],
                          "fuzzy_ratio": stats["train_val_test"]["fuzzy_ratio"],
                          "paths_without_examples": report["paths_without_examples"],
                          "short_paths": len(report["short_paths"]),
                          "warnings": report["warning_count"]}, indent=2))
        return
    counts = ", ".join(f"{k} {len(v)}" for k, v in splits.items())
    console.print(f"wrote [bold]{out}[/]: {counts} "
                  f"({stats['all']['examples']} examples, {len(splits.report['quotas'])} paths; "
                  f"single table {stats['all']['single_table_ratio']:.1%}, "
                  f"via null {stats['all']['via_null_ratio']:.1%}, fuzzy "
                  f"{stats['train_val_test']['fuzzy_ratio']:.1%} of train/val/test)")
    if report["short_paths"] or report["paths_without_examples"]:
        short = report["short_paths"]
        console.print(f"[yellow]warning:[/] {len(short)} path(s) got fewer examples than their "
                      f"quota ({sum(v['examples'] for v in short.values())} of "
                      f"{sum(v['quota'] for v in short.values())}), "
                      f"{report['paths_without_examples']} path(s) none (max_examples cap or "
                      "no distinct questions); per-path counts: manifest.json per_path")
    if splits.report.get("llm"):
        console.print(f"LLM paraphrases: {splits.report['llm']}")
    console.print(f"next: pathrl data stats {out}")


@app.command("stats")
def stats_cmd(
    directory: Annotated[Path, typer.Argument(help="A directory written by `pathrl data "
                                                   "build`.")],
    charts: Annotated[Path | None, typer.Option(
        help="Where to write the PNG charts (default: DIR/charts).")] = None,
    no_charts: Annotated[bool, typer.Option("--no-charts", help="Print only.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Distributions per split (language, wording, hops, via null ratio, category, priority,
    style) and the charts: category, priority, hop count, via null vs non-null."""
    from pathrl.data.example import load_dataset, read_manifest
    from pathrl.data.stats import dataset_stats

    splits = load_dataset(directory)
    stats = dataset_stats(splits)
    manifest = read_manifest(directory)
    stats["files"] = {name: str(directory / f"{name}.jsonl") for name in splits}
    if manifest:
        stats["schema"] = manifest.get("schema")
        stats["schema_fingerprint"] = manifest.get("schema_fingerprint")
        stats["short_paths"] = manifest.get("short_paths", {})
        stats["paths_without_examples"] = manifest.get("paths_without_examples", 0)
        stats["build_warnings"] = manifest.get("warning_count", 0)
    written = []
    if not no_charts:
        from pathrl.data.charts import write_charts
        from pathrl.io import check_output_dir

        chart_dir = charts or directory / "charts"
        check_output_dir(chart_dir, True, "--charts")  # a file or read-only place: one line
        written = write_charts(stats, chart_dir)
        stats["charts"] = [str(p) for p in written]
    if as_json:
        print(json.dumps(stats, ensure_ascii=False, indent=2))
        return
    table = RichTable(title=f"dataset {directory}"
                      + (f" (schema {stats.get('schema')})" if stats.get("schema") else ""))
    table.add_column("")
    for name in stats["splits"]:
        table.add_column(name, justify="right")
    table.add_column("all", justify="right")
    columns = [*stats["splits"].values(), stats["all"]]
    table.add_row("examples", *(str(c["examples"]) for c in columns))
    table.add_row("paths", *(str(c["paths"]) for c in columns))
    table.add_row("via null", *(f"{c['via_null_ratio']:.1%}" for c in columns))
    table.add_row("single table", *(f"{c['single_table_ratio']:.1%}" for c in columns))
    table.add_row("per path min/median/max", *(
        f"{c['per_path']['min']}/{c['per_path']['median']}/{c['per_path']['max']}"
        for c in columns))
    table.add_row("fuzzy", *(f"{c['fuzzy_ratio']:.1%}" for c in columns))
    for dim in ("language", "hops", "wording", "priority", "category", "style"):
        keys = list(dict.fromkeys(k for c in columns for k in c[dim]))
        for k in keys:
            table.add_row(f"{dim}: {k}", *(str(c[dim].get(k, 0)) for c in columns))
    console.print(table)
    if stats.get("short_paths") or stats.get("paths_without_examples"):
        console.print(f"[yellow]{len(stats['short_paths'])} path(s) below their quota, "
                      f"{stats['paths_without_examples']} without examples[/] (manifest.json "
                      "per_path / short_paths)")
    shared = stats["styles_shared_with_heldout"]
    if shared:
        console.print(f"[yellow]held-out styles also in train/val/test:[/] {', '.join(shared)}")
    for path in written:
        console.print(f"wrote [bold]{path}[/]")
