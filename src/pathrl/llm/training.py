"""What pathrl's supervised-style LLM trainers (SFT, reward model, DPO) share: the config
fields of a run, the task data, and one optimisation loop on `pathrl.rl.trainer.Trainer`.

A step is one optimiser update over `gradient_accumulation_steps` micro-batches of
`batch_size` examples. Example order is a seeded permutation per epoch, a function of the
step alone, so a resumed run sees the same batches as an uninterrupted one; the checkpoint
(the skeleton's: model or adapter, optimiser, scheduler, RNG, step) holds only the trainable
parameters. Losses are summed over the accumulated micro-batches and divided by their total
weight (tokens for SFT, pairs for RM and DPO), so accumulation gives the same gradient as
one big batch. Evaluation on the held-out split runs every `eval_every` steps (and before
the first step); its metrics are logged with the step's, prefixed `eval_`.
"""

from __future__ import annotations

import json
import math
import time
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import torch

from pathrl.config import ConfigChecks
from pathrl.errors import PathrlError
from pathrl.llm.models import LoraSettings, model_device, trainable_parameters
from pathrl.llm.tasks import DEFAULT_REJECTION_KINDS, TaskError, check_rejection_kinds
from pathrl.rl.parallel import DataParallel
from pathrl.rl.trainer import LoopSettings, StepResult, Trainer, TrainerCallback

E = TypeVar("E")
SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
              "constant_with_warmup")


@dataclass
class TaskDataConfig:
    """Where training examples come from: the arithmetic word-problem task
    (`pathrl.llm.tasks`) by default, or JSONL files in TRL's row formats."""

    n_train: int = 512
    """Generated training problems."""
    n_eval: int = 64
    """Generated problems held out from training for the eval loss / accuracy."""
    n_test: int = 200
    """Size of the task's test split, which training never sees (`pathrl llm eval` scores
    it). Changing it changes which problems the training split must avoid."""
    seed: int = 0
    """Seed of the task generator."""
    langs: list[str] = field(default_factory=lambda: ["en", "zh"])
    """Problem languages (en, zh)."""
    difficulties: list[int] = field(default_factory=lambda: [1, 2, 3])
    """Difficulties (1: two operations … 3: four)."""
    rejection_kinds: list[str] = field(default_factory=lambda: list(DEFAULT_REJECTION_KINDS))
    """How the generated preference pairs' rejected answers are broken (reward model, DPO),
    taking turns: wrong_answer, near_miss (the final number wrong, the format kept),
    no_tags, truncated, verbose_answer (the number kept, the form broken); wrong_result (not
    in the default mix) also changes the reasoning's last result, so only its arithmetic
    tells (`pathrl.llm.tasks.REJECTION_KINDS`)."""
    train_file: str | None = None
    """JSONL of training rows instead of the generated task: SFT rows are
    {"prompt", "completion"} or {"messages"}; preference rows {"prompt", "chosen",
    "rejected"} (strings or chat messages)."""
    eval_file: str | None = None
    """JSONL of held-out rows in the same format (with `train_file`; none: no evaluation)."""

    def __post_init__(self) -> None:
        for name in ("n_train", "n_eval", "n_test"):
            if getattr(self, name) < 0:
                raise PathrlError(f"data.{name} must be >= 0, got {getattr(self, name)}")
        if self.train_file is None and self.n_train < 1:
            raise PathrlError("data.n_train must be >= 1")
        try:  # checked here so a bad list fails before any model loads
            check_rejection_kinds(self.rejection_kinds)
        except TaskError as exc:
            raise PathrlError(f"data.rejection_kinds: {exc}") from None


