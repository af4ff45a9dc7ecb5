"""`pathrl warmup`: the RL warm-up lab (docs/method.md §11).

Heavy imports (gymnasium, stable-baselines3, torch) happen inside the commands so that
``pathrl --help`` stays fast.
"""

from __future__ import annotations

import ast
import shlex
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from pathrl.errors import PathrlError

app = typer.Typer(help="RL warm-up lab.", no_args_is_help=True)
lunarlander_app = typer.Typer(
    help="LunarLander-v3: reward shaping, default vs custom reward, four-algorithm comparison.",
    no_args_is_help=True,
)
app.add_typer(lunarlander_app, name="lunarlander")
console = Console()

ALGO_HELP = "ppo, a2c, dqn, trpo, qrdqn or sac (sac uses the continuous env)."
FORCE_HELP = "Replace the report and same-named run folders of an earlier run in OUT."
REWARD_HELP = "Reward: default (env reward), custom (method §11.2), potential, or a .json file."


def parse_hyperparams(pairs: list[str]) -> dict[str, Any]:
    """``["n_steps=256", "policy_kwargs={'net_arch': [64, 64]}"]`` → dict (Python literals)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise PathrlError(f"--hp expects KEY=VALUE, got {pair!r}")
        try:
            value: Any = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw  # plain strings such as lin_3e-4 or auto
        out[key.strip()] = value
    return out


def _split(csv: str) -> list[str]:
    items = [item.strip() for item in csv.split(",") if item.strip()]
    if not items:
        raise PathrlError("expected a comma-separated list, got nothing")
    return items


def _command_line() -> str:
    return "pathrl " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _summary(report: dict[str, Any], out: Path) -> None:
    from rich.table import Table

    table = Table(title=f"LunarLander-v3 — {out / 'report.json'}")
    for column in ("run", "steps", "mean ± std", "success", "fuel", "wall s"):
        table.add_column(column, justify="right" if column != "run" else "left")
    for run in report["runs"]:
        mean = run.get("mean_reward")
        table.add_row(
            run["name"],
            str(run.get("trained_timesteps", run["timesteps"])),
            "interrupted" if mean is None else f"{mean:.1f} ± {run['std_reward']:.1f}",
            "–" if run.get("success_rate") is None else f"{run['success_rate']:.0%}",
            "–" if run.get("mean_fuel") is None else f"{run['mean_fuel']:.0f}",
            f"{run['wall_s']:.1f}",
        )
    console.print(table)
    console.print(f"Markdown report: {out / 'report.md'}")


def _base_config(**kwargs: Any) -> Any:
    from pathrl.warmup.train import TrainConfig

    return TrainConfig(**kwargs)


@lunarlander_app.command()
def train(
    algo: str = typer.Option("ppo", help=ALGO_HELP),
    timesteps: int = typer.Option(100_000, help="Training steps (summed over parallel envs)."),
    out: Path = typer.Option(Path("runs/warmup/lunarlander"), help="Output directory."),
    reward: str = typer.Option("default", help=REWARD_HELP),
    seed: int = typer.Option(0, help="Seed for model, training envs and evaluation."),
    n_envs: int | None = typer.Option(None, help="Parallel envs (default: the zoo's value)."),
    hp: list[str] = typer.Option([], help="Hyperparameter override KEY=VALUE (repeatable)."),
    eval_episodes: int = typer.Option(20, help="Deterministic evaluation episodes."),
    select_every: int | None = typer.Option(
        None, help="Timesteps between checkpoint-selection evaluations on their own seeds; the "
        "best checkpoint is kept (default: PPO on the env reward 25000, else 0 = keep the last)."),
    select_episodes: int = typer.Option(10, help="Episodes per selection evaluation."),
    gif: bool = typer.Option(True, help="Record one evaluation episode as a GIF."),
    max_episode_steps: int | None = typer.Option(
        None, help="Cap episode length (default: env's 1000)."
    ),
    threads: int = typer.Option(1, help="torch threads."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    force: bool = typer.Option(False, help=FORCE_HELP),
) -> None:
    """Train one agent, evaluate it, record a GIF; writes OUT/report.json and OUT/report.md."""
    from pathrl.warmup.lab import run_lab

    config = _base_config(
        algo=algo,
        timesteps=timesteps,
        reward=reward,
        seed=seed,
        n_envs=n_envs,
        hyperparams=parse_hyperparams(hp),
        eval_episodes=eval_episodes,
        select_every=select_every,
        select_episodes=select_episodes,
        gif=gif,
        max_episode_steps=max_episode_steps,
        torch_threads=threads,
        progress=progress,
    )
    report = run_lab([config], out, _command_line(), force=force)
    _summary(report, out)


@lunarlander_app.command()
def compare(
    timesteps: int = typer.Option(100_000, help="Training steps per run (equal for all)."),
    out: Path = typer.Option(Path("runs/warmup/compare"), help="Output directory."),
    algos: str = typer.Option("ppo,a2c,dqn,trpo", help="Comma-separated algorithms."),
    rewards: str = typer.Option(
        "default", help="Comma-separated reward configs; e.g. default,custom for the reward lesson."
    ),
    seed: int = typer.Option(0, help="Same seed for every run."),
    eval_episodes: int = typer.Option(20, help="Deterministic evaluation episodes per run."),
    gif: bool = typer.Option(True, help="Record one evaluation episode per model."),
    max_episode_steps: int | None = typer.Option(
        None, help="Cap episode length (default: env's 1000)."
    ),
    threads: int = typer.Option(1, help="torch threads."),
    progress: bool = typer.Option(True, help="Show progress bars."),
    force: bool = typer.Option(False, help=FORCE_HELP),
) -> None:
    """Train every ALGO × REWARD at equal timesteps and seed; one table, curves and GIFs."""
    from pathrl.warmup.lab import configs_for, run_lab

    base = _base_config(
        timesteps=timesteps,
        seed=seed,
        # equal terms: every algorithm is scored on its last model (PPO's train default keeps
        # its best checkpoint, which the others do not)
        select_every=0,
        eval_episodes=eval_episodes,
        gif=gif,
        max_episode_steps=max_episode_steps,
        torch_threads=threads,
        progress=progress,
    )
    report = run_lab(configs_for(_split(algos), _split(rewards), base), out, _command_line(),
                     force=force)
    _summary(report, out)


@lunarlander_app.command()
def gif(
    model: Path = typer.Argument(..., help="A model.zip written by train/compare."),
    out: Path | None = typer.Option(
        None, help="GIF path (default: next to the model, episode.gif)."
    ),
    algo: str | None = typer.Option(
        None, help="Algorithm (default: read from run.json beside model)."
    ),
    seed: int = typer.Option(1000, help="Seed of the recorded episode."),
    max_steps: int = typer.Option(1000, help="Longest episode to record."),
    fps: int = typer.Option(25, help="GIF frames per second."),
    force: bool = typer.Option(False, help="Overwrite an existing GIF."),
) -> None:
    """Record one deterministic episode of a saved model as a GIF (headless)."""
    import json

    from pathrl.io import check_output_file
    from pathrl.warmup.algos import get_algo

    if not model.is_file():
        raise PathrlError(f"model file not found: {model}")
    if algo is None:
        sidecar = model.with_name("run.json")
        if not sidecar.is_file():
            raise PathrlError(f"no run.json next to {model}: pass --algo")
        try:
            algo = str(json.loads(sidecar.read_text(encoding="utf-8"))["algo"])
        except (OSError, ValueError, KeyError, TypeError):
            raise PathrlError(f"{sidecar} has no readable 'algo': pass --algo") from None
    spec = get_algo(algo)
    if fps < 1:
        raise PathrlError(f"--fps must be positive, got {fps}")
    gif_path = out or model.with_name("episode.gif")
    if max_steps < 1:
        raise PathrlError(f"--max-steps must be positive, got {max_steps}")
    check_output_file(gif_path, force, "--out")

    import torch

    from pathrl.warmup.evaluate import record_gif
    from pathrl.warmup.train import ensure_writable_dir

    torch.set_num_threads(1)
    ensure_writable_dir(gif_path.parent)
    try:
        loaded = spec.load_class().load(model, device="cpu")
    except Exception as exc:  # zip/pickle errors vary; the user only needs to know it failed
        raise PathrlError(f"cannot load {model} as {spec.class_name}: {exc}") from None
    info = record_gif(
        loaded, gif_path, seed=seed, continuous=spec.continuous, max_steps=max_steps, fps=fps
    )
    console.print(
        f"wrote {gif_path} ({info['gif_frames']} frames, {info['gif_steps']} steps, "
        f"return {info['gif_return']:.1f})"
    )
