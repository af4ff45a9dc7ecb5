"""What adding the GB2312 hanzi in `extend_vocab` costs. Prints JSON.

Compares a MiniLM router extended with only the unknown characters of the training questions
(the old behaviour) to one extended with every GB2312 hanzi as well (the current one), on 1,000
demo questions (every split, cycled): tokens added, extension time, time to tokenise the 1,000
questions (median of 7, batches of 64), [UNK] tokens left in the Chinese questions, one SFT-like
training step (batch 32, median of 12), trainable parameters, and that a saved-and-reloaded
router tokenises identically.

    .venv/bin/python benchmarks/router_vocab_extension.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--questions", type=int, default=1000)
    args = parser.parse_args()

    import torch

    from pathrl.data import DatasetConfig, build_dataset
    from pathrl.db import open_database
    from pathrl.demo import demo_schema
    from pathrl.paths import PathVocab
    from pathrl.router.model import RouterConfig, RouterModel
    from pathrl.router.types import label_tensors

    schema = demo_schema()
    vocab = PathVocab.from_schema(schema)
    database = open_database(schema, "sqlite", None, demo_seed=args.seed)
    splits = build_dataset(schema, database, DatasetConfig(seed=args.seed))
    every = [ex.question for split in splits.values() for ex in split]
    questions = (every * (args.questions // len(every) + 1))[:args.questions]
    train = [ex.question for ex in splits["train"]]
    chinese = [q for q in questions if any("\u4e00" <= ch <= "\u9fff" for ch in q)]

    def build(gb2312: bool) -> tuple[RouterModel, int, float]:
        torch.manual_seed(args.seed)
        model = RouterModel(RouterConfig(backbone="minilm"), vocab, schema.fingerprint())
        start = time.perf_counter()
        if gb2312:
            added = model.extend_vocab(train)
        else:  # the old extend_vocab: unknown characters of the training questions only
            unk = model.tokenizer.unk_token
            missing = sorted({ch for q in train for ch in q
                              if not ch.isspace() and model.tokenizer.tokenize(ch) == [unk]})
            model.config.added_tokens = missing
            added = model.tokenizer.add_tokens(missing)
            model.backbone.resize_token_embeddings(len(model.tokenizer), mean_resizing=True)
        return model, added, time.perf_counter() - start

    def tokenise_s(model: RouterModel) -> float:
        times = []
        for _ in range(7):
            start = time.perf_counter()
            for i in range(0, len(questions), 64):
                model.tokenize(questions[i:i + 64])
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    def unknowns(model: RouterModel) -> int:
        unk_id = model.tokenizer.unk_token_id
        return sum(int((model.tokenize([q])["input_ids"] == unk_id).sum()) for q in chinese)

    examples = splits["train"][:32]
    labels = label_tensors(vocab, examples)

    def train_step_s(model: RouterModel) -> tuple[float, int]:
        model.setup_trainable()
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(params, lr=1e-4)
        batch = model.tokenize([ex.question for ex in examples])
        times = []
        for _ in range(15):
            start = time.perf_counter()
            logits = model(batch["input_ids"], batch["attention_mask"], with_value=False).logits
            loss = sum(torch.nn.functional.cross_entropy(logits[h], labels[h])
                       for h in ("anchor", "target", "via"))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            times.append(time.perf_counter() - start)
        return statistics.median(times[3:]), sum(p.numel() for p in params)

    out: dict[str, object] = {"questions": len(questions), "chinese_questions": len(chinese)}
    models = {}
    for name, gb2312 in (("train_chars_only", False), ("gb2312", True)):
        model, added, extend_s = build(gb2312)
        step_s, trainable = train_step_s(model)
        out[name] = {"added_tokens": added, "vocab_size": len(model.tokenizer),
                     "extend_s": round(extend_s, 3),
                     "tokenise_s": round(tokenise_s(model), 4),
                     "unk_tokens_in_chinese_questions": unknowns(model),
                     "train_step_s": round(step_s, 4), "trainable_parameters": trainable}
        models[name] = model
    with tempfile.TemporaryDirectory() as tmp:
        saved = models["gb2312"].save_pretrained(Path(tmp))
        reloaded = RouterModel.from_pretrained(saved, vocab, schema.fingerprint())
        out["reload_tokenises_identically"] = all(
            reloaded.tokenizer(q)["input_ids"] == models["gb2312"].tokenizer(q)["input_ids"]
            for q in questions)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
