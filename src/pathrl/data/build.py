"""The dataset pipeline: profile the data -> quotas -> usage questions and entity lookups ->
validation, de-duplication and stratified splits (docs/dataset.md).

1. Profile: real values of every column, an inferred display field where the schema's is the
   key (`profile`).
2. Quotas: single-table paths share `single_table_share` of the examples, join paths the rest
   weighted by hop count; `max_examples` caps the total, and when paths are many each gets at
   least one example while the cap holds (paths sampled, stratified by hops, beyond it).
3. Per path, `usage_share` of the slots are usage questions (`intents.UsageQuestions`: filters,
   counts, groups, superlatives, aggregates, existence, column mentions), labelled by
   construction; the rest are entity lookups ("contracts of project X") realised from frames in
   rule-based paraphrase styles (or LLM paraphrases) and read back by the `LexicalResolver`,
   which must resolve to exactly the label. A lookup that cannot be worded unambiguously falls
   back to a usage question; a path that runs out of both gets fewer examples, with a warning
   and its count in the report (`per_path`, `short_paths`): the build never fails for it.
4. Exact and near duplicates are rejected; every filter and condition is executed once more and
   must return rows. Splits are stratified by path and wording; the held-out split holds only
   paraphrase styles training never sees.

Everything random flows from `random.Random` seeded by the config seed and the path id, and
iteration is in enumeration order, so the same seed gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import random
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from pathrl.data.entities import EntityFiller, fill, render_dates
from pathrl.data.example import Condition, Example, check_label
from pathrl.data.intents import UsageQuestion, UsageQuestions
from pathrl.data.lexicon import LexicalResolver, distinctive_fields, has_cjk
from pathrl.data.profile import profile_schema
from pathrl.data.templates import (
    ALL_STYLES,
    FUZZY_STYLES,
    HELDOUT_STYLES,
    PRECISE_STYLES,
    Frame,
    QuestionTemplates,
)
from pathrl.db import Database, SQLDatabase
from pathrl.errors import PathrlError
from pathrl.paths import LegalPath, PathVocab, enumerate_paths
from pathrl.query import Filter
from pathrl.schema import Schema, Table

GENERATOR_VERSION = "pathrl.data/2"
Progress = Callable[[str, int, int], None]  # (stage, done, total)

_STYLE_WEIGHTS = {"plain": 0.3, "polite": 0.15, "colloquial": 0.15, "topic_first": 0.2,
                  "synonym": 0.2, "no_anchor_word": 0.35, "no_bridge_word": 0.4,
                  "field_hint": 0.25, "keywords": 1.0, "codemix": 1.0, "ellipsis": 1.0}


def _opt(default: Any, help: str) -> Any:  # noqa: A002 - "help" reads best in the metadata
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class DatasetConfig:
    """How to build a Router dataset. Every field carries its help text in `metadata`."""

    seed: int = _opt(7, "Random seed: same seed, schema and database -> byte-identical files.")
    languages: tuple[str, ...] = _opt(("en", "zh"), "Question languages (en, zh).")
    examples_per_path: float = _opt(
        13.5, "Average examples per legal path, held-out split included (method §3: 566 for 42).")
    min_per_path: int = _opt(
        6, "Fewest examples any path gets (while max_examples allows), so multi-hop paths are "
           "not drowned.")
    single_table_share: float = _opt(
        0.45, "Share of examples on single-table paths (anchor = target). Real questions need "
              "one table about half of the time.")
    hop_weight_step: float = _opt(
        0.25, "Among join paths, extra weight per hop beyond two (difficulty grading).")
    usage_share: float = _opt(
        0.55, "Share of each path's train/val/test slots written as usage questions (filters, "
              "counts, groups, superlatives, aggregates...); the rest are entity lookups.")
    max_per_path: int = _opt(
        40, "Most examples any one path gets (a schema of few tables cannot put thousands "
            "of distinct questions on one table).")
    max_examples: int = _opt(
        30000, "Cap on the total size. With more paths than the cap allows at min_per_path, "
               "every path still gets one example while the cap holds (then paths are sampled, "
               "stratified by hops).")
    fuzzy_ratio: float = _opt(
        0.4, "Share of fuzzy questions (a table word left out) in train/val/test.")
    heldout_share: float = _opt(
        0.1, "Share of examples written in held-out styles (the long-tail phrasings).")
    heldout_styles: tuple[str, ...] = _opt(
        HELDOUT_STYLES, "Paraphrase styles kept out of train/val/test, only in heldout.")
    split_ratios: tuple[float, float, float] = _opt(
        (0.8, 0.1, 0.1), "train / val / test shares of the non-held-out examples.")
    near_duplicate: float = _opt(
        0.8, "Questions of one path whose character-trigram Jaccard similarity (entity and "
             "dates masked) reaches this are near duplicates and are regenerated.")
    max_attempts: int = _opt(80, "Tries per example before falling back to precise wording.")
    llm_share: float = _opt(
        0.3, "With an LLM endpoint: share of train/val/test slots filled by LLM paraphrases.")
    llm_paraphrases: int = _opt(3, "With an LLM endpoint: paraphrases asked per seed question.")

    def validate(self) -> None:
        problems = []
        bad = [lang for lang in self.languages if lang not in ("en", "zh")]
        if not self.languages or bad:
            problems.append(f"languages must be a non-empty subset of en, zh (got "
                            f"{', '.join(self.languages) or 'none'})")
        for name in ("single_table_share", "usage_share", "fuzzy_ratio", "heldout_share",
                     "llm_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be within [0, 1], got {getattr(self, name)}")
        if self.heldout_share >= 0.5:
            problems.append("heldout_share must be below 0.5")
        if len(self.split_ratios) != 3 or any(r < 0 for r in self.split_ratios) or abs(
                sum(self.split_ratios) - 1.0) > 1e-6 or self.split_ratios[0] <= 0:
            problems.append(f"split_ratios must be three non-negative shares summing to 1 "
                            f"with train > 0, got {self.split_ratios}")
        unknown = [s for s in self.heldout_styles if s not in ALL_STYLES]
        if unknown:
            problems.append(f"unknown heldout style(s) {', '.join(unknown)} (known: "
                            f"{', '.join(ALL_STYLES)})")
        if not set(PRECISE_STYLES) - set(self.heldout_styles):
            problems.append("heldout_styles leave no precise style for training")
        if self.examples_per_path < 3 or self.min_per_path < 3:
            problems.append("examples_per_path and min_per_path must be >= 3")
        if not 0.3 <= self.near_duplicate <= 1.0:
            problems.append("near_duplicate must be within [0.3, 1]")
        if self.max_examples < 1 or self.max_per_path < 1:
            problems.append("max_examples and max_per_path must be >= 1")
        if self.max_attempts < 1 or self.llm_paraphrases < 1:
            problems.append("max_attempts and llm_paraphrases must be >= 1")
        if problems:
            raise PathrlError("bad dataset config: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: f.metadata.get("help", "") for f in fields(cls)}


class DatasetSplits(dict):
    """`{split: [Example]}` plus `report`: what the build did (quotas, fallbacks, rejects)."""

    report: dict[str, Any]


@dataclass(frozen=True)
class SeedQuestion:
    """Stage 1 output: a plain question for a path with its frame, entity and dates filled."""

    frame: Frame
    template: str  # with placeholders
    question: str
    entity: str


@dataclass
class _Slot:
    lang: str
    wording: str | None  # None: a held-out slot (wording follows from its style)
    heldout: bool


@dataclass
class _PathState:
    """Accepted questions of one path, for de-duplication."""

    shingles: list[frozenset[str]] = field(default_factory=list)
    entities: Counter = field(default_factory=Counter)


def _masked(text: str, entity: str, dates: tuple[str, str] | None) -> str:
    out = text.replace(entity, "\x00") if entity else text
    for d in dates or ():
        out = out.replace(d, "\x02")
    return out


def _normalise(text: str) -> str:
    return re.sub(r"[\s\W_]+", "", text.lower())


def _shingles(text: str) -> frozenset[str]:
    t = _normalise(text)
    return frozenset(t[i:i + 3] for i in range(max(1, len(t) - 2)))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def priority_of(hops: int, wording: str) -> str:
    """P0: everyday single-table and single-hop questions; P1: two hops or fuzzy single hop;
    P2: the long tail (three hops or more, fuzzy multi-hop)."""
    difficulty = max(hops, 1) + (1 if wording == "fuzzy" and hops > 0 else 0)
    return "P0" if difficulty <= 1 else ("P1" if difficulty == 2 else "P2")


def _spread(group: list[LegalPath], total: int, floor: int,
            weight: Callable[[LegalPath], float]) -> dict[str, int]:
    """`total` examples over `group`: each at least `floor`, the rest by weight (largest
    remainders first, ties in enumeration order)."""
    quotas = {p.id: floor for p in group}
    rest = total - floor * len(group)
    if rest <= 0 or not group:
        return quotas
    weight_sum = sum(weight(p) for p in group)
    exact = {p.id: rest * weight(p) / weight_sum for p in group}
    for p in group:
        quotas[p.id] += int(exact[p.id])
    order = sorted(group, key=lambda p: -(exact[p.id] - int(exact[p.id])))
    missing = total - sum(quotas.values())
    for p in order[:missing]:
        quotas[p.id] += 1
    return quotas


def _sample_stratified(group: list[LegalPath], k: int, rng: random.Random) -> list[LegalPath]:
    """k paths of `group`, each hop count represented in proportion (enumeration order kept)."""
    by_hops: dict[int, list[LegalPath]] = {}
    for p in group:
        by_hops.setdefault(p.n_hops, []).append(p)
    shares = _spread([LegalPath(str(h), "", (), "", ()) for h in by_hops], k, 0,
                     lambda p: len(by_hops[int(p.id)]))
    chosen = {p.id for h, paths in by_hops.items()
              for p in rng.sample(paths, min(len(paths), shares[str(h)]))}
    return [p for p in group if p.id in chosen]


def allocate_quotas(paths: list[LegalPath], cfg: DatasetConfig) -> dict[str, int]:
    """Examples per path (0 for paths the cap leaves out): single-table paths share
    `single_table_share` of the total (at most `max_per_path` each), join paths the rest
    weighted by hop count; every path gets `min_per_path` while `max_examples` allows, else at
    least one (single tables then give up share), else paths are sampled, stratified by hops.
    No share is assumed for one-hop paths: they may be 3% or 30% of a schema's paths."""
    total = min(round(cfg.examples_per_path * len(paths)), cfg.max_examples)
    single = [p for p in paths if p.is_single_table]
    joins = [p for p in paths if not p.is_single_table]

    def weight(p: LegalPath) -> float:
        return 1.0 + cfg.hop_weight_step * max(0, p.n_hops - 2)

    ceiling = max(cfg.max_per_path, cfg.min_per_path)
    if single and joins:
        single_total = min(round(total * cfg.single_table_share), ceiling * len(single))
        # Coverage first: while the cap allows, every path keeps at least one example, so
        # single tables give up share before join paths go without examples.
        single_total = max(min(single_total, total - len(joins)), min(len(single), total))
        groups = [(single, single_total), (joins, max(0, total - single_total))]
    else:
        groups = [(paths, total)]
    quotas = {p.id: 0 for p in paths}
    rng = random.Random(f"{cfg.seed}:quotas")
    for group, group_total in groups:
        if group_total < len(group):  # more paths than examples: sample which get one
            for p in _sample_stratified(group, group_total, rng):
                quotas[p.id] = 1
            continue
        floor = min(cfg.min_per_path, group_total // len(group))
        quotas.update(_spread(group, group_total, floor, weight))
    return {pid: min(q, ceiling) for pid, q in quotas.items()}


class DatasetBuilder:
    """Holds the schema-derived machinery; `build()` runs the pipeline."""

    def __init__(self, schema: Schema, database: Database, cfg: DatasetConfig,
                 paraphraser: Any | None = None, progress: Progress | None = None):
        cfg.validate()
        self.schema, self.database, self.cfg = schema, database, cfg
        self.paraphraser = paraphraser
        self.progress = progress or (lambda stage, done, total: None)
        all_paths = enumerate_paths(schema)
        self.vocab = PathVocab(all_paths)
        # Parallel foreign keys give two paths one triple; the label cannot tell them apart,
        # so questions are written for the path a triple resolves to.
        self.paths = [p for p in all_paths if self.vocab.path_by_triple[p.triple] is p]
        self.profiles = profile_schema(schema, database)
        display = {name: prof.display for name, prof in self.profiles.items()}
        unnamed = {name for name, prof in self.profiles.items() if not prof.names_rows}
        self.filler = EntityFiller(schema, database, [p.anchor for p in self.paths], display,
                                   unnamed)
        self.resolver = LexicalResolver(schema, self.paths, self.filler.entity_tables)
        self.templates = QuestionTemplates(schema, distinctive_fields(schema))
        self.usage = UsageQuestions(schema, self.profiles, self.filler,
                                    self.filler.reachable_values)
        self.report: dict[str, Any] = {"fallback_to_precise": 0, "rejected": Counter(),
                                       "lookup_fallbacks": 0, "llm": None, "warnings": []}
        self._lookups_failed: set[str] = set()
        self._tables = {t.name: t for t in schema.tables}
        self._seen_questions: dict[str, str] = {}  # normalised question -> path id
        self._seeds: dict[str, list[SeedQuestion]] = {}

    # -- stage 1 ------------------------------------------------------------------------------

    def _t(self, name: str) -> Table:
        return self._tables[name]  # Schema.table() scans: too slow for 15k paths
    def languages_for(self, path: LegalPath) -> list[str]:
        """Every configured language: Chinese words come from synonyms, the built-in
        dictionary, or stay English inside the Chinese sentence (code-mixing)."""
        return list(self.cfg.languages)

    def seed_questions(self, path: LegalPath) -> list[SeedQuestion]:
        """Stage 1: plain questions naming every table, >= 3 per language, each one checked to
        resolve to the path with an entity that returns rows."""
        if path.id in self._seeds:
            return self._seeds[path.id]
        rng = random.Random(f"{self.cfg.seed}:seed:{path.id}")
        seeds: list[SeedQuestion] = []
        for lang in self.languages_for(path):
            for frame in self.templates.seed_frames(path, lang, rng):
                for _ in range(self.cfg.max_attempts):
                    made = self._attempt(path, frame, "plain", rng, Counter())
                    if made and made[3] == "precise":
                        text, entity, _dates, _wording, template, _ = made
                        seeds.append(SeedQuestion(frame, template, text, entity))
                        break
            if sum(s.frame.lang == lang for s in seeds) < 3:
                self._warn(f"path {path.id}: fewer than 3 unambiguous {lang} seed questions; "
                           "give its tables distinct synonyms")
        self._seeds[path.id] = seeds
        return seeds

    # -- one question -------------------------------------------------------------------------
    def _attempt(self, path: LegalPath, frame: Frame, style: str, rng: random.Random,
                 used: Counter) -> tuple | None:
        """Realise, fill and check one question; None (with the reason counted) on failure."""
        draft = self.templates.realize(frame, style, rng)
        if draft is None:
            self.report["rejected"]["style_not_applicable"] += 1
            return None
        entity = self.filler.pick(path, rng, used)
        if entity is None:
            self.report["rejected"]["no_entity_with_rows"] += 1
            return None
        dates = iso = None
        if draft.frame.intent == "time_range":
            span = self.filler.date_range(path, entity, rng)
            if span is None:
                self.report["rejected"]["no_dates"] += 1
                return None
            dates = render_dates(span[0], span[1], frame.lang, rng)
            iso = (span[0].isoformat(), span[1].isoformat())
        text = fill(draft.text, entity, dates)
        wording = self.check(path, text, entity, dates)
        if wording is None:
            return None
        return text, entity, dates, wording, draft.text, (draft.frame, iso)

    def check(self, path: LegalPath, text: str, entity: str,
              dates: tuple[str, str] | None = None) -> str | None:
        """The wording of a question that reads back as exactly `path`, else None."""
        reading = self.resolver.read(text, entity, masked=dates or ())
        if reading.path is None:
            self.report["rejected"]["ambiguous" if len(reading.candidates) > 1
                                    else "unresolved"] += 1
            return None
        if reading.path.triple != path.triple:
            self.report["rejected"]["reads_as_other_path"] += 1
            return None
        return "precise" if set(path.tables) <= reading.named_by_word else "fuzzy"

    # -- stages 2-4 ---------------------------------------------------------------------------
    def plan_slots(self, path: LegalPath, quota: int, rng: random.Random) -> list[_Slot]:
        langs = self.languages_for(path)
        heldout_styles = [s for s in self.cfg.heldout_styles]
        n_heldout = round(quota * self.cfg.heldout_share) if heldout_styles else 0
        if heldout_styles and self.cfg.heldout_share > 0 and quota >= 4:
            n_heldout = max(1, n_heldout)
        n_main = quota - n_heldout
        n_fuzzy = round(n_main * self.cfg.fuzzy_ratio)
        wordings = ["fuzzy"] * n_fuzzy + ["precise"] * (n_main - n_fuzzy)
        slots = []
        offset = rng.randrange(len(langs))
        for w in ("precise", "fuzzy"):  # languages alternate within each wording
            for i in range(wordings.count(w)):
                slots.append(_Slot(langs[(offset + i) % len(langs)], w, False))
        for i in range(n_heldout):
            slots.append(_Slot(langs[(offset + i + 1) % len(langs)], None, True))
        return slots

    def _styles_for(self, path: LegalPath, slot: _Slot) -> list[str]:
        available = self.templates.styles(path, slot.lang)
        heldout = set(self.cfg.heldout_styles)
        if slot.heldout:
            return [s for s in available if s in heldout]
        pool = PRECISE_STYLES if slot.wording == "precise" else FUZZY_STYLES
        return [s for s in available if s in pool and s not in heldout]

    def _warn(self, message: str) -> None:
        self.report["warnings"].append(message)

    def _usage_pool(self, path: LegalPath, rng: random.Random
                    ) -> dict[str, Iterator[UsageQuestion]]:
        return {lang: self.usage.candidates(path, lang, rng) for lang in self.languages_for(path)}

    def _take_usage(self, path: LegalPath, lang: str, pools: dict[str, Iterator[UsageQuestion]],
                    state: _PathState) -> Example | None:
        """The next usage question of the slot's language (else any language) that is new."""
        for lang_ in [lang, *(x for x in pools if x != lang)]:
            for q in pools[lang_]:
                example = self._accept(path, q.text, q.entity, None, q.filter, q.wording,
                                       "usage", q.intent, state, q.condition)
                if example is not None:
                    return example
        return None

    def _lookup(self, path: LegalPath, slot: _Slot, rng: random.Random,
                state: _PathState) -> Example | None:
        """An entity lookup in a paraphrase style that reads back as exactly this path, or
        None after `max_attempts` tries (the path then writes no more lookups)."""
        if path.id in self._lookups_failed:
            return None
        half = max(1, self.cfg.max_attempts // 2)
        for attempt in range(1, self.cfg.max_attempts + 1):
            wording = slot.wording
            if wording == "fuzzy" and attempt > half:
                wording = "precise"
                if attempt == half + 1:
                    self.report["fallback_to_precise"] += 1
            eff = _Slot(slot.lang, wording, slot.heldout)
            styles = self._styles_for(path, eff)
            if not styles and slot.heldout:  # no held-out style fits: a training style
                eff = _Slot(slot.lang, "precise", False)
                styles = self._styles_for(path, eff)
            if not styles:
                break
            style = rng.choices(styles, weights=[_STYLE_WEIGHTS[s] for s in styles])[0]
            frame = self.templates.random_frame(path, slot.lang, rng)
            made = self._attempt(path, frame, style, rng, state.entities)
            if made is None:
                if self.report["rejected"]["no_entity_with_rows"] and not \
                        self.filler.reachable_entities(path):
                    break  # no anchor value reaches rows: no lookup can be written
                continue
            text, entity, dates, got_wording, _template, (frame_used, iso) = made
            if eff.wording is not None and got_wording != eff.wording:
                self.report["rejected"]["wording_mismatch"] += 1
                continue
            flt = {"entity": entity, "date_from": iso[0] if iso else None,
                   "date_to": iso[1] if iso else None}
            cond = None
            if self.filler.display[path.anchor] != self._t(path.anchor).display:
                # The row is named by an inferred column that Filter.entity does not match.
                flt["entity"] = None
                cond = Condition(path.anchor, self.filler.display[path.anchor], "eq", entity)
            example = self._accept(path, text, entity, dates, flt, got_wording, style,
                                   frame_used.intent, state, cond)
            if example is not None:
                return example
        self._lookups_failed.add(path.id)
        return None

    def build_path(self, path: LegalPath, quota: int,
                   llm_pool: list[dict] | None = None) -> list[Example]:
        """`quota` examples for one path: usage questions and entity lookups mixed by
        `usage_share`; either falls back to the other; fewer (reported) when both run out."""
        rng = random.Random(f"{self.cfg.seed}:path:{path.id}")
        if quota <= 0:
            return []
        slots = self.plan_slots(path, quota, rng)
        main = [i for i, slot in enumerate(slots) if not slot.heldout]
        n_usage = round(len(main) * self.cfg.usage_share)
        usage_slots = set(rng.sample(main, n_usage)) if main else set()
        if quota == 1 and main:  # a lone example: usage questions are the everyday kind
            usage_slots = set(main)
        pools = self._usage_pool(path, rng)
        state = _PathState()
        out: list[Example] = []
        for i, slot in enumerate(slots):
            example = None
            if llm_pool and not slot.heldout and rng.random() < self.cfg.llm_share:
                example = self._take_llm(path, slot, llm_pool, state)
            if example is None and i in usage_slots:
                example = self._take_usage(path, slot.lang, pools, state)
            if example is None:
                example = self._lookup(path, slot, rng, state)
                if example is None and not slot.heldout and i not in usage_slots:
                    self.report["lookup_fallbacks"] += 1
                    example = self._take_usage(path, slot.lang, pools, state)
            if example is not None:
                out.append(example)
            self.progress("questions", 1, 0)
        if len(out) < quota:
            self._warn(f"path {path.id}: {len(out)} of {quota} examples (no more distinct "
                       "questions that read back unambiguously)")
        return out

    def _accept(self, path: LegalPath, text: str, entity: str, dates: tuple[str, str] | None,
                flt: dict[str, Any], wording: str, style: str, intent: str,
                state: _PathState, condition: Condition | None = None) -> Example | None:
        norm = _normalise(text)
        if norm in self._seen_questions:
            self.report["rejected"]["duplicate"] += 1
            return None
        sh = _shingles(_masked(text, entity, dates))
        if any(_jaccard(sh, other) >= self.cfg.near_duplicate for other in state.shingles):
            self.report["rejected"]["near_duplicate"] += 1
            return None
        self._seen_questions[norm] = path.id
        state.shingles.append(sh)
        state.entities[entity] += 1
        lang = "zh" if has_cjk(_masked(text, entity, dates)) else "en"
        return Example(
            id=hashlib.sha1(f"{path.id}|{text}".encode()).hexdigest()[:12],
            question=text, language=lang, anchor=path.anchor, target=path.target,
            via=path.via, path_id=path.id, hops=path.n_hops, wording=wording, style=style,
            category=intent, priority=priority_of(path.n_hops, wording), entity=entity,
            filter=dict(flt), condition=condition,
        )

    def _take_llm(self, path: LegalPath, slot: _Slot, pool: list[dict],
                  state: _PathState) -> Example | None:
        for i, cand in enumerate(pool):
            if cand["lang"] != slot.lang or cand["wording"] != slot.wording:
                continue
            pool.pop(i)
            iso = cand["iso"]
            flt = {"entity": cand["entity"], "date_from": iso[0] if iso else None,
                   "date_to": iso[1] if iso else None}
            return self._accept(path, cand["question"], cand["entity"], cand["dates"], flt,
                                cand["wording"], "llm", cand["intent"], state)
        return None

    def llm_candidates(self, path: LegalPath) -> list[dict]:
        """Paraphrases of the seed questions from the endpoint, each checked like any question:
        same entity and dates, same language, reads back as exactly this path."""
        rng = random.Random(f"{self.cfg.seed}:llm:{path.id}")
        pool = []
        for seed in self.seed_questions(path):
            dates = iso = None
            entity = seed.entity
            if seed.frame.intent == "time_range":
                continue  # keep date wording under the filler's control
            answers = self.paraphraser.paraphrase(
                seed.question, seed.frame.lang, self.cfg.llm_paraphrases, keep=[entity])
            for text in answers:
                lang_ok = has_cjk(_masked(text, entity, dates)) == (seed.frame.lang == "zh")
                if entity not in text or not lang_ok:
                    self.report["rejected"]["llm_lost_entity_or_language"] += 1
                    continue
                wording = self.check(path, text, entity)
                if wording is None:
                    continue
                pool.append({"question": text, "entity": entity, "dates": dates, "iso": iso,
                             "lang": seed.frame.lang, "wording": wording,
                             "intent": seed.frame.intent})
        rng.shuffle(pool)
        return pool

    # -- stage 5 ------------------------------------------------------------------------------
    def verify(self, examples: list[Example]) -> list[Example]:
        """Labels must be legal (anything else is a bug worth stopping); every filter and
        condition is executed once more and an example whose query finds no rows is dropped
        (counted in the report). SQL runs a plain `SELECT 1 ... LIMIT 1` (bound values, no
        type processors, so DATETIME text compares by its day); MongoDB runs the route with
        the Filter part."""
        kept = []
        cache: dict[tuple, bool] = {}
        for ex in examples:
            try:
                check_label(ex, self.vocab)
            except ValueError as exc:
                raise PathrlError(f"example {ex.id} ({ex.question!r}): {exc}") from None
            key = (ex.path_id, tuple(sorted(ex.filter.items())),
                   tuple(ex.condition.to_dict().items()) if ex.condition else ())
            if key not in cache:
                cache[key] = self._has_rows(self.vocab.path_by_id[ex.path_id], ex)
            if cache[key]:
                kept.append(ex)
            else:
                self.report["rejected"]["filter_returns_no_rows"] += 1
            self.progress("verify", 1, 0)
        return kept

    def _has_rows(self, path: LegalPath, ex: Example) -> bool:
        if not isinstance(self.database, SQLDatabase):
            result = self.database.run_path(path, Filter(**ex.filter))
            return result.status == "ok"
        alias = {t: f"t{i}" for i, t in enumerate(path.tables)}
        joins = "".join(f' JOIN "{h.dst_table}" t{i} ON t{i - 1}."{h.src_field}" = '
                        f't{i}."{h.dst_field}"' for i, h in enumerate(path.hops, start=1))
        last = f"t{path.n_hops}"
        where, params = [], {}
        if ex.filter.get("entity") is not None:
            where.append(f't0."{self._t(path.anchor).display}" = :entity')
            params["entity"] = ex.filter["entity"]
        time_field = self._t(path.target).time_field
        for key, op in (("date_from", ">="), ("date_to", "<=")):
            if ex.filter.get(key):
                where.append(f'substr({last}."{time_field}", 1, 10) {op} :{key}')
                params[key] = ex.filter[key]
        cond = ex.condition
        if cond is not None:
            col = f'{alias.get(cond.table, "t0")}."{cond.column}"'
            sql_op = {"eq": "=", "gt": ">", "lt": "<", "before": "<", "after": ">"}
            if cond.op == "eq":
                where.append(f"CAST({col} AS TEXT) = :c1")
                params["c1"] = str(cond.value)
            elif cond.op in ("gt", "lt"):
                where.append(f"{col} {sql_op[cond.op]} :c1")
                params["c1"] = cond.value
            elif cond.op == "between":
                where.append(f"{col} BETWEEN :c1 AND :c2")
                params.update(c1=cond.value, c2=cond.value2)
            elif cond.op in ("before", "after"):
                where.append(f"substr({col}, 1, 10) {sql_op[cond.op]} :c1")
                params["c1"] = cond.value
            else:  # year
                where.append(f"substr({col}, 1, 4) = :c1")
                params["c1"] = str(cond.value)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        result = self.database.execute(
            f'SELECT 1 AS ok FROM "{path.anchor}" t0{joins}{clause} LIMIT 1', params)
        return result.status == "ok"

    def split(self, examples: list[Example]) -> DatasetSplits:
        """heldout = held-out styles; the rest train/val/test stratified by path and wording:
        each example goes to the split furthest below its share, counting both its path and
        its (hops, wording, language, usage-or-lookup) cell, so small paths still spread over
        val and test and every split mixes usage questions and lookups alike."""
        rng = random.Random(f"{self.cfg.seed}:split")
        names = ("train", "val", "test")
        heldout_styles = set(self.cfg.heldout_styles)
        heldout = [ex for ex in examples if ex.style in heldout_styles]
        main = [ex for ex in examples if ex.style not in heldout_styles]
        rng.shuffle(main)
        by_path: dict[str, Counter] = {}
        by_cell: dict[tuple, Counter] = {}
        out: dict[str, list[Example]] = {n: [] for n in names}
        ratios = dict(zip(names, self.cfg.split_ratios, strict=True))
        for ex in main:
            pc = by_path.setdefault(ex.path_id, Counter())
            cc = by_cell.setdefault((ex.hops, ex.wording, ex.language, ex.style == "usage"),
                                    Counter())
            n_p, n_c = sum(pc.values()) + 1, sum(cc.values()) + 1

            def deficit(name: str, pc=pc, cc=cc, n_p=n_p, n_c=n_c) -> float:
                return (ratios[name] * n_p - pc[name]) + (ratios[name] * n_c - cc[name])

            best = max(names, key=lambda n: (deficit(n), ratios[n]))
            pc[best] += 1
            cc[best] += 1
            out[best].append(ex)
        splits = DatasetSplits()
        order = {p.id: i for i, p in enumerate(self.paths)}
        for name in names:
            splits[name] = out[name]
        splits["heldout"] = sorted(heldout, key=lambda e: (order[e.path_id], e.id))
        return splits

    def build(self) -> DatasetSplits:
        quotas = allocate_quotas(self.paths, self.cfg)
        total = sum(quotas.values())
        self.progress("start", 0, total)
        examples: list[Example] = []
        llm_pools: dict[str, list[dict]] = {}
        if self.paraphraser is not None:
            for path in self.paths:
                if quotas[path.id]:
                    llm_pools[path.id] = self.llm_candidates(path)
            self.report["llm"] = {
                "endpoint": getattr(self.paraphraser, "describe", lambda: "custom")(),
                "candidates": sum(map(len, llm_pools.values()))}
        for path in self.paths:
            examples.extend(self.build_path(path, quotas[path.id], llm_pools.get(path.id)))
        self.progress("verify_start", 0, len(examples))
        examples = self.verify(examples)
        splits = self.split(examples)
        if self.paraphraser is not None:
            self.report["llm"]["used"] = sum(ex.style == "llm" for ex in examples)
        per_path = Counter(ex.path_id for ex in examples)
        short = {p.id: {"quota": quotas[p.id], "examples": per_path[p.id]}
                 for p in self.paths if per_path[p.id] < quotas[p.id]}
        inferred = {name: prof.display for name, prof in self.profiles.items()
                    if prof.display != self._t(name).display}
        splits.report = {
            "generator": GENERATOR_VERSION,
            "schema": self.schema.name,
            "schema_fingerprint": self.schema.fingerprint(),
            "legal_paths": len(self.vocab.paths),
            "paths_with_examples": len(per_path),
            "paths_without_examples": sum(1 for p in self.paths if not per_path[p.id]),
            "quotas": quotas,
            "per_path": {p.id: per_path[p.id] for p in self.paths},
            "short_paths": short,
            "inferred_display": inferred,
            "fallback_to_precise": self.report["fallback_to_precise"],
            "lookup_fallbacks": self.report["lookup_fallbacks"],
            "rejected_candidates": dict(sorted(self.report["rejected"].items())),
            "entity_queries": self.filler.queries,
            "warnings": self.report["warnings"][:50],
            "warning_count": len(self.report["warnings"]),
            "llm": self.report["llm"],
            "config": self.cfg.to_dict(),
        }
        if short:
            warnings.warn(f"{len(short)} of {len(self.paths)} paths got fewer examples than "
                          f"their quota ({sum(v['examples'] for v in short.values())} of "
                          f"{sum(v['quota'] for v in short.values())}); see the manifest's "
                          "short_paths", DatasetWarning, stacklevel=2)
        return splits


class DatasetWarning(UserWarning):
    """The build degraded (fewer examples on some paths) instead of failing."""


def build_dataset(schema: Schema, database: Database, cfg: DatasetConfig | None = None, *,
                  paraphraser: Any | None = None,
                  progress: Progress | None = None) -> DatasetSplits:
    """Build `{train, val, test, heldout}` for `schema` from `database` (see module doc).

    `paraphraser`: an optional `pathrl.data.llm.LLMParaphraser` (or anything with
    `paraphrase(question, lang, n, keep) -> list[str]`). `progress(stage, done, total)` is
    called as questions are written and verified."""
    return DatasetBuilder(schema, database, cfg or DatasetConfig(), paraphraser,
                          progress).build()
