"""`pathrl schema ...`, `pathrl query` and `pathrl db init`: the schema graph from the terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from pathrl.errors import PathrlError

console = Console()

SchemaOpt = Annotated[Path | None, typer.Option(
    "--schema", "-s", help="Schema YAML/JSON (default: the embedded 12-table demo).")]
BackendOpt = Annotated[str, typer.Option(
    "--backend", "-b", help="sqlite | postgres | mongo.")]
DbOpt = Annotated[str | None, typer.Option(
    "--db", help="Database URL (sqlite:///f.db, postgresql+psycopg://u@h/db, mongodb://h, "
                 "mongomock://). Default with the demo schema: the embedded demo data.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the demo data.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]

schema_app = typer.Typer(help="Inspect a schema: tables, legal paths, graph, probe queries.",
                         no_args_is_help=True)


def load_schema(path: Path | None):
    """The user's schema, or the demo one (then the demo data backs the default database)."""
    from pathrl.demo import demo_schema
    from pathrl.schema import Schema

    return demo_schema() if path is None else Schema.load(path)


def open_db(schema_path: Path | None, backend: str, db: str | None, seed: int):
    from pathrl.db import open_database

    schema = load_schema(schema_path)
    if db is None and schema_path is not None and backend != "mongo":
        raise PathrlError("a custom --schema needs --db pointing at its database")
    demo_seed = seed if schema_path is None else None
    return schema, open_database(schema, backend, db, demo_seed=demo_seed)


@schema_app.command("show")
def show(schema: SchemaOpt = None, as_json: JsonOpt = False) -> None:
    """Summary table of tables, keys, display fields and relations."""
    from pathrl.paths import enumerate_paths
    from pathrl.schema import disconnected_tables

    sch = load_schema(schema)
    paths = enumerate_paths(sch)
    if as_json:
        print(json.dumps(sch.to_dict(), ensure_ascii=False, indent=2))
        return
    table = RichTable(title=f"schema {sch.name}: {len(sch.tables)} tables, "
                            f"{len(sch.relations)} relations, {len(paths)} legal paths")
    for col in ("table", "key", "display", "time field", "role", "synonyms", "fields"):
        table.add_column(col)
    for t in sch.tables:
        role = "/".join(r for r, on in (("anchor", t.anchor), ("target", t.target)) if on) or "-"
        table.add_row(t.name, t.key, t.display, t.time_field or "-", role,
                      ", ".join((*t.synonyms_en[:2], *t.synonyms_zh[:2])), str(len(t.fields)))
    console.print(table)
    rel = RichTable(title="relations (foreign keys)")
    rel.add_column("from")
    rel.add_column("to")
    rel.add_column("cardinality")
    for r in sch.relations:
        rel.add_row(f"{r.from_table}.{r.from_field}", f"{r.to_table}.{r.to_field}", r.cardinality)
    console.print(rel)
    lonely = disconnected_tables(sch)
    if lonely:
        console.print(f"[yellow]disconnected tables (no relation):[/] {', '.join(lonely)}")


@schema_app.command("paths")
def paths_cmd(schema: SchemaOpt = None, as_json: JsonOpt = False,
              max_hops: Annotated[int | None, typer.Option(
                  help="Override the schema's rules.max_hops.")] = None,
              max_paths: Annotated[int | None, typer.Option(
                  help="Override the schema's rules.max_paths (cap on the paths explored, "
                       "default 200,000).")] = None) -> None:
    """The enumerated legal paths: the Router's action space."""
    from pathrl.paths import PathVocab, enumerate_paths

    sch = load_schema(schema)
    paths = enumerate_paths(sch, max_hops, max_paths)
    if as_json:
        print(json.dumps([p.to_dict() for p in paths], ensure_ascii=False, indent=2))
        return
    table = RichTable(title=f"{len(paths)} legal paths in {sch.name}")
    for col in ("id", "anchor", "via", "target", "hops", "joins"):
        table.add_column(col)
    for p in paths:
        joins = "; ".join(f"{h.src_table}.{h.src_field}={h.dst_table}.{h.dst_field}"
                          for h in p.hops)
        table.add_row(p.id, p.anchor, PathVocab.via_label(p.via), p.target, str(p.n_hops), joins)
    console.print(table)


