"""The generative router on the demo dataset: SFT, then GRPO, evaluated with the router's own
evaluation (`pathrl.router.evaluate.evaluate_methods`) on test + heldout, so its rows sit in
the same table as the classifier routers and the prompted-LLM baseline. Prints JSON.

    pathrl data build --out /tmp/gr_data
    python benchmarks/generative_router.py eval --data /tmp/gr_data            # untrained
    python benchmarks/generative_router.py sft  --data /tmp/gr_data --out /tmp/gr/sft --bf16
    python benchmarks/generative_router.py eval --data /tmp/gr_data --model /tmp/gr/sft/model
    python benchmarks/generative_router.py grpo --data /tmp/gr_data \
        --init /tmp/gr/sft/model --out /tmp/gr/grpo --lr 1e-4 --bf16
    python benchmarks/generative_router.py eval --data /tmp/gr_data --model /tmp/gr/grpo/model

Each command is one bounded run (CPU minutes; `--minutes` stops training early, saving the
model): `sft` trains LoRA on the train split (the schema prompt is a cached prefix: steps pay
for questions and answers only); `grpo` draws prompts the SFT router is unsure of from fresh
generator questions (another seed, none in any split) and runs GRPO with the layered route
reward + format reward; `eval` evaluates a saved router (without --model: the untrained
SmolLM2 with this prompt); `--evaluate` makes sft / grpo evaluate too. Two rows per router:
`greedy` (the answer it writes; an unparsable or illegal one counts as no route, illegal) and
`constrained` (greedy decoding held to the legal answers' token trie). `--compare
report.json` adds the rows of a `pathrl demo` report. docs/generative_router.md has the
measured table and the commands behind it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from pathrl.environment import prepare_command_environment

METRICS = ("exact_match", "anchor_accuracy", "target_accuracy", "via_accuracy",
           "via_accuracy_nonnull", "illegal_rate", "exec_success", "exec_match")


def evaluate(router: Any, splits: dict[str, list], database: Any, name: str) -> dict[str, Any]:
    """Greedy and constrained rows of the router evaluation on test + heldout."""
    from pathrl.router.evaluate import MethodPredictions, evaluate_methods

    examples = list(splits["test"]) + list(splits["heldout"])
    names = ["test"] * len(splits["test"]) + ["heldout"] * len(splits["heldout"])
    questions = [ex.question for ex in examples]
    start = time.perf_counter()
    greedy = router.predict(questions, constrained=False)
    greedy_s = time.perf_counter() - start
    parses = dict(router.parse_counts())
    start = time.perf_counter()
    constrained = router.predict(questions, constrained=True)
    constrained_s = time.perf_counter() - start
    report = evaluate_methods([MethodPredictions(f"{name}-greedy", greedy, None, greedy_s),
                               MethodPredictions(f"{name}-constrained", constrained, None,
                                                 constrained_s)],
                              examples, router.vocab, database, names)
    rows = {m: {k: round(float(report[m][k]), 4) for k in (*METRICS, "wall_s")
                if k in report[m]} for m in report["methods"]}
    rows[f"{name}-greedy"]["answers"] = parses
    by_split = {split: {m: round(v["exact_match"], 4) for m, v in per.items()}
                for split, per in report["groups"]["split"].items()}
    return {"n": len(examples), "rows": rows, "exact_match_by_split": by_split}


class TimeBudget:
    """Stops training after `minutes` (the trainer saves the model as after a full run), and
    reports each step on stderr."""

    def __init__(self, minutes: float):
        self.deadline = time.perf_counter() + 60 * minutes
        self.start = time.perf_counter()
        self.should_stop = False

    def on_update(self, step: int, metrics: dict[str, Any]) -> None:
        keys = ("loss", "reward", "rewards/route_reward/mean", "kl")
        shown = {k: round(float(metrics[k]), 4) for k in keys if metrics.get(k) is not None}
        print(f"step {step}: {time.perf_counter() - self.start:.0f}s {shown}", file=sys.stderr,
              flush=True)
        self.should_stop = time.perf_counter() > self.deadline


def compare_rows(report_file: Path | None) -> dict[str, Any]:
    if report_file is None:
        return {}
    report = json.loads(report_file.read_text())
    return {m: {k: round(float(report[m][k]), 4) for k in METRICS if k in report[m]}
            for m in report["methods"]}


def open_data(data: Path):
    from pathrl.data.example import load_dataset
    from pathrl.db import open_database
    from pathrl.demo import demo_schema
    from pathrl.paths import PathVocab

    schema = demo_schema()
    splits = load_dataset(data, PathVocab.from_schema(schema))
    return schema, splits, open_database(schema, "sqlite", None, demo_seed=7)


def lora(args: argparse.Namespace):
    from pathrl.llm.models import LoraSettings

    return LoraSettings(r=args.lora_r, alpha=2 * args.lora_r, dropout=0.0)


def run_sft(args: argparse.Namespace) -> dict[str, Any]:
    from pathrl.llm.genrouter.router import GenerativeConfig
    from pathrl.llm.genrouter.train import train_generative_sft
    from pathrl.llm.sft import LLMSFTConfig

    schema, splits, database = open_data(args.data)
    config = LLMSFTConfig(model="smollm2", device="cpu", lora=lora(args),
                          learning_rate=args.lr, batch_size=args.batch_size,
                          epochs=args.epochs, max_steps=args.steps, max_length=96,
                          warmup_ratio=0.05, eval_every=0, bf16=args.bf16, seed=args.seed)
    start = time.perf_counter()
    router, summary = train_generative_sft(schema, splits, args.out, config,
                                           GenerativeConfig(completion=args.completion),
                                           callbacks=[TimeBudget(args.minutes)])
    train_s = time.perf_counter() - start
    out = {"stage": "sft", "train_s": round(train_s, 1), "steps": summary.steps,
           "planned_steps": summary.config["max_steps"] or None,
           "examples_seen": summary.steps * args.batch_size,
           "train_examples": summary.train_examples,
           "last_loss": summary.last_metrics.get("loss"),
           "router_dir": str(Path(args.out) / "model")}
    if args.evaluate:
        out.update(evaluate(router, splits, database, "generative-sft"))
    return out


def run_grpo(args: argparse.Namespace) -> dict[str, Any]:
    from pathrl.llm.genrouter.router import GenerativeRouter
    from pathrl.llm.genrouter.train import train_generative_grpo, uncertain_examples
    from pathrl.llm.grpo import GRPOConfig
    from pathrl.router.workflows import fresh_questions

    schema, splits, database = open_data(args.data)
    start = time.perf_counter()
    sft_router = GenerativeRouter.from_pretrained(args.init, schema, device="cpu",
                                                  dtype="bfloat16")
    fresh = fresh_questions(schema, database, seen=splits, seed=args.seed, size_factor=1.0)
    pool = fresh[:args.pool]
    prompts = uncertain_examples(sft_router, pool, max_probability=args.max_probability)
    select_s = time.perf_counter() - start
    budget = sft_router.config.answer_budget  # the answer format's length
    del sft_router
    config = GRPOConfig(device="cpu", lora=lora(args), num_generations=args.generations,
                        prompts_per_step=args.prompts_per_step, max_prompt_length=128,
                        max_completion_length=budget, temperature=1.0,
                        learning_rate=args.lr, beta=args.beta, total_steps=args.steps,
                        eval_every=0, checkpoint_every=0, micro_batch_size=16,
                        generation_batch_size=64, bf16=args.bf16, seed=args.seed)
    start = time.perf_counter()
    from pathrl.router.reward import RewardConfig

    reward = RewardConfig(conditional_granting=args.conditional_granting)
    router, summary = train_generative_grpo(schema, args.init, prompts, args.out, config,
                                            reward=reward,
                                            callbacks=[TimeBudget(args.minutes)])
    train_s = time.perf_counter() - start
    log = [json.loads(line) for line in (Path(args.out) / "metrics.jsonl").read_text()
           .splitlines() if line.strip()]
    curve = [{"step": i + 1, "reward": round(r["reward"], 4),
              "route": round(r["rewards/route_reward/mean"], 4),
              "format": round(r["rewards/route_format_reward/mean"], 4),
              "clipped": round(r["completions/clipped_ratio"], 3),
              "kl": round(r.get("kl", 0.0), 5)} for i, r in enumerate(log)]
    out = {"stage": "grpo", "pool": len(pool), "prompts": len(prompts),
           "conditional_granting": args.conditional_granting,
           "select_s": round(select_s, 1), "train_s": round(train_s, 1),
           "steps": summary.steps, "seconds_per_step": round(summary.seconds_per_step, 1),
           "curve": curve, "router_dir": str(Path(args.out) / "model")}
    if args.evaluate:
        out.update(evaluate(router, splits, database, "generative-grpo"))
    return out


def run_eval(args: argparse.Namespace) -> dict[str, Any]:
    from pathrl.llm.genrouter.router import GenerativeConfig, GenerativeRouter
    from pathrl.llm.models import load_policy

    schema, splits, database = open_data(args.data)
    if args.model is None:
        model, tokenizer = load_policy("smollm2", device="cpu", dtype=args.dtype)
        router = GenerativeRouter(schema, model, tokenizer,
                                  GenerativeConfig(completion=args.completion))
        name = "generative-untrained"
    else:
        router = GenerativeRouter.from_pretrained(args.model, schema, device="cpu",
                                                  dtype=args.dtype)
        name = args.name
    return {"stage": "eval", **evaluate(router, splits, database, name)}


def main(argv: list[str] | None = None) -> int:
    prepare_command_environment()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="stage", required=True)
    for stage in ("sft", "grpo", "eval"):
        p = sub.add_parser(stage)
        p.add_argument("--data", type=Path, required=True, help="`pathrl data build` output")
        p.add_argument("--compare", type=Path, help="a `pathrl demo` report.json")
        p.add_argument("--completion", default="triple", choices=("triple", "id"))
        p.add_argument("--seed", type=int, default=7)
        if stage in ("sft", "grpo"):
            p.add_argument("--out", type=Path, required=True)
            p.add_argument("--force", action="store_true", help="replace an earlier run")
            p.add_argument("--lora-r", type=int, default=16)
            p.add_argument("--steps", type=int, default=0 if stage == "sft" else 12)
            p.add_argument("--lr", type=float, default=1e-3 if stage == "sft" else 2e-5)
            p.add_argument("--minutes", type=float, default=13.0,
                           help="stop training after this long (the model is saved)")
            p.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
            p.add_argument("--evaluate", action="store_true",
                           help="also evaluate (else: the eval command, a run of its own)")
        if stage == "sft":
            p.add_argument("--epochs", type=int, default=2)
            p.add_argument("--batch-size", type=int, default=12)
        if stage == "grpo":
            p.add_argument("--init", type=Path, required=True, help="the SFT router directory")
            p.add_argument("--pool", type=int, default=240, help="fresh questions to screen")
            p.add_argument("--max-probability", type=float, default=0.9)
            p.add_argument("--generations", type=int, default=8)
            p.add_argument("--prompts-per-step", type=int, default=4)
            p.add_argument("--beta", type=float, default=0.04)
            p.add_argument("--conditional-granting", action=argparse.BooleanOptionalAction,
                           default=True, help="the layered reward's: a wrong anchor voids "
                           "the via component")
        if stage == "eval":
            p.add_argument("--model", type=Path, help="a saved generative router directory")
            p.add_argument("--name", default="generative")
            p.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float32"),
                           help="weights for routing (bfloat16: ~2x faster on this CPU)")
    args = parser.parse_args(argv)
    from pathrl.errors import PathrlError

    try:
        if args.stage in ("sft", "grpo"):
            from pathrl.io import check_output_dir

            check_output_dir(args.out, args.force, "output directory",
                             owned=("model", "checkpoints", "metrics.jsonl", "summary.json",
                                    "config.yaml"))
        start = time.perf_counter()
        result = {"sft": run_sft, "grpo": run_grpo, "eval": run_eval}[args.stage](args)
        result["wall_s"] = round(time.perf_counter() - start, 1)
        result["compare"] = compare_rows(args.compare)
    except PathrlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
