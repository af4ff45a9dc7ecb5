"""Training the generative router: SFT on (prompt -> gold answer), then GRPO with the router's
layered reward on the parsed route plus a format reward (docs/generative_router.md).

    router, summary = train_generative_sft(schema, splits, "runs/gen/sft",
                                           LLMSFTConfig(lora=LoraSettings(), max_length=128))
    router, summary = train_generative_grpo(schema, "runs/gen/sft/model", prompts,
                                            "runs/gen/grpo", GRPOConfig(lora=LoraSettings()),
                                            eval_examples=splits["val"])

Both trainers are pathrl's own (`pathrl.llm.sft.LLMSFTTrainer`, `pathrl.llm.grpo.GRPOTrainer`)
holding the router's `PrefixedLM`: prompts are the per-question part only, the schema prompt
is the shared, cached prefix (see `pathrl.llm.genrouter.prefix`). Each saves a router
directory to OUT/model, so `pathrl route --model OUT/model` and `load_router` take it.

GRPO starts from the SFT router's weights (its LoRA adapter merged) with a fresh adapter, so
the KL reference is the SFT policy (the adapter switched off); its router directory holds the
merged weights, since an adapter over merged SFT weights has no base on disk to name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pathrl.errors import PathrlError
from pathrl.llm.genrouter.prompt import RoutePrompt
from pathrl.llm.genrouter.router import MODEL_DIR, GenerativeConfig, GenerativeRouter
from pathrl.llm.grpo import GRPOConfig, GRPOTrainer
from pathrl.llm.models import load_policy
from pathrl.llm.rewards import RewardSet, completion_text
from pathrl.llm.rollout import Evaluator, ProgressFn, RLSummary, Row
from pathrl.llm.rollout import write_summary as write_rl_summary
from pathrl.llm.sft import LLMSFTConfig, LLMSFTTrainer, SFTExample
from pathrl.llm.training import TrainSummary, write_config, write_summary
from pathrl.rl.trainer import TrainerCallback, seed_everything
from pathrl.router.protocol import read_router_meta
from pathrl.router.reward import LayeredReward, RewardConfig
from pathrl.schema import Schema

NO_ROUTE_REWARD = -1.0
"""What an answer naming no route (unparsable, or an unknown id) earns: below every route it
could have named (the layered reward, scaled, spans [-0.59, 2] with the default values). The
layered reward itself would pay it more than a wrong via: its anchor is wrong, so conditional
granting voids the (10x) via penalty."""


# -- data ----------------------------------------------------------------------------------------
def sft_examples(router: GenerativeRouter, examples: Sequence[Any]) -> list[SFTExample]:
    """(question prompt after the schema prefix, gold answer) of labelled examples."""
    prompts = router.prompt_suffixes([ex.question for ex in examples])
    return [SFTExample(prompt, router.prompt.completion(ex.triple))
            for prompt, ex in zip(prompts, examples, strict=True)]


def grpo_rows(router: GenerativeRouter, examples: Sequence[Any]) -> list[Row]:
    """TRL rows: the question's prompt plus the label columns the route reward reads."""
    prompts = router.prompt_suffixes([ex.question for ex in examples])
    return [{"prompt": prompt, "anchor": ex.anchor, "target": ex.target, "via": list(ex.via)}
            for prompt, ex in zip(prompts, examples, strict=True)]


def uncertain_examples(router: GenerativeRouter, examples: Sequence[Any],
                       max_probability: float = 0.9) -> list[Any]:
    """The examples whose gold answer the router gives less than `max_probability`: GRPO's
    prompts (a group that always answers right has zero advantage and teaches nothing)."""
    if not examples:
        return []
    probs = router.candidate_probabilities([ex.question for ex in examples])
    index = router.prompt.index_of_triple
    return [ex for row, ex in enumerate(examples)
            if float(probs[row, index[ex.triple]]) < max_probability]


