"""`pathrl data build` at scale: a generated ERP-like schema (hub tables company / department /
employee, every other table with 1-3 foreign keys, no synonyms, display = key as introspection
leaves it), populated in SQLite, built with the default DatasetConfig.

    .venv/bin/python benchmarks/data_build_scale.py --tables 200 --max-hops 3
    .venv/bin/python benchmarks/data_build_scale.py --tables 12,50,200
    .venv/bin/python benchmarks/data_build_scale.py --tables 200 --source synth   # pathrl.synth

Prints one JSON object per size: tables, legal paths (by hop count), examples, seconds (schema
generation excluded), paths without examples, short paths and warnings.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import warnings
from datetime import date, timedelta
from pathlib import Path

from pathrl.data import DatasetConfig, build_dataset
from pathrl.db import SQLDatabase, write_sql
from pathrl.paths import enumerate_paths
from pathrl.schema import Schema

_DOMAINS = ("sales", "purchase", "stock", "finance", "project", "asset", "quality", "crm",
            "hr", "logistics", "production", "service", "tax", "budget", "contract", "payroll")
_NOUNS = ("order", "order_line", "invoice", "payment", "receipt", "shipment", "request",
          "quote", "return", "claim", "plan", "task", "ticket", "audit", "batch", "journal",
          "voucher", "schedule", "report", "item", "entry", "transfer", "allocation", "review")
_STATUS = ("open", "closed", "pending", "approved", "rejected", "draft")
_REGIONS = ("North", "South", "East", "West", "Central")
_FIRST = ("George", "Anna", "Li", "Maria", "Omar", "Chen", "Sara", "Ivan", "Yuki", "Lena")
_LAST = ("Novak", "Smith", "Wang", "Garcia", "Haddad", "Zhang", "Berg", "Petrov", "Sato", "Ruiz")


def erp_schema(n_tables: int, seed: int, max_hops: int = 3) -> tuple[Schema, dict]:
    """An ERP-like schema of `n_tables` tables and its rows (see module doc)."""
    rng = random.Random(seed)
    names = ["company", "department", "employee"]
    combos = [f"{d}_{n}" for d in _DOMAINS for n in _NOUNS]
    rng.shuffle(combos)
    names += combos[:max(0, n_tables - 3)]
    tables: dict[str, dict] = {}
    relations: list[dict] = []
    for i, name in enumerate(names):
        fields = {"id": {"type": "int"}, "code": {"type": "str"}, "status": {"type": "str"},
                  "region": {"type": "str"}, "amount": {"type": "float"},
                  "created_at": {"type": "date"}}
        if name == "employee":
            fields["full_name"] = {"type": "str"}
            fields["salary"] = {"type": "float"}
        if name in ("company", "department"):
            fields["name"] = {"type": "str"}
        parents: list[str] = []
        if name == "department":
            parents = ["company"]
        elif name == "employee":
            parents = ["department"]
        elif i >= 3:
            hubs = [h for h in ("company", "department", "employee") if rng.random() < 0.07]
            others = rng.sample(names[3:i], min(len(names[3:i]), rng.randint(1, 2))) if i > 3 \
                else []
            parents = list(dict.fromkeys(hubs + others))[:3] or ["company"]
        for parent in parents:
            fields[f"{parent}_id"] = {"type": "int"}
            relations.append({"from": f"{name}.{parent}_id", "to": f"{parent}.id"})
        tables[name] = {"key": "id", "display": "id", "time_field": "created_at",
                        "fields": fields}
    schema = Schema.from_dict({"name": f"erp{n_tables}", "rules": {"max_hops": max_hops},
                               "tables": tables, "relations": relations})
    rows: dict[str, list[dict]] = {}
    day0 = date(2019, 1, 1)
    for name, spec in tables.items():
        n_rows = 12 if name == "company" else 30
        out = []
        for k in range(1, n_rows + 1):
            row = {"id": k, "code": f"{name[:3].upper()}-{k:04d}",
                   "status": rng.choice(_STATUS), "region": rng.choice(_REGIONS),
                   "amount": round(rng.uniform(10, 5000), 2),
                   "created_at": day0 + timedelta(days=rng.randrange(1500))}
            if "full_name" in spec["fields"]:
                row["full_name"] = f"{rng.choice(_FIRST)} {rng.choice(_LAST)} {k}"
                row["salary"] = float(rng.randrange(3000, 12000, 100))
            if "name" in spec["fields"]:
                row["name"] = f"{name.title()} {k}"
            for f in spec["fields"]:
                if f.endswith("_id"):
                    parent = f[:-3]
                    row[f] = rng.randint(1, 12 if parent == "company" else 30)
            out.append(row)
        rows[name] = out
    return schema, rows


def run(n_tables: int, max_hops: int, seed: int, source: str = "own") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'erp.db'}"
        if source == "synth":  # the project's procedural generator (pathrl.synth)
            from pathrl.synth import generate_erp_schema, populate_sqlite

            schema = generate_erp_schema(n_tables, seed)
            if schema.rules.max_hops != max_hops:
                schema = Schema.from_dict({**schema.to_dict(), "rules": {
                    **schema.to_dict()["rules"], "max_hops": max_hops}})
            populate_sqlite(schema, url, seed)
        else:
            schema, rows = erp_schema(n_tables, seed, max_hops)
            write_sql(url, schema, rows)
        paths = enumerate_paths(schema)
        database = SQLDatabase(schema, url)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            splits = build_dataset(schema, database, DatasetConfig())
        seconds = time.perf_counter() - start
        database.close()
    report = splits.report
    hops: dict[str, int] = {}
    for p in paths:
        hops[str(p.n_hops)] = hops.get(str(p.n_hops), 0) + 1
    return {"source": source, "tables": n_tables, "max_hops": max_hops, "paths": len(paths),
            "paths_by_hops": hops, "examples": sum(len(v) for v in splits.values()),
            "seconds": round(seconds, 1),
            "paths_without_examples": report["paths_without_examples"],
            "short_paths": len(report["short_paths"]), "warnings": report["warning_count"],
            "python_warnings": [str(w.message)[:120] for w in caught][:3]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="200", help="comma-separated table counts")
    parser.add_argument("--max-hops", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source", choices=("own", "synth"), default="own",
                        help="own: the generator in this file; synth: pathrl.synth's ERP")
    args = parser.parse_args()
    for n in (int(x) for x in args.tables.split(",")):
        print(json.dumps(run(n, args.max_hops, args.seed, args.source)))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
