"""Every trainer on one device (a GPU check): prints JSON figures, one entry per check.

    python benchmarks/device_check.py --device cuda --out /tmp/device-check
    python benchmarks/device_check.py --device cpu --out /tmp/cpu-check --quick

The checks run pathrl's own commands in this process (so CUDA memory can be read after each):

- `router demo`: `pathrl demo --device D` (both router heads, SFT then PPO, evaluation; the
  prompted-LLM baseline left out), its exact match per router and its time per stage;
- `router route`: `pathrl route --device D` on the demo's PPO path scorer;
- `llm sft|rm|dpo|grpo|ppo|ppo+rm|eval`: each `pathrl llm` trainer for a few steps on a tiny
  random chat LM (2 layers; `tests/llm/llm_fixtures.py`), `--set device=D` (bfloat16
  autocast where the device supports it).

Exact resume on the device is the test suite's (`tests/router/test_router_training.py` and
`tests/rl`: their trainers take the default device, auto). Each entry: `ok` (exit code 0 and
the run's outputs present), `wall_s`, what the run measured, and `cuda_peak_mib` (CUDA
memory the check allocated at its peak: > 0 says it ran on the GPU).
`--backbone` names the router's encoder (default: the packaged MiniLM; any local Hugging Face
directory).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _invoke(args: list[str]) -> tuple[int, str]:
    from typer.testing import CliRunner

    from pathrl.cli import app

    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        text = "".join(traceback.format_exception(result.exception))
        return 1, result.output + text
    return result.exit_code, result.output


def _finite(values: dict) -> bool:
    return all(math.isfinite(v) for v in values.values() if isinstance(v, int | float))


class Checks:
    def __init__(self, device: str, out: Path):
        self.device, self.out, self.results = device, out, {}

    def run(self, name: str, check) -> None:
        import torch

        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        try:
            entry = check()
        except Exception as exc:  # noqa: BLE001 - a failed check is a result, not a crash
            entry = {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"[:2000],
                     "traceback": traceback.format_exc()[-3000:]}
        entry["wall_s"] = round(time.perf_counter() - start, 1)
        if cuda:
            entry["cuda_peak_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        self.results[name] = entry
        print(f"{name}: ok={entry.get('ok')} {entry['wall_s']} s", file=sys.stderr, flush=True)

    def cli(self, args: list[str]) -> dict:
        code, output = _invoke(args)
        entry = {"ok": code == 0}
        if code != 0:
            entry["output_tail"] = output[-3000:]
        return entry


def router_checks(checks: Checks, backbone: str | None, quick: bool) -> None:
    device, out = checks.device, checks.out
    demo = out / "demo"
    backbone_args = ["--backbone", backbone] if backbone else []

    def demo_check() -> dict:
        args = ["demo", "--out", str(demo), "--force", "--device", device,
                "--no-llm-baseline", *backbone_args]
        if quick:
            args += ["--sft-epochs", "2", "--ppo-updates", "2", "--languages", "en"]
        entry = checks.cli(args)
        report_file = demo / "report.json"
        if report_file.is_file():
            report = json.loads(report_file.read_text())
            entry["device"] = report.get("device")
            entry["timings"] = report.get("timings")
            entry["demo_wall_s"] = report.get("wall_s")
            entry["exact_match"] = {name: report[name]["exact_match"] for name in report
                                    if isinstance(report[name], dict)
                                    and "exact_match" in report[name]}
            entry["ok"] = entry["ok"] and entry["device"] == device
        return entry

    def route_check() -> dict:
        model = demo / "scorer" / "ppo" / "model"
        args = ["route", "how many contracts does each supplier have", "--model", str(model),
                "--device", device, "--json"]
        code, output = _invoke(args)
        entry = {"ok": code == 0}
        try:
            answer = json.loads(output[output.index("{"):])
            entry["status"] = answer.get("status")
            entry["route"] = answer.get("route")
        except ValueError:
            entry["ok"], entry["output_tail"] = False, output[-2000:]
        return entry

    checks.run("router demo", demo_check)
    checks.run("router route", route_check)


def llm_checks(checks: Checks) -> None:
    sys.path.insert(0, str(ROOT / "tests" / "llm"))
    from llm_fixtures import build_tiny_lm

    device, out = checks.device, checks.out
    lm = build_tiny_lm(out / "tiny-lm")
    rows = out / "rows"
    rows.mkdir(parents=True, exist_ok=True)
    sums = [(1, 2), (3, 4), (5, 6), (7, 1), (2, 9), (8, 8)]
    (rows / "sft.jsonl").write_text("".join(json.dumps({
        "prompt": [{"role": "user", "content": f"What is {a} plus {b}?"}],
        "completion": f"The answer is {a + b}."}) + "\n" for a, b in sums))
    (rows / "pairs.jsonl").write_text("".join(json.dumps({
        "prompt": [{"role": "user", "content": f"What is {a} plus {b}?"}],
        "chosen": f"The answer is {a + b}.", "rejected": f"{a + b + 1} apples"}) + "\n"
        for a, b in sums))
    small = ["--set", f"device={device}"]
    task_sets = ["data.n_train=8", "data.n_eval=4", "data.n_test=4", "data.langs=en"]
    task = [arg for item in task_sets for arg in ("--set", item)]

    def trainer(kind: str, sets: list[str], score: str | None = None):
        def check() -> dict:
            run = out / f"llm-{kind}"
            args = ["llm", kind.split("+")[0], "--model", str(lm), "--out", str(run),
                    "--force", *small]
            for item in sets:
                args += ["--set", item]
            entry = checks.cli(args)
            summary_file = run / "summary.json"
            if entry["ok"] and summary_file.is_file():
                summary = json.loads(summary_file.read_text())
                final = summary.get("final_eval") or {}
                entry["steps"] = summary.get("steps")
                entry["final_eval"] = {k: v for k, v in final.items()
                                       if isinstance(v, int | float)}
                entry["ok"] = bool(entry["steps"]) and _finite(entry["final_eval"])
                if score is not None:
                    entry["ok"] = entry["ok"] and score in final
            return entry
        return check

    data = ["learning_rate=0.001", "warmup_ratio=0.0", "batch_size=2", "max_steps=3",
            "eval_every=1"]
    checks.run("llm sft", trainer("sft", [*data, f"data.train_file={rows / 'sft.jsonl'}",
                                          f"data.eval_file={rows / 'sft.jsonl'}"],
                                  "eval_token_accuracy"))
    checks.run("llm rm", trainer("rm", [*data, f"data.train_file={rows / 'pairs.jsonl'}",
                                        f"data.eval_file={rows / 'pairs.jsonl'}"],
                                 "eval_accuracy"))
    checks.run("llm dpo", trainer("dpo", [*data, f"data.train_file={rows / 'pairs.jsonl'}",
                                          f"data.eval_file={rows / 'pairs.jsonl'}"],
                                  "eval_rewards/accuracies"))
    checks.run("llm grpo", trainer("grpo", [
        "total_steps=3", "num_generations=4", "prompts_per_step=2", "max_completion_length=8",
        "eval_every=1", "checkpoint_every=1", "rewards=simple", *task_sets]))
    checks.run("llm ppo", trainer("ppo", [
        "total_steps=3", "prompts_per_step=2", "max_completion_length=8", "eval_every=1",
        "ppo_epochs=1", *task_sets]))
    checks.run("llm ppo+rm", trainer("ppo+rm", [
        "total_steps=2", "prompts_per_step=2", "max_completion_length=8", "eval_every=1",
        "ppo_epochs=1", f"reward_model={out / 'llm-rm' / 'model'}", *task_sets]))

    def eval_check() -> dict:
        run = out / "llm-eval"
        entry = checks.cli(["llm", "eval", "--model", str(lm), "--out", str(run), "--force",
                            *small, "--set", "limit=4", "--set", "max_new_tokens=8", *task])
        report = run / "report.json"
        if entry["ok"] and report.is_file():
            entry["n"] = json.loads(report.read_text()).get("n")
            entry["ok"] = entry["n"] == 4
        return entry

    checks.run("llm eval", eval_check)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N, mps")
    parser.add_argument("--out", type=Path, required=True, help="folder for the runs")
    parser.add_argument("--backbone", default=None, help="router encoder (default: minilm)")
    parser.add_argument("--quick", action="store_true",
                        help="a 2-epoch, 2-update, English-only demo (a minute on a CPU)")
    parser.add_argument("--only", choices=("router", "llm"), default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    import torch

    from pathrl.devices import resolve_device

    device = str(resolve_device(args.device))
    args.out.mkdir(parents=True, exist_ok=True)
    checks = Checks(device, args.out)
    if args.only in (None, "router"):
        router_checks(checks, args.backbone, args.quick)
    if args.only in (None, "llm"):
        llm_checks(checks)
    figures = {"device": device, "torch": torch.__version__,
               "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
               "all_ok": all(r.get("ok") for r in checks.results.values()),
               "checks": checks.results}
    text = json.dumps(figures, indent=2, default=str)
    (args.out / "device_check.json").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
