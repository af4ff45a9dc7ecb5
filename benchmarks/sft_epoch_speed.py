"""Seconds per SFT epoch on the demo's training set, batches grouped by length or not. Prints JSON.

    .venv/bin/python benchmarks/sft_epoch_speed.py --head scorer --epochs 2

For each `group_by_length` value, a fresh router (same seed) trains `--epochs` epochs on the
demo dataset (seed 7) with no validation and no checkpoint; the figure is the median epoch
time, with the share of real (non-padding) tokens in the batches the trainer drew.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time

import torch

from pathrl.errors import PathrlError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--head", default="scorer", choices=("scorer", "factored"))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--group-by-length", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    from pathrl.data import DatasetConfig, build_dataset
    from pathrl.db import open_database
    from pathrl.demo import demo_schema
    from pathrl.router.sft import SFTConfig, SFTTrainer
    from pathrl.router.workflows import new_router

    try:
        schema = demo_schema()
        database = open_database(schema, "sqlite", None, demo_seed=args.seed)
        train = build_dataset(schema, database, DatasetConfig(seed=args.seed))["train"]
        results = []
        for group in args.group_by_length:
            torch.manual_seed(args.seed)
            model = new_router(schema, args.head, database=database)
            model.extend_vocab([ex.question for ex in train])
            model.setup_trainable()
            with tempfile.TemporaryDirectory() as out:
                trainer = SFTTrainer(model, SFTConfig(epochs=args.epochs, seed=args.seed,
                                                      group_by_length=group,
                                                      checkpoint_every_epoch=False),
                                     train, [], out)
                batches = [b for _, b in trainer._batches(trainer.groups, trainer.generator)]
                words = sum(trainer.lengths[i] for b in batches for i in b)
                padded = sum(max(trainer.lengths[i] for i in b) * len(b) for b in batches)
                seconds = []
                for _ in range(args.epochs):
                    start = time.perf_counter()
                    trainer._train_epoch()
                    seconds.append(time.perf_counter() - start)
            results.append({"group_by_length": group, "epoch_s": round(statistics.median(
                seconds), 2), "word_share": round(words / padded, 3)})
    except PathrlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"head": args.head, "train_questions": len(train),
                      "threads": torch.get_num_threads(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
