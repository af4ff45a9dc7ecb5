"""Run several training runs into one folder and write ``report.json`` + ``report.md``."""

from __future__ import annotations

import dataclasses
import platform
import time
from pathlib import Path
from typing import Any

from pathrl.errors import PathrlError
from pathrl.io import atomic_write_text, check_output_dir
from pathrl.warmup.train import (
    TrainConfig,
    clean_floats,
    ensure_writable_dir,
    train_run,
    write_json,
)

#: Files of ``out_dir`` a lab run writes (besides one folder per run).
REPORT_FILES = ("report.json", "report.md", "curves.png")


def run_lab(configs: list[TrainConfig], out_dir: Path, command: str = "",
            force: bool = False) -> dict[str, Any]:
    """Train every config (in order) under ``out_dir/<algo>-<reward>/`` and report them all.

    The report is rewritten after each run, and also when Ctrl-C stops a run (whose model is
    saved by ``train_run``), so an interrupted comparison keeps everything finished so far.
    An ``out_dir`` holding an earlier report or run folder of the same name is refused unless
    ``force``, which replaces those only. Every check runs before anything is written.
    """
    if not configs:
        raise PathrlError("nothing to run: no algorithm / reward given")
    for config in configs:  # fail on a bad config before hours of training
        config.validate()
    names = [c.run_name() for c in configs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PathrlError(f"duplicate runs: {', '.join(duplicates)}")
    check_output_dir(out_dir, force, "output directory", (*REPORT_FILES, *names))
    out_dir = ensure_writable_dir(out_dir)

    import gymnasium
    import stable_baselines3
    import torch

    report: dict[str, Any] = {
        "env_id": "LunarLander-v3",
        "command": command,
        "eval_episodes": configs[0].eval_episodes if configs else None,
        "versions": {
            "gymnasium": gymnasium.__version__,
            "stable_baselines3": stable_baselines3.__version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "machine": {"cpu_count": _cpu_count(), "torch_threads": configs[0].torch_threads},
        "runs": [],
        "curves_path": None,
        "report_md": str((out_dir / "report.md").resolve()),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "interrupted": False,
    }

    def flush() -> None:
        from pathrl.warmup.report import markdown_report, plot_learning_curves

        monitor_dirs = {r["name"]: out_dir / r["name"] / "monitor" for r in report["runs"]}
        if monitor_dirs:
            curves = plot_learning_curves(monitor_dirs, out_dir / "curves.png")
            report["curves_path"] = str(curves.resolve())
        clean = clean_floats(report)
        write_json(out_dir / "report.json", clean)
        atomic_write_text(out_dir / "report.md", markdown_report(clean, out_dir))

    for config, name in zip(configs, names, strict=True):
        run_dir = out_dir / name
        try:
            report["runs"].append(train_run(config, run_dir))
        except KeyboardInterrupt:
            report["interrupted"] = True
            partial = run_dir / "run.json"
            if partial.exists():
                import json

                report["runs"].append(json.loads(partial.read_text(encoding="utf-8")))
            flush()
            raise
        flush()
    return report


def configs_for(algos: list[str], rewards: list[str], base: TrainConfig) -> list[TrainConfig]:
    """The cross product algos × rewards, each a copy of ``base``."""
    return [
        dataclasses.replace(base, algo=algo, reward=reward, hyperparams=dict(base.hyperparams))
        for algo in algos
        for reward in rewards
    ]


def _cpu_count() -> int | None:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
