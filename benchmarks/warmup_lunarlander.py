"""LunarLander-v3 warm-up benchmarks; prints one JSON document with the measured figures.

Parts (run one or both):

* ``ppo-target``: the lab's PPO (rl-baselines3-zoo's LunarLander values with shorter rollouts,
  see ``pathrl.warmup.algos``; optional ``--ppo-hp`` overrides) for ``--ppo-timesteps``
  (default 299,008 = 73 rollouts of 16 x 256, the most that fits in 300k) steps; reports the
  deterministic evaluation score and the training wall time on this machine.
* ``compare``: the four-algorithm table (default PPO, A2C, DQN, TRPO) at equal timesteps.
* ``reward``: the reward lesson: PPO on the env reward vs method §11.2's custom (replace) reward,
  same seed and steps, both scored on the env reward.

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
)


def _figures(report: dict) -> list[dict]:
    return [{k: run.get(k) for k in FIGURE_KEYS} for run in report["runs"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["ppo-target", "compare", "reward", "all"], default="all")
    parser.add_argument("--out", type=Path, default=Path("runs/bench/warmup_lunarlander"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-episodes", type=int, default=50)
    parser.add_argument("--ppo-timesteps", type=int, default=299_008)
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
        config = TrainConfig(
            algo="ppo",
            timesteps=args.ppo_timesteps,
            hyperparams=parse_hyperparams(args.ppo_hp),
            **common,
        )
        report = run_lab([config], args.out / "ppo-target", command)
        (run,) = _figures(report)
        result["ppo_target"] = {
            **run,
            "target": "mean_reward >= 200 within 300k steps",
            "reached": run["mean_reward"] is not None
            and run["mean_reward"] >= 200
            and run["trained_timesteps"] <= 300_000,
        }
    if args.part in ("compare", "all"):
        base = TrainConfig(timesteps=args.timesteps, **common)
        algos = [a.strip() for a in args.algos.split(",") if a.strip()]
        report = run_lab(configs_for(algos, ["default"], base), args.out / "compare", command)
        result["compare"] = _figures(report)
    if args.part in ("reward", "all"):
        base = TrainConfig(
            algo="ppo",
            timesteps=args.ppo_timesteps,
            hyperparams=parse_hyperparams(args.ppo_hp),
            **common,
        )
        rewards = [r.strip() for r in args.rewards.split(",") if r.strip()]
        reused = []
        if "ppo_target" in result and "default" in rewards and not args.ppo_hp:
            # identical config and seed → identical run (CPU training is deterministic)
            rewards.remove("default")
            reused = [{k: v for k, v in result["ppo_target"].items() if k in FIGURE_KEYS}]
        report = run_lab(configs_for(["ppo"], rewards, base), args.out / "reward", command)
        result["reward"] = reused + _figures(report)
    result["total_wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