# -- rewards (TRL's signature) -----------------------------------------------------------------
class RouteReward:
    """The router's layered reward (`pathrl.router.reward.LayeredReward`: components, legality,
    exact match, dynamic weighting, conditional granting; scaled and clipped to [-2, 2]) of the
    route an answer names (an illegal triple of the triple format included), against the
    row's `anchor`, `target` and `via`; `no_route` for an answer that names none."""

    __name__ = "route_reward"

    def __init__(self, prompt: RoutePrompt, config: RewardConfig | None = None,
                 no_route: float = NO_ROUTE_REWARD):
        self.prompt = prompt
        self.reward = LayeredReward(config or RewardConfig(), prompt.vocab)
        self.no_route = no_route

    def __call__(self, completions: Sequence[Any], anchor: Sequence[str],
                 target: Sequence[str], via: Sequence[Sequence[str]],
                 **kwargs: Any) -> list[float]:
        predicted = [self.prompt.parse(completion_text(c)).triple for c in completions]
        labels = [(a, t, tuple(v)) for a, t, v in zip(anchor, target, via, strict=True)]
        named = [i for i, p in enumerate(predicted) if p is not None]
        out = [self.no_route] * len(predicted)
        if named:
            rewards, _means = self.reward([predicted[i] for i in named],
                                          [labels[i] for i in named])
            for i, value in zip(named, rewards.tolist(), strict=True):
                out[i] = value
        return out


class RouteFormatReward:
    """1.0 for an answer that is a JSON object naming a legal route (`ParsedRoute.well_formed`),
    else 0 (weighted 0.25 by default: a legal answer's bonus over an illegal one)."""

    __name__ = "route_format_reward"

    def __init__(self, prompt: RoutePrompt):
        self.prompt = prompt

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float]:
        return [1.0 if self.prompt.parse(completion_text(c)).well_formed else 0.0
                for c in completions]


def route_rewards(prompt: RoutePrompt, format_weight: float = 0.25,
                  config: RewardConfig | None = None) -> RewardSet:
    """GRPO's rewards: `RouteReward` + `format_weight` x `RouteFormatReward`."""
    return RewardSet([RouteReward(prompt, config), (RouteFormatReward(prompt), format_weight)])


# -- evaluation ----------------------------------------------------------------------------------
def route_metrics(router: GenerativeRouter, examples: Sequence[Any]) -> dict[str, float]:
    """Greedy routing of labelled examples scored by `pathrl.router.evaluate.triple_metrics`,
    plus `format_rate` (well-formed answers) and `no_route_rate`."""
    from pathrl.router.evaluate import triple_metrics

    parses = router.answer([ex.question for ex in examples])
    metrics = triple_metrics([p.triple for p in parses], [ex.triple for ex in examples],
                             router.vocab)
    n = max(len(examples), 1)
    out = {k: float(v) for k, v in metrics.items() if k not in ("n", "n_nonnull")}
    out["format_rate"] = sum(p.well_formed for p in parses) / n
    out["no_route_rate"] = sum(p.path is None for p in parses) / n
    return out


def route_evaluator(router: GenerativeRouter, examples: Sequence[Any]) -> Evaluator:
    """GRPO's held-out evaluation: `route_metrics` under `eval/` (`eval/exact_match` is the
    score keep-best maximises). The router holds the trainer's model, so it routes with the
    current weights."""
    if not examples:
        raise PathrlError("no held-out examples to evaluate the generative router on")

    def run(model: Any, tokenizer: Any) -> dict[str, float]:
        return {f"eval/{k}": v for k, v in route_metrics(router, examples).items()}

    return run


# -- trainers ------------------------------------------------------------------------------------
class GenerativeSFTTrainer(LLMSFTTrainer):
    """`LLMSFTTrainer` on the router's prefixed model; saves a router directory."""

    def __init__(self, router: GenerativeRouter, config: LLMSFTConfig, train: Sequence[Any],
                 eval_set: Sequence[Any], out_dir: str | Path,
                 callbacks: Sequence[TrainerCallback] = ()):
        if config.gradient_checkpointing:
            raise PathrlError("gradient_checkpointing is not supported by the generative "
                              "router (its prompts are short: the schema prefix is cached)")
        self.router = router
        super().__init__(router.lm, router.tokenizer, config, sft_examples(router, train),
                         sft_examples(router, eval_set), out_dir, callbacks)

    def save_model(self, directory: Path) -> None:
        self.router.save_pretrained(directory, merge_lora=self.config.merge_lora)


