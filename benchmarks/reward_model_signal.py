"""Does a reward model still tell a policy's own answers apart? Before token PPO, sample the
policy's answers to the task's training prompts and split the reward model's scores by what
the answers are: formatted or not, truncated or not, correct or not.

    .venv/bin/python benchmarks/reward_model_signal.py --policy runs/llm-rl/sft6/model \\
        --reward-model runs/llm-rl/rm/model --prompts 32

PPO climbs the spread of these scores: when it is small (every answer scores alike), the
updates have little to follow (docs/llm_rl.md, "Token PPO with the trained reward model").
Prints one JSON object: the setup, the scores' mean and standard deviation, per split the
count and mean score, and the correlation of score with length in tokens.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence


def split_means(scores: Sequence[float], flags: Sequence[bool]) -> dict[str, float | int | None]:
    """Count and mean score of the answers with and without a property."""
    yes = [s for s, f in zip(scores, flags, strict=True) if f]
    no = [s for s, f in zip(scores, flags, strict=True) if not f]
    return {"count": len(yes), "mean_score": statistics.mean(yes) if yes else None,
            "mean_score_others": statistics.mean(no) if no else None}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", required=True, help="policy to sample (alias or directory)")
    parser.add_argument("--reward-model", required=True, help="a `pathrl llm rm` OUT/model")
    parser.add_argument("--prompts", type=int, default=32, help="training prompts to answer")
    parser.add_argument("--max-tokens", type=int, default=128, help="longest answer")
    parser.add_argument("--temperature", type=float, default=0.7,
                        help="sampling temperature (PPO's rollouts use 0.7 by default)")
    parser.add_argument("--langs", default="en", help="task languages, comma-separated")
    parser.add_argument("--seed", type=int, default=1, help="sampling seed")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    import torch

    from pathrl.errors import PathrlError
    from pathrl.llm.models import generate, load_policy
    from pathrl.llm.reward_model import RewardScorer
    from pathrl.llm.rewards import answer_integer, gold_integer, is_strict_format
    from pathrl.llm.rollout import rl_data
    from pathrl.llm.training import TaskDataConfig

    try:
        rows, _ = rl_data(TaskDataConfig(langs=args.langs.split(",")))
        rows = rows[:args.prompts]
        model, tokenizer = load_policy(args.policy, device=args.device)
        scorer = RewardScorer.from_pretrained(args.reward_model, device=args.device)
    except PathrlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    prompts = [row["prompt"] for row in rows]
    start = time.perf_counter()
    generation = generate(model, tokenizer, prompts, max_new_tokens=args.max_tokens,
                          temperature=args.temperature, seed=args.seed, batch_size=16)
    generation_s = time.perf_counter() - start
    scores = scorer.score(prompts, generation.texts).tolist()
    lengths = generation.completion_lengths.float()
    correct = [answer_integer(text) == gold_integer(row["answer"])
               for text, row in zip(generation.texts, rows, strict=True)]
    pairs = torch.stack([lengths, torch.tensor(scores)])
    report = {
        "setup": {"policy": args.policy, "reward_model": args.reward_model,
                  "prompts": len(rows), "max_tokens": args.max_tokens,
                  "temperature": args.temperature, "seed": args.seed},
        "generation_s": round(generation_s, 1),
        "score_mean": statistics.mean(scores),
        "score_std": statistics.pstdev(scores),
        "formatted": split_means(scores, [is_strict_format(t) for t in generation.texts]),
        "truncated": split_means(scores, generation.truncated.tolist()),
        "correct": split_means(scores, correct),
        "mean_length": float(lengths.mean()),
        "length_score_correlation": float(torch.corrcoef(pairs)[0, 1]),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
