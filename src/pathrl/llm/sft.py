"""Chat SFT of a generative LLM: cross-entropy on the completion tokens only.

    summary = run_sft(LLMSFTConfig(max_steps=100, lora=LoraSettings()), "runs/llm-sft")

Each example is a chat prompt and the assistant's answer (by default the arithmetic task's
worked solutions, `pathrl.llm.tasks.sft_target`). The prompt is rendered by the chat
template with the generation prompt and the answer is closed by the end-of-turn token, so
the model learns to stop; prompt tokens get the label -100 and carry no loss (TRL's
completion-only loss). No packing: one example a row, right-padded. The step loss is the
mean over every completion token of the step's micro-batches. Evaluation: `eval_loss` and
`eval_token_accuracy` (greedy next-token accuracy on completion tokens) on held-out problems.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pathrl.errors import PathrlError
from pathrl.llm.models import (
    CompletionBatch,
    Prompt,
    collate_completions,
    encode_completion,
    encode_prompt,
    first_scored_position,
    forward_logits,
    load_policy,
    model_device,
)
from pathrl.llm.training import (
    BatchLoss,
    ProgressFn,
    SupervisedTrainer,
    TaskDataConfig,
    TrainConfig,
    TrainSummary,
    read_rows,
    row_prompt,
    row_text,
    task_problems,
    write_config,
    write_summary,
)
from pathrl.rl.trainer import TrainerCallback, seed_everything

IGNORE_INDEX = -100


@dataclass
class LLMSFTConfig(TrainConfig):
    """Chat SFT settings (every field of `TrainConfig`, SFT defaults)."""

    learning_rate: float = 5e-5
    """Peak learning rate (AdamW); LoRA usually wants ~10x more (2e-4 to 5e-4)."""
    completion_only_loss: bool = True
    """Loss on the completion tokens only (prompt labels -100); off: every real token."""


@dataclass(frozen=True)
class SFTExample:
    """A prompt (chat messages or rendered text) and the answer to learn."""

    prompt: Prompt
    completion: str


@dataclass(frozen=True)
class EncodedSFT:
    prompt_ids: tuple[int, ...]
    completion_ids: tuple[int, ...]
    """The answer's tokens, closed by the end-of-turn token."""

    @property
    def loss_tokens(self) -> int:
        return len(self.completion_ids)


def encode_sft(tokenizer: Any, examples: Sequence[SFTExample],
               max_length: int) -> list[EncodedSFT]:
    encoded = []
    for example in examples:
        prompt = encode_prompt(tokenizer, example.prompt)
        completion = encode_completion(tokenizer, example.completion)
        keep = max(0, max_length - len(prompt))
        encoded.append(EncodedSFT(tuple(prompt[:max_length]), tuple(completion[:keep])))
    return encoded


def sft_batch(encoded: Sequence[EncodedSFT], pad_id: int) -> tuple[CompletionBatch, torch.Tensor]:
    """(batch, labels): labels are the input ids with -100 on every token that carries no
    loss (the prompt and the padding)."""
    batch = collate_completions([e.prompt_ids for e in encoded],
                                [e.completion_ids for e in encoded], pad_id)
    labels = batch.input_ids.masked_fill(batch.completion_mask == 0, IGNORE_INDEX)
    return batch, labels


