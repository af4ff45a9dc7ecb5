"""What GRPO and token-level PPO share: the trainer base (evaluation, trainable-only
checkpoints, the summary), the prompt pool, TRL's reward-function inputs, completion log-probs,
length metrics, the doctor wiring and the sampling seed.

Sequences follow `pathrl.llm.models`: [left padding | prompt | completion | right padding].
Completion tokens sit at the right end of every row, so a forward pass only needs the logits of
the last C + 1 positions (`logits_to_keep`, as TRL does): the logits at position t − 1 predict
token t, and keeping C + 1 of them and dropping the last gives one logit row per completion
token. That keeps the [batch, tokens, vocabulary] tensor to the completion, not the prompt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from pathrl.errors import PathrlError
from pathrl.llm.models import encode_prompt, forward_logits, shared_prompt_logits
from pathrl.rl.ppo_core import entropy_from_logits
from pathrl.rl.trainer import Trainer

Row = Mapping[str, Any]
"""A dataset row as TRL takes it: `prompt` (chat messages or rendered text) plus the columns
the reward functions read (`answer`, ...)."""
Evaluator = Callable[[Any, Any], dict[str, float]]
"""(model, tokenizer) -> held-out metrics of the policy (greedy), `eval/exact_match` among
them (see `task_evaluator`)."""
ProgressFn = Callable[[int, int, dict[str, Any]], None]


class PromptPool:
    """Prompts drawn without replacement, epoch after epoch, each epoch in its own shuffled
    order. The order of epoch e is a pure function of (seed, e), so the prompts of step s
    depend on s alone: a resumed run draws exactly what the uninterrupted one did."""

    def __init__(self, rows: Sequence[Row], seed: int):
        if not rows:
            raise PathrlError("the training set is empty: give at least one prompt")
        missing = [i for i, row in enumerate(rows) if "prompt" not in row]
        if missing:
            raise PathrlError(f"{len(missing)} training rows have no 'prompt' column "
                              f"(first: row {missing[0]})")
        self.rows = list(rows)
        self.seed = seed
        self._orders: dict[int, list[int]] = {}

    def _order(self, epoch: int) -> list[int]:
        if epoch not in self._orders:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._orders = {epoch: torch.randperm(len(self.rows), generator=generator).tolist()}
        return self._orders[epoch]

    def indices(self, step: int, per_step: int) -> list[int]:
        """The prompt indices of step `step` (positions step·k … step·k + k − 1 of the
        endless sequence of epochs)."""
        n = len(self.rows)
        out = []
        for position in range(step * per_step, (step + 1) * per_step):
            out.append(self._order(position // n)[position % n])
        return out

    def batch(self, step: int, per_step: int) -> list[Row]:
        return [self.rows[i] for i in self.indices(step, per_step)]


def check_prompt_lengths(tokenizer: Any, rows: Sequence[Row], max_prompt_length: int,
                         what: str) -> None:
    """Refuse prompts longer than `max_prompt_length` tokens (one clear error, not a silent
    cut: a left-truncated prompt loses the instructions the rewards check)."""
    lengths = [len(encode_prompt(tokenizer, row["prompt"])) for row in rows]
    too_long = [n for n in lengths if n > max_prompt_length]
    if too_long:
        raise PathrlError(f"{len(too_long)} of {len(rows)} {what} prompts are longer than "
                          f"max_prompt_length={max_prompt_length} tokens (longest "
                          f"{max(too_long)}); raise max_prompt_length")


@dataclass
class TokenScores:
    """Per-completion-token quantities of one forward pass, each [rows, C]."""

    logps: torch.Tensor
    """log π(token | prefix) at the sampling temperature (differentiable)."""
    entropy: torch.Tensor | None
    """Entropy of the next-token distribution."""
    hidden: torch.Tensor | None = None
    """Last hidden state at the positions that predict each token (for a value head)."""


def completion_scores(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                      completion_width: int, temperature: float = 1.0,
                      with_entropy: bool = False, with_hidden: bool = False,
                      entropy_grad: bool = False, prompt_width: int | None = None
                      ) -> TokenScores:
    """Log-probs (and optionally entropies and hidden states) of the last `completion_width`
    tokens of every row. Logits are divided by the sampling temperature, as TRL does, so the
    ratio and the KL are those of the distribution the completions were drawn from. The
    entropy carries no gradient unless `entropy_grad` (an entropy bonus).

    `prompt_width`: rows are [prompt (that many columns) | completion] and rows that share a
    prompt run its columns once (`shared_prompt_logits`: GRPO's G completions per prompt);
    the same numbers as one pass over every row."""
    width = completion_width
    logits = None
    if prompt_width is not None and not with_hidden:
        if input_ids.shape[1] != prompt_width + width:
            raise PathrlError(f"completion_scores: rows of {input_ids.shape[1]} columns are "
                              f"not a {prompt_width}-column prompt + {width} completion tokens")
        logits = shared_prompt_logits(model, input_ids, attention_mask, prompt_width)
    hidden = None
    if logits is None:
        extra = {"output_hidden_states": True} if with_hidden else {}
        out = forward_logits(model, input_ids, attention_mask, logits_to_keep=width + 1,
                             **extra)
        logits = out.logits[:, :-1]
        hidden = out.hidden_states[-1][:, -width - 1:-1] if with_hidden else None
    logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    targets = input_ids[:, -width:]
    logps = torch.gather(logits, -1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(
        logits, dim=-1)
    entropy = None
    if with_entropy or entropy_grad:
        with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
            entropy = entropy_from_logits(logits)
    return TokenScores(logps, entropy, hidden)


def length_metrics(lengths: torch.Tensor, truncated: torch.Tensor) -> dict[str, float]:
    """TRL GRPO's completion metrics: lengths of all completions and of those that ended on
    a stop token, and the share cut at max_completion_length."""
    lengths = lengths.float()
    ended = lengths[~truncated]
    nan = float("nan")
    return {
        "completions/mean_length": float(lengths.mean()),
        "completions/min_length": float(lengths.min()),
        "completions/max_length": float(lengths.max()),
        "completions/clipped_ratio": float(truncated.float().mean()),
        "completions/mean_terminated_length": float(ended.mean()) if len(ended) else nan,
        "completions/min_terminated_length": float(ended.min()) if len(ended) else nan,
        "completions/max_terminated_length": float(ended.max()) if len(ended) else nan,
    }


def doctor_callback(enabled: bool, stop_on_critical: bool, max_grad_norm: float | None):
    """The live doctor, or None. The logged gradient norm is the one before clipping; with
    clipping on, a steady norm above 5 is already tamed, so only its spikes
    (grad_norm_explosion) make a finding."""
    if not enabled:
        return None
    from pathrl.doctor import DoctorCallback, DoctorConfig

    disabled = frozenset({"grad_norm_high"}) if max_grad_norm else frozenset()
    return DoctorCallback(DoctorConfig(disabled=disabled), stop_on_critical=stop_on_critical)


def draw_seed(generator: torch.Generator) -> int:
    """A sampling seed drawn from the trainer's generator (saved in every checkpoint), so
    generation is reproducible and a resumed run samples what the uninterrupted one did."""
    return int(torch.randint(0, 2**31 - 1, (1,), generator=generator))


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The parameters that train (a LoRA adapter, a value head), detached copies: what a
    checkpoint of an adapter run needs, not the frozen base."""
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def task_evaluator(problems: Sequence[Any], max_new_tokens: int, batch_size: int = 32,
                   scorer: Callable[[list[Any], list[str]], Sequence[float]] | None = None,
                   ) -> Callable[[Any, Any], dict[str, float]]:
    """The arithmetic task's evaluation block (`pathrl.llm.evaluate`) as an evaluator of a
    policy: greedy completions of the held-out `problems`, lengths in tokens, the metrics
    under `eval/` (`eval/exact_match`, `eval/format_rate`, ... overall and per language).
    `scorer` (a reward model's `score`): also `eval/reward_model_score`, the mean score of
    those greedy completions (the same prompts every time, so a trend is not sampling noise)."""
    if not problems:
        raise PathrlError("no held-out problems to evaluate")

    def run(model: Any, tokenizer: Any) -> dict[str, float]:
        from pathrl.llm.evaluate import evaluate
        from pathrl.llm.models import generate_texts

        scores: list[float] = []

        def complete(prompts: list[Any]) -> list[str]:
            texts = generate_texts(model, tokenizer, prompts, max_new_tokens=max_new_tokens,
                                   batch_size=batch_size)
            if scorer is not None:
                scores.extend(float(s) for s in scorer(prompts, texts))
            return texts

        def count_tokens(text: str) -> int:
            return len(tokenizer(text, add_special_tokens=False).input_ids)

        report = evaluate(list(problems), complete, batch_size=batch_size,
                          count_tokens=count_tokens)
        metrics = report.metrics(prefix="eval/")
        if scorer is not None:
            metrics["eval/reward_model_score"] = sum(scores) / max(len(scores), 1)
        return metrics

    return run


def reward_inputs(rows: Sequence[Row], texts: Sequence[str],
                  completion_ids: Sequence[list[int]]) -> tuple[list[Any], dict[str, Any]]:
    """(completions, keyword arguments) as TRL passes them to a reward function: chat
    completions for chat prompts, `prompts`, `completion_ids` and every other dataset column
    as a list with one value per completion."""
    completions: list[Any] = [
        text if isinstance(row["prompt"], str) else [{"role": "assistant", "content": text}]
        for row, text in zip(rows, texts, strict=True)]
    keys = [k for k in rows[0] if k not in ("prompt", "completion", "completion_ids")]
    kwargs: dict[str, Any] = {k: [row.get(k) for row in rows] for k in keys}
    kwargs["prompts"] = [row["prompt"] for row in rows]
    kwargs["completion_ids"] = list(completion_ids)
    return completions, kwargs


@dataclass
class RLSummary:
    """What a GRPO or token PPO run measured (OUT/summary.json)."""

    steps: int
    steps_run: int
    wall_s: float
    seconds_per_step: float
    stop_reason: str | None
    """None when every step ran; else why the loop stopped (doctor, KL circuit breaker)."""
    initial_eval: dict[str, float]
    """Held-out metrics before the first step (empty without evaluation)."""
    final_eval: dict[str, float]
    """Held-out metrics of the last evaluation."""
    last_metrics: dict[str, Any]
    kept_step: int | None
    findings: list[dict[str, Any]]
    """The live doctor's findings."""
    model_dir: str
    config: dict[str, Any]
    curves: str | None = None
    """OUT/curves.png: the run's main signals step by step (None when nothing was logged)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class GenerativeRLTrainer(Trainer):
    """The part of GRPO and token PPO that is not the algorithm: the held-out evaluation
    (logged in full with the step it follows, `eval/exact_match` riding along every step),
    checkpoints of the trainable parameters only (a LoRA run's are small), at most
    `save_total_limit` of them, and `fit()` returning an `RLSummary`. A subclass sets
    `config` (with `save_total_limit`), `evaluator` and `model`, and says which module the
    evaluator gets (`eval_model`)."""

    eval_metric = "eval/exact_match"
    config: Any
    evaluator: Evaluator | None
    tokenizer: Any
    curve_keys: tuple[str, ...] = ()
    """The metrics OUT/curves.png plots, in this order (those the log has)."""

    def curve_targets(self) -> dict[str, float]:
        """Dashed target lines on the curves (metric -> value)."""
        return {}

    def _init_eval_state(self) -> None:
        self.initial_eval: dict[str, float] = {}
        self.final_eval: dict[str, float] = {}
        self.last_metrics: dict[str, Any] = {}
        self._pending_eval: dict[str, float] | None = None

    @property
    def eval_model(self) -> Any:
        """The causal LM the evaluator generates with."""
        return self.model

    def autocast(self) -> Any:
        """bfloat16 autocast of generation and forward passes when the config's `bf16` is
        on (weights, gradients and optimiser state stay float32); else a no-op context."""
        device = next(self.model.parameters()).device.type
        return torch.autocast(device, dtype=torch.bfloat16,
                              enabled=bool(getattr(self.config, "bf16", False)))

    def _evaluate_all(self) -> dict[str, float]:
        assert self.evaluator is not None
        with torch.no_grad(), self.autocast():
            self.model.eval()
            raw = self.evaluator(self.eval_model, self.tokenizer)
        metrics = {k if k.startswith("eval") else f"eval/{k}": float(v) for k, v in raw.items()}
        if not self.initial_eval and self.step == 0 and self._pending_eval is None:
            self.initial_eval = metrics
        self.final_eval = metrics
        return metrics

    def step_evaluation(self) -> dict[str, float]:
        """When the loop evaluates right after this step, evaluate now so the whole block is
        logged with the step's metrics; else nothing."""
        if self.evaluator is None or not self._evaluation_due():
            return {}
        self._pending_eval = self._evaluate_all()
        return self._pending_eval

    def evaluate(self) -> float:
        """The loop's evaluation: the block `run_step` just logged (before the first step, a
        fresh one); the score is the held-out exact match."""
        if self.evaluator is None:
            return float("nan")
        metrics = self._pending_eval if self._pending_eval is not None else self._evaluate_all()
        self._pending_eval = None
        return float(metrics.get(self.eval_metric, float("nan")))

    def model_state(self) -> dict[str, torch.Tensor]:
        """Only what trains (every weight, or a LoRA adapter, and a value head): the frozen
        rest is rebuilt from the base model."""
        names = {name for name, p in self.model.named_parameters() if p.requires_grad}
        return {name: value.detach().clone() for name, value in self.model.state_dict().items()
                if name in names}

    def load_model_state(self, state: dict[str, torch.Tensor]) -> None:
        expected = {name for name, p in self.model.named_parameters() if p.requires_grad}
        if set(state) != expected:
            raise KeyError("checkpoint parameters differ from the model's trainable ones")
        self.model.load_state_dict(state, strict=False)

    def extra_state(self) -> dict[str, Any]:
        return {"initial_eval": self.initial_eval, "final_eval": self.final_eval}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.initial_eval = dict(state.get("initial_eval") or {})
        self.final_eval = dict(state.get("final_eval") or {})

    def fit(self, resume: bool = False, progress: ProgressFn | None = None) -> RLSummary:
        """Train (or continue, `resume`), save OUT/model, return the summary."""
        start = time.perf_counter()
        result = self.train(resume=resume, progress=progress)
        wall = time.perf_counter() - start
        curves = self.draw_curves()
        return RLSummary(
            steps=result.steps, steps_run=result.steps_run, wall_s=wall,
            seconds_per_step=result.wall_s / max(result.steps_run, 1),
            stop_reason=result.stop_reason, initial_eval=self.initial_eval,
            final_eval=self.final_eval, last_metrics=self.last_metrics,
            kept_step=result.kept.step if result.kept is not None else None,
            findings=result.findings, model_dir=str(self.out_dir / "model"),
            config=asdict(self.config), curves=str(curves) if curves else None)

    def draw_curves(self) -> Path | None:
        """OUT/curves.png from OUT/metrics.jsonl (main process only; None without a log)."""
        log = self.out_dir / f"{self.settings.metrics_name}.jsonl"
        if not self.is_main_process or not log.is_file() or not log.stat().st_size:
            return None
        from pathrl.plots import training_curves

        return training_curves(log, self.out_dir / "curves.png",
                               title=f"{type(self).__name__}: {self.out_dir.name}",
                               keys=self.curve_keys or None, targets=self.curve_targets(),
                               starts=self.initial_eval)


def rl_data(data: Any) -> tuple[list[Row], list[Any]]:
    """(training rows, held-out problems) of a `TaskDataConfig`: the generated arithmetic
    task (rows from `pathrl.llm.tasks.grpo_row`, the held-out split for the evaluation
    block), or `train_file`: TRL rows ({"prompt", "answer", ...}) or a GSM8K JSONL
    ({"question", "answer": "... #### 42"}); `eval_file`: GSM8K JSONL problems."""
    from pathrl.llm.tasks import grpo_row, load_gsm8k
    from pathrl.llm.training import read_rows, row_prompt, task_problems

    if data.train_file is None:
        problems = task_problems(data)
        return [grpo_row(p) for p in problems.train], list(problems.eval)
    rows = read_rows(data.train_file)
    if all("prompt" in row for row in rows):
        train = [{**row, "prompt": row_prompt(row["prompt"], f"{data.train_file}, row {i}")}
                 for i, row in enumerate(rows, start=1)]
    elif all("question" in row for row in rows):
        train = [grpo_row(p) for p in load_gsm8k(data.train_file)]
    else:
        raise PathrlError(f"{data.train_file}: expected TRL rows with a 'prompt' (and the "
                          "columns the rewards read) or GSM8K rows with 'question' and "
                          "'answer'")
    held_out = load_gsm8k(data.eval_file) if data.eval_file else []
    return train, held_out


def write_summary(out_dir: str | Path, summary: RLSummary) -> Path:
    import json

    from pathrl.io import atomic_write_text

    return atomic_write_text(Path(out_dir) / "summary.json",
                             json.dumps(summary.to_dict(), indent=2, ensure_ascii=False) + "\n")
