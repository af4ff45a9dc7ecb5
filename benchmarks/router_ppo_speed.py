"""PPO updates/s: pathrl's `RouterPPOTrainer` against stable-baselines3's PPO, same network.

Both trainers start from the same SFT-initialised `RouterModel` (a quick SFT here, or
`--sft-dir` of a saved router) and run `--updates` updates in one process, one after the other:

* ours: `RouterPPOTrainer` (batched rollout over the training questions, frozen SFT reference
  for the KL-to-reference penalty, doctor on), timed by its own train loop (`updates_per_s` of
  `train()`: the loop, without the final save);
* SB3: `stable_baselines3.PPO` with `RouterActorCriticPolicy` (the same RouterModel: backbone
  features, the three heads as a MultiCategorical, `value_head`) on `RouterEnv`, timed around
  `learn()`.

Matched per update: samples (SB3 `n_steps x n_envs` = our `rollout_batch_size`), minibatch
size, epochs, one learning rate (ours: actor = critic, no cosine decay; SB3 has one), clip
ranges, value / entropy coefficients, grad-norm clip, advantage normalisation, frozen layers,
no dropout, `target_kl` off by default (so both run every epoch: equal work), no critic warm-up.
Not matched (each trainer's own machinery): ours also runs the reference model in the rollout
and adds the KL-to-reference term; SB3 steps the env one question at a time (`n_envs=1`
unless `--sb3-n-envs`) and pads observations to `max_length` (cut back to the batch's longest
sequence inside the policy).

Prints one JSON document (updates/s, samples/s, the ratio ours / SB3, wall times, config,
torch threads, validation exact match of the SFT start and of each trained policy).

    python benchmarks/router_ppo_speed.py --data /tmp/ds_env          # defaults: 5 x 64
    python benchmarks/router_ppo_speed.py --data /tmp/ds_env --sft-dir runs/router/sft/model

`OMP_WAIT_POLICY=PASSIVE` is set before torch loads (unless already set): on a shared 2-core
machine OpenMP's spinning threads otherwise make small forwards (SB3's one-question steps)
tens of times slower, which would measure the machine's contention, not the trainers.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=None,
                   help="dataset directory (train/val.jsonl); default: build the demo dataset")
    p.add_argument("--schema", type=Path, default=None,
                   help="schema file of the dataset (default: the demo schema)")
    p.add_argument("--sft-dir", type=Path, default=None,
                   help="saved SFT router (RouterModel.save_pretrained); default: quick SFT")
    p.add_argument("--backbone", default="minilm")
    p.add_argument("--sft-epochs", type=int, default=2)
    p.add_argument("--updates", type=int, default=5, help="PPO updates of each trainer (K)")
    p.add_argument("--rollout", type=int, default=64, help="samples per update")
    p.add_argument("--minibatch", type=int, default=32)
    p.add_argument("--epochs", type=int, default=2, help="PPO epochs per update")
    p.add_argument("--lr", type=float, default=5e-6)
    p.add_argument("--freeze-layers", type=int, default=3)
    p.add_argument("--target-kl", type=float, default=None,
                   help="KL circuit breaker of both trainers (default off: equal work)")
    p.add_argument("--sb3-n-envs", type=int, default=1,
                   help="SB3 parallel envs (DummyVecEnv); n_steps = rollout / n_envs")
    p.add_argument("--order", choices=("ours-first", "sb3-first"), default="ours-first")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = p.parse_args(argv)
    if args.rollout % args.sb3_n_envs:
        p.error("--rollout must be a multiple of --sb3-n-envs")
    for name in ("updates", "rollout", "minibatch", "epochs", "sft_epochs", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.minibatch > args.rollout:
        p.error("--minibatch must be <= --rollout")
    return args


def _load_data(args: argparse.Namespace, schema: Any) -> dict[str, list]:
    from pathrl.data import load_dataset

    if args.data is not None:
        return load_dataset(args.data)
    from pathrl.data import DatasetConfig, build_dataset
    from pathrl.schema_cli import open_db

    _sch, database = open_db(None, "sqlite", None, args.seed)
    try:
        return dict(build_dataset(schema, database, DatasetConfig(seed=args.seed)))
    finally:
        database.close()


def _exact_match(model: Any, examples: list) -> float:
    from pathrl.router.evaluate import triple_metrics

    preds = model.predict([ex.question for ex in examples])
    return triple_metrics(preds, [ex.triple for ex in examples], model.vocab)["exact_match"]


def _sft_model(args: argparse.Namespace, schema: Any, vocab: Any, splits: dict,
               work: Path) -> tuple[Any, dict[str, Any]]:
    import torch

    from pathrl.router.model import RouterConfig, RouterModel
    from pathrl.router.sft import SFTConfig, SFTTrainer

    if args.sft_dir is not None:
        model = RouterModel.from_pretrained(args.sft_dir, vocab, schema.fingerprint())
        model.setup_trainable()
        return model, {"source": str(args.sft_dir)}
    torch.manual_seed(args.seed)
    model = RouterModel(RouterConfig(backbone=args.backbone), vocab, schema.fingerprint())
    model.extend_vocab([ex.question for ex in splits["train"]])
    model.setup_trainable()
    summary = SFTTrainer(model, SFTConfig(epochs=args.sft_epochs, seed=args.seed),
                         splits["train"], splits["val"], work / "sft").train()
    return model, {"source": "quick SFT", "epochs": args.sft_epochs,
                   "wall_s": round(summary["wall_s"], 2),
                   "best_val_exact_match": summary["best_val_exact_match"]}


def run_ours(model: Any, args: argparse.Namespace, splits: dict, work: Path) -> dict[str, Any]:
    from pathrl.router.ppo import PPOConfig, RouterPPOTrainer

    config = PPOConfig(
        total_updates=args.updates, rollout_batch_size=args.rollout,
        minibatch_size=args.minibatch, micro_batch_size=args.minibatch, n_epochs=args.epochs,
        learning_rate=args.lr, critic_learning_rate=args.lr, cosine_decay=False,
        target_kl=args.target_kl, freeze_layers=args.freeze_layers, critic_warmup_updates=0,
        eval_every=0, checkpoint_every=0, seed=args.seed)
    start = time.perf_counter()
    trainer = RouterPPOTrainer(model, config, splits["train"], splits["val"], work / "ours")
    setup_s = time.perf_counter() - start
    start = time.perf_counter()
    summary = trainer.train()
    total_s = time.perf_counter() - start
    loop_s = summary["updates_run"] / summary["updates_per_s"]
    return {"updates": summary["updates_run"], "wall_s": round(loop_s, 3),
            "updates_per_s": summary["updates_per_s"],
            "samples_per_s": summary["updates_run"] * args.rollout / loop_s,
            "setup_s": round(setup_s, 3), "train_call_s": round(total_s, 3),
            "stop_reason": summary["stop_reason"],
            "val_exact_match": _exact_match(model, splits["val"])}


def run_sb3(model: Any, args: argparse.Namespace, splits: dict) -> dict[str, Any]:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from pathrl.router.env import RouterEnv
    from pathrl.router.reward import RewardConfig
    from pathrl.router.sb3_policy import RouterActorCriticPolicy

    start = time.perf_counter()
    model.config.freeze_layers = args.freeze_layers
    model.setup_trainable()

    def make_env() -> RouterEnv:
        return RouterEnv(splits["train"], model.vocab, model.tokenizer, RewardConfig(),
                         max_length=model.config.max_length)

    env = make_vec_env(make_env, n_envs=args.sb3_n_envs, seed=args.seed)
    n_steps = args.rollout // args.sb3_n_envs
    # The same hyperparameters PPOConfig's defaults give our trainer (see run_ours).
    from pathrl.router.ppo import PPOConfig

    ref = PPOConfig()
    ppo = PPO(RouterActorCriticPolicy, env, policy_kwargs={"router": model},
              n_steps=n_steps, batch_size=args.minibatch, n_epochs=args.epochs,
              learning_rate=args.lr, gamma=1.0, gae_lambda=1.0, clip_range=ref.clip_range,
              clip_range_vf=ref.clip_range_vf, ent_coef=ref.ent_coef, vf_coef=ref.vf_coef,
              max_grad_norm=ref.max_grad_norm, target_kl=args.target_kl,
              normalize_advantage=ref.normalize_advantage, seed=args.seed, device="cpu",
              verbose=0)
    setup_s = time.perf_counter() - start
    start = time.perf_counter()
    ppo.learn(total_timesteps=args.updates * args.rollout)
    wall = time.perf_counter() - start
    updates = ppo.num_timesteps // (n_steps * args.sb3_n_envs)
    return {"updates": updates, "wall_s": round(wall, 3), "updates_per_s": updates / wall,
            "samples_per_s": ppo.num_timesteps / wall, "setup_s": round(setup_s, 3),
            "n_envs": args.sb3_n_envs, "n_steps": n_steps,
            "val_exact_match": _exact_match(model, splits["val"])}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _parse(argv)
    import gymnasium
    import stable_baselines3
    import torch

    from pathrl.demo import demo_schema
    from pathrl.paths import PathVocab
    from pathrl.router.ppo import PPOConfig
    from pathrl.schema import Schema

    torch.set_num_threads(args.threads)
    schema = Schema.load(args.schema) if args.schema else demo_schema()
    vocab = PathVocab.from_schema(schema)
    splits = _load_data(args, schema)
    if not splits.get("train") or not splits.get("val"):
        raise SystemExit("the dataset needs non-empty train and val splits")
    with tempfile.TemporaryDirectory(prefix="router_ppo_speed_") as tmp:
        work = Path(tmp)
        sft_model, sft = _sft_model(args, schema, vocab, splits, work)
        sft_model.eval()
        sft["val_exact_match"] = _exact_match(sft_model, splits["val"])
        results: dict[str, Any] = {}
        order = ("ours", "sb3") if args.order == "ours-first" else ("sb3", "ours")
        for name in order:
            model = copy.deepcopy(sft_model)  # both start from the same weights
            torch.manual_seed(args.seed)
            results[name] = (run_ours(model, args, splits, work) if name == "ours"
                             else run_sb3(model, args, splits))
    ours, sb3 = results["ours"], results["sb3"]
    ref = PPOConfig()
    report = {
        "benchmark": "router_ppo_speed",
        "ratio_updates_per_s_ours_over_sb3": ours["updates_per_s"] / sb3["updates_per_s"],
        "ours": ours,
        "sb3": sb3,
        "sft": sft,
        "config": {
            "updates": args.updates, "samples_per_update": args.rollout,
            "minibatch_size": args.minibatch, "n_epochs": args.epochs, "learning_rate": args.lr,
            "clip_range": ref.clip_range, "clip_range_vf": ref.clip_range_vf,
            "vf_coef": ref.vf_coef, "ent_coef": ref.ent_coef,
            "max_grad_norm": ref.max_grad_norm, "target_kl": args.target_kl,
            "freeze_layers": args.freeze_layers, "backbone": sft_model.config.backbone,
            "max_length": sft_model.config.max_length, "order": args.order,
            "seed": args.seed, "train_questions": len(splits["train"]),
            "val_questions": len(splits["val"]),
        },
        "torch_threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "cpu_count": os.cpu_count(),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "stable_baselines3": stable_baselines3.__version__,
                     "gymnasium": gymnasium.__version__},
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
