"""`pathrl generate` (one question, LLM-written query) and `pathrl ab` (the route-injection A/B)."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from pathrl.errors import PathrlError
from pathrl.schema_cli import BackendOpt, DbOpt, JsonOpt, SchemaOpt, SeedOpt

console = Console()
err_console = Console(stderr=True)

ModelOpt = Annotated[Path, typer.Option("--model", "-m", help="Router directory.")]
BaseUrlOpt = Annotated[str | None, typer.Option(
    "--llm-base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 (else "
                           "$PATHRL_LLM_BASE_URL; without either, a local model).")]
LLMModelOpt = Annotated[str | None, typer.Option(
    "--llm-model", help="Model name at the endpoint (else $PATHRL_LLM_MODEL).")]
LocalOpt = Annotated[str | None, typer.Option(
    "--llm-local", help="Local model: smollm2 (the packaged SmolLM2-135M-Instruct, the "
                        "default) or a Hugging Face model directory.")]
TokensOpt = Annotated[int, typer.Option(help="Most tokens the LLM may write per query.")]
MaxRowsOpt = Annotated[int, typer.Option(help="Most rows a generated query may return.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Seconds a generated query may "
                                                             "run.")]
FewShotOpt = Annotated[int, typer.Option(help="Worked examples in the prompt (0 or 1).")]
CacheOpt = Annotated[Path | None, typer.Option(
    "--llm-cache", help="Endpoint answer cache (default: $PATHRL_HOME/llm_cache).")]


def _llm(base_url: str | None, model: str | None, local: str | None, max_new_tokens: int,
         cache: Path | None):
    from pathrl.generate.backends import make_llm
    from pathrl.io import cache_dir

    return make_llm(base_url=base_url, model=model, local=local,
                    max_new_tokens=max_new_tokens,
                    cache_dir=cache or cache_dir() / "llm_cache")


def _generator(model: Path, schema: Path | None, backend: str, db: str | None, seed: int,
               llm: Any, few_shot: int, max_rows: int, timeout: float):
    from pathrl.generate.runner import RoutedGenerator
    from pathrl.service import open_service

    if max_rows < 1:
        raise PathrlError(f"--max-rows must be >= 1, got {max_rows}")
    if timeout <= 0:
        raise PathrlError(f"--timeout must be > 0, got {timeout}")
    if few_shot not in (0, 1):
        raise PathrlError(f"--few-shot must be 0 or 1, got {few_shot}")
    service = open_service(model, schema_path=schema, backend=backend, db_url=db, seed=seed)
    return RoutedGenerator(service, llm, few_shot=few_shot, max_rows=max_rows,
                           timeout_s=timeout)


_STATUS_COLOUR = {"ok": "green", "empty": "yellow", "error": "red", "unparsable": "magenta",
                  "rejected": "red", "no_query": "magenta"}


def generate(question: Annotated[str, typer.Argument(help="The user's question.")],
             model: ModelOpt, schema: SchemaOpt = None, backend: BackendOpt = "sqlite",
             db: DbOpt = None, seed: SeedOpt = 7, llm_base_url: BaseUrlOpt = None,
             llm_model: LLMModelOpt = None, llm_local: LocalOpt = None,
             no_route: Annotated[bool, typer.Option(
                 "--no-route", help="Direct generation: do not inject the route.")] = False,
             max_new_tokens: TokensOpt = 256, max_rows: MaxRowsOpt = 20,
             timeout: TimeoutOpt = 5.0, few_shot: FewShotOpt = 1, llm_cache: CacheOpt = None,
             as_json: JsonOpt = False) -> None:
    """An LLM writes the query along the router's route; it runs read-only.

    Prints the route injected (join keys hop by hop) and the entity, the generated query, and
    its rows or its status (ok, empty, error, unparsable, rejected). --no-route: the LLM gets
    the schema only (direct generation)."""
    llm = _llm(llm_base_url, llm_model, llm_local, max_new_tokens, llm_cache)
    generator = _generator(model, schema, backend, db, seed, llm, few_shot, max_rows, timeout)
    try:
        with console.status(f"writing the query with {escape(llm.describe())}",
                            spinner="dots") if not as_json else nullcontext():
            result = generator.generate(question, routed=not no_route)
    finally:
        generator.service.close()
    if as_json:
        print(json.dumps(result.to_dict(max_rows=max_rows), ensure_ascii=False, indent=2,
                         default=str))
        return
    _print_generation(result, max_rows)


def _print_generation(result: Any, max_rows: int) -> None:
    from pathrl.generate.prompt import join_chain

    console.print(f"[bold]Q:[/] {escape(result.question)}")
    hint = result.prompt.route
    if hint is not None:
        path = hint.path
        joins = join_chain(path) or "no join"
        console.print(f"  route injected: [cyan]{escape(path.id)}[/]  ({escape(joins)})")
        entity = (f"{path.anchor}.{hint.entity_field} = '{hint.entity}'" if hint.entity
                  else "none found")
        console.print(f"  entity: {escape(entity)}")
    elif result.route is not None:
        console.print(f"  route: not injected (--no-route; the router chose "
                      f"{escape(result.route.path.id)})")
    else:
        console.print("  route: none (the router found no legal route)")
    run = result.run
    console.print("  query:")
    console.print(escape(run.query or run.completion.strip() or "(empty answer)"),
                  soft_wrap=True)
    colour = _STATUS_COLOUR.get(run.status, "white")
    more = " (more not shown: --max-rows)" if run.truncated else ""
    message = f" — {escape(run.message)}" if run.message else ""
    console.print(f"  status: [bold {colour}]{run.status}[/]{message}; {run.count} rows{more}")
    if run.rows:
        columns = list(dict.fromkeys(k for row in run.rows for k in row))
        table = RichTable(show_header=True, header_style="bold")
        for column in columns:
            table.add_column(escape(str(column)))
        for row in run.rows[:max_rows]:
            table.add_row(*(escape(str(row.get(c, ""))) for c in columns))
        console.print(table)


def _load_examples(data: Path, split: str, service: Any, limit: int | None):
    from pathrl.data import load_split
    from pathrl.data.example import read_manifest

    if not data.is_dir():
        raise PathrlError(f"dataset directory not found: {data} (run `pathrl demo` or "
                          "`pathrl data build`)")
    manifest = read_manifest(data) or {}
    built_for = manifest.get("schema_fingerprint")
    if built_for and built_for != service.schema.fingerprint():
        raise PathrlError(f"{data} was built for another schema ({manifest.get('schema')}), "
                          f"not {service.schema.name}")
    examples = load_split(data / f"{split}.jsonl", service.vocab)
    if limit is not None:
        if limit < 1:
            raise PathrlError(f"--limit must be >= 1, got {limit}")
        examples = examples[:limit]
    if not examples:
        raise PathrlError(f"{data / f'{split}.jsonl'} holds no questions")
    return examples


def ab(model: ModelOpt,
       out: Annotated[Path, typer.Option("--out", "-o", help="JSON report to write.")],
       data: Annotated[Path, typer.Option("--data", "-d", help="Dataset directory.")] = Path(
           "runs/demo/data"),
       split: Annotated[str, typer.Option(help="Split to run: test, heldout, val.")] = "test",
       limit: Annotated[int | None, typer.Option(help="Only the split's first N "
                                                      "questions.")] = None,
       schema: SchemaOpt = None, backend: BackendOpt = "sqlite", db: DbOpt = None,
       seed: SeedOpt = 7, llm_base_url: BaseUrlOpt = None, llm_model: LLMModelOpt = None,
       llm_local: LocalOpt = None, max_new_tokens: TokensOpt = 256,
       max_rows: MaxRowsOpt = 1000, timeout: TimeoutOpt = 5.0, few_shot: FewShotOpt = 1,
       llm_cache: CacheOpt = None,
       force: Annotated[bool, typer.Option("--force", help="Overwrite --out.")] = False
       ) -> None:
    """The route-injection A/B: LLM direct vs LLM + route vs pathrl's generator.

    Per question of the split: (a) the LLM writes the query from the schema alone, (b) the
    same LLM also gets the router's route and the entity, (c) pathrl's own generator answers.
    Reports per column the execution success rate, the empty-result rate and the rows equal
    to the labelled route's rows (docs/generate.md); writes every answer to --out."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from pathrl.generate.ab import run_ab
    from pathrl.io import atomic_write_text, check_output_file

    check_output_file(out, force, "A/B report")
    llm = _llm(llm_base_url, llm_model, llm_local, max_new_tokens, llm_cache)
    generator = _generator(model, schema, backend, db, seed, llm, few_shot, max_rows, timeout)
    try:
        examples = _load_examples(data, split, generator.service, limit)
        console.print(f"{len(examples)} {split} questions, LLM: {escape(llm.describe())}")
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=err_console,
                      transient=False) as bar:
            task = bar.add_task("prompts (direct, then routed)", total=2 * len(examples))
            report = run_ab(generator, examples,
                            progress=lambda done, total: bar.update(task, completed=done,
                                                                    total=total))
    finally:
        generator.service.close()
    report.meta.update({"router": str(model), "data": str(data), "split": split,
                        "limit": limit})
    atomic_write_text(out, json.dumps(report.to_dict(), ensure_ascii=False, indent=2,
                                      default=str))
    print_ab(report)
    console.print(f"report: [bold]{escape(str(out))}[/]")


