"""Router quality and training speed on the demo (issue 4 targets). Prints JSON.

Runs the main job (`pathrl demo`) into --out (or reads an existing report with --report) and
prints, per method, the report's metrics, the targets, and whether each target is met:
PPO exact match >= 95%, PPO via accuracy on non-null via >= 90%, illegal paths 0 with
constrained decoding, execution success >= 95%. Also SFT/PPO wall time and throughput.

    .venv/bin/python benchmarks/router_quality.py --out runs/bench-quality
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

TARGETS = {"exact_match": (">=", 0.95), "via_accuracy_nonnull": (">=", 0.90),
           "illegal_rate": ("<=", 0.0), "exec_success": (">=", 0.95)}
KEYS = ("exact_match", "anchor_accuracy", "target_accuracy", "via_accuracy",
        "via_accuracy_nonnull", "illegal_rate", "illegal_rate_unconstrained", "exec_success",
        "exec_empty", "exec_error", "exec_match", "wall_s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/bench-quality"))
    parser.add_argument("--report", type=Path, help="Read this report.json instead of running.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--demo-args", default="", help="Extra arguments for `pathrl demo`.")
    args = parser.parse_args()
    report_path = args.report
    if report_path is None:
        pathrl = Path(sys.executable).with_name("pathrl")
        cmd = [str(pathrl), "demo", "--out", str(args.out), "--seed", str(args.seed),
               *args.demo_args.split()]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        report_path = args.out / "report.json"
    report = json.loads(report_path.read_text())
    methods = {name: {k: report[name][k] for k in KEYS if k in report[name]}
               for name in report["methods"]}
    ppo = report.get("ppo", {})
    targets = {key: {"target": f"{op} {value}", "ppo": ppo.get(key),
                     "met": (ppo.get(key, float("nan")) >= value) if op == ">="
                     else (ppo.get(key, float("nan")) <= value)}
               for key, (op, value) in TARGETS.items()}
    print(json.dumps({"report": str(report_path), "n_test": report["n_test"],
                      "demo_wall_s": report.get("wall_s"), "train": report.get("train"),
                      "methods": methods, "targets": targets,
                      "by_split": report["groups"].get("split"),
                      "by_hops": report["groups"].get("hops")}, indent=2))


if __name__ == "__main__":
    main()
