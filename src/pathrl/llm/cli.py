"""`pathrl llm sft|rm|dpo|grpo|ppo|eval`: RLHF for generative LLMs from the command line.

Each command reads a config (`--config FILE.yaml`, then `--set key=value` overrides, see
`pathrl.config`), runs the trainer module's `run_*` function and prints what it measured.
Heavy imports (torch, transformers) stay inside the commands.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pathrl.errors import PathrlError

console = Console()
app = typer.Typer(help="RLHF for generative LLMs: chat SFT, a reward model, DPO, evaluation "
                       "on the arithmetic task.", no_args_is_help=True)

ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", "-c", help="YAML file of config keys (see docs/llm.md).")]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="Override one config key: key=value, dotted for sections (lora.r=8, "
                  "data.n_train=256). Repeatable.")]
ModelOpt = Annotated[str | None, typer.Option(
    "--model", "-m", help="Model to start from: smollm2 (packaged) | a local HF directory | a "
                          "pathrl OUT/model. Default: the config's `model` (smollm2).")]
ForceOpt = Annotated[bool, typer.Option(
    "--force", help="Replace the previous run's files in OUT (only those this command writes).")]
ResumeOpt = Annotated[bool, typer.Option(
    "--resume", help="Continue the run in OUT from its latest checkpoint, with its "
                     "config.yaml (and --set overrides, e.g. more max_steps).")]

TRAIN_OUTPUTS = ("model", "metrics.jsonl", "summary.json", "config.yaml", "checkpoints", "tb",
                 "curves.png")
EVAL_OUTPUTS = ("report.json", "report.txt")
SHOWN = ("loss", "eval_loss", "eval_token_accuracy", "accuracy", "eval_accuracy",
         "rewards/margins", "rewards/accuracies", "eval_rewards/accuracies",
         "reward", "objective/scores", "kl", "eval/exact_match", "eval/format_rate")


@contextmanager
def _progress(description: str) -> Iterator[Any]:
    """A Rich progress bar; the trainers call `advance(done, total, metrics)`."""
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[info]}"))
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(description, total=None, info="loading the model")

        def advance(done: int, total: int, metrics: dict[str, Any]) -> None:
            info = " ".join(f"{k}={metrics[k]:.3f}" for k in SHOWN
                            if isinstance(metrics.get(k), float))
            bar.update(task, completed=done, total=total, info=info)

        yield advance


@contextmanager
def _resume_hint(out: Path) -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt:
        console.print(f"[yellow]interrupted[/]: the last whole step is checkpointed in "
                      f"{out / 'checkpoints'}; continue with the same command and --resume")
        raise


def _claim_output(out: Path, force: bool, owned: tuple[str, ...]) -> None:
    """Refuse an OUT holding another run unless --force; with --force remove only what this
    command writes."""
    from pathrl.io import check_output_dir

    for path in check_output_dir(out, force, "--out", owned):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def _train_config(cls: type, config: Path | None, sets: list[str] | None, model: str | None,
                  out: Path, force: bool, resume: bool) -> Any:
    """The run's config, with the output policy applied (nothing is written yet)."""
    from pathrl.config import load_config

    overrides = list(sets or [])
    if resume:
        if force:
            raise PathrlError("--resume continues the run in OUT: not with --force")
        if config is not None or model is not None:
            raise PathrlError("--resume reads the run's own OUT/config.yaml: drop --config and "
                              "--model (change single keys with --set)")
        saved = out / "config.yaml"
        if not saved.is_file() or not any((out / "checkpoints").glob("step_*.pt")):
            raise PathrlError(f"--resume: no checkpoint of a run in {out} "
                              "(OUT/config.yaml and OUT/checkpoints/step_*.pt)")
        return load_config(cls, saved, overrides)
    if model is not None:
        overrides.insert(0, f"model={model}")
    loaded = load_config(cls, config, overrides)
    _claim_output(out, force, TRAIN_OUTPUTS)
    return loaded


def _report(summary: Any, out: Path, score: str) -> None:
    final = summary.final_eval
    if score in final:
        start = summary.initial_eval.get(score)
        before = f" (start {start:.3f})" if isinstance(start, float) else ""
        console.print(f"held-out {score} {final[score]:.3f}{before}")
    last = summary.last_metrics
    shown = ", ".join(f"{k} {last[k]:.4f}" for k in SHOWN
                      if isinstance(last.get(k), float) and not k.startswith("eval_"))
    if shown:
        console.print(f"last step: {shown}")
    if summary.stop_reason:
        console.print(f"[yellow]stopped early:[/] {summary.stop_reason}")
    console.print(f"{summary.steps} steps in {summary.wall_s:.0f} s; model saved to "
                  f"[bold]{out / 'model'}[/], log {out / 'metrics.jsonl'}")
    if getattr(summary, "curves", None):
        console.print(f"curves: {summary.curves}")


OutSft = Annotated[Path, typer.Option("--out", "-o", help="Output directory.")]


