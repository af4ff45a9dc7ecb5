"""Route labels derived from Spider train questions' gold SQL, for a rule-chosen set of train
databases. Prints JSON counts per database; `--out FILE` writes the labels as JSONL.

    .venv/bin/python benchmarks/spider_labels.py --spider /path/to/spider --out labels.jsonl

Train split only: the dev split (dev.json and its databases) is never read. Database choice
(`select_databases`): Spider train_spider db_ids in alphabetical order that have >= 3 tables,
>= 2 foreign keys in tables.json, >= 40 train questions and their SQLite file; the first
`--n-databases` (default 8) of them.

Derivation (`derive_label`, the convention of docs/benchmarks.md): the route's tables are the
FROM/JOIN tables, which must form a simple chain along tables.json's foreign keys; the chain's
two ends are the anchor and the target and the tables between them the via. The target is the
end holding the selected columns (for COUNT(*) with GROUP BY: the counted end, i.e. not the
grouping one); the anchor is the other end, normally where the WHERE / GROUP BY / ORDER BY /
HAVING condition lives. One table: anchor = target. Kept but marked `unroutable` (with the
reason): set operations, subqueries over other tables, self joins, tables that are not a
foreign-key chain (stars, missing keys), chains over `MAX_HOPS`, selections only inside the
chain, unparseable SQL.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise, permutations
from pathlib import Path

from pathrl.errors import PathrlError

MAX_HOPS = 3
MIN_TABLES, MIN_FOREIGN_KEYS, MIN_QUESTIONS = 3, 2, 40
# Spider's train_others.json: questions on databases of older datasets. train_gold.sql holds
# them interleaved with train_spider's; dropping them leaves train_spider.json's 7,000 in order.
TRAIN_OTHERS_DBS = frozenset({"academic", "geo", "imdb", "restaurants", "scholar", "yelp"})
TRAIN_SPIDER_SIZE = 7000

ForeignKey = tuple[str, str, str, str]  # (child table, child column, parent table, parent column)


@dataclass(frozen=True)
class SpiderDb:
    """One database of tables.json: table -> column names (lower case), and foreign keys."""

    db_id: str
    tables: dict[str, tuple[str, ...]]
    foreign_keys: tuple[ForeignKey, ...]
    primary_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class SpiderQuestion:
    index: int  # position in train_spider.json
    db_id: str
    question: str
    sql: str


@dataclass(frozen=True)
class SpiderLabel:
    anchor: str = ""
    via: tuple[str, ...] = ()
    target: str = ""
    unroutable: str = ""  # empty when routable, else the reason

    @property
    def hops(self) -> int:
        if self.unroutable:
            return -1
        return 0 if self.anchor == self.target and not self.via else len(self.via) + 1

    @property
    def triple(self) -> tuple[str, str, tuple[str, ...]]:
        return (self.anchor, self.target, self.via)


def _unroutable(reason: str) -> SpiderLabel:
    return SpiderLabel(unroutable=reason)


# -- Spider files -----------------------------------------------------------------------------

def load_tables(spider_dir: Path) -> dict[str, SpiderDb]:
    path = spider_dir / "tables.json"
    if not path.is_file():
        raise PathrlError(f"no tables.json in {spider_dir}")
    out = {}
    for entry in json.loads(path.read_text(encoding="utf-8")):
        names = [t.lower() for t in entry["table_names_original"]]
        columns: dict[str, list[str]] = {t: [] for t in names}
        flat: list[tuple[str, str]] = []
        for table_index, column in entry["column_names_original"]:
            if table_index < 0:  # the "*" column
                flat.append(("", "*"))
                continue
            columns[names[table_index]].append(column.lower())
            flat.append((names[table_index], column.lower()))
        fks = tuple((*flat[child], *flat[parent]) for child, parent in entry["foreign_keys"])
        pks: dict[str, list[str]] = {}
        for key in entry["primary_keys"]:
            for index in key if isinstance(key, list) else [key]:
                pks.setdefault(flat[index][0], []).append(flat[index][1])
        out[entry["db_id"]] = SpiderDb(entry["db_id"], {t: tuple(c) for t, c in columns.items()},
                                       fks, {t: tuple(c) for t, c in pks.items()})
    return out


def load_train_questions(spider_dir: Path) -> list[SpiderQuestion]:
    """train_spider.json when present; else BREAK's train_spider.csv (question text by
    SPIDER_train_<index>) joined with train_gold.sql (train_others lines dropped)."""
    full = spider_dir / "train_spider.json"
    if full.is_file() and full.stat().st_size > 0:
        rows = json.loads(full.read_text(encoding="utf-8"))
        return [SpiderQuestion(i, r["db_id"], r["question"], r["query"])
                for i, r in enumerate(rows)]
    gold_file, break_file = spider_dir / "train_gold.sql", spider_dir / "break_train_spider.csv"
    if not (gold_file.is_file() and break_file.is_file()):
        raise PathrlError(f"{spider_dir} has neither train_spider.json nor train_gold.sql + "
                          "break_train_spider.csv")
    gold = []
    for line in gold_file.read_text(encoding="utf-8").splitlines():
        sql, _, db_id = line.rpartition("\t")
        if db_id not in TRAIN_OTHERS_DBS:
            gold.append((sql.strip(), db_id.strip()))
    if len(gold) != TRAIN_SPIDER_SIZE:
        raise PathrlError(f"{gold_file}: {len(gold)} train_spider lines, expected "
                          f"{TRAIN_SPIDER_SIZE}: cannot align it with the questions")
    out = []
    with break_file.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            prefix, _, index = row["question_id"].rpartition("_")
            if prefix != "SPIDER_train" or not index.isdigit():
                continue
            sql, db_id = gold[int(index)]
            out.append(SpiderQuestion(int(index), db_id, row["question_text"].strip(), sql))
    return sorted(out, key=lambda q: q.index)


def select_databases(spider_dir: Path, tables: dict[str, SpiderDb],
                     questions: Sequence[SpiderQuestion], n: int) -> list[str]:
    """The rule of the module doc: alphabetical, >= 3 tables, >= 2 foreign keys, >= 40
    questions, SQLite file present; the first `n`."""
    counts = Counter(q.db_id for q in questions)
    chosen = [db for db in sorted(counts)
              if db in tables and len(tables[db].tables) >= MIN_TABLES
              and len(tables[db].foreign_keys) >= MIN_FOREIGN_KEYS
              and counts[db] >= MIN_QUESTIONS and sqlite_file(spider_dir, db).is_file()]
    return chosen[:n]


def sqlite_file(spider_dir: Path, db_id: str) -> Path:
    return spider_dir / "database" / db_id / f"{db_id}.sqlite"


# -- SQL -> route -----------------------------------------------------------------------------

def _chain(tables: Sequence[str], fks: Sequence[ForeignKey]) -> list[str] | None:
    """An order of `tables` where each neighbour pair is joined by a foreign key (the first
    such order, from the first table of `tables` when possible); None if there is none."""
    linked = {frozenset((c, p)) for c, _, p, _ in fks if c != p}
    for order in permutations(tables):
        if all(frozenset(pair) in linked for pair in pairwise(order)):
            return list(order)
    return None


def derive_label(sql: str, db: SpiderDb) -> SpiderLabel:
    """The route a gold SQL query follows (module doc); `unroutable` says why when none."""
    import sqlglot
    from sqlglot import exp

    try:
        root = sqlglot.parse_one(sql.replace('"', "'"), read="sqlite")
    except sqlglot.errors.SqlglotError as exc:
        return _unroutable(f"unparseable: {str(exc).splitlines()[0][:80]}")
    if root is None or root.find(exp.SetOperation) is not None:
        return _unroutable("set operation" if root is not None else "unparseable: empty")
    if not isinstance(root, exp.Select):
        return _unroutable(f"unparseable: not a SELECT ({type(root).__name__})")

    def outer(node: exp.Expression) -> bool:
        return node.find_ancestor(exp.Select) is root

    aliases: dict[str, str] = {}
    from_tables: list[str] = []
    for table in root.find_all(exp.Table):
        if not outer(table):
            continue
        name = table.name.lower()
        if name not in db.tables:
            return _unroutable(f"table '{name}' not in the schema")
        if name in from_tables:
            return _unroutable("self join")
        from_tables.append(name)
        aliases[table.alias_or_name.lower()] = name
        aliases[name] = name
    if not from_tables:
        return _unroutable("nested subquery over other tables")  # FROM (SELECT ...)
    inner = {t.name.lower() for t in root.find_all(exp.Table) if not outer(t)}
    if inner - set(from_tables) or any(
            isinstance(s.parent, exp.From | exp.Join) for s in root.find_all(exp.Subquery)):
        return _unroutable("nested subquery over other tables")

    def table_of(column: exp.Column) -> str | None:
        if column.table:
            return aliases.get(column.table.lower())
        owners = [t for t in from_tables if column.name.lower() in db.tables[t]]
        return owners[0] if len(owners) == 1 else None

    references = {(c, cc): p for c, cc, p, _ in db.foreign_keys if p in from_tables}

    def tables_in(nodes: Sequence[exp.Expression | None], through_keys: bool = False
                  ) -> list[str]:
        """Tables of the outer query's columns in `nodes`; with `through_keys` a foreign-key
        column stands for the table it references (GROUP BY student.dept_code groups by
        department)."""
        found: list[str] = []
        for node in nodes:
            if node is None:
                continue
            for column in node.find_all(exp.Column):
                table = table_of(column)
                if through_keys and table:
                    table = references.get((table, column.name.lower()), table)
                if outer(column) and table and table not in found:
                    found.append(table)
        return found

    if len(from_tables) == 1:
        return SpiderLabel(from_tables[0], (), from_tables[0])
    chain = _chain(from_tables, db.foreign_keys)
    if chain is None:
        return _unroutable("tables not joined by a foreign-key chain")
    if len(chain) - 1 > MAX_HOPS:
        return _unroutable(f"more than {MAX_HOPS} hops")
    ends = (chain[0], chain[-1])
    selected = tables_in(root.expressions)
    grouped = tables_in([root.args.get("group")], through_keys=True)
    conditions = tables_in([root.args.get(k) for k in ("where", "group", "having", "order")])
    count_star = any(isinstance(c.this, exp.Star) for e in root.expressions
                     for c in e.find_all(exp.Count))
    group_end = [t for t in grouped if t in ends]
    if count_star and group_end:
        # "How many employees does each department have?": the counted end is the target.
        target = ends[1] if group_end[0] == ends[0] else ends[0]
    else:
        selected_ends = [t for t in selected if t in ends]
        if not selected_ends and count_star:
            condition_ends = [t for t in conditions if t in ends]
            # COUNT(*) over a join: the end without the condition is counted; failing that,
            # the first FROM table (Spider writes the counted table first).
            selected_ends = ([t for t in ends if t not in condition_ends][:1]
                             if len(condition_ends) == 1 else [from_tables[0]])
        if not selected_ends:
            return _unroutable("selected columns are not at an end of the join chain")
        if len(selected_ends) > 1:
            free = [t for t in selected_ends if t not in conditions]
            selected_ends = free or selected_ends
        target = selected_ends[0]
    anchor = ends[1] if target == ends[0] else ends[0]
    path = chain if anchor == chain[0] else chain[::-1]
    return SpiderLabel(anchor, tuple(path[1:-1]), target)


# -- report -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabelledSpiderQuestion:
    index: int
    db_id: str
    question: str
    sql: str
    anchor: str
    via: tuple[str, ...]
    target: str
    hops: int
    unroutable: str


def label_questions(questions: Sequence[SpiderQuestion], tables: dict[str, SpiderDb],
                    db_ids: Sequence[str]) -> list[LabelledSpiderQuestion]:
    wanted = set(db_ids)
    out = []
    for q in questions:
        if q.db_id not in wanted:
            continue
        label = derive_label(q.sql, tables[q.db_id])
        out.append(LabelledSpiderQuestion(q.index, q.db_id, q.question, q.sql, label.anchor,
                                          label.via, label.target, label.hops,
                                          label.unroutable))
    return out


def summarise(labelled: Sequence[LabelledSpiderQuestion]) -> dict[str, dict]:
    """Per database: total, routable, unroutable reasons, single-table share, hop counts."""
    out: dict[str, dict] = {}
    for db_id in sorted({q.db_id for q in labelled}):
        rows = [q for q in labelled if q.db_id == db_id]
        routable = [q for q in rows if not q.unroutable]
        reasons = Counter(q.unroutable.split(":")[0] for q in rows if q.unroutable)
        hops = Counter(q.hops for q in routable)
        out[db_id] = {
            "total": len(rows), "routable": len(routable),
            "single_table_share": round(hops[0] / len(routable), 3) if routable else 0.0,
            "hops": {str(h): hops[h] for h in sorted(hops)},
            "unroutable": dict(sorted(reasons.items())),
        }
    total = {"total": len(labelled), "routable": sum(v["routable"] for v in out.values())}
    return {"databases": out, "all": total}


def load_labels(path: Path) -> list[LabelledSpiderQuestion]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        row["via"] = tuple(row["via"])
        out.append(LabelledSpiderQuestion(**row))
    return out


def write_labels(path: Path, labelled: Sequence[LabelledSpiderQuestion]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for q in labelled:
            handle.write(json.dumps({**asdict(q), "via": list(q.via)}, ensure_ascii=False)
                         + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spider", type=Path, required=True,
                        help="Spider directory: tables.json, database/, train questions.")
    parser.add_argument("--n-databases", type=int, default=8)
    parser.add_argument("--db", action="append", help="Label these db_ids instead (repeat).")
    parser.add_argument("--out", type=Path, help="Write the labels here (JSONL).")
    args = parser.parse_args(argv)
    try:
        tables = load_tables(args.spider)
        questions = load_train_questions(args.spider)
        db_ids = args.db or select_databases(args.spider, tables, questions, args.n_databases)
        unknown = [d for d in db_ids if d not in tables]
        if unknown:
            raise PathrlError(f"unknown db_id(s): {', '.join(unknown)}")
        labelled = label_questions(questions, tables, db_ids)
    except PathrlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        write_labels(args.out, labelled)
    print(json.dumps({"selected": list(db_ids), **summarise(labelled)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
