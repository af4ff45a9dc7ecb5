"""Rebuild Spider train databases as SQLite files from SpiderMan's CSV release, for the
benchmarks that need `database/<db_id>/<db_id>.sqlite` when the Spider release's own files are
not at hand.

    .venv/bin/python benchmarks/spider_sqlite.py --spider /path/to/spider \
        --spiderman /path/to/spiderman/databases --db aircraft --db college_2

SpiderMan (github.com/cloudera/spiderman) ships each Spider database as a MySQL `schema.sql`
plus one CSV per table (`data/<table>.csv`, header row). Its schemas were "standardised", so
the tables and columns written here are Spider's own, from `tables.json` (original names,
primary and foreign keys); SpiderMan gives only the rows and the declared column types
(`VARCHAR(50)`, `DATETIME`, ... matched by column name, case-insensitively; a column it does not
declare gets a type from tables.json's: number -> NUMERIC, time -> DATETIME, others -> TEXT).
A CSV column is matched to a Spider column by name, case-insensitively; a Spider column no CSV
holds stays NULL, and is reported. Foreign keys are declared; primary keys are not (tables.json
names one column where the data has a composite key, e.g. college_2's takes, and pathrl reads
keys from tables.json anyway), so every CSV row is kept.

Only train databases are built: a db_id that is not in train_gold.sql (a dev database) is
refused, so nothing of Spider's dev split is read. Prints JSON: per database, tables, rows and
the columns left NULL.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from pathrl.errors import PathrlError

_SPIDER_TYPES = {"number": "NUMERIC", "time": "DATETIME", "boolean": "BOOLEAN"}
_DECLARED = re.compile(r"^\s*`([^`]+)`\s+([A-Za-z]+(?:\s*\([^)]*\))?)", re.MULTILINE)
_NUMERIC_WORDS = ("INT", "REAL", "NUM", "DEC", "FLOA", "DOUB")
csv.field_size_limit(10**8)


def train_db_ids(spider_dir: Path) -> set[str]:
    gold = spider_dir / "train_gold.sql"
    if not gold.is_file():
        raise PathrlError(f"no train_gold.sql in {spider_dir}: cannot tell train databases")
    return {line.rpartition("\t")[2].strip()
            for line in gold.read_text(encoding="utf-8").splitlines() if "\t" in line}


def declared_types(schema_sql: Path) -> dict[str, str]:
    """Column name (lower-case) -> SQL type, from SpiderMan's MySQL DDL (all tables)."""
    if not schema_sql.is_file():
        return {}
    return {name.lower(): kind.upper()
            for name, kind in _DECLARED.findall(schema_sql.read_text(encoding="utf-8"))}


def _convert(value: str, sql_type: str):
    if value == "" or value.upper() == "NULL":
        return None
    if any(word in sql_type for word in _NUMERIC_WORDS):
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() and "." not in value else number
    return value


def build_database(entry: dict, source: Path, out_file: Path) -> dict:
    """Write one Spider database (tables.json `entry`) from SpiderMan's `source` directory."""
    tables = entry["table_names_original"]
    columns: list[list[tuple[str, str]]] = [[] for _ in tables]
    types = declared_types(source / "schema.sql")
    for (table_index, name), spider_type in zip(entry["column_names_original"][1:],
                                                entry["column_types"][1:], strict=True):
        sql_type = types.get(name.lower(), _SPIDER_TYPES.get(spider_type, "TEXT"))
        columns[table_index].append((name, sql_type))
    names = entry["column_names_original"]
    references: dict[int, list[str]] = {}
    for child, parent in entry["foreign_keys"]:
        child_table, child_column = names[child]
        parent_table, parent_column = names[parent]
        references.setdefault(child_table, []).append(
            f'FOREIGN KEY ("{child_column}") REFERENCES "{tables[parent_table]}" '
            f'("{parent_column}")')
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    report: dict = {"tables": len(tables), "rows": 0, "null_columns": []}
    with sqlite3.connect(tmp) as con:
        for t, table in enumerate(tables):
            if table.lower().startswith("sqlite_"):  # SQLite's own bookkeeping, not data
                continue
            parts = [f'"{c}" {k}' for c, k in columns[t]]
            parts.extend(references.get(t, []))
            con.execute(f'CREATE TABLE "{table}" ({", ".join(parts)})')
            csv_file = next((p for p in (source / "data").glob("*.csv")
                             if p.stem.lower() == table.lower()), None)
            if csv_file is None:
                report["null_columns"].append(f"{table}.* (no CSV)")
                continue
            with csv_file.open(encoding="utf-8", newline="") as handle:
                reader = csv.reader(handle)
                header = [h.strip().lower() for h in next(reader, [])]
                where = {h: i for i, h in enumerate(header)}
                picks = [(where.get(c.lower()), k) for c, k in columns[t]]
                report["null_columns"].extend(f"{table}.{c}" for (c, _), (i, _) in
                                              zip(columns[t], picks, strict=True) if i is None)
                marks = ", ".join("?" for _ in picks)
                for row in reader:
                    values = [None if i is None or i >= len(row) else _convert(row[i], k)
                              for i, k in picks]
                    con.execute(f'INSERT INTO "{table}" VALUES ({marks})', values)
                    report["rows"] += 1
    tmp.replace(out_file)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spider", type=Path, required=True,
                        help="Directory with tables.json and train_gold.sql; the SQLite files "
                        "are written under its database/.")
    parser.add_argument("--spiderman", type=Path, required=True,
                        help="SpiderMan's dataset_mysql/databases directory.")
    parser.add_argument("--db", action="append",
                        help="db_id to build (repeat); default: every train database "
                        "SpiderMan has.")
    parser.add_argument("--force", action="store_true", help="Rebuild existing files.")
    args = parser.parse_args(argv)
    try:
        entries = {e["db_id"]: e for e in
                   json.loads((args.spider / "tables.json").read_text(encoding="utf-8"))}
        if not args.spiderman.is_dir():
            raise PathrlError(f"--spiderman {args.spiderman} is not a directory (SpiderMan's "
                              "dataset_mysql/databases)")
        train = train_db_ids(args.spider)
        wanted = args.db or sorted(db for db in train if (args.spiderman / db).is_dir())
        refused = [db for db in wanted if db not in train or db not in entries]
        if refused:
            raise PathrlError(f"not a Spider train database: {', '.join(refused)}")
        out = {}
        for db in wanted:
            target = args.spider / "database" / db / f"{db}.sqlite"
            if target.is_file() and not args.force:
                out[db] = "exists (use --force to rebuild)"
                continue
            if not (args.spiderman / db).is_dir():
                out[db] = "not in SpiderMan"
                continue
            out[db] = build_database(entries[db], args.spiderman / db, target)
    except (PathrlError, OSError, sqlite3.Error, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