@dataclass
class TrainConfig:
    """Fields every supervised-style LLM trainer shares (TRL's TrainingArguments names where
    they exist)."""

    model: str = "smollm2"
    """Policy to start from: smollm2 (packaged, offline), a local Hugging Face directory, or
    a directory a pathrl trainer saved (a LoRA adapter loads merged)."""
    device: str = "auto"
    """auto (cuda, then mps, else cpu), cpu, cuda, cuda:N, mps."""
    dtype: str = "float32"
    """Dtype of the weights: float32, bfloat16, float16, auto (bfloat16 on CUDA). Full
    fine-tuning in bfloat16 loses updates smaller than its precision: keep float32 and use
    `bf16`, or train LoRA on a bfloat16 base (the adapter stays float32)."""
    bf16: bool = False
    """bfloat16 mixed precision: forward passes under torch.autocast (the backward follows
    their dtypes); weights and optimiser stay in `dtype`. About 2x faster on GPUs and on CPUs
    with AMX/AVX512-BF16."""
    lora: LoraSettings | None = None
    """A LoRA adapter to train instead of every weight (null: full fine-tuning)."""
    learning_rate: float = 2e-5
    """Peak learning rate (AdamW)."""
    lr_scheduler: str = "cosine"
    """transformers scheduler name: linear, cosine, cosine_with_restarts, polynomial,
    constant, constant_with_warmup."""
    warmup_ratio: float = 0.1
    """Fraction of the steps with a linear warm-up."""
    weight_decay: float = 0.0
    """AdamW weight decay (matrices only; biases and norms are never decayed)."""
    max_grad_norm: float = 1.0
    """Gradient clipping (global norm)."""
    batch_size: int = 8
    """Examples per micro-batch."""
    gradient_accumulation_steps: int = 1
    """Micro-batches per optimiser step."""
    epochs: int = 1
    """Passes over the training data (ignored when max_steps > 0)."""
    max_steps: int = 0
    """Optimiser steps to run; 0: epochs × steps per epoch."""
    max_length: int = 512
    """Longest prompt + completion in tokens (longer rows lose their end)."""
    eval_every: int = 0
    """Evaluate on the held-out split every N steps (and before the first and at the last
    step); 0: never."""
    eval_batch_size: int = 16
    """Examples per evaluation batch."""
    eval_at_start: bool = True
    """With eval_every, also evaluate the starting model (DPO against its own start scores
    accuracy 0 and loss ln 2 by construction: set false to save the time)."""
    checkpoint_every: int = 0
    """Checkpoint every N steps (0: only on Ctrl-C and at the end); `--resume` continues
    from the latest."""
    save_total_limit: int = 2
    """Checkpoints kept on disk (the oldest are deleted); 0: keep all."""
    keep_best: bool = False
    """Ship the model of the best evaluation instead of the last (needs eval_every)."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass (less memory, ~30% slower)."""
    merge_lora: bool = False
    """Save a LoRA policy merged into full weights instead of the adapter alone."""
    seed: int = 7
    """Seeds torch, Python, NumPy, LoRA's initialisation and the example order."""
    data: TaskDataConfig = field(default_factory=TaskDataConfig)
    """Training and held-out examples."""

    def __post_init__(self) -> None:
        checks = ConfigChecks(self)
        checks.at_least(1, "batch_size", "gradient_accumulation_steps", "epochs", "max_length",
                        "eval_batch_size")
        checks.at_least(0, "max_steps", "eval_every", "checkpoint_every", "save_total_limit")
        checks.schedule(SCHEDULERS)
        checks.raise_if_any()


# -- task data -------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskProblems:
    train: tuple[Any, ...]
    eval: tuple[Any, ...]
    test: tuple[Any, ...]


def task_problems(data: TaskDataConfig) -> TaskProblems:
    """The generated problems: training and held-out eval come from the train stream, the
    test split (never trained on) is drawn first, so it is the same whatever n_train is."""
    from pathrl.llm.tasks import make_splits

    split = make_splits(data.n_train + data.n_eval, data.n_test, seed=data.seed,
                        langs=data.langs, difficulties=data.difficulties)
    return TaskProblems(train=split.train[data.n_eval:], eval=split.train[:data.n_eval],
                        test=split.test)


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """JSON objects, one a line (blank lines skipped), with the line named on an error."""
    path = Path(path)
    if not path.is_file():
        raise PathrlError(f"data file not found: {path}")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise PathrlError(f"{path}, line {number}: not JSON ({exc})") from None
        if not isinstance(row, dict):
            raise PathrlError(f"{path}, line {number}: expected a JSON object")
        rows.append(row)
    if not rows:
        raise PathrlError(f"{path} holds no rows")
    return rows