def print_ab(report: Any) -> None:
    """The three columns side by side: all questions, then the join questions only."""
    from pathrl.generate.ab import COLUMN_TITLES, COLUMNS

    summary, joins = report.summary, report.joins
    n, n_joins = len(report.items), sum(1 for i in report.items if i.hops > 0)
    table = RichTable(title=f"route injection A/B on {n} questions ({n_joins} with joins); "
                            f"router exact match {report.router_exact_match:.0%}")
    table.add_column("column", no_wrap=True)
    for header in ("exec ok", "empty", "failed", "rows = gold", "joins: rows = gold"):
        table.add_column(header, justify="right")
    for name in COLUMNS:
        s, j = summary[name], joins[name]
        failed = {k: v for k, v in sorted(s.statuses.items()) if k not in ("ok", "empty")}
        shown = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in failed.items()) or "0"
        table.add_row(COLUMN_TITLES[name],
                      f"{s.statuses.get('ok', 0)} ({s.success_rate:.0%})",
                      f"{s.statuses.get('empty', 0)} ({s.empty_rate:.0%})", shown,
                      f"{s.rows_equal_gold} ({s.rows_equal_gold_rate:.0%})",
                      f"{j.rows_equal_gold}/{j.n}" if j.n else "-")
    console.print(table)
