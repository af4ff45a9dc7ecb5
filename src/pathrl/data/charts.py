"""The dataset charts: category, priority, hop count and via null vs non-null
(the ratio that makes "always predict null" a reward hack), one PNG each plus an overview."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pathrl.plots import figure, save_png

_SPLIT_COLOURS = {"train": "#4C72B0", "val": "#55A868", "test": "#C44E52", "heldout": "#8172B2"}


def _stacked_bars(ax: Any, stats: dict[str, Any], dim: str, title: str) -> None:
    splits = stats["splits"]
    keys: list[str] = []
    for s in splits.values():
        keys += [k for k in s[dim] if k not in keys]
    bottom = [0] * len(keys)
    for name, s in splits.items():
        values = [s[dim].get(k, 0) for k in keys]
        ax.bar(keys, values, bottom=bottom, label=f"{name} ({s['examples']})",
               color=_SPLIT_COLOURS.get(name))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    total = sum(bottom)
    for i, b in enumerate(bottom):
        ax.text(i, b, f"{b}\n{b / total:.0%}" if total else "0", ha="center", va="bottom",
                fontsize=8)
    ax.set_title(title)
    ax.set_ylabel("examples")
    ax.set_ylim(0, max(bottom, default=1) * 1.22 + 1)
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", labelrotation=20)


def _via_null(ax: Any, stats: dict[str, Any]) -> None:
    names = list(stats["splits"])
    null = [stats["splits"][n]["via_null"] for n in names]
    non_null = [stats["splits"][n]["via_non_null"] for n in names]
    ax.bar(names, null, label="via = null (single hop)", color="#BBBBBB")
    ax.bar(names, non_null, bottom=null, label="via non-null (multi-hop)", color="#DD8452")
    for i, n in enumerate(names):
        ratio = stats["splits"][n]["via_null_ratio"]
        ax.text(i, null[i] + non_null[i], f"{ratio:.0%} null", ha="center", va="bottom",
                fontsize=8)
    overall = stats["all"]["via_null_ratio"]
    ax.set_title(f"via null vs non-null (overall {overall:.1%} null)")
    ax.set_ylabel("examples")
    ax.set_ylim(0, max(a + b for a, b in zip(null, non_null, strict=True)) * 1.2 + 1)
    ax.legend(fontsize=8)


_CHARTS = {
    "category": lambda ax, st: _stacked_bars(ax, st, "category", "category (intent) distribution"),
    "priority": lambda ax, st: _stacked_bars(ax, st, "priority",
                                             "priority distribution (P0 easy ... P2 long tail)"),
    "hops": lambda ax, st: _stacked_bars(ax, st, "hops", "hop-count distribution"),
    "via_null": _via_null,
}


def write_charts(stats: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """`category.png`, `priority.png`, `hops.png`, `via_null.png` and `overview.png`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in _CHARTS.items():
        with figure(figsize=(7, 4.5)) as fig:
            draw(fig.subplots(), stats)
            fig.tight_layout()
            written.append(save_png(fig, out_dir / f"{name}.png", dpi=100, tight=False))
    with figure(figsize=(13, 9)) as fig:
        axes = fig.subplots(2, 2)
        for ax, draw in zip(axes.flat, _CHARTS.values(), strict=True):
            draw(ax, stats)
        total = stats["all"]["examples"]
        fig.suptitle(f"Router dataset: {total} examples, "
                     f"{stats['train_val_test']['fuzzy_ratio']:.0%} fuzzy in train/val/test")
        fig.tight_layout()
        written.append(save_png(fig, out_dir / "overview.png", dpi=90, tight=False))
    return written