def row_text(value: Any, where: str) -> str:
    """A completion given as a string or as chat messages (the assistant's content)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
        return "".join(str(m.get("content", "")) for m in value
                       if m.get("role", "assistant") == "assistant")
    raise PathrlError(f"{where}: expected a string or a list of chat messages")


def row_prompt(value: Any, where: str) -> str | list[dict[str, str]]:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(m, dict) and "role" in m and "content" in m
                                       for m in value):
        return [{"role": str(m["role"]), "content": str(m["content"])} for m in value]
    raise PathrlError(f"{where}: 'prompt' must be a string or a list of chat messages")


# -- the loop --------------------------------------------------------------------------------
@dataclass
class BatchLoss:
    """What a micro-batch contributes: the summed loss (a tensor to back-propagate) and
    summed metrics, both to be divided by the step's total weight."""

    loss_sum: torch.Tensor
    metric_sums: dict[str, float]


@dataclass
class TrainSummary:
    """What a training run measured (written to OUT/summary.json)."""

    steps: int
    steps_run: int
    wall_s: float
    train_examples: int
    eval_examples: int
    initial_eval: dict[str, float]
    final_eval: dict[str, float]
    last_metrics: dict[str, float | None]
    stop_reason: str | None
    kept_step: int | None
    model_dir: str
    config: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


ProgressFn = Callable[[int, int, dict[str, Any]], None]


