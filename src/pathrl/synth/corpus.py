"""Write many generated schemas with data to a folder, and measure ERP schemas at scale.

Layout written by `write_schema_set` and `write_erp_set`:

    OUT/index.json             one entry per schema (name, domain, naming, sizes, files)
    OUT/<name>/schema.yaml     the schema (`Schema.load` reads it)
    OUT/<name>/data.sqlite     its rows (`sqlite:///OUT/<name>/data.sqlite`)

Each schema folder is built under a hidden staging name and renamed into place, and index.json
is replaced in one step, so an interrupted run never leaves a half-written schema behind.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from pathrl.errors import PathrlError
from pathrl.io import atomic_write_text
from pathrl.paths import enumerate_paths
from pathrl.schema import Schema
from pathrl.synth.domains import DOMAINS
from pathrl.synth.generate import (
    MAX_TABLES,
    MIN_TABLES,
    NAMING_STYLES,
    generate_erp_schema,
    generate_schema,
)
from pathrl.synth.populate import DEFAULT_ROWS_PER_TABLE, check_row_options, populate_sqlite

INDEX_FILE = "index.json"
SCHEMA_FILE = "schema.yaml"
DATA_FILE = "data.sqlite"

Step = Callable[[str], None]  # told the name of each schema as it is written


@dataclass(frozen=True)
class SchemaPlan:
    """What one schema of a set will be; `seed` drives both its tables and its rows."""

    name: str
    domain: str
    naming: str
    n_tables: int
    seed: int


@dataclass(frozen=True)
class SynthEntry:
    """One written schema, as listed in index.json (paths relative to the output folder)."""

    name: str
    domain: str
    naming: str
    n_tables: int
    seed: int
    n_relations: int
    n_paths: int
    n_rows: int
    schema_file: str
    data_file: str


def plan_schema_set(count: int, seed: int, domains: Sequence[str] | None = None,
                    min_tables: int = MIN_TABLES, max_tables: int = MAX_TABLES,
                    namings: Sequence[str] | None = None) -> list[SchemaPlan]:
    """`count` schema plans: domains taken in turn (shuffled once), table counts and naming
    styles drawn at random, all from `seed`."""
    domains = list(domains or DOMAINS)
    namings = list(namings or NAMING_STYLES)
    if count < 1:
        raise PathrlError(f"--count must be >= 1, got {count}")
    unknown = [d for d in domains if d not in DOMAINS]
    if unknown:
        raise PathrlError(f"unknown domain(s) {', '.join(unknown)} "
                          f"(use {', '.join(DOMAINS)})")
    bad_styles = [n for n in namings if n not in NAMING_STYLES]
    if bad_styles:
        raise PathrlError(f"unknown naming style(s) {', '.join(bad_styles)} "
                          f"(use {', '.join(NAMING_STYLES)})")
    if not MIN_TABLES <= min_tables <= max_tables <= MAX_TABLES:
        raise PathrlError(f"need {MIN_TABLES} <= --min-tables <= --max-tables <= {MAX_TABLES}, "
                          f"got {min_tables} and {max_tables}")
    rng = random.Random(f"pathrl.synth.set/{seed}")
    order = sorted(dict.fromkeys(domains))
    rng.shuffle(order)
    plans = []
    for i in range(count):
        domain = order[i % len(order)]
        n_tables = min(rng.randint(min_tables, max_tables), len(DOMAINS[domain]))
        naming = rng.choice(namings)
        plans.append(SchemaPlan(f"s{i:03d}_{domain}_{naming}_{n_tables}t", domain, naming,
                                n_tables, rng.randrange(1_000_000)))
    return plans


def prepare_out(out: Path, force: bool) -> None:
    """Create `out`, refusing a non-empty folder unless `force`."""
    if out.exists() and not out.is_dir():
        raise PathrlError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise PathrlError(f"--out {out} is not empty (pass --force to write into it)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PathrlError(f"cannot create --out {out}: {exc.strerror}") from None


def _write_one(out: Path, schema: Schema, plan: SchemaPlan, rows_per_table: int,
               zh_ratio: float) -> SynthEntry:
    staging = out / f".staging-{plan.name}"
    final = out / plan.name
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        schema.save(staging / SCHEMA_FILE)
        result = populate_sqlite(schema, staging / DATA_FILE, plan.seed, rows_per_table,
                                 zh_ratio)
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return SynthEntry(plan.name, plan.domain, plan.naming, plan.n_tables, plan.seed,
                      len(schema.relations), len(enumerate_paths(schema)), result.total_rows,
                      f"{plan.name}/{SCHEMA_FILE}", f"{plan.name}/{DATA_FILE}")


def _write_index(out: Path, entries: list[SynthEntry]) -> None:
    atomic_write_text(out / INDEX_FILE, json.dumps([asdict(e) for e in entries], indent=2) + "\n")


def write_schema_set(out: Path, plans: Sequence[SchemaPlan],
                     rows_per_table: int = DEFAULT_ROWS_PER_TABLE, zh_ratio: float = 0.0,
                     force: bool = False, on_step: Step | None = None) -> list[SynthEntry]:
    """Generate, save and populate every planned schema under `out`; write index.json."""
    check_row_options(rows_per_table, zh_ratio)
    prepare_out(out, force)
    entries = []
    for plan in plans:
        if on_step:
            on_step(plan.name)
        schema = generate_schema(plan.domain, plan.n_tables, plan.seed, plan.naming,
                                 name=plan.name)
        entries.append(_write_one(out, schema, plan, rows_per_table, zh_ratio))
    _write_index(out, entries)
    return entries


def write_erp_set(out: Path, sizes: Sequence[int], seed: int,
                  rows_per_table: int = DEFAULT_ROWS_PER_TABLE, force: bool = False,
                  on_step: Step | None = None) -> list[SynthEntry]:
    """One ERP schema (with data) per size in `sizes`, under `out`; write index.json."""
    if not sizes:
        raise PathrlError("give at least one --tables size")
    check_row_options(rows_per_table, 0.0)
    schemas = [generate_erp_schema(n, seed) for n in sizes]  # validates sizes before writing
    prepare_out(out, force)
    entries = []
    for n, schema in zip(sizes, schemas, strict=True):
        plan = SchemaPlan(schema.name, "erp", "snake", n, seed)
        if on_step:
            on_step(plan.name)
        entries.append(_write_one(out, schema, plan, rows_per_table, 0.0))
    _write_index(out, entries)
    return entries


@dataclass(frozen=True)
class ErpMeasurement:
    """Size of one ERP schema's action space and how long each stage took (seconds)."""

    n_tables: int
    n_relations: int
    n_paths: int
    n_join_paths: int
    max_hops: int
    generate_s: float
    enumerate_s: float
    populate_s: float | None
    n_rows: int | None


