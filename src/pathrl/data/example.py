"""One Router training example, its JSONL form, and reading / writing dataset directories.

A dataset directory holds one JSONL file per split (`train`, `val`, `test`, `heldout`) and a
`manifest.json` (config, counts, schema fingerprint). Rows are validated on load: a bad row is a
`PathrlError` naming `file:line`. Writing is atomic: everything goes to a temporary directory
that is renamed into place, so an interrupted build never leaves a half-written dataset.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pathrl.errors import PathrlError
from pathrl.io import apply_umask
from pathrl.paths import PathVocab
from pathrl.query import Filter

SPLITS = ("train", "val", "test", "heldout")
LANGUAGES = ("en", "zh")
WORDINGS = ("precise", "fuzzy")
MANIFEST = "manifest.json"


# gte / lte ("at least", "no more than") are read from questions by pathrl.intent; the
# dataset generator writes the others only.
CONDITION_OPS = ("eq", "gt", "lt", "between", "before", "after", "year", "gte", "lte")


@dataclass(frozen=True)
class Condition:
    """An attribute condition the question states and `Filter` cannot express: a real value of
    `table.column` ("products priced above 100": product.price gt 100; "employees in Sales":
    employee.department eq "Sales"; a row named by a column other than the display field).
    `value2` is the upper bound of `between`; dates are ISO days, `year` a four-digit year."""

    table: str
    column: str
    op: str
    value: str | float
    value2: str | float | None = None

    def __post_init__(self) -> None:
        if self.op not in CONDITION_OPS:
            raise ValueError(f"condition op must be one of {CONDITION_OPS}, got {self.op!r}")
        if (self.op == "between") != (self.value2 is not None):
            raise ValueError("condition value2 is the upper bound of 'between' (and only of it)")

    def to_dict(self) -> dict[str, Any]:
        out = {"table": self.table, "column": self.column, "op": self.op, "value": self.value}
        if self.value2 is not None:
            out["value2"] = self.value2
        return out

    @classmethod
    def from_dict(cls, raw: Any) -> Condition:
        if not isinstance(raw, dict) or set(raw) - {"table", "column", "op", "value", "value2"} \
                or not {"table", "column", "op", "value"} <= set(raw):
            raise ValueError(f"condition must be {{table, column, op, value[, value2]}}, "
                             f"got {raw!r}")
        return cls(str(raw["table"]), str(raw["column"]), str(raw["op"]), raw["value"],
                   raw.get("value2"))


@dataclass(frozen=True)
class Example:
    """A question labelled with its route (anchor, target, via) and everything to run it."""

    id: str
    question: str
    language: str  # "en" | "zh"
    anchor: str
    target: str
    via: tuple[str, ...]
    path_id: str
    hops: int
    wording: str  # "precise" (every table named) | "fuzzy" (route must be inferred)
    style: str  # template / paraphrase style that produced the question
    category: str  # the intent: lookup intents (list, count, latest, sum, attribute,
    # time_range, llm) and usage intents (filter_text, group_count, superlative, ...)
    priority: str  # P0 everyday single hop ... P2 long tail (see docs/dataset.md)
    entity: str  # the value the question names ("" when it names none)
    filter: dict[str, Any] = field(default_factory=dict)  # Filter-compatible
    condition: Condition | None = None  # an attribute condition Filter cannot express

    @property
    def triple(self) -> tuple[str, str, tuple[str, ...]]:
        return (self.anchor, self.target, self.via)

    @property
    def via_is_null(self) -> bool:
        return not self.via

    def to_filter(self) -> Filter:
        return Filter(**self.filter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "question": self.question, "language": self.language,
            "anchor": self.anchor, "target": self.target, "via": list(self.via),
            "path_id": self.path_id, "hops": self.hops, "wording": self.wording,
            "style": self.style, "category": self.category, "priority": self.priority,
            "entity": self.entity,
            "filter": {k: self.filter.get(k) for k in ("entity", "date_from", "date_to")},
            **({"condition": self.condition.to_dict()} if self.condition else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, row: Any, vocab: PathVocab | None = None) -> Example:
        """Build and validate; `vocab` also checks the label is a legal path."""
        if not isinstance(row, dict):
            raise ValueError("a row must be a JSON object")
        missing = [k for k in ("question", "language", "anchor", "target", "via", "path_id",
                               "hops", "wording", "filter") if k not in row]
        if missing:
            raise ValueError(f"missing field(s): {', '.join(missing)}")
        via = row["via"]
        if via is None:
            via = []
        if not isinstance(via, list) or not all(isinstance(v, str) for v in via):
            raise ValueError(f"via must be a list of table names, got {via!r}")
        question = row["question"]
        if not isinstance(question, str) or not question.strip():
            raise ValueError("question must be a non-empty string")
        if row["language"] not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}, got {row['language']!r}")
        if row["wording"] not in WORDINGS:
            raise ValueError(f"wording must be one of {WORDINGS}, got {row['wording']!r}")
        flt = row["filter"]
        if not isinstance(flt, dict) or set(flt) - {"entity", "date_from", "date_to"}:
            raise ValueError(f"filter must be {{entity, date_from, date_to}}, got {flt!r}")
        Filter(**flt)  # dates must parse
        ex = cls(
            id=str(row.get("id", "")), question=question, language=row["language"],
            anchor=str(row["anchor"]), target=str(row["target"]), via=tuple(via),
            path_id=str(row["path_id"]), hops=int(row["hops"]), wording=row["wording"],
            style=str(row.get("style", "")), category=str(row.get("category", "")),
            priority=str(row.get("priority", "")), entity=str(row.get("entity") or ""),
            filter=dict(flt),
            condition=Condition.from_dict(row["condition"]) if row.get("condition") else None,
        )
        single_table = ex.anchor == ex.target and not ex.via
        if ex.hops != (0 if single_table else len(ex.via) + 1):
            raise ValueError(f"hops={ex.hops} does not match via {list(ex.via)}")
        if vocab is not None:
            check_label(ex, vocab)
        return ex


def check_label(ex: Example, vocab: PathVocab) -> None:
    """Raise ValueError unless (anchor, target, via) is legal and matches path_id."""
    if not vocab.is_legal(ex.anchor, ex.target, ex.via):
        shown = " > ".join(ex.via) or "(none)"
        raise ValueError(f"illegal label {ex.anchor} -[{shown}]-> {ex.target}")
    path = vocab.path_by_id.get(ex.path_id)
    if path is None or path.triple != ex.triple:
        raise ValueError(f"path_id '{ex.path_id}' does not match the label "
                         f"{ex.anchor}/{ex.target}/{list(ex.via)}")


def load_split(path: str | Path, vocab: PathVocab | None = None) -> list[Example]:
    """Read one JSONL split; any bad row raises PathrlError naming `file:line`."""
    path = Path(path)
    if not path.is_file():
        raise PathrlError(f"dataset split not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PathrlError(f"{path}: not a text file (a dataset split is UTF-8 JSONL)") from None
    examples = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            examples.append(Example.from_dict(json.loads(line), vocab))
        except (json.JSONDecodeError, ValueError, TypeError, PathrlError) as exc:
            raise PathrlError(f"{path}:{lineno}: bad example: {exc}") from None
    # A split cut at a line boundary (or emptied) parses; its dataset's manifest knows better.
    expected = read_manifest(path.parent).get("splits", {}).get(path.stem, {}).get("count")
    if isinstance(expected, int) and expected != len(examples):
        raise PathrlError(f"{path}: {len(examples)} examples, but {MANIFEST} says {expected} "
                          "(truncated or edited?)")
    return examples


def load_dataset(directory: str | Path, vocab: PathVocab | None = None
                 ) -> dict[str, list[Example]]:
    """Every split named in the directory's manifest (or the standard ones that exist)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PathrlError(f"dataset directory not found: {directory}")
    manifest = read_manifest(directory)
    names = list(manifest.get("splits", {})) if manifest else [
        s for s in SPLITS if (directory / f"{s}.jsonl").is_file()]
    if not names:
        raise PathrlError(f"{directory} holds no dataset (no manifest.json, no *.jsonl)")
    return {name: load_split(directory / f"{name}.jsonl", vocab) for name in names}


