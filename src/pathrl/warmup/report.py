"""Learning-curve plots and the Markdown report of a lab run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pathrl.warmup.envs import SOLVED_RETURN

#: Episodes in the moving average of a learning curve.
CURVE_WINDOW = 50


def load_curve(monitor_dir: Path) -> tuple[list[int], list[float]]:
    """(cumulative timesteps, episode return) from SB3 Monitor CSVs, in wall-clock order."""
    from stable_baselines3.common.monitor import LoadMonitorResultsError, load_results
    from stable_baselines3.common.results_plotter import X_TIMESTEPS, ts2xy

    try:
        frame = load_results(str(monitor_dir))
    except LoadMonitorResultsError:
        return [], []
    if frame.empty:
        return [], []
    x, y = ts2xy(frame, X_TIMESTEPS)
    return [int(v) for v in x], [float(v) for v in y]


def plot_learning_curves(runs: dict[str, Path], out_png: Path, window: int = CURVE_WINDOW) -> Path:
    """One line per run: moving average of the env's episode return against timesteps."""
    import numpy as np

    from pathrl.plots import figure, save_png

    with figure(figsize=(8, 4.5), dpi=100) as fig:
        ax = fig.subplots()
        for name, monitor_dir in runs.items():
            x, y = load_curve(monitor_dir)
            if not x:
                continue
            y_arr = np.asarray(y)
            w = max(1, min(window, len(y_arr)))
            smooth = np.convolve(y_arr, np.ones(w) / w, mode="valid")
            ax.plot(x[w - 1 :], smooth, label=name)
        ax.axhline(SOLVED_RETURN, color="grey", linestyle="--", linewidth=1,
                   label="solved (200)")
        ax.set_xlabel("timesteps")
        ax.set_ylabel(f"episode return (env reward, mean of last {window})")
        ax.set_title("LunarLander-v3 learning curves")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize="small")
        fig.tight_layout()
        return save_png(fig, out_png, dpi=100, tight=False)  # atomic: never half a PNG


def _fmt(value: Any, spec: str = ".1f") -> str:
    return "–" if value is None else format(value, spec)


def _rel(path: str | None, base: Path) -> str | None:
    return None if path is None else os.path.relpath(path, base)


def markdown_report(report: dict[str, Any], out_dir: Path) -> str:
    """The comparison table, curve plot and GIF links; links are relative to ``out_dir``."""
    lines = [
        "# LunarLander-v3 warm-up lab",
        "",
        f"Command: `{report.get('command', '')}`",
        "",
        "Scores are the environment's own reward of the deterministic policy over "
        f"{report.get('eval_episodes', '?')} evaluation episodes, whatever reward the agent "
        f"was trained on. Success = episode return ≥ {SOLVED_RETURN:.0f}. Fuel = engine "
        "firings per episode (main + side). Touchdown speed = speed at first leg contact "
        "(env units). Wall = training time only.",
        "",
        "| run | algo | reward | timesteps | mean ± std | success | fuel (main/side) "
        "| touchdown speed | wall s | zoo anchor | GIF |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for run in report["runs"]:
        gif = _rel(run.get("gif_path"), out_dir)
        mean = run.get("mean_reward")
        score = "interrupted" if mean is None else f"{mean:.1f} ± {run['std_reward']:.1f}"
        fuel = (
            "–"
            if run.get("mean_fuel") is None
            else f"{run['mean_fuel']:.0f} ({run['mean_main_firings']:.0f}/"
            f"{run['mean_side_firings']:.0f})"
        )
        success = run.get("success_rate")
        lines.append(
            f"| {run['name']} | {run['algo']} | {run['reward_name']} | "
            f"{run.get('trained_timesteps', run['timesteps'])} | {score} | "
            f"{'–' if success is None else f'{success:.0%}'} | {fuel} | "
            f"{_fmt(run.get('mean_touchdown_speed'), '.3f')} | {_fmt(run.get('wall_s'))} | "
            f"{run.get('zoo_score', '')} @ {run.get('zoo_timesteps', '')} | "
            f"{f'[gif]({gif})' if gif else '–'} |"
        )
    curves = _rel(report.get("curves_path"), out_dir)
    if curves:
        lines += ["", "## Learning curves", "", f"![learning curves]({curves})"]
    gifs = [(r["name"], _rel(r.get("gif_path"), out_dir)) for r in report["runs"]]
    gifs = [(name, gif) for name, gif in gifs if gif]
    if gifs:
        lines += ["", "## One evaluation episode per model", ""]
        lines += [f"### {name}\n\n![{name}]({gif})\n" for name, gif in gifs]
    lines += ["", "## Reward configs", ""]
    seen: set[str] = set()
    for run in report["runs"]:
        if run["reward_name"] in seen:
            continue
        seen.add(run["reward_name"])
        cfg = ", ".join(f"{k}={v}" for k, v in run["reward_config"].items())
        lines.append(f"- **{run['reward_name']}**: {cfg}")
    lines += ["", "## Hyperparameter sources (rl-baselines3-zoo)", ""]
    for algo in dict.fromkeys(r["algo"] for r in report["runs"]):
        run = next(r for r in report["runs"] if r["algo"] == algo)
        lines.append(
            f"- **{algo}** ({run['n_envs']} envs): {run['hyperparams']} — <{run['zoo_source']}>"
        )
    return "\n".join(lines) + "\n"