def measure_erp(sizes: Sequence[int], seed: int = 0, max_hops: int = 3,
                rows_per_table: int | None = DEFAULT_ROWS_PER_TABLE,
                work_dir: Path | None = None, on_step: Step | None = None
                ) -> list[ErpMeasurement]:
    """Generate each ERP size, enumerate its legal paths at `max_hops` and (unless
    `rows_per_table` is None) populate a SQLite file in `work_dir`, timing each stage."""
    import tempfile

    out = []
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        for n in sizes:
            if on_step:
                on_step(f"erp {n}")
            start = time.perf_counter()
            schema = generate_erp_schema(n, seed)
            generated = time.perf_counter()
            paths = enumerate_paths(schema, max_hops)
            enumerated = time.perf_counter()
            populate_s = n_rows = None
            if rows_per_table is not None:
                result = populate_sqlite(schema, Path(tmp) / f"erp_{n}.sqlite", seed,
                                         rows_per_table)
                populate_s, n_rows = time.perf_counter() - enumerated, result.total_rows
            out.append(ErpMeasurement(
                n, len(schema.relations), len(paths), sum(1 for p in paths if p.hops),
                max_hops, round(generated - start, 3), round(enumerated - generated, 3),
                None if populate_s is None else round(populate_s, 3), n_rows))
    return out
