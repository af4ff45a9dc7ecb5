"""Seconds per GRPO step for a fixed setup, pathrl's GRPOTrainer and (with --trl) TRL's.

    .venv/bin/python benchmarks/grpo_step_time.py                  # pathrl only
    .venv/bin/python benchmarks/grpo_step_time.py --trl            # + TRL GRPOTrainer
    .venv/bin/python benchmarks/grpo_step_time.py --whole-rows     # pathrl, no shared prompt

The setup is the same for both: the policy (default: the packaged SmolLM2-135M-Instruct,
saved once as a plain Hugging Face directory so TRL can load its reference from it), the
arithmetic task's prompts (system prompt + question), the `standard` rule rewards,
`--prompts` prompts × `--generations` completions per step of at most `--completion-length`
tokens at temperature 1, beta 0.04 (a reference forward pass), one optimiser step per
generation batch in micro-batches of `--micro-batch`, token-mean loss (TRL: dapo), float32
weights on the CPU (`--bf16`: bfloat16 autocast in both trainers; `--device cuda`: both on the
GPU, the clock read after a CUDA synchronisation). pathrl runs each prompt once per
micro-batch (`share_prompt_pass`, docs/llm_rl.md "Each prompt once"); `--whole-rows` turns
that off to show what it saves. The first `--warmup`
steps are left out of the timing. Prints one JSON object: the setup, and per trainer the
seconds per step (mean, median, each step), for pathrl split into rollout (generation +
rewards + reference) and optimisation; completion tokens per second.

TRL needs `pip install --no-deps trl` plus `datasets` (`pip install -e ".[trl]"`); without
it the JSON says why it was skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def plain_model_dir(model: str, cache: Path) -> str:
    """`model` as a plain Hugging Face directory (a GGUF alias is converted once)."""
    from pathrl.backbones import resolve_backbone

    source = resolve_backbone(model)
    if source.gguf_file is None:
        return source.path
    target = cache / f"{model}-hf"
    if not (target / "config.json").is_file():
        from pathrl.llm.models import load_policy, save_policy

        loaded, tokenizer = load_policy(model, device="cpu", dtype="float32")
        save_policy(loaded, tokenizer, target)
    return str(target)


def task_rows(n: int, seed: int) -> list[dict[str, Any]]:
    from pathrl.llm.tasks import generate_problems, grpo_row

    return [grpo_row(p) for p in generate_problems(n, seed=seed)]


def clock(device: str) -> float:
    """perf_counter once the device's queued work is done (CUDA runs asynchronously)."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter()


def summarise(times: list[float], tokens: list[int]) -> dict[str, Any]:
    return {"seconds_per_step": statistics.fmean(times),
            "median_seconds_per_step": statistics.median(times),
            "step_seconds": [round(t, 3) for t in times],
            "completion_tokens_per_s": sum(tokens) / sum(times)}


def time_pathrl(model_dir: str, rows: list[dict[str, Any]], args: argparse.Namespace,
                out: Path) -> dict[str, Any]:
    import torch

    from pathrl.llm.grpo import GRPOConfig, GRPOTrainer
    from pathrl.llm.models import load_policy
    from pathrl.llm.rewards import reward_set

    torch.manual_seed(args.seed)
    model, tokenizer = load_policy(model_dir, device=args.device, dtype="float32")
    config = GRPOConfig(
        num_generations=args.generations, prompts_per_step=args.prompts,
        max_completion_length=args.completion_length, temperature=1.0,
        learning_rate=1e-6, beta=0.04, micro_batch_size=args.micro_batch, bf16=args.bf16,
        total_steps=args.warmup + args.steps, eval_every=0, checkpoint_every=0, doctor=False,
        seed=args.seed, share_prompt_pass=not args.whole_rows)
    trainer = GRPOTrainer(model, tokenizer, reward_set("standard"), rows, config, out)
    times, rollouts, updates, tokens = [], [], [], []
    for step in range(args.warmup + args.steps):
        start = clock(args.device)
        with trainer.autocast():
            batch = trainer.rollout(trainer.pool.batch(step, config.prompts_per_step))
        middle = clock(args.device)
        trainer.optimise(batch)
        end = clock(args.device)
        trainer.step += 1
        if step >= args.warmup:
            times.append(end - start)
            rollouts.append(middle - start)
            updates.append(end - middle)
            tokens.append(int(batch.generation.completion_lengths.sum()))
    result = summarise(times, tokens)
    result["rollout_seconds"] = statistics.fmean(rollouts)
    result["optimise_seconds"] = statistics.fmean(updates)
    result["mean_completion_length"] = sum(tokens) / (len(tokens) * args.prompts
                                                      * args.generations)
    return result