@schema_app.command("draw")
def draw(out: Annotated[Path, typer.Option(
             "--out", "-o", help="PNG to write (a directory: DIR/schema.png).")] = Path(
             "schema.png"), schema: SchemaOpt = None,
         force: Annotated[bool, typer.Option(help="Overwrite an existing PNG.")] = False
         ) -> None:
    """A PNG of the schema graph; each table shows how many legal paths pass through it."""
    from pathrl.plots import draw_schema

    if out.is_dir():
        out = out / "schema.png"
    if out.suffix.lower() != ".png":
        raise PathrlError(f"--out {out}: expected a .png file (or a directory)")
    if out.exists() and not force:
        raise PathrlError(f"{out} exists (pass --force to overwrite it)")
    sch = load_schema(schema)
    written = draw_schema(sch, out)
    console.print(f"wrote [bold]{escape(str(written))}[/]")


@schema_app.command("check")
def check(schema: SchemaOpt = None, backend: BackendOpt = "sqlite", db: DbOpt = None,
          seed: SeedOpt = 7, as_json: JsonOpt = False) -> None:
    """Probe every legal path on the database: rows / empty / error per path.

    With no entity the probe asks for every target row reachable along the path, so `empty`
    means no data links those tables at all (a broken FK or an empty table)."""
    from rich.progress import track

    from pathrl.paths import enumerate_paths
    from pathrl.schema import disconnected_tables

    sch, database = open_db(schema, backend, db, seed)
    paths = enumerate_paths(sch)
    results = []
    for p in track(paths, description="probing paths", console=Console(stderr=True),
                   disable=as_json):
        r = database.run_path(p)
        results.append({"id": p.id, "anchor": p.anchor, "via": list(p.via), "target": p.target,
                        "rows": r.count, "status": r.status, "error": r.error,
                        "elapsed_ms": round(r.elapsed_ms, 2)})
    database.close()
    if as_json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
        _fail_if_all_errors(results)
        return
    table = RichTable(title=f"probe of {len(paths)} legal paths on {database.backend}")
    for col in ("id", "rows", "status", "ms"):
        table.add_column(col)
    colour = {"ok": "green", "empty": "yellow", "error": "red"}
    for r in results:
        table.add_row(r["id"], str(r["rows"]), f"[{colour[r['status']]}]{r['status']}[/]"
                      + (f" {r['error']}" if r["error"] else ""), str(r["elapsed_ms"]))
    console.print(table)
    lonely = disconnected_tables(sch)
    if lonely:
        console.print(f"[yellow]disconnected tables (no relation):[/] {', '.join(lonely)}")
    bad = sum(r["status"] != "ok" for r in results)
    console.print(f"{len(results) - bad}/{len(results)} paths return rows")
    _fail_if_all_errors(results)


def _fail_if_all_errors(results: list[dict]) -> None:
    """Every probe failing means the database is not the schema's (or not usable): exit
    non-zero with the first error instead of a table of red rows and exit code 0."""
    if results and all(r["status"] == "error" for r in results):
        raise PathrlError(f"all {len(results)} probes failed on the database; first error: "
                          f"{results[0]['error']}")