class GenerativeGRPOTrainer(GRPOTrainer):
    """`GRPOTrainer` on the router's prefixed model; saves a router directory (merged)."""

    def __init__(self, router: GenerativeRouter, rewards: RewardSet, train_rows: Sequence[Row],
                 config: GRPOConfig, out_dir: str | Path, *, evaluator: Evaluator | None = None,
                 callbacks: Sequence[TrainerCallback] = ()):
        if config.gradient_checkpointing:
            raise PathrlError("gradient_checkpointing is not supported by the generative "
                              "router")
        self.router = router
        super().__init__(router.lm, router.tokenizer, rewards, train_rows, config, out_dir,
                         evaluator=evaluator, callbacks=callbacks)

    def save_model(self, directory: Path) -> None:
        self.router.save_pretrained(directory, merge_lora=True)


def train_generative_sft(schema: Schema, splits: dict[str, Sequence[Any]], out: str | Path,
                         config: LLMSFTConfig, route: GenerativeConfig | None = None, *,
                         resume: bool = False, progress: ProgressFn | None = None,
                         callbacks: Sequence[TrainerCallback] = ()
                         ) -> tuple[GenerativeRouter, TrainSummary]:
    """SFT of `config.model` on `splits["train"]` (held-out loss on `splits["val"]` when
    `config.eval_every`); writes OUT/model (the router), OUT/config.yaml, OUT/summary.json,
    OUT/metrics.jsonl and OUT/checkpoints. Keep `config.max_length` small (~128): it bounds
    the question and the answer, the schema prompt is not counted."""
    seed_everything(config.seed)  # LoRA's initialisation draws from the global RNG
    model, tokenizer = load_policy(config.model, device=config.device, dtype=config.dtype,
                                   lora=config.lora)
    router = GenerativeRouter(schema, model, tokenizer, route)
    trainer = GenerativeSFTTrainer(router, config, list(splits["train"]),
                                   list(splits.get("val", [])), out, callbacks)
    write_config(out, config)
    summary = trainer.fit(resume=resume, progress=progress)
    write_summary(out, summary)
    return router, summary


def train_generative_grpo(schema: Schema, init: str | Path, prompts: Sequence[Any],
                          out: str | Path, config: GRPOConfig, *,
                          eval_examples: Sequence[Any] = (), format_weight: float = 0.25,
                          reward: RewardConfig | None = None, resume: bool = False,
                          progress: ProgressFn | None = None,
                          callbacks: Sequence[TrainerCallback] = ()
                          ) -> tuple[GenerativeRouter, RLSummary]:
    """GRPO from the saved generative router `init` (a router directory, e.g. the SFT run's
    OUT/model) on labelled `prompts` (`uncertain_examples` picks useful ones), with
    `route_rewards`; `eval_examples` are routed greedily every `config.eval_every` steps.
    `config.model` is replaced by `init`'s weights. Writes what `train_generative_sft`
    writes."""
    init = Path(init)
    meta = read_router_meta(init)
    if not isinstance(meta, dict) or meta.get("kind") != "generative":
        raise PathrlError(f"'{init}' is not a generative router directory")
    route = GenerativeConfig.from_dict(dict(meta.get("config") or {}))
    config = dataclasses.replace(config, model=str(init / MODEL_DIR))
    seed_everything(config.seed)
    model, tokenizer = load_policy(config.model, device=config.device, dtype=config.dtype,
                                   lora=config.lora)
    router = GenerativeRouter(schema, model, tokenizer, route)
    rows = grpo_rows(router, prompts)
    if not rows:
        raise PathrlError("no GRPO prompts (every example is already answered with "
                          "confidence? raise max_probability or give more examples)")
    evaluator = (route_evaluator(router, eval_examples)
                 if eval_examples and config.eval_every else None)
    trainer = GenerativeGRPOTrainer(router, route_rewards(router.prompt, format_weight, reward),
                                    rows, config, out, evaluator=evaluator,
                                    callbacks=callbacks)
    write_config(out, config)
    summary = trainer.fit(resume=resume, progress=progress)
    write_rl_summary(out, summary)
    return router, summary
