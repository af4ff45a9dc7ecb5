"""`pathrl train sft|ppo`, `pathrl route`, `pathrl eval` and `pathrl demo` (the main job)."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from pathrl.errors import PathrlError
from pathrl.schema_cli import BackendOpt, DbOpt, SchemaOpt, SeedOpt, load_schema, open_db

console = Console()
train_app = typer.Typer(help="Train a Router: SFT cold start, then PPO.", no_args_is_help=True)

DataOpt = Annotated[Path, typer.Option("--data", "-d", help="Dataset directory "
                                       "(from `pathrl data build`).")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output directory.")]
DeviceOpt = Annotated[str, typer.Option(
    help="Where the router runs: auto (cuda, then mps, else cpu), cpu, cuda, cuda:N, mps.")]


def _device(device: str) -> str:
    """The device name, checked before any work starts (a bad one is one line)."""
    from pathrl.devices import resolve_device

    return str(resolve_device(device))


@contextmanager
def _progress(description: str, total: int):
    """A Rich progress bar whose `advance(n, total, metrics)` callback the trainers call."""
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[info]}"))
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(description, total=total, info="")

        def advance(done: int, total_now: int, metrics: dict[str, Any]) -> None:
            keys = ("val_exact_match", "train_loss", "reward_mean", "exact_match",
                    "greedy_exact_match", "approx_kl")
            info = " ".join(f"{k}={metrics[k]:.3f}" for k in keys
                            if isinstance(metrics.get(k), float))
            bar.update(task, completed=done, total=total_now, info=info)

        yield advance


def _load_data(data: Path, vocab):
    from pathrl.data import load_split

    if not data.is_dir():
        raise PathrlError(f"dataset directory not found: {data} (run `pathrl data build`)")
    splits = {}
    for name in ("train", "val", "test", "heldout"):
        path = data / f"{name}.jsonl"
        splits[name] = load_split(path, vocab) if path.exists() else []
    if not splits["train"]:
        raise PathrlError(f"{data}/train.jsonl is missing or empty")
    return splits


def _sft(schema, splits, out: Path, head: str, backbone: str, epochs: int, freeze_layers: int,
         lora: bool, seed: int, database=None, init: Path | None = None,
         resume: bool = False, link_prior: float = 0.0, coverage_prior: float | None = None,
         checkpoints: bool = True, named_table_penalty: float | None = None,
         device: str = "auto"):
    from pathrl.router.workflows import train_sft

    with _progress(f"SFT ({head})", epochs) as advance, _resume_hint(out):
        model, summary = train_sft(schema, splits, out, head=head, backbone=backbone,
                                   epochs=epochs, freeze_layers=freeze_layers, lora=lora,
                                   seed=seed, database=database, init=init, resume=resume,
                                   link_prior=link_prior, coverage_prior=coverage_prior,
                                   named_table_penalty=named_table_penalty,
                                   checkpoints=checkpoints, device=device, progress=advance)
    if summary["added_tokens"]:
        console.print(f"added {summary['added_tokens']} characters the tokenizer did not know")
    if summary.get("named_table_breaks", 0.0) > NAMED_TABLE_BREAKS_WARNING:
        console.print(f"[yellow]warning:[/] {summary['named_table_breaks']:.1%} of the training "
                      "questions are labelled with a path that leaves out a table they name; "
                      "the path scorer rules such paths out unless `pathrl train sft "
                      "--named-table-penalty 0` (docs/router.md)")
    return model, summary


def _ppo(schema, splits, sft_dir: Path, out: Path, preset: str, updates: int | None,
         critic: str | None, resume: bool, exec_feedback: bool, seed: int, database=None,
         stop_on_critical: bool = False, pool=None, model=None, device: str = "auto"):
    from pathrl.router.ppo import PPOConfig
    from pathrl.router.workflows import train_ppo

    total = updates if updates is not None else PPOConfig().total_updates
    with _progress(f"PPO ({preset})", total) as advance, _resume_hint(out):
        model, summary = train_ppo(schema, splits, sft_dir, out, preset=preset, updates=updates,
                                   critic=critic, resume=resume, exec_feedback=exec_feedback,
                                   seed=seed, database=database,
                                   stop_on_critical=stop_on_critical, pool=pool,
                                   model=model, device=device, progress=advance)
    if summary["stop_reason"]:
        console.print(f"[yellow]stopped early:[/] {summary['stop_reason']}")
    if summary.get("kept"):
        kept = summary["kept"]
        console.print(f"kept the best validated policy: update {kept['update']} "
                      f"(validation exact match {kept['val_exact_match']:.3f})")
    for finding in summary["findings"]:
        console.print(f"[yellow]doctor[/] {finding['severity']}: {finding['rule']} — "
                      f"{finding['diagnosis']}")
    return model, summary


def _general(corpus_dir: Path, out: Path, backbone: str, epochs: int, seed: int,
             max_schemas: int | None, init: Path | None, device: str = "auto") -> None:
    from pathrl.router.workflows import build_corpus, schema_corpus, train_general

    schema_corpus(corpus_dir)  # a wrong folder is one line, before any progress bar
    with _progress("questions per schema", 1) as advance:
        corpus = build_corpus(corpus_dir, seed=seed, limit=max_schemas,
                              on_schema=lambda name, done, total: advance(done, total, {}))
    n_train = sum(len(c.splits["train"]) for c in corpus)
    console.print(f"{len(corpus)} schemas, {n_train} training questions")
    with _progress("SFT (general scorer)", epochs) as advance:
        _model, summary = train_general(corpus, out, backbone=backbone, epochs=epochs,
                                        seed=seed, init=init, device=device,
                                        progress=advance)
    console.print(f"best pooled validation exact match {summary['best_val_exact_match']:.3f}; "
                  f"general router saved to [bold]{out / 'model'}[/] (route any schema with "
                  f"`pathrl route --schema S --db URL --model {out / 'model'}`)")


ForceOpt = Annotated[bool, typer.Option(
    "--force", help="Replace the previous run's files in OUT (only those this command writes).")]
NAMED_TABLE_BREAKS_WARNING = 0.02  # share of training labels that break the named-table rule
SFT_OUTPUTS = ("model", "sft_metrics.jsonl", "summary.json", "tb")
PPO_OUTPUTS = ("model", "metrics.jsonl", "summary.json", "checkpoints", "tb")
DEMO_OUTPUTS = ("data", "scorer", "factored", "report.json", "report.md")


@contextmanager
def _resume_hint(out: Path):
    """On Ctrl-C, say where the run stands and how to continue it."""
    try:
        yield
    except KeyboardInterrupt:
        console.print(f"[yellow]interrupted[/]: the last whole update/epoch is checkpointed in "
                      f"{out / 'checkpoints'}; continue with the same command and --resume")
        raise


def _claim_output(out: Path, force: bool, owned: tuple[str, ...], what: str) -> None:
    """The output policy: refuse an OUT that holds another run unless --force; with --force
    remove only what this command writes (a new log never continues an old one)."""
    import shutil

    from pathrl.io import check_output_dir

    for path in check_output_dir(out, force, what, owned):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


HeadOpt = Annotated[str, typer.Option(
    "--head", help="scorer (schema-reading path scorer) | factored (method §4.1's three heads).")]


@train_app.command("sft")
def sft_cmd(data: Annotated[Path | None, typer.Option(
                "--data", "-d", help="Dataset directory (from `pathrl data build`).")] = None,
            out: OutOpt = Path("runs/sft"),
            backbone: Annotated[str, typer.Option(help="minilm | smollm2 | local HF dir.")] =
            "minilm",
            epochs: Annotated[int, typer.Option(help="Maximum epochs.")] = 30,
            freeze_layers: Annotated[int, typer.Option(help="Freeze the first N layers.")] = 0,
            lora: Annotated[bool, typer.Option(help="Train LoRA adapters (peft).")] = False,
            head: HeadOpt = "scorer",
            schemas: Annotated[Path | None, typer.Option(
                help="Train one general path scorer on every <name>/schema.yaml + "
                     "<name>/data.sqlite of this folder (`pathrl synth schemas`), questions "
                     "generated per schema; it then routes schemas it never saw.")] = None,
            max_schemas: Annotated[int | None, typer.Option(
                help="With --schemas: use the first N schemas only.")] = None,
            init: Annotated[Path | None, typer.Option(
                help="Start from a saved path scorer (fine-tune a general router to this "
                     "schema).")] = None,
            link_prior: Annotated[float, typer.Option(
                help="Path scorer: start the schema-linking weights at +P and the coverage "
                     "weights at -P (0: learned from 0). Helps small datasets; see "
                     "docs/router.md.")] = 0.0,
            coverage_prior: Annotated[float | None, typer.Option(
                help="Path scorer: start the weight of each mention a path leaves uncovered "
                     "at C instead of -P (e.g. -1 alone: measured in docs/router.md).")] = None,
            named_table_penalty: Annotated[float | None, typer.Option(
                help="Path scorer: logits a path loses per table the question names that it "
                     "leaves out (default 20: ruled out; 0: off). See docs/router.md.")] = None,
            schema: SchemaOpt = None, backend: BackendOpt = "sqlite", db: DbOpt = None,
            seed: SeedOpt = 7, force: ForceOpt = False,
            resume: Annotated[bool, typer.Option(
                help="Continue from OUT/checkpoints/sft_last.pt (same command otherwise).")]
            = False, device: DeviceOpt = "auto") -> None:
    """SFT cold start of a Router on a dataset (or a general router on a schema corpus);
    saves the best epoch to OUT/model. Every epoch is checkpointed; Ctrl-C stops after the
    running epoch and `--resume` continues."""
    from pathrl.paths import PathVocab

    if data is None and schemas is None:
        raise PathrlError("give --data DIR (a dataset) or --schemas DIR (a schema corpus)")
    device = _device(device)
    if resume and (force or schemas is not None):
        raise PathrlError("--resume continues one SFT run: not with --force or --schemas")
    priors = bool(link_prior) or coverage_prior is not None
    if priors and (init is not None or schemas is not None):
        raise PathrlError("--link-prior and --coverage-prior start a new path scorer: not with "
                          "--init or --schemas")
    if priors and head != "scorer":
        raise PathrlError("--link-prior and --coverage-prior are available with --head scorer "
                          "only")
    if resume and not (out / "checkpoints" / "sft_last.pt").is_file():
        raise PathrlError(f"--resume: no SFT checkpoint in {out / 'checkpoints'}")
    if not resume:
        _claim_output(out, force, SFT_OUTPUTS + ("checkpoints",), "--out")
    if schemas is not None:
        _general(schemas, out, backbone, epochs, seed, max_schemas, init, device)
        return
    sch = load_schema(schema)
    # The path scorer reads the database's values (schema linking); the heads do not.
    database = open_db(schema, backend, db, seed)[1] if head == "scorer" else None
    splits = _load_data(data, PathVocab.from_schema(sch))
    _model, summary = _sft(sch, splits, out, head, backbone, epochs, freeze_layers, lora, seed,
                           database, init, resume, link_prior, coverage_prior,
                           named_table_penalty=named_table_penalty, device=device)
    console.print(f"best validation exact match {summary['best_val_exact_match']:.3f} at epoch "
                  f"{summary['best_epoch']}; router saved to [bold]{out / 'model'}[/]")


@train_app.command("ppo")
def ppo_cmd(data: DataOpt,
            sft: Annotated[Path, typer.Option(help="SFT router directory (OUT/model of "
                                              "`train sft`).")],
            out: OutOpt = Path("runs/ppo"),
            preset: Annotated[str, typer.Option(help="golden (stable) | aggressive (the "
                                                "collapsing config, method §6.1).")] = "golden",
            updates: Annotated[int | None, typer.Option(help="PPO updates.")] = None,
            critic: Annotated[str | None, typer.Option(help="shared | separate.")] = None,
            resume: Annotated[bool, typer.Option(help="Continue from OUT/checkpoints.")] = False,
            exec_feedback: Annotated[bool, typer.Option(
                help="Add the execution-feedback reward (runs queries).")] = False,
            stop_on_critical: Annotated[bool, typer.Option(
                help="Stop when the live doctor finds a critical problem.")] = False,
            fresh_prompts: Annotated[bool, typer.Option(
                help="Roll out on fresh generated questions SFT never saw, weighted towards "
                     "what SFT gets wrong (off: the SFT training split).")] = True,
            schema: SchemaOpt = None, backend: BackendOpt = "sqlite", db: DbOpt = None,
            seed: SeedOpt = 7, force: ForceOpt = False, device: DeviceOpt = "auto") -> None:
    """PPO from an SFT router (golden config by default); logs to OUT/metrics.jsonl."""
    device = _device(device)
    if resume and force:
        raise PathrlError("--resume continues the run in OUT and --force replaces it: pick one")
    if not resume:  # a fresh run never reuses another run's checkpoints
        _claim_output(out, force, PPO_OUTPUTS, "--out")
    from pathrl.paths import PathVocab
    from pathrl.router.workflows import fresh_questions, load_router, prompt_pool

    sch = load_schema(schema)
    database = open_db(schema, backend, db, seed)[1]
    splits = _load_data(data, PathVocab.from_schema(sch))
    pool = None
    sft_model = load_router(sft, sch, database, device=device)
    if fresh_prompts:
        with console.status("writing PPO's prompt pool (fresh questions, weighted by SFT)"):
            pool = prompt_pool(sft_model, fresh_questions(sch, database, splits, seed))
        console.print(f"prompt pool: {pool.summary()}")
    _model, summary = _ppo(sch, splits, sft, out, preset, updates, critic, resume,
                           exec_feedback, seed, database, stop_on_critical, pool, sft_model,
                           device)
    console.print(f"{summary['updates']} updates ({summary['updates_per_s']:.3f}/s); router "
                  f"saved to [bold]{out / 'model'}[/]; diagnose with `pathrl doctor {out}`")


def route(question: Annotated[str, typer.Argument(help="The user's question.")],
          model: Annotated[Path, typer.Option("--model", "-m", help="Router directory.")],
          top_k: Annotated[int, typer.Option(help="Alternatives to show.")] = 3,
          execute: Annotated[bool, typer.Option(help="Run the routed query.")] = True,
          schema: SchemaOpt = None, backend: BackendOpt = "sqlite", db: DbOpt = None,
          seed: SeedOpt = 7, as_json: Annotated[bool, typer.Option("--json")] = False,
          device: DeviceOpt = "auto") -> None:
    """Route a question (text -> route -> entity -> query -> rows). An entity the database
    does not hold is an answer (status entity_not_found, with suggestions), not an error."""
    from pathrl.pipeline import RoutedQA
    from pathrl.router.protocol import load_router

    if top_k < 1:
        raise PathrlError(f"--top-k must be >= 1, got {top_k}")
    device = _device(device)
    sch, database = open_db(schema, backend, db, seed)
    router = load_router(model, sch, database, device=device)
    if not execute:
        routing = router.route_batch([question], top_k=top_k)[0]
        if as_json:
            print(json.dumps(routing.to_dict(), ensure_ascii=False, indent=2))
            return
        console.print(f"[bold]Q:[/] {escape(question)}")
        for rank, r in enumerate(routing.routes, start=1):
            console.print(f"  {rank}. {_route_label(r)}  (p={r.probability:.2f})")
        if not routing.routes:
            console.print("  [red]no legal route[/]")
        return
    answer = RoutedQA(router, database, top_k=top_k).ask(question)
    if as_json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2, default=str))
        return
    _print_answer(answer)


def _route_label(route) -> str:
    from pathrl.paths import PathVocab

    return (f"[cyan]{route.anchor}[/] —({escape(PathVocab.via_label(route.via))})→ "
            f"[cyan]{route.target}[/]")


_STATUS_COLOUR = {"ok": "green", "empty": "yellow", "error": "red", "no_entity": "yellow",
                  "entity_not_found": "magenta", "ambiguous_entity": "magenta",
                  "no_route": "red"}


def _print_answer(answer) -> None:
    console.print(f"[bold]Q:[/] {escape(answer.question)}")
    colour = _STATUS_COLOUR.get(answer.status, "white")
    console.print(f"  status: [bold {colour}]{answer.status}[/] — {escape(answer.message)}")
    if answer.route is not None:
        console.print(f"  route: {_route_label(answer.route)}  "
                      f"(p={answer.route.probability:.2f})")
    if answer.entity is not None:
        via = f" (matched '{escape(answer.mention)}' in {answer.matched_field})" if (
            answer.mention and answer.mention != answer.entity) else ""
        console.print(f"  entity: {escape(repr(answer.entity))}{via}")
    elif len(answer.entities) > 1:
        shown = ", ".join(escape(e) for e in answer.entities[:5])
        more = f" (+{len(answer.entities) - 5})" if len(answer.entities) > 5 else ""
        console.print(f"  entities: {answer.matched_field} = '{escape(answer.mention)}': "
                      f"{shown}{more}")
    if answer.status == "ambiguous_entity":
        console.print("  rows holding it: " + ", ".join(escape(s) for s in answer.suggestions))
    if answer.result is not None:
        console.print(f"  query: {escape(' '.join(answer.query.split())[:160])}")
        console.print(f"  rows: [{colour}]{answer.result.count}[/]")
    else:
        console.print("  query: none run")


def _baseline_notice(name: str, n: int) -> None:
    console.print(f"baseline {name} on {n} questions")


def print_report(report: dict[str, Any]) -> None:
    table = RichTable(title=f"routing on {report['n_test']} held-out questions (test + "
                            "heldout phrasings)")
    cols = ("exact_match", "anchor_accuracy", "target_accuracy", "via_accuracy",
            "via_accuracy_nonnull", "illegal_rate", "exec_success", "exec_empty", "exec_error")
    short = ("exact", "anchor", "target", "via", "via≠null", "illegal", "exec ok", "empty",
             "error")
    table.add_column("method")
    for c in short:
        table.add_column(c, justify="right")
    for name in report["methods"]:
        m = report[name]
        table.add_row(name, *(f"{100 * m[c]:.1f}%" if c in m else "-" for c in cols))
    console.print(table)


def eval_cmd(data: DataOpt,
             sft: Annotated[Path | None, typer.Option(help="SFT router directory.")] = None,
             ppo: Annotated[Path | None, typer.Option(help="PPO router directory.")] = None,
             baseline: Annotated[list[str] | None, typer.Option(
                 help="Baselines to include: llm, lexical (repeat).")] = None,
             out: OutOpt = Path("runs/eval"),
             schema: SchemaOpt = None, backend: BackendOpt = "sqlite", db: DbOpt = None,
             seed: SeedOpt = 7) -> None:
    """Compare Baseline / SFT / PPO on the same test split; writes OUT/report.json + .md."""
    from pathrl.paths import PathVocab
    from pathrl.router.workflows import compare_methods, load_router

    sch, database = open_db(schema, backend, db, seed)
    splits = _load_data(data, PathVocab.from_schema(sch))
    routers = {name: load_router(path, sch, database) for name, path in (("sft", sft),
                                                                         ("ppo", ppo))
               if path is not None}
    report = compare_methods(sch, database, splits, routers,
                             baseline if baseline is not None else ["llm", "lexical"], out,
                             on_baseline=_baseline_notice)
    print_report(report)
    console.print(f"report: [bold]{out / 'report.md'}[/], {out / 'report.json'}")


def demo(out: OutOpt = Path("runs/demo"), seed: SeedOpt = 7,
         backbone: Annotated[str, typer.Option(help="Router backbone: minilm | smollm2 | "
                                               "local HF dir.")] = "minilm",
         languages: Annotated[str, typer.Option(help="Question languages: en,zh.")] = "en,zh",
         sft_epochs: Annotated[int, typer.Option(help="Maximum SFT epochs.")] = 8,
         ppo_updates: Annotated[int, typer.Option(help="PPO updates.")] = 8,
         llm_baseline: Annotated[bool, typer.Option(
             help="Run the SmolLM2 prompted-LLM baseline (slowest step).")] = True,
         heads: Annotated[str, typer.Option(
             help="Routers to train and compare, first one shown end to end: "
                  "scorer,factored.")] = "scorer,factored",
         force: ForceOpt = False, device: DeviceOpt = "auto") -> None:
    """The main job: demo database -> dataset -> SFT -> PPO (each router head) -> evaluation
    -> routed questions."""
    from pathrl.router.workflows import HEADS

    head_list = [h.strip() for h in heads.split(",") if h.strip()]
    unknown = [h for h in head_list if h not in HEADS]
    if not head_list or unknown:
        raise PathrlError(f"--heads must list {' and/or '.join(HEADS)}, got '{heads}'")
    if sft_epochs < 1 or ppo_updates < 1:
        raise PathrlError("--sft-epochs and --ppo-updates must be >= 1")
    device = _device(device)
    _claim_output(out, force, DEMO_OUTPUTS, "--out")
    from pathrl.data import DatasetConfig, build_dataset, write_dataset
    from pathrl.db import open_database
    from pathrl.demo import demo_schema
    from pathrl.paths import PathVocab
    from pathrl.pipeline import RoutedQA
    from pathrl.query import Filter, bridge_skipping_hops

    start, cpu_start = time.perf_counter(), time.process_time()
    out.mkdir(parents=True, exist_ok=True)
    schema = demo_schema()
    vocab = PathVocab.from_schema(schema)
    database = open_database(schema, "sqlite", None, demo_seed=seed)

    console.rule("1 · demo database and legal paths")
    hops = [p.n_hops for p in vocab.paths]
    console.print(f"{len(schema.tables)} tables, {len(schema.relations)} foreign keys, "
                  f"{len(vocab.paths)} legal paths ({hops.count(0)} single-table, "
                  f"{hops.count(1)} one-hop, {hops.count(2)} "
                  f"two-hop, {hops.count(3)} three-hop); database {database.url}")
    path = vocab.path("project", "contract_change_log", ("contract",))
    project = database.execute("SELECT name FROM project ORDER BY id LIMIT 1").rows[0]["name"]
    routed = database.run_path(path, Filter(entity=project))
    direct = database.execute_hops(bridge_skipping_hops(path), "project", Filter(entity=project))
    console.print(f"method §1.1's failure: change records of project '{project}' — direct query "
                  f"(skips contract): [yellow]{direct.count} rows ({direct.status})[/]; routed "
                  f"project > contract > contract_change_log: [green]{routed.count} rows[/]")

    timings: dict[str, float] = {}  # seconds per stage, in the report

    def lap(stage: str, since: float) -> float:
        now = time.perf_counter()
        timings[stage] = round(now - since, 1)
        return now

    mark = lap("database", start)
    console.rule("2 · dataset")
    cfg = DatasetConfig(seed=seed, languages=tuple(x.strip() for x in languages.split(",")))
    with console.status("building questions for every legal path"):
        splits = build_dataset(schema, database, cfg)
    mark = lap("dataset", mark)
    write_dataset(splits, out / "data")
    console.print(", ".join(f"{k}: {len(v)}" for k, v in splits.items()) + f" → {out / 'data'}")

    from pathrl.router.workflows import compare_methods, fresh_questions, prompt_pool

    routers, curves, train = {}, {}, {}
    with console.status("writing PPO's fresh prompts (questions no split holds)"):
        candidates = fresh_questions(schema, database, splits, seed, languages=cfg.languages)
    mark = lap("fresh_prompts", mark)
    for step, head in enumerate(head_list, start=3):
        console.rule(f"{step} · {head} router: SFT cold start, then PPO (golden config)")
        # The demo starts over on every run (it has no --resume): no per-epoch checkpoint.
        sft_model, sft_summary = _sft(schema, splits, out / head / "sft", head, backbone,
                                      sft_epochs, 0, False, seed, database, checkpoints=False,
                                      device=device)
        mark = lap(f"{head}_sft", mark)
        with console.status("weighting PPO's prompts by the SFT router's mistakes"):
            pool = prompt_pool(sft_model, candidates)
        console.print(f"prompt pool: {len(pool.examples)} fresh questions, SFT exact match on "
                      f"them {pool.sft_exact_match:.3f}")
        ppo_model, ppo_summary = _ppo(schema, splits, out / head / "sft" / "model",
                                      out / head / "ppo", "golden", ppo_updates, None, False,
                                      False, seed, database, pool=pool, device=device)
        mark = lap(f"{head}_ppo", mark)
        routers[f"{head}-sft"], routers[f"{head}-ppo"] = sft_model, ppo_model
        curves[f"{head}-sft"] = out / head / "sft" / "sft_metrics.jsonl"
        curves[f"{head}-ppo"] = out / head / "ppo" / "metrics.jsonl"
        train[head] = {
            "sft": {k: sft_summary[k] for k in ("best_epoch", "best_val_exact_match",
                                                "epochs_run", "wall_s")},
            "ppo": {k: ppo_summary.get(k) for k in ("updates", "wall_s", "updates_per_s",
                                                    "stop_reason", "kept", "prompt_pool")}}

    console.rule(f"{len(head_list) + 3} · evaluation: baselines vs SFT vs PPO")
    baselines = (["llm"] if llm_baseline else []) + ["lexical"]
    report = compare_methods(schema, database, splits, routers, baselines, out, curves=curves,
                             on_baseline=_baseline_notice)
    lap("evaluation", mark)
    report["wall_s"] = round(time.perf_counter() - start, 1)
    report["device"] = device
    # CPU seconds of this process (all its threads): unlike wall time, a shared machine's
    # steal time does not inflate it, so it tells a slow run from a slow machine.
    report["cpu_s"] = round(time.process_time() - cpu_start, 1)
    report["timings"] = timings
    report["train"] = train
    (out / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2,
                                                default=str))
    print_report(report)
    ppo_model = routers[f"{head_list[0]}-ppo"]

    console.rule(f"{len(head_list) + 4} · routed questions, end to end ({head_list[0]} PPO)")
    qa = RoutedQA(ppo_model, database)
    shown = [ex for ex in splits["test"] if ex.hops > 1][:2] + [
        ex for ex in splits["heldout"] if ex.hops > 1][:2]
    for ex in shown:
        _print_answer(qa.ask(ex.question))
    console.print("time per stage: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    console.print(f"\ndone in {report['wall_s']:.0f} s ({report['cpu_s']:.0f} s of CPU). "
                  f"report: [bold]{out / 'report.md'}[/] "
                  f"({out / 'report.json'}); routers: {out}/<head>/sft/model and "
                  f"{out}/<head>/ppo/model; PPO log: {out / head_list[0] / 'ppo'} "
                  f"(try `pathrl doctor {out / head_list[0] / 'ppo'}`)")