class SupervisedTrainer(Trainer, Generic[E]):
    """The optimisation loop of SFT, RM and DPO (see the module doc). A subclass gives the
    loss of a micro-batch, each example's weight, the evaluation metrics and how to save."""

    eval_metric = "eval_score"
    """The evaluation score the loop logs with every step and `keep_best` maximises."""
    metrics_name = "metrics"
    checkpoint_prefix = "step"

    def __init__(self, model: torch.nn.Module, tokenizer: Any, config: TrainConfig,
                 train: Sequence[E], eval_set: Sequence[E], out_dir: str | Path,
                 callbacks: Sequence[TrainerCallback] = ()):
        if not train:
            raise PathrlError("no training examples")
        self.config = config
        self.train_set, self.eval_set = list(train), list(eval_set)
        per_step = config.batch_size * config.gradient_accumulation_steps
        self.steps_per_epoch = math.ceil(len(self.train_set) / per_step)
        total = config.max_steps or config.epochs * self.steps_per_epoch
        settings = LoopSettings(
            total_steps=total, seed=config.seed,
            eval_every=config.eval_every if self.eval_set else 0,
            eval_at_start=config.eval_at_start,
            eval_metric=self.eval_metric, keep_best=config.keep_best and bool(self.eval_set),
            checkpoint_every=config.checkpoint_every, keep_checkpoints=config.save_total_limit,
            checkpoint_prefix=self.checkpoint_prefix, metrics_name=self.metrics_name)
        super().__init__(out_dir, settings, callbacks)
        # Launched by `accelerate launch` with several processes: each takes a share of every
        # step's micro-batches and the gradients are summed (pathrl.rl.parallel).
        self.parallel = DataParallel.from_environment()
        self.is_main_process = self.parallel is None or self.parallel.is_main_process
        self.model = model
        self.tokenizer = tokenizer
        if config.gradient_checkpointing:
            enable_gradient_checkpointing(model)
        self.optimizer = make_optimizer(model, config)
        from transformers import get_scheduler

        self.autocast_device = model_device(model).type
        self.scheduler = get_scheduler(
            config.lr_scheduler, self.optimizer,
            num_warmup_steps=math.ceil(config.warmup_ratio * total), num_training_steps=total)
        self._pending_eval: dict[str, float] | None = None
        self.initial_eval: dict[str, float] = {}
        self.final_eval: dict[str, float] = {}
        self.last_metrics: dict[str, Any] = {}

    # -- what a subclass says --------------------------------------------------------------
    @abstractmethod
    def batch_loss(self, examples: Sequence[E]) -> BatchLoss:
        """Loss and metric sums of a micro-batch (with gradients)."""

    @abstractmethod
    def example_weight(self, example: E) -> float:
        """How much an example weighs in a step's mean (tokens, pairs)."""

    @abstractmethod
    def eval_metrics(self) -> dict[str, float]:
        """Metrics on the held-out split (no gradients), `eval_metric` among them."""

    # -- batches -----------------------------------------------------------------------------
    def micro_batches(self, step: int) -> list[list[int]]:
        """Indices of the training examples of `step`, split into micro-batches."""
        cfg = self.config
        per_step = cfg.batch_size * cfg.gradient_accumulation_steps
        epoch, offset = divmod(step, self.steps_per_epoch)
        generator = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
        order = torch.randperm(len(self.train_set), generator=generator).tolist()
        chosen = order[offset * per_step:(offset + 1) * per_step]
        return [chosen[i:i + cfg.batch_size] for i in range(0, len(chosen), cfg.batch_size)]

    def autocast(self) -> Any:
        """bfloat16 autocast when `bf16` is on (else a no-op context)."""
        return torch.autocast(self.autocast_device, dtype=torch.bfloat16,
                              enabled=self.config.bf16)

    def eval_batches(self) -> list[list[E]]:
        size = self.config.eval_batch_size
        return [self.eval_set[i:i + size] for i in range(0, len(self.eval_set), size)]

    # -- one step ----------------------------------------------------------------------------
    def run_step(self) -> StepResult:
        cfg = self.config
        self.model.train()
        batches = [[self.train_set[i] for i in idx] for idx in self.micro_batches(self.step)]
        # The step's global normaliser: the same on every data-parallel process.
        total = float(sum(self.example_weight(e) for batch in batches for e in batch))
        sums: dict[str, float] = {}
        lr = self.scheduler.get_last_lr()[0]
        mine = batches if self.parallel is None else self.parallel.shard(batches)
        for batch in mine:
            with self.autocast():
                out = self.batch_loss(batch)
            (out.loss_sum / max(total, 1.0)).backward()
            for key, value in out.metric_sums.items():
                sums[key] = sums.get(key, 0.0) + value
        if self.parallel is not None:
            self.parallel.sum_gradients(trainable_parameters(self.model))
            sums = self.parallel.sum_values(sums)
        grad_norm = torch.nn.utils.clip_grad_norm_(trainable_parameters(self.model),
                                                   cfg.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        metrics: dict[str, Any] = {key: value / max(total, 1.0) for key, value in sums.items()}
        metrics.update({"lr": lr, "grad_norm": float(grad_norm),
                        "epoch": (self.step + 1) / self.steps_per_epoch,
                        "examples": sum(len(b) for b in batches)})
        if self._evaluation_due():  # the loop evaluates right after this step: log it here
            self._pending_eval = self._evaluate_all()
            metrics.update(self._pending_eval)
        self.last_metrics = metrics
        return StepResult(metrics=metrics)

    def _evaluate_all(self) -> dict[str, float]:
        with torch.no_grad(), self.autocast():
            self.model.eval()
            try:
                metrics = self.eval_metrics()
            finally:
                self.model.train()
        self.final_eval = metrics
        return metrics

    def evaluate(self) -> float:
        """The loop's evaluation: the metrics `run_step` just logged, or before the first
        step a fresh evaluation (the run's starting point)."""
        if self._pending_eval is None:
            metrics = self.initial_eval = self._evaluate_all()
        else:
            metrics = self._pending_eval
        self._pending_eval = None
        return float(metrics.get(self.eval_metric, float("nan")))

    # -- state -------------------------------------------------------------------------------
    def model_state(self) -> dict[str, torch.Tensor]:
        """Only what trains (a LoRA adapter, a reward head): the frozen rest is rebuilt from
        the base model, so checkpoints stay small."""
        names = {name for name, p in self.model.named_parameters() if p.requires_grad}
        return {name: value.detach().clone() for name, value in self.model.state_dict().items()
                if name in names}

    def load_model_state(self, state: dict[str, torch.Tensor]) -> None:
        expected = {name for name, p in self.model.named_parameters() if p.requires_grad}
        if set(state) != expected:
            raise KeyError("checkpoint parameters differ from the model's trainable ones")
        self.model.load_state_dict(state, strict=False)

    def fit(self, resume: bool = False, progress: ProgressFn | None = None) -> TrainSummary:
        """Train (or continue, `resume`), save the model to OUT/model, return the summary."""
        start = time.perf_counter()
        result = self.train(resume=resume, progress=progress)
        return TrainSummary(
            steps=result.steps, steps_run=result.steps_run,
            wall_s=time.perf_counter() - start, train_examples=len(self.train_set),
            eval_examples=len(self.eval_set), initial_eval=self.initial_eval,
            final_eval=self.final_eval, last_metrics=self.last_metrics,
            stop_reason=result.stop_reason,
            kept_step=result.kept.step if result.kept is not None else None,
            model_dir=str(self.out_dir / "model"), config=asdict(self.config))


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for parameter in trainable_parameters(model):
        (decay if parameter.ndim >= 2 else no_decay).append(parameter)
    if not decay and not no_decay:
        raise PathrlError("the model has no trainable parameters")
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=config.learning_rate)


