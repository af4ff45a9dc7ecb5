"""Evaluation of routing methods side by side on one test set (docs/method.md §8).

Every method maps questions to triples (a trained router decodes constrained to the legal
triples, and is also scored on its unconstrained per-head argmax; a baseline may return an
illegal triple or nothing). For each method we report exact match, per-component accuracy, via
accuracy on non-null labels, the illegal-path rate, and end-to-end execution of the generated
query with the example's own filter: `exec_success` (rows returned), `exec_empty`, `exec_error`,
plus `exec_match` (the rows equal those of the labelled path). An illegal or missing triple is
executed the way an unguided generator would write it: adjacent tables joined on guessed keys
(see `pathrl.query.guess_hops`), which usually errors or returns nothing.
Results are also split by hop count, wording (precise / fuzzy), split (test / heldout phrasing
styles) and language.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pathrl.errors import PathrlError
from pathrl.paths import PathVocab, Triple

REPORT_METRICS = ("exact_match", "anchor_accuracy", "target_accuracy", "via_accuracy",
                  "via_accuracy_nonnull", "illegal_rate", "exec_success", "exec_empty",
                  "exec_error")


def triple_metrics(predicted: Sequence[Triple | None], labels: Sequence[Triple],
                   vocab: PathVocab) -> dict[str, float]:
    """Exact match, per-component accuracy, via accuracy on non-null labels, illegal rate.

    A `None` prediction (nothing could be extracted) is wrong on every component and counts
    as illegal. `via_accuracy_nonnull` is 0 when no label has a non-null via (`n_nonnull`
    says how many examples it covers)."""
    n = len(labels)
    empty: Triple = ("", "", ("<none>",))
    preds = [p if p is not None else empty for p in predicted]
    if n == 0:
        return {"n": 0, "exact_match": 0.0, "anchor_accuracy": 0.0, "target_accuracy": 0.0,
                "via_accuracy": 0.0, "via_accuracy_nonnull": 0.0, "n_nonnull": 0,
                "illegal_rate": 0.0, "via_null_rate_pred": 0.0}
    pairs = list(zip(preds, labels, strict=True))
    nonnull = [(p, lab) for p, lab in pairs if lab[2]]
    return {
        "n": n,
        "exact_match": sum(p == lab for p, lab in pairs) / n,
        "anchor_accuracy": sum(p[0] == lab[0] for p, lab in pairs) / n,
        "target_accuracy": sum(p[1] == lab[1] for p, lab in pairs) / n,
        "via_accuracy": sum(tuple(p[2]) == tuple(lab[2]) for p, lab in pairs) / n,
        "via_accuracy_nonnull": (sum(tuple(p[2]) == tuple(lab[2]) for p, lab in nonnull)
                                 / len(nonnull)) if nonnull else 0.0,
        "n_nonnull": len(nonnull),
        "illegal_rate": sum(not vocab.is_legal(*p) for p in preds) / n,
        "via_null_rate_pred": sum(not p[2] for p in preds) / n,
    }


@dataclass
class MethodPredictions:
    """What one method answered for every test question."""

    name: str
    predicted: list[Triple | None]
    unconstrained: list[Triple | None] | None = None  # routers: per-head argmax
    wall_s: float = 0.0


def execution_metrics(predicted: Sequence[Triple | None], examples: Sequence[Any],
                      run: Callable[[Triple | None, Any], tuple[str, frozenset]],
                      gold_rows: Sequence[frozenset]) -> dict[str, float]:
    """Execute each predicted route with its example's filter; fractions of outcomes."""
    n = max(len(examples), 1)
    counts = {"ok": 0, "empty": 0, "error": 0}
    match = 0
    for pred, ex, gold in zip(predicted, examples, gold_rows, strict=True):
        status, rows = run(pred, ex)
        counts[status] += 1
        match += status == "ok" and rows == gold
    return {"exec_success": counts["ok"] / n, "exec_empty": counts["empty"] / n,
            "exec_error": counts["error"] / n, "exec_match": match / n}


def _group_keys(ex: Any, split: str) -> dict[str, str]:
    return {"hops": str(getattr(ex, "hops", "?")), "wording": getattr(ex, "wording", "?"),
            "split": split, "language": getattr(ex, "language", "?")}


