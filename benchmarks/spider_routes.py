"""Cross-database check on Spider train databases: schema -> synthetic data -> SFT router ->
route the real questions, scored against the labels of benchmarks/spider_labels.py. JSON.

    .venv/bin/python benchmarks/spider_routes.py --spider /path/to/spider --out runs/spider \
        --db aircraft
    .venv/bin/python benchmarks/spider_routes.py --spider /path/to/spider --out runs/spider

Without --db every database chosen by spider_labels' rule is run. Per database, under
RUN_DIR/<db_id>/, four stages, each skipped when its output exists (`--force` redoes them,
`--stage` runs only some):

1. schema: `schema.yaml` from tables.json (+ the SQLite file for types and display fields),
   through `pathrl.schema_import.import_spider` when that module is there, else the small
   converter `convert_spider_schema` below;
2. data: `data/` by `pathrl data build` on the SQLite file (English only: Spider has no Chinese
   names; `--per-path` examples per legal path);
3. train: `sft/model` by `pathrl train sft` (`--epochs`, short by default: 2 CPU cores);
   with `--ppo-updates N`, then `ppo/model` by `pathrl train ppo --updates N` from it (fresh
   generated prompts, weighted by the SFT router's mistakes), and the PPO router is scored;
4. score: `score.json`, the router's routes for the database's train questions against the
   derived labels: exact match, table-set match, anchor/target/via accuracy, by hops. Questions
   whose label is unroutable, or names a route that is not legal in the imported schema (a
   bridge table as anchor, say), are counted, not scored.

Train split only: dev.json and dev-only databases are never read.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import spider_labels
from pathrl.errors import PathrlError
from pathrl.paths import PathVocab, Triple
from pathrl.schema import Schema
from realistic_demo import load_predictor, route_text, score, score_by

STAGES = ("schema", "data", "train", "score")
_SPIDER_TYPES = {"number": "float", "boolean": "bool"}  # text, time, others -> str


@dataclass(frozen=True)
class RunConfig:
    spider: Path
    out: Path
    per_path: float = 8.0
    epochs: int = 4
    seed: int = 7
    force: bool = False
    head: str = "scorer"
    general: Path | None = None  # score this saved (general) router instead of training one
    init: Path | None = None  # fine-tune this saved path scorer per database
    link_prior: float = 0.0  # `pathrl train sft --link-prior`
    coverage_prior: float | None = None  # `pathrl train sft --coverage-prior`
    ppo_updates: int = 0  # > 0: `pathrl train ppo --updates N` after SFT; the PPO router is scored

    @property
    def stage(self) -> str:
        """The trained router's folder under RUN_DIR/<db_id>/ (and its score file's name)."""
        return "ppo" if self.ppo_updates else "sft"


def _pathrl(*args: str) -> None:
    """Run a pathrl CLI command of this venv; its own one-line error on failure."""
    cmd = [str(Path(sys.executable).with_name("pathrl")), *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise PathrlError(f"`pathrl {' '.join(args[:2])}` failed: {' | '.join(tail)}")


# -- stage 1: schema --------------------------------------------------------------------------

def convert_spider_schema(entry: dict) -> Schema:
    """A pathrl schema from one tables.json entry (fallback when `pathrl.schema_import` is not
    available): lower-case names, Spider's coarse types, the first primary-key column as key,
    the first other text column as display, foreign keys as many-to-one relations (self loops
    and columns that are not plain identifiers dropped), every table anchor and target. Numeric
    key and foreign-key columns are `int` (ids), other numbers `float`."""
    import re

    plain = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
    names = [t.lower() for t in entry["table_names_original"]]
    key_columns = {i for pair in entry["foreign_keys"] for i in pair} | {
        i for key in entry["primary_keys"] for i in (key if isinstance(key, list) else [key])}
    columns: list[tuple[str, str, str]] = []  # (table, column, type) by column index
    tables: dict[str, dict] = {t: {"fields": {}} for t in names}
    for i, ((index, column), ctype) in enumerate(zip(entry["column_names_original"],
                                                     entry["column_types"], strict=True)):
        table = names[index] if index >= 0 else ""
        ftype = "int" if ctype == "number" and i in key_columns else _SPIDER_TYPES.get(ctype,
                                                                                      "str")
        columns.append((table, column.lower(), ftype))
        if table and plain.match(column):
            tables[table]["fields"][column.lower()] = {"type": columns[-1][2]}
    for key in entry["primary_keys"]:
        first = key[0] if isinstance(key, list) else key
        table, column, _ = columns[first]
        if column in tables[table]["fields"]:
            tables[table].setdefault("key", column)
    for table, spec in tables.items():
        fields = spec["fields"]
        spec.setdefault("key", next(iter(fields)))
        text = [f for f, s in fields.items() if s["type"] == "str" and f != spec["key"]]
        spec["display"] = text[0] if text else spec["key"]
        spec["synonyms"] = {"en": [table.replace("_", " ")]}
    relations = []
    for child, parent in entry["foreign_keys"]:
        (c_table, c_col, _), (p_table, p_col, _) = columns[child], columns[parent]
        if c_table == p_table or c_col not in tables[c_table]["fields"] or (
                p_col not in tables[p_table]["fields"]):
            continue
        relation = {"from": f"{c_table}.{c_col}", "to": f"{p_table}.{p_col}"}
        if relation not in relations:
            relations.append(relation)
    return Schema.from_dict({"name": entry["db_id"], "tables": tables, "relations": relations,
                             "rules": {"max_hops": spider_labels.MAX_HOPS}},
                            source=f"tables.json:{entry['db_id']}")


def build_schema(cfg: RunConfig, db_id: str) -> tuple[Path, str]:
    """(schema file, which converter made it)."""
    out = cfg.out / db_id / "schema.yaml"
    if out.is_file() and not cfg.force:
        return out, "existing"
    sqlite = spider_labels.sqlite_file(cfg.spider, db_id)
    try:
        from pathrl.schema_import import import_spider
    except ImportError:
        import_spider = None
    out.parent.mkdir(parents=True, exist_ok=True)
    if import_spider is not None:
        schema = import_spider(cfg.spider / "tables.json", db_id, values_db=str(sqlite)).schema
        how = "pathrl.schema_import"
    else:
        entries = json.loads((cfg.spider / "tables.json").read_text(encoding="utf-8"))
        entry = next((e for e in entries if e["db_id"] == db_id), None)
        if entry is None:
            raise PathrlError(f"db_id '{db_id}' is not in tables.json")
        schema = convert_spider_schema(entry)
        how = "benchmark converter"
    schema.save(out)
    return out, how


# -- stages 2 and 3: data, training -----------------------------------------------------------

def build_data(cfg: RunConfig, db_id: str, schema_file: Path) -> Path:
    out = cfg.out / db_id / "data"
    if (out / "train.jsonl").is_file() and not cfg.force:
        return out
    sqlite = spider_labels.sqlite_file(cfg.spider, db_id).resolve()
    _pathrl("data", "build", "--schema", str(schema_file), "--db", f"sqlite:///{sqlite}",
            "--out", str(out), "--languages", "en", "--per-path", str(cfg.per_path),
            "--seed", str(cfg.seed), "--force")
    return out


def train_router(cfg: RunConfig, db_id: str, schema_file: Path, data: Path) -> Path:
    out = cfg.out / db_id / "sft"
    sqlite = spider_labels.sqlite_file(cfg.spider, db_id).resolve()
    if not (out / "model").is_dir() or cfg.force:
        _sft(cfg, out, data, schema_file, sqlite)
    if not cfg.ppo_updates:
        return out / "model"
    ppo = cfg.out / db_id / "ppo"
    if not (ppo / "model").is_dir() or cfg.force:
        _pathrl("train", "ppo", "--data", str(data), "--sft", str(out / "model"), "--out",
                str(ppo), "--schema", str(schema_file), "--db", f"sqlite:///{sqlite}",
                "--updates", str(cfg.ppo_updates), "--seed", str(cfg.seed), "--force")
    return ppo / "model"


def _sft(cfg: RunConfig, out: Path, data: Path, schema_file: Path, sqlite: Path) -> None:
    _pathrl("train", "sft", "--data", str(data), "--out", str(out), "--schema",
            str(schema_file), "--db", f"sqlite:///{sqlite}", "--epochs", str(cfg.epochs),
            "--head", cfg.head, *(["--init", str(cfg.init)] if cfg.init else []),
            *(["--link-prior", str(cfg.link_prior)] if cfg.link_prior else []),
            *(["--coverage-prior", str(cfg.coverage_prior)]
              if cfg.coverage_prior is not None else []), "--force")


# -- stage 4: scoring -------------------------------------------------------------------------

def _in_schema(label: spider_labels.LabelledSpiderQuestion, names: dict[str, str]
               ) -> Triple | None:
    """The label with the schema's table spelling, or None when a table is missing."""
    try:
        return (names[label.anchor], names[label.target],
                tuple(names[t] for t in label.via))
    except KeyError:
        return None