def enable_gradient_checkpointing(model: Any) -> None:
    target = model.get_base_model() if hasattr(model, "get_base_model") else model
    if not hasattr(target, "gradient_checkpointing_enable"):
        target = getattr(target, "backbone", target)
    target.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if hasattr(target, "enable_input_require_grads"):
        target.enable_input_require_grads()  # a frozen embedding must still pass gradients


def write_summary(out_dir: str | Path, summary: TrainSummary) -> Path:
    from pathrl.io import atomic_write_text

    return atomic_write_text(Path(out_dir) / "summary.json",
                             json.dumps(summary.to_dict(), indent=2, ensure_ascii=False) + "\n")


def write_config(out_dir: str | Path, config: Any) -> Path:
    from pathrl.config import dump_config
    from pathrl.io import atomic_write_text

    return atomic_write_text(Path(out_dir) / "config.yaml", dump_config(config))


# -- preference data (reward model, DPO) -----------------------------------------------------
@dataclass(frozen=True)
class Preference:
    """A prompt, the preferred completion and the other one."""

    prompt: Any  # Prompt: chat messages or rendered text
    chosen: str
    rejected: str


@dataclass(frozen=True)
class EncodedPair:
    prompt_ids: tuple[int, ...]
    chosen_ids: tuple[int, ...]
    rejected_ids: tuple[int, ...]
    """Completion tokens, each closed by the end-of-turn token."""


def encode_pairs(tokenizer: Any, pairs: Sequence[Preference], max_length: int
                 ) -> list[EncodedPair]:
    from pathrl.llm.models import encode_completion, encode_prompt

    encoded = []
    for pair in pairs:
        prompt = tuple(encode_prompt(tokenizer, pair.prompt))
        keep = max(0, max_length - len(prompt))
        encoded.append(EncodedPair(
            prompt[:max_length], tuple(encode_completion(tokenizer, pair.chosen)[:keep]),
            tuple(encode_completion(tokenizer, pair.rejected)[:keep])))
    return encoded


def pair_batch(pairs: Sequence[EncodedPair], pad_id: int, device: torch.device | None = None):
    """One right-padded batch holding every chosen row, then every rejected row."""
    from pathrl.llm.models import collate_completions

    prompts = [p.prompt_ids for p in pairs]
    batch = collate_completions(prompts + prompts, [p.chosen_ids for p in pairs]
                                + [p.rejected_ids for p in pairs], pad_id)
    return batch.to(device) if device is not None else batch


