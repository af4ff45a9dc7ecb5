"""Router workflows as plain functions: train (SFT, PPO), build PPO's prompt pool, compare
methods. The CLI, the services and Python users call these; nothing here prints or parses.

    model, summary = train_sft(schema, splits, out, head="scorer", database=db)
    pool = prompt_pool(model, fresh_questions(schema, db, seen=splits, seed=7))
    model, summary = train_ppo(schema, splits, out / "sft" / "model", out / "ppo",
                               database=db, pool=pool)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pathrl.errors import PathrlError
from pathrl.paths import PathVocab
from pathrl.schema import Schema

HEADS = ("scorer", "factored")
"""`scorer`: the schema-reading path scorer (default); `factored`: method §4.1's three heads."""
Progress = Callable[[int, int, dict], None]


def new_router(schema: Schema, head: str, backbone: str = "minilm", freeze_layers: int = 0,
               lora: bool = False, database=None, link_prior: float = 0.0,
               coverage_prior: float | None = None):
    """An untrained router of either kind, bound to `schema`. `link_prior` (path scorer
    only) starts the link weights at +link_prior and the coverage weights at
    `coverage_prior` (None: -link_prior)."""
    if head == "scorer":
        from pathrl.router.scorer import PathScorer, ScorerConfig

        if lora:
            raise PathrlError("--lora is available with --head factored only")
        model = PathScorer(ScorerConfig(backbone=backbone, freeze_layers=freeze_layers,
                                        link_prior=link_prior,
                                        coverage_prior=(-link_prior if coverage_prior is None
                                                        else coverage_prior)))
        model.bind(schema, database)
        return model
    if head == "factored":
        from pathrl.router.model import RouterConfig, RouterModel

        if link_prior or coverage_prior is not None:
            raise PathrlError("--link-prior and --coverage-prior are available with --head "
                              "scorer only")

        config = RouterConfig(backbone=backbone, freeze_layers=freeze_layers, lora=lora)
        return RouterModel(config, PathVocab.from_schema(schema), schema.fingerprint())
    raise PathrlError(f"unknown router head '{head}' (use {' or '.join(HEADS)})")


def load_router(directory: Path, schema: Schema, database=None, device: str | None = "auto"):
    """A saved router of any kind, ready for `schema` (see `pathrl.router.protocol`), on
    `device` (auto: CUDA, then MPS, else the CPU; None: where it loads, the CPU)."""
    from pathrl.router.protocol import load_router as load

    return load(directory, schema, database, device=device)


def train_sft(schema: Schema, splits: Mapping[str, Sequence], out: Path, *,
              head: str = "scorer", backbone: str = "minilm", epochs: int = 30,
              freeze_layers: int = 0, lora: bool = False, seed: int = 7, database=None,
              init: Path | None = None, resume: bool = False, link_prior: float = 0.0,
              coverage_prior: float | None = None, named_table_penalty: float | None = None,
              checkpoints: bool = True, device: str = "auto",
              progress: Progress | None = None) -> tuple[Any, dict]:
    """SFT cold start; the best validation epoch is saved to `out/model`. `init` starts from
    a saved path scorer (e.g. a general router, fine-tuned to this schema). `checkpoints`:
    write the resume checkpoint after every epoch (off: only Ctrl-C writes it).
    `named_table_penalty` (path scorer; None: the config's default or `init`'s) sets
    `ScorerConfig.named_table_penalty`. `device`: where it trains (`pathrl.devices`)."""
    from pathrl.router.sft import SFTConfig, SFTTrainer

    sft_config = SFTConfig(epochs=epochs, seed=seed, checkpoint_every_epoch=checkpoints,
                           device=device)
    torch.manual_seed(seed)
    if init is not None:
        from pathrl.router.scorer import PathScorer

        if head != "scorer":
            raise PathrlError("--init continues a path scorer: use it with --head scorer")
        model = PathScorer.from_pretrained(init)
        model.bind(schema, database)
    else:
        model = new_router(schema, head, backbone, freeze_layers, lora, database, link_prior,
                           coverage_prior)
    if named_table_penalty is not None:
        if head != "scorer":
            raise PathrlError("--named-table-penalty is available with --head scorer only")
        model.config.named_table_penalty = float(named_table_penalty)
        model.config.__post_init__()  # the same checks as a config built with it
    added = model.extend_vocab([ex.question for ex in splits["train"]])
    model.setup_trainable()
    summary = SFTTrainer(model, sft_config, splits["train"], splits["val"], out).train(
        progress=progress, resume=resume)
    summary["head"], summary["added_tokens"] = head, added
    if head == "scorer":
        summary["named_table_breaks"] = round(model.named_table_breaks(splits["train"]), 4)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return model, summary