def time_trl(model_dir: str, rows: list[dict[str, Any]], args: argparse.Namespace,
             out: Path) -> dict[str, Any]:
    try:
        import datasets
        import trl
        from transformers import TrainerCallback
    except ImportError as exc:
        return {"skipped": f"TRL is not installed ({exc.name}): pip install --no-deps trl "
                           "and datasets"}
    import torch

    from pathrl.llm.rewards import reward_set

    rewards = reward_set("standard")
    per_step = args.prompts * args.generations
    config = trl.GRPOConfig(
        output_dir=str(out), num_generations=args.generations,
        per_device_train_batch_size=args.micro_batch,
        gradient_accumulation_steps=per_step // args.micro_batch,
        max_completion_length=args.completion_length, temperature=1.0, learning_rate=1e-6,
        beta=0.04, loss_type="dapo", max_steps=args.warmup + args.steps, logging_steps=1,
        save_strategy="no", report_to="none", use_cpu=args.device == "cpu", bf16=args.bf16,
        seed=args.seed,
        reward_weights=list(rewards.weights), disable_tqdm=True, disable_dropout=True,
        lr_scheduler_type="constant", gradient_checkpointing=False)  # pathrl's default

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self._start = 0.0

        def on_step_begin(self, *a: Any, **k: Any) -> None:
            self._start = clock(args.device)

        def on_step_end(self, *a: Any, **k: Any) -> None:
            self.times.append(clock(args.device) - self._start)

    timer = StepTimer()
    torch.manual_seed(args.seed)
    trainer = trl.GRPOTrainer(model=model_dir, reward_funcs=list(rewards.funcs), args=config,
                              train_dataset=datasets.Dataset.from_list(rows),
                              callbacks=[timer])
    with contextlib.redirect_stdout(sys.stderr):  # TRL prints its logs: keep stdout JSON
        trainer.train()
    times = timer.times[args.warmup:]
    lengths = [h["completions/mean_length"] for h in trainer.state.log_history
               if "completions/mean_length" in h][args.warmup:]
    tokens = [int(length * per_step) for length in lengths]
    result = summarise(times, tokens)
    result["trl_version"] = trl.__version__
    result["mean_completion_length"] = statistics.fmean(lengths)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (both trainers)")
    parser.add_argument("--generations", type=int, default=8)
    parser.add_argument("--prompts", type=int, default=2)
    parser.add_argument("--completion-length", type=int, default=64)
    parser.add_argument("--micro-batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast (both)")
    parser.add_argument("--trl", action="store_true", help="also time TRL's GRPOTrainer")
    parser.add_argument("--whole-rows", action="store_true",
                        help="pathrl with share_prompt_pass off (every row's prompt run, as TRL)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir())
                        / "pathrl-bench", help="where the plain copy of a GGUF model goes")
    args = parser.parse_args()
    if (args.prompts * args.generations) % args.micro_batch:
        parser.error("--prompts × --generations must be a multiple of --micro-batch")
    import torch

    args.cache.mkdir(parents=True, exist_ok=True)
    model_dir = plain_model_dir(args.model, args.cache)
    rows = task_rows(64, args.seed)
    report: dict[str, Any] = {
        "setup": {"model": args.model, "num_generations": args.generations,
                  "prompts_per_step": args.prompts,
                  "max_completion_length": args.completion_length,
                  "micro_batch_size": args.micro_batch, "beta": 0.04, "weights": "float32",
                  "bf16_autocast": args.bf16,
                  "device": args.device, "torch_threads": torch.get_num_threads(),
                  "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda")
                  else None,
                  "timed_steps": args.steps, "warmup_steps": args.warmup,
                  "pathrl_share_prompt_pass": not args.whole_rows}}
    with tempfile.TemporaryDirectory() as tmp:
        report["pathrl"] = time_pathrl(model_dir, rows, args, Path(tmp) / "pathrl")
        if args.trl:
            report["trl"] = time_trl(model_dir, rows, args, Path(tmp) / "trl")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
