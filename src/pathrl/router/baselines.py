"""Baselines the evaluation puts beside the SFT and PPO routers (docs/method.md §8).

Two routers that learn nothing from the dataset:

- `LexicalBaseline` ("lexical"): reads table words (English/Chinese synonyms, plurals, field
  hints; the dataset's own `LexicalResolver` lexicon) out of the question, takes the table word
  right before the entity as the anchor and the head noun as the target, then the shortest
  legal path between them. None when it cannot find both.
- `LLMBaseline` ("llm"): a general instruct LLM, prompted with the schema (tables, one-line
  descriptions, synonyms, foreign keys; never the list of legal paths) and one or two few-shot
  examples written from the schema itself, answers `anchor: X; via: A > B; target: Y`; the
  triple is pulled out with `extract_triple` (a regex, robust to casing, extra words, Chinese
  punctuation and table synonyms). Backends: a local transformers causal LM (the packaged
  SmolLM2-135M-Instruct by default; greedy, batched, the shared prompt prefix computed once and
  reused through the KV cache) or any OpenAI-compatible chat endpoint (the data builder's
  `pathrl.data.llm.ChatClient`, temperature 0).

Both return, per question, a `Triple` `(anchor, target, via)` or None ("no triple could be
extracted"); a returned triple may be illegal (that is what the illegal rate measures).
Both are also `pathrl.router.protocol.Router`s: `route_batch` gives the pick, when legal, with
probability 1.0 (neither ranks alternatives), and no route otherwise.
`evaluate_baseline` scores one against labelled examples. See docs/baselines.md.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from pathrl.data.lexicon import LexicalResolver, has_cjk, plural, table_words
from pathrl.errors import PathrlError
from pathrl.local_lm import LocalLM
from pathrl.paths import PathVocab, Triple
from pathrl.router.protocol import Routing, check_questions, routing_from_triples
from pathrl.schema import Schema

BASELINES = ("lexical", "llm")
BACKENDS = ("transformers", "openai")
PROMPT_LANGUAGES = ("en", "zh")


class RouterBaseline(Protocol):
    name: str
    vocab: PathVocab

    def predict(self, questions: list[str]) -> list[Triple | None]:
        """One prediction per question; None when no triple could be extracted."""
        ...

    def route_batch(self, questions: Sequence[str], top_k: int = 3) -> list[Routing]:
        """The `Router` protocol: the legal pick with probability 1.0, else no route."""
        ...


# -- table words -------------------------------------------------------------------------------

class TableMatcher:
    """Table mentions in free text, reusing the dataset's lexicon (`LexicalResolver.mentions`:
    synonyms en/zh, plurals, humanised names, distinctive field phrases; longest match first)."""

    def __init__(self, schema: Schema, vocab: PathVocab):
        self.schema = schema
        self.resolver = LexicalResolver(schema, vocab.paths, {})
        self._names = {t.name.lower(): t.name for t in schema.tables}

    def mentions(self, text: str, masked: Sequence[str] = ()) -> list[tuple[int, int, str, bool,
                                                                            bool]]:
        """(start, end, table, is_field_hint, names_the_anchor) in reading order."""
        low = text.lower()
        for value in masked:
            if value:
                low = low.replace(value.lower(), "\x00")
        out = []
        for start, table, hint, names_anchor in self.resolver.mentions(text, masked):
            surfaces = [s for s, t, h in self.resolver.entries
                        if t == table and h == hint and low.startswith(s, start)]
            end = start + max((len(s) for s in surfaces), default=1)
            out.append((start, end, table, hint, names_anchor))
        return out

    def table_of(self, phrase: str) -> str | None:
        """The table a model's answer names: a table name or any of its words; None when the
        phrase names no table (or several different ones)."""
        text = phrase.strip().strip("`'\"“”‘’「」『』()[]{}<>*.。,，:：;；").strip()
        if not text:
            return None
        key = re.sub(r"[\s\-]+", "_", text.lower())
        key = re.sub(r"^(the_|table_)+|(_table|_tables)$", "", key)
        if key in self._names:
            return self._names[key]
        found = {table for _, table, hint, _ in self.resolver.mentions(
            text.replace("_", " ")) if not hint}
        return found.pop() if len(found) == 1 else None


# -- lexical baseline --------------------------------------------------------------------------

_QUOTED = re.compile(r"[“\"「『]([^“”\"「」『』]{1,60})[”\"」』]")
_CJK_RUN = re.compile(r"[\u3400-\u9fff][\u3400-\u9fff·]*(?:\s+[IVX]+\b)?")
# A Latin name or code in a Chinese question: must hold a capital letter (not a date, not an
# English table word in a code-mixed question).
_LATIN_RUN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 .'&\-]*[A-Za-z0-9.]")
# A capitalised name or code in an English question: "Dhaka Hospital", "HT-2021-019",
# "Delta Steel Co.", "Xi'an Metro Line II".
_CAPS_RUN = re.compile(r"(?<![\w'])[A-Z][\w'&\-]*\.?(?:\s+(?:[A-Z0-9][\w'&\-]*\.?|of|and|&))*")
# Lower-case English words: names and codes are capitalised, so two of these make a question
# English even when its entity is written in Chinese.
_EN_WORD = re.compile(r"(?<![\w'])[a-z]{2,}(?![\w'])")
_MONTHS = {"January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"}
# Chinese words that follow a table word when it is a head noun, not an entity's type.
ZH_CONNECTORS = ("的", "相关", "对应", "下", "中", "有", "都", "是", "里", "和", "与", "及",
                  "在", "期间", "之", "，", "。", "？", "、", "最", "分别", "一共", "总",
                  "数量", "多少", "共", "看", "列", "哪", "啥", "什么", "吗", "呢", "怎")


def entity_spans(question: str) -> list[str]:
    """Likely entity values in a question, from its surface alone (no database): quoted
    text, Latin names/codes with a capital inside Chinese text, CJK runs inside English text,
    capitalised names (not the first word, not month names) in English text."""
    spans = [m.group(1) for m in _QUOTED.finditer(question)]
    rest = _QUOTED.sub("\x00", question)
    if has_cjk(rest) and len(_EN_WORD.findall(rest)) < 2:  # a Chinese question
        spans += [m.group(0).strip() for m in _LATIN_RUN.finditer(rest)
                  if re.search(r"[A-Z]", m.group(0))]
    else:
        spans += [m.group(0).strip() for m in _CJK_RUN.finditer(rest)]
        for m in _CAPS_RUN.finditer(rest):
            words = m.group(0).split()
            if m.start() == len(rest) - len(rest.lstrip()) and len(words) == 1:
                continue  # "Show", "List", "Could": the sentence's first word
            if words[0] in _MONTHS:
                continue
            spans.append(m.group(0).strip())
    return sorted({s for s in spans if s}, key=len, reverse=True)


@dataclass
class LexicalBaseline:
    """No training: the anchor is the table word right before the entity (or, failing that,
    the mention farthest from the head noun), the target is the head noun (first table word in
    English, last in Chinese, field hints count), and the route is `PathVocab.shortest` between
    them. With `use_bridge_words`, a legal path that also passes through every other named
    table is preferred (closer to how the dataset labels were checked)."""

    schema: Schema
    vocab: PathVocab
    use_bridge_words: bool = False
    name: str = "lexical"

    def __post_init__(self) -> None:
        self.matcher = TableMatcher(self.schema, self.vocab)

    def predict(self, questions: list[str]) -> list[Triple | None]:
        return [self.predict_one(q) for q in check_questions(questions)]

    def route_batch(self, questions: Sequence[str], top_k: int = 3) -> list[Routing]:
        questions = check_questions(questions)
        return routing_from_triples(questions, self.predict(questions), self.vocab)

    def read(self, question: str) -> tuple[str | None, str | None, set[str]]:
        """(anchor, target, every named table) as this baseline reads the question."""
        masked = entity_spans(question)
        found = self.matcher.mentions(question, masked)
        # An unquoted Chinese entity right after its type word: "供应商华建物流公司的…".
        text = question.lower()
        for value in masked:
            text = text.replace(value.lower(), "\x00")
        extra = []
        for _start, end, _, hint, flagged in found:
            if hint or flagged or not has_cjk(text[end:end + 1]):
                continue
            if text.startswith(ZH_CONNECTORS, end) or any(s <= end < e for s, e, *_ in found):
                continue
            stop = re.search("|".join(map(re.escape, ZH_CONNECTORS)) + r"|\x00", text[end:])
            value = text[end:end + stop.start()].strip() if stop else ""
            if value:
                extra.append(value)
                break  # one entity per question
        if extra:
            masked = sorted({*masked, *extra}, key=len, reverse=True)
            found = self.matcher.mentions(question, masked)
            text = question.lower()
            for value in masked:
                text = text.replace(value.lower(), "\x00")
        if not found:
            return None, None, set()
        zh = has_cjk(text)
        named = {table for _, _, table, _, _ in found}
        anchors = [table for _, _, table, hint, flagged in found if flagged and not hint]
        if anchors:
            anchor: str | None = anchors[0]
        else:
            words = [table for _, _, table, hint, _ in found if not hint]
            anchor = (words[0] if zh else words[-1]) if len({*words}) > 1 else None
        heads = [table for _, _, table, _, flagged in found if not flagged and table != anchor]
        target = (heads[-1] if zh else heads[0]) if heads else None
        return anchor, target, named

    def predict_one(self, question: str) -> Triple | None:
        anchor, target, named = self.read(question)
        if anchor is None or target is None:
            return None
        if self.use_bridge_words:
            options = [p for p in self.vocab.paths if p.anchor == anchor and p.target == target
                       and named <= set(p.tables)]
            if options:
                return min(options, key=lambda p: p.n_hops).triple
        path = self.vocab.shortest(anchor, target)
        return path.triple if path is not None else None


# -- extraction of the triple from a model's answer ---------------------------------------------

_PUNCT = str.maketrans({"：": ":", "；": ";", "，": ",", "。": ".", "（": "(", "）": ")",
                        "＞": ">", "》": ">", "→": ">", "、": ">", "＝": "="})
_KEY = {"anchor": "anchor", "start": "anchor", "锚点": "anchor", "起点": "anchor",
        "via": "via", "bridge": "via", "bridges": "via", "途经": "via", "中间表": "via",
        "target": "target", "end": "target", "目标": "target", "终点": "target"}
_FIELD = re.compile(r"(?<![A-Za-z])(" + "|".join(sorted(map(re.escape, _KEY), key=len,
                                                         reverse=True))
                    + r")(?:\s+tables?)?\s*[:=]\s*", re.IGNORECASE)
_NONE_VIA = {"", "none", "null", "nil", "n/a", "na", "no", "empty", "-", "—", "direct",
             "无", "空", "没有", "不需要", "()", "[]"}


def extract_triple(text: str, matcher: TableMatcher) -> Triple | None:
    """The (anchor, target, via) a model wrote as `anchor: X; via: A > B; target: Y`.

    Tolerant of casing, Chinese punctuation (：；，、》), markdown, extra words and table
    synonyms ("vendor" -> supplier); via may be "none"/"null"/"无" or absent. None when the
    anchor or target is missing or names no table, or a via item names no table."""
    if not text:
        return None
    norm = text.translate(_PUNCT).replace("->", ">").replace("=>", ">").replace("*", "")
    found: dict[str, str] = {}
    matches = list(_FIELD.finditer(norm))
    for i, m in enumerate(matches):
        key = _KEY[m.group(1).lower()]
        end = matches[i + 1].start() if i + 1 < len(matches) else len(norm)
        value = re.split(r"[;\n|]", norm[m.end():end], maxsplit=1)[0]
        found.setdefault(key, value.strip().rstrip(",. "))
    if "anchor" not in found or "target" not in found:
        return None
    anchor = matcher.table_of(found["anchor"])
    target = matcher.table_of(found["target"])
    if anchor is None or target is None:
        return None
    via: list[str] = []
    raw_via = found.get("via", "").strip()
    if raw_via.lower().strip(" .()") not in _NONE_VIA:
        for part in re.split(r">|,|\band\b|\bthen\b|/", raw_via):
            if not part.strip(" .()"):
                continue
            table = matcher.table_of(part)
            if table is None:
                return None
            if table not in (anchor, target) and table not in via:
                via.append(table)
    return (anchor, target, tuple(via))


# -- LLM baseline ------------------------------------------------------------------------------

@dataclass
class BaselineConfig:
    """How the LLM baseline asks its model. All fields are optional.

    backend: "transformers" (a local causal LM) or "openai" (an OpenAI-compatible endpoint).
    backbone: local model for the transformers backend: "smollm2" (the packaged
        SmolLM2-135M-Instruct) or a local Hugging Face directory (e.g. Qwen2.5-0.5B-Instruct).
    model: model name for the openai backend (else $OPENAI_MODEL / $PATHRL_LLM_MODEL).
    base_url: endpoint for the openai backend, e.g. http://localhost:8000/v1 (else
        $OPENAI_BASE_URL / $PATHRL_LLM_BASE_URL).
    api_key: bearer key for the openai backend (else $OPENAI_API_KEY / $PATHRL_LLM_API_KEY).
    max_new_tokens: generation budget per answer (greedy decoding, fixed).
    batch_size: questions per generate call (transformers backend).
    few_shot: number of worked examples in the prompt (0, 1 or 2): a single-hop and a
        two-hop question written from the schema's first such legal paths (see
        `few_shot_examples`); never taken from a dataset split.
    prompt_language: "en" or "zh": the language of the instructions (the answer keys stay
        anchor/via/target; schema descriptions are as written in the schema).
    synonyms: list each table's words (en + zh synonyms) in the schema block.
    prime: start the assistant's answer with "anchor:" (transformers backend, chat template).
    prefix_cache: compute the shared prompt prefix once and reuse its KV cache for every
        batch (transformers backend); off = each prompt is encoded in full.
    answer_cache: keep the local model's answers on disk ($PATHRL_HOME/llm_cache, keyed by
        the model's files, the full prompt and the generation budget): decoding is greedy, so
        a prompt asked again gets the same answer without generating (the demo's second run
        skips its slowest step). Off, or a model passed as an object: always generate.
    timeout_s, max_retries, requests_per_minute: openai backend (0 rpm = no rate limit).
    """

    backend: str = "transformers"
    backbone: str = "smollm2"
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    max_new_tokens: int = 24
    batch_size: int = 8
    few_shot: int = 2
    prompt_language: str = "en"
    synonyms: bool = True
    prime: bool = True
    prefix_cache: bool = True
    answer_cache: bool = True
    timeout_s: float = 60.0
    max_retries: int = 2
    requests_per_minute: float = 0.0

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise PathrlError(f"unknown baseline backend '{self.backend}': use one of "
                              f"{', '.join(BACKENDS)}")
        if self.prompt_language not in PROMPT_LANGUAGES:
            raise PathrlError(f"prompt_language must be one of {', '.join(PROMPT_LANGUAGES)}, "
                              f"got '{self.prompt_language}'")
        if not 0 <= self.few_shot <= 2:
            raise PathrlError(f"few_shot must be 0, 1 or 2, got {self.few_shot}")
        if self.max_new_tokens < 8:
            raise PathrlError(f"max_new_tokens must be >= 8, got {self.max_new_tokens}")
        if self.batch_size < 1:
            raise PathrlError(f"batch_size must be >= 1, got {self.batch_size}")


_INSTRUCTIONS = {
    "en": ("You route business questions over this database. Given a question, name the table "
           "it starts from (anchor: the table of the named entity), the table whose rows it asks "
           "for (target), and the tables joined in between (via, in order, or none). Use table "
           "names only. Answer with one line:\nanchor: <table>; via: <table> > <table> "
           "(or none); target: <table>"),
    "zh": ("你负责为业务问题选择数据库的连接路径。给定问题，写出起点表"
           "（anchor：问题中实体所在的表）、要返回的目标表（target）"
           "以及中间经过的表（via，按顺序；没有则写 none）。只写表名。"
           "只回答一行：\nanchor: <表名>; via: <表名> > <表名>（或 none）; target: <表名>"),
}
_SCHEMA_HEADER = {"en": ("Tables:", "Foreign keys:"), "zh": ("表：", "外键：")}


def schema_prompt(schema: Schema, language: str = "en", synonyms: bool = True) -> str:
    """Tables with one-line descriptions (and their words) and the foreign keys."""
    tables_head, fk_head = _SCHEMA_HEADER[language]
    lines = [tables_head]
    for t in schema.tables:
        words = [w for w in (*t.synonyms_en, *t.synonyms_zh) if w.lower() != t.name]
        desc = t.description.strip().splitlines()[0] if t.description.strip() else ""
        said = f" (also: {', '.join(words)})" if synonyms and words else ""
        lines.append(f"- {t.name}{said}: {desc}".rstrip(": "))
    lines.append(fk_head)
    lines += [f"- {r.from_table}.{r.from_field} -> {r.to_table}.{r.to_field}"
              for r in schema.relations]
    return "\n".join(lines)


def format_answer(triple: Triple) -> str:
    anchor, target, via = triple
    return f"anchor: {anchor}; via: {' > '.join(via) if via else 'none'}; target: {target}"


def few_shot_examples(schema: Schema, vocab: PathVocab, n: int = 2) -> list[tuple[str, Triple]]:
    """Up to `n` worked examples written from the schema alone (never from a dataset split):
    the first single-hop legal path as an English question and the first two-hop legal path
    as a Chinese one (English if a table lacks Chinese words), entity value "Alpha"."""
    out: list[tuple[str, Triple]] = []
    for hops, lang in ((1, "en"), (2, "zh")):
        path = next((p for p in vocab.paths if p.n_hops == hops), None)
        if path is None or len(out) >= n:
            continue
        tables = [schema.table(name) for name in path.tables]
        use = lang if all(t.synonyms_zh for t in tables) or lang == "en" else "en"
        words = [table_words(t, use)[0] for t in tables]
        if use == "zh":
            question = f"{words[0]}“Alpha”的" + "的".join(words[1:]) + "有哪些？"
        else:
            chain = " of the ".join(plural(w) for w in reversed(words[1:]))
            question = f"List the {chain} of {words[0]} Alpha."
        out.append((question, path.triple))
    return out


def build_messages(schema: Schema, vocab: PathVocab, config: BaselineConfig,
                   question: str | None) -> list[dict[str, str]]:
    """The chat messages for one question (None: the shared part only)."""
    lang = config.prompt_language
    system = (f"{_INSTRUCTIONS[lang]}\n\n"
              f"{schema_prompt(schema, lang, config.synonyms)}")
    messages = [{"role": "system", "content": system}]
    for q, triple in few_shot_examples(schema, vocab, config.few_shot):
        messages += [{"role": "user", "content": q},
                     {"role": "assistant", "content": format_answer(triple)}]
    if question is not None:
        messages.append({"role": "user", "content": question})
    return messages


_COMPLETE = re.compile(r"target\s*[:：]\s*[^\s;；,，。.\n]+\s*[;；,，。.\n]", re.IGNORECASE)


class _AnswerComplete:
    """Stops a row once its answer holds "target: <word>" followed by a separator: greedy
    decoding then stops spending tokens on whatever a small model rambles on with."""

    def __init__(self, tokenizer: Any, start: int, prime: str):
        self.tokenizer = tokenizer
        self.start = start
        self.prime = prime

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        texts = self.tokenizer.batch_decode(input_ids[:, self.start:], skip_special_tokens=True)
        return torch.tensor([_COMPLETE.search(self.prime + t) is not None for t in texts],
                            dtype=torch.bool, device=input_ids.device)


class LLMBaseline:
    """A general LLM prompted with the schema; the triple is regex-extracted (module doc).
    The local model is loaded on the first `predict` (or pass `model` and `tokenizer`)."""

    name = "llm"

    def __init__(self, schema: Schema, vocab: PathVocab, config: BaselineConfig | None = None,
                 model: Any = None, tokenizer: Any = None, client: Any = None):
        self.schema = schema
        self.vocab = vocab
        self.config = config or BaselineConfig()
        self.matcher = TableMatcher(schema, vocab)
        self.lm = LocalLM(self.config.backbone, model, tokenizer)
        self._model_has_files = model is None  # loaded from config.backbone, not injected
        self.client = client
        self.last_outputs: list[str] = []  # raw answers of the last predict call
        self.cached_answers = 0  # of the last predict call, read from the answer cache
        self.last_seconds = 0.0

    # -- public -----------------------------------------------------------------------------
    def predict(self, questions: list[str]) -> list[Triple | None]:
        questions = check_questions(questions)
        start = time.perf_counter()
        if self.config.backend == "openai":
            outputs = self._answer_openai(questions)
        else:
            outputs = self._answer_local(questions)
        self.last_seconds = time.perf_counter() - start
        self.last_outputs = outputs
        return [extract_triple(text, self.matcher) for text in outputs]

    def route_batch(self, questions: Sequence[str], top_k: int = 3) -> list[Routing]:
        questions = check_questions(questions)
        return routing_from_triples(questions, self.predict(questions), self.vocab)

    def messages(self, question: str | None) -> list[dict[str, str]]:
        return build_messages(self.schema, self.vocab, self.config, question)

    # -- openai-compatible endpoint ---------------------------------------------------------
    def _answer_openai(self, questions: list[str]) -> list[str]:
        if self.client is None:
            from pathrl.data.llm import ChatClient, LLMSettings

            c = self.config
            base_url = (c.base_url or os.environ.get("OPENAI_BASE_URL")
                        or os.environ.get("PATHRL_LLM_BASE_URL"))
            model = c.model or os.environ.get("OPENAI_MODEL") or os.environ.get(
                "PATHRL_LLM_MODEL")
            api_key = (c.api_key or os.environ.get("OPENAI_API_KEY")
                       or os.environ.get("PATHRL_LLM_API_KEY"))
            if not base_url:
                raise PathrlError("the openai baseline backend needs an endpoint: pass base_url "
                                  "or set OPENAI_BASE_URL (e.g. http://localhost:8000/v1)")
            if not base_url.startswith(("http://", "https://")):
                raise PathrlError(f"base_url must start with http:// or https://, got "
                                  f"{base_url}")
            if not model:
                raise PathrlError("the openai baseline backend needs a model name: pass model "
                                  "or set OPENAI_MODEL")
            self.client = ChatClient(LLMSettings(
                base_url.rstrip("/"), model, api_key, timeout_s=c.timeout_s,
                max_retries=c.max_retries, requests_per_minute=c.requests_per_minute,
                temperature=0.0))
        return [self.client.complete(self.messages(q)) for q in questions]

    # -- local transformers model -----------------------------------------------------------
    @property
    def model(self) -> Any:
        return self.lm.model

    @property
    def tokenizer(self) -> Any:
        return self.lm.tokenizer

    def _answer_local(self, questions: list[str]) -> list[str]:
        lm = self.lm
        cache = self._answer_cache()
        prime = "anchor:" if self.config.prime else ""
        prefix_text, suffixes = lm.render(self.messages(None),
                                          [self.messages(q) for q in questions], prime,
                                          prefix_cache=self.config.prefix_cache)
        keys = [[{"role": "prompt", "content": prefix_text + suffix},
                 {"role": "decoding", "content": "greedy; stop at a newline or a complete "
                                                 "anchor/via/target answer"}]
                for suffix in suffixes]
        texts: list[str | None] = [cache.read(k) if cache else None for k in keys]
        todo = [i for i, text in enumerate(texts) if text is None]
        if todo:
            fresh = lm.complete(prefix_text, [suffixes[i] for i in todo],
                                max_new_tokens=self.config.max_new_tokens,
                                batch_size=self.config.batch_size,
                                stop_ids=lm.stop_ids(newline=True),  # the answer is one line
                                stopping=lambda start: _AnswerComplete(lm.tokenizer, start,
                                                                       prime))
            for i, text in zip(todo, fresh, strict=True):
                texts[i] = text
                if cache:
                    cache.write(keys[i], text)
        self.cached_answers = len(questions) - len(todo)
        return [prime + (text or "") for text in texts]

    def _answer_cache(self):
        """The disk cache of this model's answers, or None (off, or a model passed as an
        object, whose weights have no files to name)."""
        if not self.config.answer_cache or not self._model_has_files:
            return None
        from pathrl.backbones import converted, fingerprint, resolve_backbone
        from pathrl.data.llm import LLMSettings, ResponseCache
        from pathrl.io import cache_dir

        try:
            model_key = fingerprint(converted(resolve_backbone(self.config.backbone)))
            root = cache_dir() / "llm_cache"
        except (OSError, PathrlError):
            return None  # no readable model files or no writable cache: generate every time
        return ResponseCache(LLMSettings(base_url=f"local:{model_key}",
                                         model=self.config.backbone, temperature=0.0,
                                         cache_dir=root,
                                         answer_length=self.config.max_new_tokens))


# -- factory and scoring -----------------------------------------------------------------------

def make_baseline(name: str, schema: Schema, vocab: PathVocab, **kwargs: Any) -> RouterBaseline:
    """"lexical" (kwargs: use_bridge_words) or "llm" (kwargs: `BaselineConfig` fields, or
    config=BaselineConfig(...), plus model/tokenizer/client objects)."""
    if name == "lexical":
        unknown = set(kwargs) - {"use_bridge_words"}
        if unknown:
            raise PathrlError(f"unknown option(s) for the lexical baseline: "
                              f"{', '.join(sorted(unknown))} (known: use_bridge_words)")
        return LexicalBaseline(schema, vocab, **kwargs)
    if name == "llm":
        objects = {k: kwargs.pop(k) for k in ("model", "tokenizer", "client") if k in kwargs}
        if isinstance(objects.get("model"), str):  # model= a name: the endpoint's model
            kwargs["model"] = objects.pop("model")
        config = kwargs.pop("config", None)
        known = {f.name for f in fields(BaselineConfig)}
        unknown = set(kwargs) - known
        if unknown:
            raise PathrlError(f"unknown option(s) for the llm baseline: "
                              f"{', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
        if config is None:
            config = BaselineConfig(**kwargs)
        elif kwargs:
            raise PathrlError("pass either config=BaselineConfig(...) or its fields, not both")
        return LLMBaseline(schema, vocab, config, **objects)
    raise PathrlError(f"unknown baseline '{name}': use one of {', '.join(BASELINES)}")


def evaluate_baseline(baseline: RouterBaseline, examples: Sequence[Any],
                      vocab: PathVocab) -> dict[str, Any]:
    """Metrics of `pathrl.router.evaluate.triple_metrics` (None counts as a wrong, illegal
    answer) plus `none_rate`, `seconds`, `seconds_per_question` and exact match by hop count,
    wording and language."""
    from pathrl.router.evaluate import triple_metrics

    questions = [ex.question for ex in examples]
    start = time.perf_counter()
    predicted = baseline.predict(questions)
    seconds = time.perf_counter() - start
    filled: list[Triple] = [p if p is not None else ("", "", ()) for p in predicted]
    labels = [ex.triple for ex in examples]
    out: dict[str, Any] = dict(triple_metrics(filled, labels, vocab))
    out["none_rate"] = sum(p is None for p in predicted) / len(examples) if examples else 0.0
    out["seconds"] = seconds
    out["seconds_per_question"] = seconds / len(examples) if examples else 0.0
    for attr in ("hops", "wording", "language"):
        groups: dict[str, list[bool]] = {}
        for ex, p in zip(examples, filled, strict=True):
            groups.setdefault(str(getattr(ex, attr)), []).append(p == ex.triple)
        out[f"exact_match_by_{attr}"] = {k: sum(v) / len(v) for k, v in sorted(groups.items())}
    return out
