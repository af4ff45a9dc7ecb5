"""Distributions of a built dataset (what `pathrl data stats` prints and charts)."""

from __future__ import annotations

from collections import Counter
from statistics import median
from typing import Any

from pathrl.data.example import Example

DIMENSIONS = ("language", "wording", "hops", "category", "priority", "style")


def _counts(examples: list[Example], attr: str) -> dict[str, int]:
    counter = Counter(str(getattr(ex, attr)) for ex in examples)
    return dict(sorted(counter.items(), key=lambda kv: (kv[0].isdigit() and int(kv[0]), kv[0])))


def summarize(examples: list[Example]) -> dict[str, Any]:
    n = len(examples)
    null = sum(ex.via_is_null for ex in examples)
    per_path = Counter(ex.path_id for ex in examples)
    out: dict[str, Any] = {
        "examples": n,
        "via_null": null,
        "via_non_null": n - null,
        "via_null_ratio": round(null / n, 4) if n else 0.0,
        "single_table_ratio": round(sum(ex.hops == 0 for ex in examples) / n, 4) if n else 0.0,
        "fuzzy_ratio": round(sum(ex.wording == "fuzzy" for ex in examples) / n, 4) if n else 0.0,
        "paths": len(per_path),
        "per_path": {"min": min(per_path.values(), default=0),
                     "median": median(per_path.values()) if per_path else 0,
                     "max": max(per_path.values(), default=0)},
        "per_path_counts": dict(sorted(per_path.items())),
    }
    for dim in DIMENSIONS:
        out[dim] = _counts(examples, dim)
    return out


def dataset_stats(splits: dict[str, list[Example]]) -> dict[str, Any]:
    """Per split and over all splits; `styles_shared_with_heldout` must be empty."""
    every = [ex for rows in splits.values() for ex in rows]
    main = [ex for name, rows in splits.items() if name != "heldout" for ex in rows]
    heldout_styles = {ex.style for ex in splits.get("heldout", [])}
    return {
        "splits": {name: summarize(rows) for name, rows in splits.items()},
        "all": summarize(every),
        "train_val_test": summarize(main),
        "styles_shared_with_heldout": sorted(heldout_styles & {ex.style for ex in main}),
    }
