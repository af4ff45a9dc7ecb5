"""Held-out pairwise accuracy of saved reward models on the task's preference pairs of chosen
rejection kinds: what a reward model has learned to tell apart, beyond the mix it trained on.

    .venv/bin/python benchmarks/reward_model_pairs.py --kinds wrong_result \\
        --reward-model runs/llm-rl/rm/model --reward-model runs/llm-rl/rm_numbers/model

The pairs are those of the held-out split (`data.n_eval` problems, never trained on by a
`pathrl llm rm` run with the same `--n-eval`, `--seed` and `--langs`). Prints one JSON object:
the kinds, the number of pairs, and per reward model its accuracy (r⁺ > r⁻) and mean margin.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reward-model", action="append", required=True,
                        help="a `pathrl llm rm` OUT/model (repeatable)")
    parser.add_argument("--kinds", default="wrong_result",
                        help="rejection kinds, comma-separated (pathrl.llm.tasks.REJECTION_KINDS)")
    parser.add_argument("--n-eval", type=int, default=40, help="held-out problems (pairs)")
    parser.add_argument("--langs", default="en", help="task languages, comma-separated")
    parser.add_argument("--seed", type=int, default=0, help="task generator seed")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    from pathrl.errors import PathrlError
    from pathrl.llm.reward_model import RewardScorer
    from pathrl.llm.training import TaskDataConfig, preference_examples

    try:
        data = TaskDataConfig(n_eval=args.n_eval, seed=args.seed, langs=args.langs.split(","),
                              rejection_kinds=args.kinds.split(","))
        _, pairs = preference_examples(data)
        scorers = {path: RewardScorer.from_pretrained(path, device=args.device)
                   for path in args.reward_model}
    except PathrlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    prompts = [pair.prompt for pair in pairs]
    results = {}
    for path, scorer in scorers.items():
        chosen = scorer.score(prompts, [pair.chosen for pair in pairs])
        rejected = scorer.score(prompts, [pair.rejected for pair in pairs])
        results[path] = {"accuracy": float((chosen > rejected).float().mean()),
                         "margin": float((chosen - rejected).mean())}
    print(json.dumps({"kinds": data.rejection_kinds, "pairs": len(pairs), "results": results},
                     indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