def preference_rows(path: str | Path) -> list[Preference]:
    """Pairs from a JSONL file of TRL preference rows: {"prompt", "chosen", "rejected"}, the
    completions as strings or chat messages."""
    pairs = []
    for number, row in enumerate(read_rows(path), start=1):
        where = f"{path}, row {number}"
        missing = [k for k in ("prompt", "chosen", "rejected") if k not in row]
        if missing:
            raise PathrlError(f"{where}: missing {', '.join(missing)}")
        pairs.append(Preference(row_prompt(row["prompt"], where),
                                row_text(row["chosen"], where),
                                row_text(row["rejected"], where)))
    return pairs


def preference_examples(data: TaskDataConfig) -> tuple[list[Preference], list[Preference]]:
    """(train, held-out) pairs: the arithmetic task's (correct, broken) completions
    (`pathrl.llm.tasks.preference_pairs`, one pair a problem, rejection kinds in turn), or
    `train_file` / `eval_file`."""
    if data.train_file is not None:
        held_out = preference_rows(data.eval_file) if data.eval_file else []
        return preference_rows(data.train_file), held_out
    from pathrl.llm.tasks import preference_pairs

    problems = task_problems(data)

    def pairs(chunk: Sequence[Any], seed: int) -> list[Preference]:
        return [Preference(list(p.prompt), p.chosen, p.rejected)
                for p in preference_pairs(chunk, seed=seed, kinds=data.rejection_kinds)]

    return pairs(problems.train, data.seed), pairs(problems.eval, data.seed + 1)


# -- evaluating a saved model ------------------------------------------------------------------
@dataclass
class LLMEvalConfig:
    """`pathrl llm eval`: the task's evaluation block on held-out test problems."""

    model: str = "smollm2"
    """Model to evaluate (alias, Hugging Face directory, or a trainer's OUT/model)."""
    device: str = "auto"
    """auto, cpu, cuda, cuda:N, mps."""
    dtype: str = "auto"
    """auto, float32, bfloat16, float16."""
    max_new_tokens: int = 256
    """Longest completion (greedy decoding)."""
    batch_size: int = 16
    """Prompts per generation batch."""
    limit: int = 0
    """Evaluate the first N test problems only (0: all of data.n_test)."""
    data: TaskDataConfig = field(default_factory=TaskDataConfig)
    """The task split: the test split is `data.n_test` problems, the same ones the
    trainers keep apart with the same data settings."""

    def __post_init__(self) -> None:
        for name in ("max_new_tokens", "batch_size"):
            if getattr(self, name) < 1:
                raise PathrlError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.limit < 0:
            raise PathrlError(f"limit must be >= 0, got {self.limit}")
        if self.data.n_test < 1:
            raise PathrlError("data.n_test must be >= 1 to evaluate")


def evaluate_model(config: LLMEvalConfig, progress: ProgressFn | None = None) -> Any:
    """Greedy completions of the test problems by `config.model`, scored by the task's
    evaluation block (`pathrl.llm.evaluate.evaluate`); returns its `EvalReport` (lengths in
    tokens)."""
    from pathrl.llm.evaluate import evaluate
    from pathrl.llm.models import generate_texts, load_policy

    problems = list(task_problems(config.data).test)
    if config.limit:
        problems = problems[:config.limit]
    model, tokenizer = load_policy(config.model, device=config.device, dtype=config.dtype)
    done = 0

    def generate(prompts: list) -> list[str]:
        nonlocal done
        texts = generate_texts(model, tokenizer, prompts, max_new_tokens=config.max_new_tokens,
                               batch_size=config.batch_size)
        done += len(prompts)
        if progress is not None:
            progress(done, len(problems), {})
        return texts

    def count_tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False).input_ids)

    return evaluate(problems, generate, batch_size=config.batch_size,
                    count_tokens=count_tokens)