def score_database(cfg: RunConfig, db_id: str, schema_file: Path, model: Path,
                   labelled: Sequence[spider_labels.LabelledSpiderQuestion]) -> dict:
    schema = Schema.load(schema_file)
    vocab = PathVocab.from_schema(schema)
    names = {t.lower(): t for t in schema.table_names}
    rows = [q for q in labelled if q.db_id == db_id]
    routable = [q for q in rows if not q.unroutable]
    legal: list[tuple[spider_labels.LabelledSpiderQuestion, Triple]] = []
    not_legal = Counter()
    for q in routable:
        triple = _in_schema(q, names)
        if triple is None:
            not_legal["table not in the imported schema"] += 1
        elif not vocab.is_legal(*triple):
            not_legal["route not legal in the imported schema"] += 1
        else:
            legal.append((q, triple))
    from pathrl.db import open_database

    sqlite = spider_labels.sqlite_file(cfg.spider, db_id).resolve()
    database = open_database(schema, "sqlite", f"sqlite:///{sqlite}")
    predict = load_predictor(model, schema, database)
    started = time.perf_counter()
    predicted = predict([q.question for q, _ in legal]) if legal else []
    gold = [t for _, t in legal]
    report = {
        "db_id": db_id, "questions": len(rows), "routable": len(routable),
        "scored": len(legal), "not_scored": dict(not_legal),
        "single_table_share": round(sum(q.hops == 0 for q, _ in legal) / len(legal), 3)
        if legal else 0.0,
        "legal_paths": len(vocab.paths),
        "scores": asdict(score(gold, predicted)),
        "by_hops": {k: asdict(v) for k, v in
                    score_by([q.hops for q, _ in legal], gold, predicted).items()},
        "route_s": round(time.perf_counter() - started, 2),
    }
    errors = [{"index": q.index, "question": q.question, "sql": q.sql,
               "gold": route_text(t), "predicted": route_text(p)}
              for (q, t), p in zip(legal, predicted, strict=True)
              if p is None or (p[0], p[1], tuple(p[2])) != t]
    out = cfg.out / db_id / ("score.json" if cfg.stage == "sft" else f"score_{cfg.stage}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**report, "errors": errors}, indent=2) + "\n", encoding="utf-8")
    return report


def run_database(cfg: RunConfig, db_id: str, stages: Sequence[str],
                 labelled: Sequence[spider_labels.LabelledSpiderQuestion]) -> dict:
    timings: dict[str, float] = {}

    def timed(stage: str, fn, *args):
        started = time.perf_counter()
        result = fn(*args)
        timings[stage] = round(time.perf_counter() - started, 1)
        return result

    result: dict = {"db_id": db_id}
    if "schema" in stages:
        schema_file, result["schema"] = timed("schema", build_schema, cfg, db_id)
    else:
        schema_file, result["schema"] = cfg.out / db_id / "schema.yaml", "existing"
        if not schema_file.is_file():
            raise PathrlError(f"no {schema_file}: run the schema stage first")
    if "data" in stages or "train" in stages or "score" in stages:
        data = cfg.out / db_id / "data"
        if "data" in stages and cfg.general is None:
            data = timed("data", build_data, cfg, db_id, schema_file)
        model = cfg.general or cfg.out / db_id / cfg.stage / "model"
        if "train" in stages and cfg.general is None:
            model = timed("train", train_router, cfg, db_id, schema_file, data)
        if "score" in stages:
            result.update(timed("score", score_database, cfg, db_id, schema_file, model,
                                labelled))
    result["stage_s"] = timings
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spider", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="Run directory.")
    parser.add_argument("--db", action="append", help="db_id to run (repeat); default: all "
                        "databases chosen by spider_labels' rule.")
    parser.add_argument("--n-databases", type=int, default=8)
    parser.add_argument("--stage", action="append", choices=STAGES,
                        help="Run only these stages (repeat); default: all.")
    parser.add_argument("--per-path", type=float, default=RunConfig.per_path)
    parser.add_argument("--epochs", type=int, default=RunConfig.epochs)
    parser.add_argument("--seed", type=int, default=RunConfig.seed)
    parser.add_argument("--force", action="store_true", help="Redo stages whose output exists.")
    parser.add_argument("--head", default="scorer", choices=("scorer", "factored"),
                        help="Router trained per database.")
    parser.add_argument("--general", type=Path, default=None,
                        help="Score this saved router (e.g. a general router trained on other "
                             "schemas) on every database instead of training one per database.")
    parser.add_argument("--init", type=Path, default=None,
                        help="Fine-tune this saved path scorer (e.g. a general router) on each "
                             "database's synthetic questions instead of training from scratch.")
    parser.add_argument("--link-prior", type=float, default=RunConfig.link_prior,
                        help="Passed to `pathrl train sft --link-prior` (path scorer).")
    parser.add_argument("--coverage-prior", type=float, default=RunConfig.coverage_prior,
                        help="Passed to `pathrl train sft --coverage-prior` (path scorer).")
    parser.add_argument("--ppo-updates", type=int, default=0,
                        help="After SFT, PPO for N updates (`pathrl train ppo`); the PPO router "
                             "is scored (score_ppo.json). 0: SFT only.")
    args = parser.parse_args(argv)
    cfg = RunConfig(args.spider, args.out, args.per_path, args.epochs, args.seed, args.force,
                    args.head, args.general, args.init, args.link_prior, args.coverage_prior,
                    args.ppo_updates)
    stages = args.stage or list(STAGES)
    try:
        tables = spider_labels.load_tables(args.spider)
        questions = spider_labels.load_train_questions(args.spider)
        chosen = spider_labels.select_databases(args.spider, tables, questions,
                                                args.n_databases)
        db_ids = args.db or chosen
        for db_id in db_ids:
            if db_id not in tables or not spider_labels.sqlite_file(args.spider, db_id).is_file():
                raise PathrlError(f"no train database '{db_id}' (tables.json entry and "
                                  "database/<db_id>/<db_id>.sqlite) under --spider")
        labelled = spider_labels.label_questions(questions, tables, db_ids)
        results = [run_database(cfg, db_id, stages, labelled) for db_id in db_ids]
    except PathrlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"databases": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