@dataclass
class PromptPool:
    """PPO's own prompts: questions the generator wrote with another seed, that SFT never
    saw, each weighted by how unsure the SFT router is of its label."""

    examples: list
    weights: list[float]
    sft_exact_match: float
    """Greedy exact match of the SFT router on the pool (before PPO)."""

    def summary(self) -> dict[str, Any]:
        return {"size": len(self.examples), "sft_exact_match": round(self.sft_exact_match, 4),
                "mean_weight": round(sum(self.weights) / max(len(self.weights), 1), 4)}


def fresh_questions(schema: Schema, database, seen: Mapping[str, Sequence], seed: int,
                    size_factor: float = 2.0,
                    languages: tuple[str, ...] = ("en", "zh"), max_rounds: int = 1) -> list:
    """Questions the generator writes with other seeds, minus every question of `seen`'s
    splits (and of each other): prompts no router trained on `seen` has met. Rounds of the
    generator (one seed each, its train/val/test phrasings only, never the held-out styles)
    run until the pool holds `size_factor` x the size of `seen`, or `max_rounds` ran. One
    round by default: on the demo, 3 rounds (1,484 prompts instead of 643) left PPO's exact
    match at 94.9% and took three hops from 93.1% to 89.7% (docs/router.md)."""
    from pathrl.data import DatasetConfig, build_dataset

    if max_rounds < 1:
        raise PathrlError(f"max_rounds must be >= 1, got {max_rounds}")
    taken = {ex.question.casefold() for split in seen.values() for ex in split}
    wanted = max(1, int(size_factor * sum(len(split) for split in seen.values())))
    pool: list = []
    for round_ in range(1, max_rounds + 1):
        fresh = build_dataset(schema, database, DatasetConfig(seed=seed + 10_007 * round_,
                                                              languages=languages))
        for ex in (ex for split in ("train", "val", "test") for ex in fresh[split]):
            if ex.question.casefold() not in taken:
                taken.add(ex.question.casefold())
                pool.append(ex)
        if len(pool) >= wanted:
            break
    if not pool:
        raise PathrlError("the generator wrote no question SFT has not seen: grow the dataset")
    return pool[:wanted]


def prompt_pool(model, candidates: Sequence, floor: float = 0.05) -> PromptPool:
    """PPO's own prompts, as RLHF gives PPO its own prompt set: the SFT training questions are
    memorised (rollout exact match ~1.0, nothing to learn), so rollouts draw from
    `candidates` (`fresh_questions`: written by the generator with another seed, in no split),
    weighted towards what the SFT router gets wrong or is unsure of:
    weight = 1 - p_sft(label) + `floor`."""
    pool = list(candidates)
    label_probs, correct = label_probabilities(model, pool)
    weights = [1.0 - p + floor for p in label_probs]
    return PromptPool(pool, weights, sum(correct) / len(pool))


@torch.no_grad()
def label_probabilities(model, examples: Sequence,
                        batch_size: int = 64) -> tuple[list[float], list[bool]]:
    """The router's probability of each example's label (legal routes only), and whether its
    best route is the label."""
    probs: list[float] = []
    correct: list[bool] = []
    for i in range(0, len(examples), batch_size):
        chunk = list(examples[i:i + batch_size])
        routings = model.route_batch([ex.question for ex in chunk],
                                     top_k=len(model.vocab.triples))
        for ex, routing in zip(chunk, routings, strict=True):
            probs.append(next((r.probability for r in routing.routes if r.triple == ex.triple),
                              0.0))
            correct.append(bool(routing.routes) and routing.routes[0].triple == ex.triple)
    return probs, correct