def shifted_token_loss(logits: torch.Tensor, labels: torch.Tensor,
                       start: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(summed cross-entropy, correct greedy predictions, counted tokens): the logits at t
    predict the label at t + 1; -100 labels are skipped. `logits` hold positions
    start … T − 1 (see `forward_logits`)."""
    logits, targets = logits[:, :-1].float(), labels[:, start + 1:]
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                             targets.reshape(-1), ignore_index=IGNORE_INDEX,
                                             reduction="sum")
    counted = targets != IGNORE_INDEX
    correct = ((logits.argmax(dim=-1) == targets) & counted).sum()
    return loss, correct, counted.sum()


class LLMSFTTrainer(SupervisedTrainer[EncodedSFT]):
    """SFT on `pathrl.rl.trainer.Trainer`: checkpoints, exact resume, Ctrl-C, RunLogger."""

    eval_metric = "eval_token_accuracy"

    def __init__(self, model: torch.nn.Module, tokenizer: Any, config: LLMSFTConfig,
                 train: Sequence[SFTExample], eval_set: Sequence[SFTExample],
                 out_dir: str | Path, callbacks: Sequence[TrainerCallback] = ()):
        self.pad_id = tokenizer.pad_token_id
        encoded_train = encode_sft(tokenizer, train, config.max_length)
        encoded_eval = encode_sft(tokenizer, eval_set, config.max_length)
        super().__init__(model, tokenizer, config, encoded_train, encoded_eval, out_dir,
                         callbacks)
        self.sft_config = config

    def example_weight(self, example: EncodedSFT) -> float:
        if self.sft_config.completion_only_loss:
            return example.loss_tokens
        return len(example.prompt_ids) + example.loss_tokens - 1

    def _loss(self, examples: Sequence[EncodedSFT]):
        batch, labels = sft_batch(examples, self.pad_id)
        if not self.sft_config.completion_only_loss:
            labels = batch.input_ids.masked_fill(batch.attention_mask == 0, IGNORE_INDEX)
        device = model_device(self.model)
        batch, labels = batch.to(device), labels.to(device)
        # The LM head runs from the token before the first labelled one (prompts are skipped).
        start = max(first_scored_position(labels != IGNORE_INDEX) - 1, 0)
        logits = forward_logits(self.model, batch.input_ids, batch.attention_mask,
                                start=start).logits
        return shifted_token_loss(logits, labels, start)

    def batch_loss(self, examples: Sequence[EncodedSFT]) -> BatchLoss:
        loss, correct, _count = self._loss(examples)
        return BatchLoss(loss, {"loss": loss.item(), "token_accuracy": float(correct)})

    def eval_metrics(self) -> dict[str, float]:
        loss = correct = count = 0.0
        for batch in self.eval_batches():
            batch_loss, batch_correct, batch_count = self._loss(batch)
            loss += batch_loss.item()
            correct += float(batch_correct)
            count += float(batch_count)
        count = max(count, 1.0)
        return {"eval_loss": loss / count, "eval_token_accuracy": correct / count}

    def save_model(self, directory: Path) -> None:
        from pathrl.llm.models import save_policy

        save_policy(self.model, self.tokenizer, directory, merge_lora=self.config.merge_lora)


# -- data ------------------------------------------------------------------------------------
def sft_rows(path: str | Path) -> list[SFTExample]:
    """SFT examples from a JSONL file of TRL rows: {"prompt", "completion"} (strings or chat
    messages) or {"messages"} (the last assistant message is the completion)."""
    examples = []
    for number, row in enumerate(read_rows(path), start=1):
        where = f"{path}, row {number}"
        if "messages" in row:
            messages = row_prompt(row["messages"], where)
            if isinstance(messages, str) or not messages or messages[-1]["role"] != "assistant":
                raise PathrlError(f"{where}: 'messages' must end with an assistant message")
            examples.append(SFTExample(messages[:-1], messages[-1]["content"]))
        elif "prompt" in row and "completion" in row:
            examples.append(SFTExample(row_prompt(row["prompt"], where),
                                       row_text(row["completion"], where)))
        else:
            raise PathrlError(f"{where}: expected 'prompt' and 'completion', or 'messages'")
    return examples


def sft_examples(data: TaskDataConfig) -> tuple[list[SFTExample], list[SFTExample]]:
    """(train, held-out) examples: the arithmetic task's worked solutions, or `train_file`."""
    if data.train_file is not None:
        return sft_rows(data.train_file), (sft_rows(data.eval_file) if data.eval_file else [])
    from pathrl.llm.tasks import sft_target, to_messages

    problems = task_problems(data)

    def examples(chunk: Sequence[Any]) -> list[SFTExample]:
        return [SFTExample(list(to_messages(p)), sft_target(p)) for p in chunk]

    return examples(problems.train), examples(problems.eval)


def run_sft(config: LLMSFTConfig, out_dir: str | Path, resume: bool = False,
            progress: ProgressFn | None = None,
            callbacks: Sequence[TrainerCallback] = ()) -> TrainSummary:
    """Load the policy, build the data, train, save OUT/model, OUT/config.yaml and
    OUT/summary.json (the checkpoints are in OUT/checkpoints, the log in OUT/metrics.jsonl)."""
    seed_everything(config.seed)  # LoRA's initialisation draws from the global RNG
    model, tokenizer = load_policy(config.model, device=config.device, dtype=config.dtype,
                                   lora=config.lora)
    train, eval_set = sft_examples(config.data)
    trainer = LLMSFTTrainer(model, tokenizer, config, train, eval_set, out_dir, callbacks)
    write_config(out_dir, config)
    summary = trainer.fit(resume=resume, progress=progress)
    write_summary(out_dir, summary)
    return summary
