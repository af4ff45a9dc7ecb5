"""`GenerativeRouter`: a chat LLM (the packaged SmolLM2-135M-Instruct by default) that reads
the schema's legal paths and the question and writes the route as JSON; a `Router` like the
classifier routers, saved as a router directory of kind "generative".

    router = GenerativeRouter.from_pretrained("runs/generative/sft/model", schema)
    routing = router.route_batch(["Payments of contract HT-2021-019?"], top_k=3)[0]
    router.predict(questions, constrained=False)   # greedy answers (None: no legal route)

Routing a question: greedy decoding of the answer (`RoutePrompt.parse`); an answer that names
no legal route gives a `Routing` with no routes (`last_parses` / `parse_counts` say why). The
alternatives come from the log-probabilities of every legal answer given the prompt
(`candidate_logprobs`): the answers share their first tokens (`{"anchor": "`), so one forward
of the question and that stem, then one of the distinct continuations (14 rows, 163 tokens
for the 55 triples of the demo schema; 6 one-token rows for ids), scores them all.
Each candidate is scored up to the token that tells it from every other (its shortest unique
prefix), so the candidates are disjoint events and their probabilities sum to at most 1.
The greedy answer comes first (it is the router's decision), the others follow by
probability. `predict(constrained=True)` decodes greedily over the legal answers' token trie
instead (each token the most probable that keeps the answer legal: the counterpart of the
classifier routers' constrained decoding).

A router directory holds `router.json` (kind, config, the schema it was trained on) and
`model/` (the policy as `pathrl.llm.models.save_policy` writes it: a LoRA adapter with its
base named, or full weights).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from pathrl.errors import PathrlError
from pathrl.llm.genrouter.prefix import PrefixedLM, output_cache, select_rows
from pathrl.llm.genrouter.prompt import COMPLETIONS, ParsedRoute, RoutePrompt
from pathrl.llm.models import (
    encode_completion,
    encode_prompt,
    generate_texts,
    load_policy,
    model_device,
    pad_left,
    position_ids_from_mask,
    save_policy,
)
from pathrl.local_lm import render_prompt, stop_token_ids
from pathrl.paths import Triple
from pathrl.router.protocol import RankedRoute, Routing, check_questions, read_router_meta
from pathrl.schema import Schema

KIND = "generative"
MODEL_DIR = "model"


@dataclass
class GenerativeConfig:
    """How the generative router prompts and decodes. All fields are optional."""

    completion: str = "triple"
    """Answer format: "triple" ({"anchor", "via", "target"}) or "id" ({"path": "P07"})."""
    schema_tables: bool = False
    """Also list the tables (one-line descriptions, en/zh synonyms, foreign keys) before the
    paths: more for the model to read (~740 more tokens on the demo schema)."""
    max_new_tokens: int | None = None
    """Greedy decoding budget per answer; None: 16 for ids (an answer is 9 tokens with
    SmolLM2's tokenizer), 40 for triples."""
    batch_size: int = 16
    """Questions per generation / scoring batch."""
    score_candidates: bool = True
    """Rank the alternatives by the log-probability of every legal answer; off: the greedy
    answer alone with probability 1."""

    def __post_init__(self) -> None:
        if self.completion not in COMPLETIONS:
            raise PathrlError(f"unknown completion format '{self.completion}': use one of "
                              f"{', '.join(COMPLETIONS)}")
        if (self.max_new_tokens is not None and self.max_new_tokens < 4) or self.batch_size < 1:
            raise PathrlError("max_new_tokens must be >= 4 and batch_size >= 1")

    @property
    def answer_budget(self) -> int:
        if self.max_new_tokens is not None:
            return self.max_new_tokens
        return 16 if self.completion == "id" else 40

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GenerativeConfig:
        """Typed field by field; an unknown key or a wrong type is one clear error."""
        from pathrl.config import config_from_dict

        return config_from_dict(cls, values)


@dataclass(frozen=True)
class CandidatePlan:
    """How every legal answer is scored: the tokens they all start with (`stem`, appended
    to the prompt), then per candidate its shortest unique continuation (`tails`); the
    continuation rows fed after the stem are the distinct tails without their last token."""

    stem: tuple[int, ...]
    tails: tuple[tuple[int, ...], ...]
    rows: tuple[tuple[int, ...], ...]
    row_of: tuple[int, ...]
    """Per candidate, the row whose logits score its tokens after the first (-1: one token)."""


def plan_candidates(sequences: Sequence[Sequence[int]]) -> CandidatePlan:
    """The `CandidatePlan` of token sequences that are all distinct and prefix-free (each
    ends with the end-of-turn token)."""
    seqs = [tuple(s) for s in sequences]
    if len(set(seqs)) != len(seqs):
        raise PathrlError("two legal answers tokenize the same")
    stem = 0
    while all(len(s) > stem + 1 for s in seqs) and len({s[stem] for s in seqs}) == 1:
        stem += 1
    rests = [s[stem:] for s in seqs]
    counts = Counter(r[:k] for r in rests for k in range(1, len(r) + 1))
    tails = []
    for rest in rests:
        k = next((k for k in range(1, len(rest) + 1) if counts[rest[:k]] == 1), len(rest))
        tails.append(rest[:k])
    heads = {t[:-1] for t in tails if len(t) > 1}
    rows = sorted(h for h in heads if not any(o != h and o[:len(h)] == h for o in heads))
    row_of = tuple(-1 if len(t) == 1 else next(i for i, r in enumerate(rows)
                                               if r[:len(t) - 1] == t[:-1]) for t in tails)
    return CandidatePlan(tuple(seqs[0][:stem]), tuple(tails), tuple(rows), row_of)


class GenerativeRouter:
    """The generative router (module doc). `model` is a causal LM (or a `PrefixedLM` already
    wrapping one, as a trainer holds it); `tokenizer` its tokenizer, with a pad token."""

    kind = KIND
    name = "generative"

    def __init__(self, schema: Schema, model: Any, tokenizer: Any,
                 config: GenerativeConfig | None = None):
        self.schema = schema
        self.config = config or GenerativeConfig()
        self.prompt = RoutePrompt(schema, self.config.completion, self.config.schema_tables)
        self.vocab = self.prompt.vocab
        self.tokenizer = tokenizer
        self.prefix_text = self._render_prefix()
        if isinstance(model, PrefixedLM):
            if model.prefix_text != self.prefix_text:
                raise PathrlError("the wrapped model's prefix is not this router's prompt")
            self.lm = model
        else:
            self.lm = PrefixedLM(model, tokenizer, self.prefix_text)
        self.last_outputs: list[str] = []
        self.last_parses: list[ParsedRoute] = []

    # -- prompts -------------------------------------------------------------------------------
    def _render_prefix(self) -> str:
        """The schema prompt as the chat template renders it, the start of every prompt."""
        if not getattr(self.tokenizer, "chat_template", None):
            raise PathrlError("the generative router needs a chat model (its tokenizer has no "
                              "chat template)")
        prefix = self.tokenizer.apply_chat_template(self.prompt.shared_messages(),
                                                    tokenize=False)
        if not render_prompt(self.tokenizer, self.prompt.messages("?")).startswith(prefix):
            raise PathrlError("the tokenizer's chat template does not render the schema "
                              "prompt as a prefix of every question's prompt")
        return prefix

    def prompt_suffixes(self, questions: Sequence[str]) -> list[str]:
        """Each question's rendered prompt after the shared schema prefix (what a trainer
        holding `self.lm` takes as the prompt)."""
        out = []
        for question in questions:
            full = render_prompt(self.tokenizer, self.prompt.messages(question))
            if not full.startswith(self.prefix_text):
                raise PathrlError("a question changed how the schema prompt renders")
            out.append(full[len(self.prefix_text):])
        return out

    # -- greedy answers ------------------------------------------------------------------------
    def answer(self, questions: Sequence[str], constrained: bool = False) -> list[ParsedRoute]:
        """Greedy answers, parsed (`last_outputs` keeps the raw texts). `constrained`: each
        token is the most probable one that keeps the answer a prefix of some legal answer
        (a legal route always)."""
        questions = check_questions(questions)
        if not questions:
            return []
        suffixes = self.prompt_suffixes(questions)
        if constrained:
            texts = self._constrained_texts(suffixes)
        else:
            texts = generate_texts(self.lm, self.tokenizer, suffixes,
                                   max_new_tokens=self.config.answer_budget,
                                   batch_size=self.config.batch_size)
        self.last_outputs = texts
        self.last_parses = [self.prompt.parse(t) for t in texts]
        return self.last_parses

    @cached_property
    def answer_trie(self) -> dict[tuple[int, ...], list[int]]:
        """Token prefix of a legal answer -> the tokens that continue it."""
        trie: dict[tuple[int, ...], set[int]] = {}
        for candidate in self.prompt.candidates():
            ids = encode_completion(self.tokenizer, candidate)
            for k in range(len(ids)):
                trie.setdefault(tuple(ids[:k]), set()).add(ids[k])
        return {k: sorted(v) for k, v in trie.items()}

    @torch.no_grad()
    def _constrained_texts(self, suffixes: Sequence[str]) -> list[str]:
        trie, tok = self.answer_trie, self.tokenizer
        stops = stop_token_ids(tok)
        pad = tok.pad_token_id if tok.pad_token_id is not None else stops[0]
        device = model_device(self.lm.inner)
        budget = max(len(k) for k in trie) + 1
        texts: list[str] = []
        for start in range(0, len(suffixes), self.config.batch_size):
            rows = [encode_prompt(tok, s) for s in suffixes[start:start + self.config.batch_size]]
            ids, mask = pad_left(rows, pad)
            begin = self.lm.prefix_length + ids.shape[1]  # generate sees the prefix too

            def allowed(_row: int, sequence: torch.Tensor, begin: int = begin) -> list[int]:
                return trie.get(tuple(sequence[begin:].tolist()), [pad])

            out = self.lm.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                                   max_new_tokens=budget, do_sample=False, num_beams=1,
                                   eos_token_id=stops or None, pad_token_id=pad,
                                   prefix_allowed_tokens_fn=allowed, temperature=None,
                                   top_p=None, top_k=None)
            texts += tok.batch_decode(out[:, ids.shape[1]:], skip_special_tokens=True)
        return texts

    def parse_counts(self) -> dict[str, int]:
        """How the answers of the last `answer` / `route_batch` / `predict` call parsed."""
        return dict(Counter(p.status for p in self.last_parses))

    # -- scores of every legal answer ----------------------------------------------------------
    @cached_property
    def plan(self) -> CandidatePlan:
        return plan_candidates([encode_completion(self.tokenizer, c)
                                for c in self.prompt.candidates()])

    @torch.no_grad()
    def candidate_logprobs(self, questions: Sequence[str]) -> torch.Tensor:
        """[questions, candidates] log-probability that the model's answer is each legal
        answer (`prompt.paths` order), each scored up to its shortest unique prefix."""
        questions = check_questions(questions)
        plan, lm = self.plan, self.lm
        pad = self.tokenizer.pad_token_id
        device = model_device(lm.inner)
        first = torch.tensor([t[0] for t in plan.tails], device=device)
        # Gather indices for the tokens after each tail's first: row, position, token.
        longest = max(len(t) for t in plan.tails)
        steps = max(longest - 1, 1)
        positions = torch.zeros((len(plan.tails), steps), dtype=torch.long)
        tokens = torch.zeros_like(positions)
        valid = torch.zeros((len(plan.tails), steps))
        for c, tail in enumerate(plan.tails):
            for j in range(1, len(tail)):
                positions[c, j - 1], tokens[c, j - 1], valid[c, j - 1] = j - 1, tail[j], 1.0
        row_of = torch.tensor([max(r, 0) for r in plan.row_of])
        out = []
        was_training = lm.training
        lm.eval()
        try:
            prompts = [encode_prompt(self.tokenizer, s) + list(plan.stem)
                       for s in self.prompt_suffixes(questions)]
            for start in range(0, len(prompts), self.config.batch_size):
                ids, mask = pad_left(prompts[start:start + self.config.batch_size], pad)
                ids, mask = ids.to(device), mask.to(device)
                res = lm(input_ids=ids, attention_mask=mask, use_cache=True)
                scores = torch.log_softmax(res.logits[:, -1].float(), dim=-1)[:, first]
                if plan.rows:
                    scores = scores + self._continuation_logprobs(
                        output_cache(res), mask, row_of, positions, tokens, valid).to(
                        scores.device)
                out.append(scores.cpu())
        finally:
            lm.train(was_training)
        return torch.cat(out) if out else torch.zeros((0, len(plan.tails)))

    def _continuation_logprobs(self, cache: Any, mask: torch.Tensor, row_of: torch.Tensor,
                               positions: torch.Tensor, tokens: torch.Tensor,
                               valid: torch.Tensor) -> torch.Tensor:
        """[batch, candidates] log-prob of every tail's tokens after its first, from one
        forward of the distinct continuation rows per question (the cache holds prefix +
        prompt + stem for each question)."""
        plan, lm = self.plan, self.lm
        device = mask.device
        rows = len(plan.rows)
        width = max(len(r) for r in plan.rows)
        row_ids = torch.full((rows, width), self.tokenizer.pad_token_id, dtype=torch.long)
        row_mask = torch.zeros((rows, width), dtype=torch.long)
        for i, row in enumerate(plan.rows):
            row_ids[i, :len(row)] = torch.tensor(row)
            row_mask[i, :len(row)] = 1
        row_ids, row_mask = row_ids.to(device), row_mask.to(device)
        full = lm.full_mask(mask)
        group = max(1, 12 // rows)  # questions per forward: a few rows of cache copies each
        out = []
        for start in range(0, mask.shape[0], group):
            members = torch.arange(start, min(start + group, mask.shape[0]), device=device)
            index = members.repeat_interleave(rows)
            attention = torch.cat([full[index], row_mask.repeat(len(members), 1)], dim=1)
            logits = lm.inner(input_ids=row_ids.repeat(len(members), 1),
                              attention_mask=attention,
                              position_ids=position_ids_from_mask(attention)[:, -width:],
                              use_cache=True,
                              **{lm.cache_kwarg: select_rows(cache, index)}).logits
            logp = torch.log_softmax(logits.float(), dim=-1).reshape(
                len(members), rows, width, -1).cpu()
            picked = logp[:, row_of[:, None], positions, tokens]  # [members, C, steps]
            out.append((picked * valid).sum(dim=-1))
        return torch.cat(out)

    def candidate_probabilities(self, questions: Sequence[str]) -> torch.Tensor:
        return self.candidate_logprobs(questions).exp()

    # -- the Router protocol -------------------------------------------------------------------
    def route_batch(self, questions: Sequence[str], top_k: int = 3) -> list[Routing]:
        """The greedy answer's route first (no route when it names none), then the other legal
        paths by probability, `top_k` in all."""
        questions = check_questions(questions)
        if top_k < 1:
            raise PathrlError(f"top_k must be >= 1, got {top_k}")
        parses = self.answer(questions)
        probs = (self.candidate_probabilities(questions) if self.config.score_candidates
                 and questions else None)
        out = []
        for row, (question, parsed) in enumerate(zip(questions, parses, strict=True)):
            if parsed.path is None:
                out.append(Routing(question, []))
                continue
            pick = self.prompt.index_of_triple[parsed.path.triple]
            if probs is None:
                out.append(Routing(question, [RankedRoute(parsed.path, 1.0)]))
                continue
            others = [i for i in torch.argsort(probs[row], descending=True).tolist()
                      if i != pick][:top_k - 1]
            out.append(Routing(question, [RankedRoute(self.prompt.paths[i], float(probs[row, i]))
                                          for i in (pick, *others)]))
        return out

    def predict(self, questions: Sequence[str], constrained: bool = False) -> list[Triple | None]:
        """One triple per question: the greedy answer's (None when it names no route; an
        illegal triple of the triple format is returned as written), or with `constrained`
        the answer of greedy decoding held to the legal answers (always legal)."""
        return [p.triple for p in self.answer(questions, constrained=constrained)]

    # -- persistence ---------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path, merge_lora: bool = False) -> Path:
        """Write the router directory (router.json + model/) atomically."""
        from pathrl.io import atomic_dir

        directory = Path(directory)
        meta = {"kind": KIND, "config": asdict(self.config), "schema": self.schema.name,
                "schema_fingerprint": self.schema.fingerprint(),
                "n_candidates": len(self.prompt.paths)}
        with atomic_dir(directory) as tmp:
            save_policy(self.lm.inner, self.tokenizer, tmp / MODEL_DIR, merge_lora=merge_lora)
            (tmp / "router.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2)
                                             + "\n")
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path, schema: Schema, device: str | None = None,
                        dtype: str | None = None) -> GenerativeRouter:
        """Load a saved generative router for `schema` (its prompt lists `schema`'s paths: a
        router trained on another schema routes this one zero-shot)."""
        directory = Path(directory)
        meta = read_router_meta(directory)
        if not isinstance(meta, dict) or meta.get("kind") != KIND:
            kind = meta.get("kind", "factored") if isinstance(meta, dict) else "?"
            raise PathrlError(f"'{directory}' holds a '{kind}' router, not a generative one")
        if not (directory / MODEL_DIR).is_dir():
            raise PathrlError(f"'{directory}' has no {MODEL_DIR}/ directory")
        config = GenerativeConfig.from_dict(dict(meta.get("config") or {}))
        model, tokenizer = load_policy(str(directory / MODEL_DIR), device=device, dtype=dtype)
        return cls(schema, model, tokenizer, config)


def load_generative(directory: Path, schema: Schema, database: Any = None) -> GenerativeRouter:
    """`pathrl.router.protocol.ROUTER_LOADERS`'s loader of kind "generative"."""
    return GenerativeRouter.from_pretrained(directory, schema)