def read_manifest(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PathrlError(f"{path}: not valid JSON: {exc}") from None


def write_dataset(splits: dict[str, list[Example]], out_dir: str | Path,
                  manifest: dict[str, Any] | None = None, overwrite: bool = True) -> Path:
    """Write `DIR/<split>.jsonl` for every split and `DIR/manifest.json`, atomically.

    The files are written into a sibling temporary directory which then replaces `out_dir`
    (an existing dataset there is replaced only when `overwrite`)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise PathrlError(f"{out_dir} exists (pass --force to replace it)")
    if out_dir.exists() and not out_dir.is_dir():
        raise PathrlError(f"{out_dir} exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file():
        raise PathrlError(f"{out_dir} is a non-empty directory that is not a pathrl dataset; "
                          "refusing to replace it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        from pathrl.data.stats import dataset_stats

        info = dict(manifest if manifest is not None else getattr(splits, "report", {}) or {})
        info["stats"] = dataset_stats(splits)
        info["splits"] = {name: {"file": f"{name}.jsonl", "count": len(rows)}
                          for name, rows in splits.items()}
        for name, rows in splits.items():
            _write_lines(tmp / f"{name}.jsonl", (ex.to_json() for ex in rows))
        (tmp / MANIFEST).write_text(json.dumps(info, ensure_ascii=False, indent=2) + "\n",
                                    encoding="utf-8")
        old = None
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old{os.getpid()}")
            out_dir.rename(old)
        apply_umask(tmp)  # mkdtemp makes 0700 whatever the umask
        tmp.rename(out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _write_lines(path: Path, lines: Iterable[str]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for line in lines:
            fh.write(line + "\n")