@app.command("sft")
def sft_cmd(config: ConfigOpt = None, sets: SetOpt = None, model: ModelOpt = None,
            out: OutSft = Path("runs/llm-sft"), force: ForceOpt = False,
            resume: ResumeOpt = False) -> None:
    """Chat SFT (loss on the answer tokens only), by default on the arithmetic task's worked
    solutions. Writes OUT/model, metrics.jsonl, summary.json, config.yaml, checkpoints."""
    from pathrl.llm.sft import LLMSFTConfig, run_sft

    cfg = _train_config(LLMSFTConfig, config, sets, model, out, force, resume)
    with _progress("SFT") as advance, _resume_hint(out):
        summary = run_sft(cfg, out, resume=resume, progress=advance)
    _report(summary, out, "eval_loss")


@app.command("rm")
def rm_cmd(config: ConfigOpt = None, sets: SetOpt = None, model: ModelOpt = None,
           out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")]
           = Path("runs/llm-rm"), force: ForceOpt = False, resume: ResumeOpt = False) -> None:
    """Bradley–Terry reward model on preference pairs (by default the arithmetic task's
    correct vs broken completions). OUT/model is a merged reward model for `RewardScorer`."""
    from pathrl.llm.reward_model import RewardModelConfig, run_reward_model

    cfg = _train_config(RewardModelConfig, config, sets, model, out, force, resume)
    with _progress("reward model") as advance, _resume_hint(out):
        summary = run_reward_model(cfg, out, resume=resume, progress=advance)
    _report(summary, out, "eval_accuracy")


@app.command("dpo")
def dpo_cmd(config: ConfigOpt = None, sets: SetOpt = None, model: ModelOpt = None,
            out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")]
            = Path("runs/llm-dpo"), force: ForceOpt = False, resume: ResumeOpt = False) -> None:
    """DPO against a frozen reference (the starting policy) on preference pairs."""
    from pathrl.llm.dpo import DPOConfig, run_dpo

    cfg = _train_config(DPOConfig, config, sets, model, out, force, resume)
    with _progress("DPO") as advance, _resume_hint(out):
        summary = run_dpo(cfg, out, resume=resume, progress=advance)
    _report(summary, out, "eval_rewards/accuracies")


@app.command("eval")
def eval_cmd(config: ConfigOpt = None, sets: SetOpt = None, model: ModelOpt = None,
             out: Annotated[Path | None, typer.Option(
                 "--out", "-o", help="Also write OUT/report.json and OUT/report.txt.")] = None,
             force: ForceOpt = False) -> None:
    """The arithmetic task's evaluation block (format, plausible number, exact answer,
    length; per language) on the held-out test problems, greedy decoding."""
    from pathrl.config import load_config
    from pathrl.llm.training import LLMEvalConfig, evaluate_model

    overrides = ([f"model={model}"] if model is not None else []) + list(sets or [])
    cfg = load_config(LLMEvalConfig, config, overrides)
    if out is not None:
        _claim_output(out, force, EVAL_OUTPUTS)
    with _progress(f"eval {cfg.model}") as advance:
        report = evaluate_model(cfg, progress=advance)
    text = report.summary()
    console.print(text, markup=False, highlight=False)
    if out is not None:
        from pathrl.io import atomic_write_text

        record = {"model": cfg.model, **report.to_dict(include_results=True)}
        atomic_write_text(out / "report.json",
                          json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        atomic_write_text(out / "report.txt", text + "\n")
        console.print(f"report: [bold]{out / 'report.json'}[/], {out / 'report.txt'}")


def _doctor_findings(summary: Any) -> None:
    """The live doctor's findings of an RL run, one line each."""
    for finding in summary.findings:
        colour = {"critical": "red", "warning": "yellow"}.get(finding["severity"], "cyan")
        console.print(f"[{colour}]doctor {finding['severity']}[/] {finding['rule']}: "
                      f"{finding['diagnosis']}", highlight=False)


@app.command("grpo")
def grpo_cmd(config: ConfigOpt = None, sets: SetOpt = None, model: ModelOpt = None,
             out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")]
             = Path("runs/llm-grpo"), force: ForceOpt = False,
             resume: ResumeOpt = False) -> None:
    """GRPO with the task's rule rewards (`rewards` preset): G sampled completions per
    prompt, group-normalised advantages, KL to the frozen starting policy, the live doctor.
    Writes OUT/model, metrics.jsonl, curves.png, summary.json, config.yaml, checkpoints."""
    from pathrl.llm.grpo import GRPOConfig, run_grpo

    cfg = _train_config(GRPOConfig, config, sets, model, out, force, resume)
    with _progress("GRPO") as advance, _resume_hint(out):
        summary = run_grpo(cfg, out, resume=resume, progress=advance)
    _report(summary, out, "eval/exact_match")
    _doctor_findings(summary)


@app.command("ppo")
def ppo_cmd(config: ConfigOpt = None, sets: SetOpt = None, model: ModelOpt = None,
            out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")]
            = Path("runs/llm-ppo"), force: ForceOpt = False, resume: ResumeOpt = False) -> None:
    """Token-level PPO with a value head: a reward model (`--set reward_model=DIR`, from
    `pathrl llm rm`) or the rule rewards scores each completion at its EOS, per-token KL to
    the frozen starting policy, GAE, adaptive beta, the live doctor."""
    from pathrl.llm.ppo import TokenPPOConfig, run_token_ppo

    cfg = _train_config(TokenPPOConfig, config, sets, model, out, force, resume)
    with _progress("PPO") as advance, _resume_hint(out):
        summary = run_token_ppo(cfg, out, resume=resume, progress=advance)
    _report(summary, out, "eval/exact_match")
    _doctor_findings(summary)
