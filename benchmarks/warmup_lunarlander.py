"""LunarLander-v3 warm-up benchmarks; prints one JSON document with the measured figures.

Parts (run one or both):

* ``ppo-target``: the lab's PPO (rl-baselines3-zoo's LunarLander values with shorter rollouts,
  see ``pathrl.warmup.algos``; optional ``--ppo-hp`` overrides) within ``--ppo-timesteps``
  (default 300,000; trains 299,008 = 73 rollouts of 16 x 256, the most that fits), keeping its
  best checkpoint as ``pathrl warmup lunarlander train`` does by default, once per
  ``--ppo-seeds`` seed; reports the deterministic evaluation score of the kept and of the last
  model and the training wall time on this machine.
* ``compare``: the four-algorithm table (default PPO, A2C, DQN, TRPO) at equal timesteps, every
  algorithm on its last model.
* ``reward``: the reward lesson: PPO on the env reward vs method §11.2's custom (replace) reward,
  same seed and steps, both scored on the env reward (last models: checkpoint selection uses
  the env reward and would hide what the reward teaches).

Usage::

    python benchmarks/warmup_lunarlander.py --part ppo-target --out runs/bench/ppo
    python benchmarks/warmup_lunarlander.py --part compare --timesteps 100000 --out runs/bench/cmp

Anchor (rl-baselines3-zoo ``benchmark.md``, LunarLander-v2): PPO 242 ± 32 @ 1M,
A2C 156 ± 80 @ 200k, DQN 154 ± 79 @ 100k.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from pathrl.warmup.algos import DEFAULT_COMPARE_ALGOS
from pathrl.warmup.cli import parse_hyperparams
from pathrl.warmup.lab import configs_for, run_lab
from pathrl.warmup.train import TrainConfig

ZOO_ANCHOR = {
    "source": "https://github.com/DLR-RM/rl-baselines3-zoo/blob/master/benchmark.md",
    "env": "LunarLander-v2",
    "ppo": {"mean": 242, "std": 32, "timesteps": 1_000_000},
    "a2c": {"mean": 156, "std": 80, "timesteps": 200_000},
    "dqn": {"mean": 154, "std": 79, "timesteps": 100_000},
}

FIGURE_KEYS = (
    "algo",
    "reward_name",
    "timesteps",
    "trained_timesteps",
    "n_envs",
    "hyperparams",
    "mean_reward",
    "std_reward",
    "success_rate",
    "mean_fuel",
    "mean_main_firings",
    "mean_side_firings",
    "mean_touchdown_speed",
    "touchdown_rate",
    "mean_episode_length",
    "n_episodes",
    "wall_s",
    "eval_s",
    "selection",
)


def _figures(report: dict) -> list[dict]:
    return [{k: run.get(k) for k in FIGURE_KEYS} for run in report["runs"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["ppo-target", "compare", "reward", "all"], default="all")
    parser.add_argument("--out", type=Path, default=Path("runs/bench/warmup_lunarlander"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-episodes", type=int, default=50)
    parser.add_argument("--ppo-timesteps", type=int, default=300_000)
    parser.add_argument("--ppo-seeds", default=None,
                        help="ppo-target: comma-separated seeds (default: --seed)")
    parser.add_argument(
        "--ppo-hp", action="append", default=[], help="PPO override KEY=VALUE (repeatable)"
    )
    parser.add_argument("--timesteps", type=int, default=100_000, help="compare: steps per algo")
    parser.add_argument("--algos", default=",".join(DEFAULT_COMPARE_ALGOS))
    parser.add_argument("--rewards", default="default,custom", help="reward: configs to compare")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    command = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    result: dict = {"command": command, "zoo_anchor": ZOO_ANCHOR}
    common = {
        "seed": args.seed,
        "eval_episodes": args.eval_episodes,
        "progress": not args.no_progress,
    }
    started = time.perf_counter()
    if args.part in ("ppo-target", "all"):
        seeds = ([int(s) for s in args.ppo_seeds.split(",") if s.strip()]
                 if args.ppo_seeds else [args.seed])
        runs = []
        for seed in seeds:
            config = TrainConfig(
                algo="ppo",
                timesteps=args.ppo_timesteps,
                hyperparams=parse_hyperparams(args.ppo_hp),
                **{**common, "seed": seed},
            )
            report = run_lab([config], args.out / f"ppo-target-seed{seed}", command)
            (run,) = _figures(report)
            runs.append({
                "seed": seed,
                **run,
                "reached": run["mean_reward"] is not None
                and run["mean_reward"] >= 200
                and run["trained_timesteps"] <= 300_000,
            })
        result["ppo_target"] = {
            "target": "mean_reward >= 200 within 300k steps, every seed",
            "runs": runs,
            "reached": f"{sum(r['reached'] for r in runs)}/{len(runs)}",
        }
    if args.part in ("compare", "all"):
        base = TrainConfig(timesteps=args.timesteps, select_every=0, **common)
        algos = [a.strip() for a in args.algos.split(",") if a.strip()]
        report = run_lab(configs_for(algos, ["default"], base), args.out / "compare", command)
        result["compare"] = _figures(report)
    if args.part in ("reward", "all"):
        base = TrainConfig(
            algo="ppo",
            timesteps=args.ppo_timesteps,
            hyperparams=parse_hyperparams(args.ppo_hp),
            select_every=0,
            **common,
        )
        rewards = [r.strip() for r in args.rewards.split(",") if r.strip()]
        report = run_lab(configs_for(["ppo"], rewards, base), args.out / "reward", command)
        result["reward"] = _figures(report)
    result["total_wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