def train_ppo(schema: Schema, splits: Mapping[str, Sequence], sft_dir: Path, out: Path, *,
              preset: str = "golden", updates: int | None = None, critic: str | None = None,
              resume: bool = False, exec_feedback: bool = False, seed: int = 7, database=None,
              stop_on_critical: bool = False, pool: PromptPool | None = None,
              model=None, device: str = "auto",
              progress: Progress | None = None) -> tuple[Any, dict]:
    """PPO from an SFT router. With `pool`, rollouts draw from it (weighted); otherwise from
    the SFT training split, uniformly (method §5's setup). `device`: where the policy
    trains (`pathrl.devices`)."""
    from pathrl.router.ppo import PPOConfig, RouterPPOTrainer

    overrides: dict[str, Any] = {"seed": seed, "exec_feedback": exec_feedback,
                                 "stop_on_critical": stop_on_critical, "device": device}
    if updates is not None:
        overrides["total_updates"] = updates
    if critic is not None:
        overrides["critic"] = critic
    config = PPOConfig.preset(preset, **overrides)
    if model is None:  # the SFT router, unless the caller already loaded it
        model = load_router(sft_dir, schema, database)
    prompts = pool.examples if pool is not None else list(splits["train"])
    executor = None
    if exec_feedback:
        if database is None:
            raise PathrlError("--exec-feedback needs a database")
        executor = exec_feedback_runner(model.vocab, database, prompts)
    trainer = RouterPPOTrainer(model, config, prompts, splits["val"], out, executor,
                               prompt_weights=pool.weights if pool is not None else None)
    summary = trainer.train(resume=resume, progress=progress)
    if pool is not None:
        summary["prompt_pool"] = pool.summary()
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return model, summary


@dataclass
class CorpusSchema:
    """One schema of a training corpus, with its database and its generated questions."""

    name: str
    schema: Schema
    database: Any
    splits: dict[str, list]


def schema_corpus(directory: Path) -> list[tuple[str, Path, str]]:
    """(name, schema file, database URL) of every `<name>/schema.yaml` beside a
    `<name>/data.sqlite` under `directory` (the layout `pathrl synth schemas` writes)."""
    if not directory.is_dir():
        raise PathrlError(f"schema corpus not found: {directory} (write one with "
                          "`pathrl synth schemas --out DIR`)")
    found = [(p.parent.name, p, f"sqlite:///{p.parent / 'data.sqlite'}")
             for p in sorted(directory.glob("*/schema.yaml"))
             if (p.parent / "data.sqlite").is_file()]
    if not found:
        raise PathrlError(f"{directory} holds no <name>/schema.yaml with a <name>/data.sqlite")
    return found


def build_corpus(directory: Path, *, seed: int = 7, examples_per_path: float = 4.0,
                 max_examples: int = 240, languages: tuple[str, ...] = ("en", "zh"),
                 limit: int | None = None,
                 on_schema: Callable[[str, int, int], None] | None = None
                 ) -> list[CorpusSchema]:
    """Open every schema of a corpus and write its questions (few per path: diversity of
    schemas matters more than depth on any one of them)."""
    from pathrl.data import DatasetConfig, build_dataset
    from pathrl.db import open_database

    entries = schema_corpus(directory)[:limit]
    corpus = []
    for n, (name, schema_file, url) in enumerate(entries):
        schema = Schema.load(schema_file)
        database = open_database(schema, "sqlite", url)
        cfg = DatasetConfig(seed=seed + n, languages=languages,
                            examples_per_path=examples_per_path, min_per_path=3,
                            max_examples=max_examples)
        splits = build_dataset(schema, database, cfg)
        corpus.append(CorpusSchema(name, schema, database, dict(splits)))
        if on_schema:
            on_schema(name, n + 1, len(entries))
    return corpus


@dataclass(frozen=True)
class _Tagged:
    """An example tagged with the schema it belongs to (for schema-grouped batches)."""

    example: Any
    schema: str

    @property
    def question(self) -> str:
        return self.example.question

    @property
    def triple(self):
        return self.example.triple


