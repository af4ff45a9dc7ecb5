"""Figures people would rather look at than read: the schema graph, dataset charts, training
curves and per-hop accuracy bars; every function writes a PNG.

Figures are drawn with matplotlib's object API (`Figure`), never pyplot: no backend is chosen
and no global figure list or rcParams change, so a caller's matplotlib (a notebook's inline
backend, its own style) is left as it was. `figure()` and `save_png()` are the one way pathrl
code makes a figure (dataset charts, doctor and warm-up plots use them too).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from matplotlib import rc_context
from matplotlib.figure import Figure

from pathrl.schema import Schema

# Chinese table synonyms and questions appear in labels; fall back silently if no CJK font.
STYLE = {"font.sans-serif": ["Noto Sans CJK SC", "WenQuanYi Zen Hei", "DejaVu Sans"],
         "axes.unicode_minus": False}


@contextmanager
def figure(**kwargs: Any) -> Iterator[Figure]:
    """A figure (`Figure(**kwargs)`) with pathrl's STYLE in force while it is drawn: build and
    save it inside the `with` block."""
    with rc_context(STYLE):
        yield Figure(**kwargs)


def save_png(fig: Figure, out: str | Path, dpi: int = 100, tight: bool = True) -> Path:
    """Render to PNG in memory, then write atomically: a failed write (read-only disk, a
    directory in the way) is one clear error, and the path returned is the one written
    (savefig would silently add ".png" to a name without a suffix)."""
    import io

    from pathrl.io import atomic_write_bytes

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    return atomic_write_bytes(Path(out), buffer.getvalue())


def draw_schema(schema: Schema, out: str | Path) -> Path:
    """Tables as nodes (size = legal paths through them), foreign keys as arrows."""
    import networkx as nx

    from pathrl.paths import enumerate_paths

    paths = enumerate_paths(schema)
    through = Counter(t for p in paths for t in p.tables)
    graph = nx.DiGraph()
    graph.add_nodes_from(schema.table_names)
    for r in schema.relations:
        graph.add_edge(r.from_table, r.to_table, label=r.from_field)
    # Kamada-Kawai places the graph well but stacks structurally identical tables on one spot;
    # a few spring iterations from there pull them apart. Seeded: same picture every time.
    # Kamada-Kawai on a graph where leaves are pushed out (their distance to everything is
    # inflated) keeps structurally identical tables apart. Deterministic: same picture each time.
    undirected = graph.to_undirected()
    dist = dict(nx.all_pairs_shortest_path_length(undirected))
    n = len(graph)
    full = {a: {b: float(dist.get(a, {}).get(b, n)) + (0.0 if a == b else 0.6) for b in graph}
            for a in graph}
    pos = nx.kamada_kawai_layout(graph, dist=full) if n > 2 else nx.circular_layout(graph)
    sizes = [900 + 120 * through[t] for t in graph.nodes]
    colours = ["#4C72B0" if schema.table(t).anchor else "#8FA8C8" for t in graph.nodes]
    with figure(figsize=(12, 9)) as fig:
        ax = fig.subplots()
        nx.draw_networkx_nodes(graph, pos, node_size=sizes, node_color=colours, alpha=0.9,
                               ax=ax)
        nx.draw_networkx_edges(graph, pos, node_size=sizes, arrowsize=16, edge_color="#555",
                               connectionstyle="arc3,rad=0.06", ax=ax)
        nx.draw_networkx_labels(graph, pos,
                                {t: f"{t}\n{through[t]} paths" for t in graph.nodes},
                                font_size=8, font_color="black", ax=ax)
        nx.draw_networkx_edge_labels(graph, pos, nx.get_edge_attributes(graph, "label"),
                                     font_size=7, ax=ax)
        ax.set_title(f"{schema.name}: {len(schema.tables)} tables, {len(schema.relations)} "
                     f"foreign keys, {len(paths)} legal paths (dark = anchor tables; "
                     "arrow = FK)")
        ax.axis("off")
        return save_png(fig, out, dpi=110)


def group_bars(report: dict, dimension: str, out: str | Path) -> Path:
    """Exact match per method for each value of a dimension (hops, split, wording...)."""
    import numpy as np

    values = report.get("groups", {}).get(dimension, {})
    methods = report["methods"]
    labels = list(values)
    width = 0.8 / max(len(methods), 1)
    x = np.arange(len(labels))
    with figure(figsize=(max(6, 1.6 * len(labels) + 2), 4)) as fig:
        ax = fig.subplots()
        for i, method in enumerate(methods):
            heights = [100 * values[v][method]["exact_match"] for v in labels]
            bars = ax.bar(x + i * width, heights, width, label=method)
            ax.bar_label(bars, fmt="%.0f", fontsize=7)
        ax.set_xticks(x + width * (len(methods) - 1) / 2,
                      [f"{v}\n(n={next(iter(values[v].values()))['n']})" for v in labels])
        ax.set_ylabel("exact match (%)")
        ax.set_ylim(0, 105)
        ax.set_title(f"exact match by {dimension}")
        ax.legend(fontsize=8, loc="lower right")
        return save_png(fig, out)


def curve_series(records: list[dict], key: str,
                 start: float | None = None) -> list[tuple[float, float]]:
    """(step, value) points of `key` in a run log; `start` (the evaluation before the first
    step) comes first, at step −1: a step's row holds the state after that step's update."""
    points = [(-1.0, float(start))] if start is not None else []
    return points + [(r["step"], r[key]) for r in records if r.get(key) is not None]


def training_curves(log: str | Path, out: str | Path, title: str = "",
                    keys: tuple[str, ...] | None = None,
                    targets: dict[str, float] | None = None,
                    starts: dict[str, float] | None = None) -> Path:
    """Small multiples of a run log's main signals (metrics.jsonl or sft_metrics.jsonl);
    `targets` draws a dashed line at a metric's target (the KL controller's, say); `starts`
    adds the evaluation before training (metric -> value) as an open point at step −1."""
    from pathrl.rl.logging import read_jsonl

    records = read_jsonl(log)
    starts = starts or {}
    default = ("reward_mean", "exact_match", "greedy_exact_match", "approx_kl", "kl_to_ref",
               "value_loss", "entropy", "clip_fraction", "train_loss", "val_exact_match",
               "val_via_accuracy", "via_null_rate_pred")
    keys = tuple(k for k in (keys or default)
                 if any(r.get(k) is not None for r in records))
    cols = 3
    rows = max(1, -(-len(keys) // cols))
    with figure(figsize=(4 * cols, 2.6 * rows)) as fig:
        axes = fig.subplots(rows, cols, squeeze=False)
        for ax, key in zip(axes.flat, keys, strict=False):
            pts = curve_series(records, key, starts.get(key))
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", lw=1)
            if key in starts:
                ax.plot([-1], [starts[key]], marker="o", mfc="none", color="#C44E52", ls="",
                        label="before training")
            if targets and targets.get(key) is not None:
                ax.axhline(targets[key], color="#C44E52", ls="--", lw=1,
                           label=f"target {targets[key]:g}")
            if key in starts or (targets and targets.get(key) is not None):
                ax.legend(fontsize=7, loc="best")
            ax.set_title(key, fontsize=9)
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[len(keys):]:
            ax.axis("off")
        fig.suptitle(title or Path(log).stem)
        fig.tight_layout()
        return save_png(fig, out)