def evaluate_methods(methods: Sequence[MethodPredictions], examples: Sequence[Any],
                     vocab: PathVocab, executor: Any | None = None,
                     split_names: Sequence[str] | None = None) -> dict[str, Any]:
    """The full comparison: per method overall metrics and per-group metrics.

    `executor` (a `pathrl.db.Database`) enables the execution columns; each example needs a
    `to_filter()` and a gold `triple`. `split_names` labels each example's split (e.g. test /
    heldout) for the per-split rows."""
    splits = list(split_names) if split_names is not None else ["test"] * len(examples)
    from pathrl.query import guess_hops

    labels = [ex.triple for ex in examples]
    run = None
    gold_rows: list[frozenset] = []
    if executor is not None:
        cache: dict[tuple, tuple[str, frozenset]] = {}

        def run(pred: Triple | None, ex: Any) -> tuple[str, frozenset]:
            flt = ex.to_filter()
            key = (pred, tuple(sorted(flt.to_dict().items())))
            if key not in cache:
                if pred is None:
                    cache[key] = ("error", frozenset())
                else:
                    anchor, target, via = pred
                    # A legal single-table route has no hops and runs on its own table; an
                    # illegal triple runs as an unguided generator would join it (or cannot).
                    legal = vocab.is_legal(anchor, target, via)
                    hops = (vocab.path(anchor, target, via).hops if legal
                            else guess_hops(executor.schema, (anchor, *via, target)))
                    try:
                        res = (executor.execute_hops(hops, anchor, flt)
                               if legal or hops else None)
                    except PathrlError:  # e.g. a date range on a table without dates
                        res = None
                    if res is None:
                        cache[key] = ("error", frozenset())
                    else:
                        rows = frozenset(json.dumps(r, sort_keys=True, default=str)
                                         for r in res.rows)
                        cache[key] = (res.status, rows)
            return cache[key]

        gold_rows = [run(ex.triple, ex)[1] for ex in examples]
    report: dict[str, Any] = {"n_test": len(examples), "methods": [m.name for m in methods]}
    groups: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for method in methods:
        metrics = triple_metrics(method.predicted, labels, vocab)
        if method.unconstrained is not None:
            metrics["illegal_rate_unconstrained"] = triple_metrics(
                method.unconstrained, labels, vocab)["illegal_rate"]
        if run is not None:
            metrics.update(execution_metrics(method.predicted, examples, run, gold_rows))
        metrics["n_test"] = len(examples)
        metrics["wall_s"] = round(method.wall_s, 3)
        report[method.name] = metrics
        for dim in ("hops", "wording", "split", "language"):
            buckets: dict[str, list[int]] = {}
            for i, ex in enumerate(examples):
                buckets.setdefault(_group_keys(ex, splits[i])[dim], []).append(i)
            for value, idx in sorted(buckets.items()):
                sub = triple_metrics([method.predicted[i] for i in idx],
                                     [labels[i] for i in idx], vocab)
                groups.setdefault(dim, {}).setdefault(value, {})[method.name] = {
                    "n": sub["n"], "exact_match": sub["exact_match"],
                    "via_accuracy": sub["via_accuracy"]}
    report["groups"] = groups
    return report


def markdown_report(report: dict[str, Any], plots: Sequence[str] = ()) -> str:
    """The comparison as Markdown: main table, per-group tables, plot links."""
    methods = report["methods"]
    cols = [*REPORT_METRICS, "exec_match", "illegal_rate_unconstrained"]
    lines = [f"# pathrl evaluation ({report['n_test']} test questions)", "",
             "| method | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name in methods:
        m = report[name]
        cells = [f"{100 * m[c]:.1f}%" if isinstance(m.get(c), float) else "-" for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for dim, values in report.get("groups", {}).items():
        lines += ["", f"## exact match by {dim}", "",
                  f"| {dim} | n | " + " | ".join(methods) + " |",
                  "|---" * (len(methods) + 2) + "|"]
        for value, per_method in values.items():
            n = next(iter(per_method.values()))["n"]
            cells = [f"{100 * per_method[m]['exact_match']:.1f}%" for m in methods]
            lines.append(f"| {value} | {n} | " + " | ".join(cells) + " |")
    if plots:
        lines += ["", "## plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out_dir: str | Path,
                 curves: dict[str, Path] | None = None) -> dict[str, Path]:
    """report.json + report.md + plots (per-hop bars, training curves) in `out_dir`."""
    from pathrl.plots import group_bars, training_curves

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = [group_bars(report, "hops", out_dir / "exact_match_by_hops.png"),
             group_bars(report, "split", out_dir / "exact_match_by_split.png")]
    for name, log in (curves or {}).items():
        if log.exists():
            plots.append(training_curves(log, out_dir / f"curves_{name}.png", title=name))
    report["plots"] = [p.name for p in plots]
    json_path = out_dir / "report.json"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    md_path = out_dir / "report.md"
    md_path.write_text(markdown_report(report, [str(p) for p in plots]))
    return {"json": json_path, "markdown": md_path}