def train_general(corpus: Sequence[CorpusSchema], out: Path, *, backbone: str = "minilm",
                  epochs: int = 6, seed: int = 7, init: Path | None = None,
                  device: str = "auto", progress: Progress | None = None) -> tuple[Any, dict]:
    """One path scorer trained on many schemas: it routes a schema it never saw
    (`pathrl route --schema NEW.yaml --model OUT/model`). `init` continues from a saved
    scorer."""
    from pathrl.router.scorer import PathScorer, ScorerConfig
    from pathrl.router.sft import SFTConfig, SFTTrainer

    if not corpus:
        raise PathrlError("the schema corpus is empty")
    torch.manual_seed(seed)
    model = (PathScorer.from_pretrained(init) if init is not None
             else PathScorer(ScorerConfig(backbone=backbone)))
    by_name = {c.name: c for c in corpus}
    for c in corpus:
        model.bind(c.schema, c.database)

    def bind(name: str) -> None:
        model.bind(by_name[name].schema, by_name[name].database)

    train = [_Tagged(ex, c.name) for c in corpus for ex in c.splits["train"]]
    val = [_Tagged(ex, c.name) for c in corpus for ex in c.splits["val"]]
    model.extend_vocab([t.question for t in train])
    model.setup_trainable()
    trainer = SFTTrainer(model, SFTConfig(epochs=epochs, seed=seed, patience=epochs,
                                          device=device), train,
                         val, out, group_of=lambda t: t.schema, bind=bind)
    summary = trainer.train(progress=progress)
    summary.update(head="scorer", schemas=[c.name for c in corpus], n_train=len(train))
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return model, summary


def exec_feedback_runner(vocab: PathVocab, database, examples: Sequence):
    """Execution feedback for the reward: run the predicted legal path with the example's
    filter (cached: the same route and filter always give the same status)."""
    cache: dict[tuple, str] = {}

    def run(triple, index: int) -> str:
        ex = examples[index]
        key = (triple, ex.id)
        if key not in cache:
            try:
                cache[key] = database.run_path(vocab.path(*triple), ex.to_filter()).status
            except PathrlError:  # the filter cannot apply to this route (no time field)
                cache[key] = "error"
        return cache[key]

    return run


def compare_methods(schema: Schema, database, splits: Mapping[str, Sequence],
                    routers: Mapping[str, Any], baselines: Sequence[str], out: Path,
                    curves: dict[str, Path] | None = None,
                    on_baseline: Callable[[str, int], None] | None = None) -> dict[str, Any]:
    """Predict with every method on test + heldout, score, write report.json/.md + plots."""
    from pathrl.router.baselines import make_baseline
    from pathrl.router.evaluate import MethodPredictions, evaluate_methods, write_report

    vocab = PathVocab.from_schema(schema)
    examples = list(splits["test"]) + list(splits["heldout"])
    split_names = ["test"] * len(splits["test"]) + ["heldout"] * len(splits["heldout"])
    if not examples:
        raise PathrlError("the dataset has no test or heldout examples to evaluate on")
    questions = [ex.question for ex in examples]
    methods = []
    for name in baselines:
        start = time.perf_counter()
        baseline = make_baseline(name, schema, vocab)
        if on_baseline:
            on_baseline(name, len(questions))
        predicted = baseline.predict(questions)
        # `baseline` is method §8.1's: a general LLM prompted with the schema.
        label = "baseline" if name == "llm" else name
        methods.append(MethodPredictions(label, predicted, None, time.perf_counter() - start))
    for name, router in routers.items():
        start = time.perf_counter()
        predicted = router.predict(questions, constrained=True)
        # Only the factored heads can be decoded unconstrained; the scorer is legal by design.
        unconstrained = (router.predict(questions, constrained=False)
                         if getattr(router, "kind", "factored") == "factored" else None)
        methods.append(MethodPredictions(name, predicted, unconstrained,
                                         time.perf_counter() - start))
    report = evaluate_methods(methods, examples, vocab, database, split_names)
    write_report(report, out, curves)
    return report