@schema_app.command("import")
def import_cmd(
    source: Annotated[str, typer.Argument(
        help="sqlite:///f.db (or a SQLite file), postgresql+psycopg://user@host/db, "
             "mongodb://host/db, or a Spider-style tables.json.", metavar="URL_OR_FILE",
        show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Schema YAML/JSON to write.")],
    name: Annotated[str | None, typer.Option(
        help="Schema name (default: the database's name).")] = None,
    max_hops: Annotated[int, typer.Option(help="rules.max_hops of the schema.")] = 3,
    db_id: Annotated[str | None, typer.Option(
        "--db-id", help="Which database of a tables.json.")] = None,
    values_db: Annotated[str | None, typer.Option(
        "--db", help="With a tables.json: its SQLite database, read for types and display "
                     "values.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing --out file.")] = False,
) -> None:
    """Draft a schema file from your database: tables, keys, foreign keys, types, and inferred
    display fields, time fields and synonyms. Review it, then use it with --schema."""
    from pathrl.paths import enumerate_paths
    from pathrl.schema_import import check_out, import_schema, write_schema

    check_out(out, force)  # before reading a large database for nothing
    result = import_schema(source, name=name, max_hops=max_hops, db_id=db_id,
                           values_db=values_db)
    sch = result.schema
    write_schema(sch, out, force)
    table = RichTable(title=f"imported {sch.name} from {result.source}: {len(sch.tables)} "
                            f"tables, {len(sch.relations)} relations, "
                            f"{len(enumerate_paths(sch))} legal paths")
    for col in ("table", "key", "display", "time field", "role", "synonyms"):
        table.add_column(col)
    for t in sch.tables:
        role = "/".join(r for r, on in (("anchor", t.anchor), ("target", t.target)) if on)
        table.add_row(t.name, t.key, t.display, t.time_field or "-", role or "bridge",
                      ", ".join(t.synonyms_en))
    console.print(table)
    for warning in result.warnings:
        console.print(f"[yellow]note:[/] {escape(warning)}")
    console.print(f"wrote [bold]{escape(str(out))}[/] (review it: rules, synonyms, "
                  "anchor/target flags)")


def query(
    anchor: Annotated[str, typer.Option(help="Table the question starts from.")],
    target: Annotated[str, typer.Option(help="Table whose rows are returned.")],
    via: Annotated[list[str] | None, typer.Option(
        help="Intermediate table, in order; repeat the option or give 'a,b'.")] = None,
    entity: Annotated[str | None, typer.Option(
        help="Value of the anchor's display field, e.g. a project name.")] = None,
    date_from: Annotated[str | None, typer.Option(help="Target time field >= YYYY-MM-DD.")] = None,
    date_to: Annotated[str | None, typer.Option(help="Target time field <= YYYY-MM-DD.")] = None,
    direct: Annotated[bool, typer.Option(
        help="Also run the bridge-skipping 'direct' query an unguided LLM writes.")] = False,
    limit: Annotated[int, typer.Option(help="Rows to print.", min=0)] = 20,
    schema: SchemaOpt = None, backend: BackendOpt = "sqlite", db: DbOpt = None,
    seed: SeedOpt = 7, as_json: JsonOpt = False,
) -> None:
    """Generate the query for a route (anchor, via, target) and run it."""
    from pathrl.paths import PathVocab
    from pathrl.query import Filter, bridge_skipping_hops

    sch, database = open_db(schema, backend, db, seed)
    vias = tuple(v.strip() for item in (via or []) for v in item.split(",") if v.strip())
    path = PathVocab.from_schema(sch).path(anchor, target, vias)
    flt = Filter(entity=entity, date_from=date_from, date_to=date_to)
    result = database.run_path(path, flt)
    out = result.to_dict(max_rows=limit)
    out["path"] = path.id
    if direct:
        skipped = database.execute_hops(bridge_skipping_hops(path), anchor, flt)
        out["direct"] = skipped.to_dict(max_rows=limit)
    database.close()
    if as_json:
        print(json.dumps(out, ensure_ascii=False, indent=2, default=str))
    else:
        _print_result(f"routed query along {path.id}", out)
        if direct:
            _print_result("direct query (skips the bridge tables)", out["direct"])
    if result.status == "error":
        raise PathrlError(f"the query along {path.id} failed: {result.error}")


def _print_result(title: str, res: dict) -> None:
    from rich.panel import Panel
    from rich.syntax import Syntax

    lang = "sql" if not res["query"].startswith("db.") else "javascript"
    console.print(Panel(Syntax(res["query"], lang, word_wrap=True), title=title))
    colour = {"ok": "green", "empty": "yellow", "error": "red"}[res["status"]]
    console.print(f"status [{colour}]{res['status']}[/], {res['count']} rows, "
                  f"{res['elapsed_ms']} ms" + (f", error: {res['error']}" if res["error"] else ""))
    if res["rows"]:
        table = RichTable()
        for col in res["rows"][0]:
            table.add_column(col)
        for row in res["rows"]:
            table.add_row(*(str(v) for v in row.values()))
        console.print(table)


db_app = typer.Typer(help="Create the demo database on a backend.", no_args_is_help=True)


@db_app.command("init")
def db_init(backend: BackendOpt = "sqlite", db: DbOpt = None, seed: SeedOpt = 7) -> None:
    """Write the demo rows to SQLite (default file), PostgreSQL or MongoDB (replaces tables)."""
    from pathrl.db import open_database
    from pathrl.demo import demo_rows, demo_schema

    schema = demo_schema()
    if backend == "sqlite" and db is None:
        database = open_database(schema, "sqlite", None, demo_seed=seed)
        console.print(f"demo SQLite database: [bold]{database.url}[/]")
        return
    if db is None:
        raise PathrlError(f"--db is required for backend {backend}")
    database = open_database(schema, backend, db, create=True)
    rows = demo_rows(seed)
    database.write(rows)
    database.close()
    console.print(f"wrote {sum(map(len, rows.values()))} rows in {len(rows)} tables to {db}")
