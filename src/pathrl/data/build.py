"""The dataset pipeline (seed 000 §4.2): seed questions -> paraphrases -> entity filling -> mix ->
validation, de-duplication and stratified splits.

1. Seed questions: per legal path and language, one plain question per intent (and asked
   field), every table of the path named (`QuestionTemplates.seed_frames`).
2. Augmentation: each slot of the dataset re-realises a seed in a paraphrase style (rule-based,
   offline) or, optionally, takes a paraphrase from an OpenAI-compatible endpoint
   (`pathrl.data.llm`).
3. Entity filling: a real anchor value for which the path returns rows, and for date questions
   a range around one of those rows (`EntityFiller`).
4. Mix: quotas per path (single-hop paths share `null_via_share` of the examples; multi-hop paths
   get at least `min_per_path`, more for more hops), `fuzzy_ratio` fuzzy wording per path.
5. Every question is read back by the `LexicalResolver`: it must resolve to exactly its label
   (no ambiguity between legal paths) with the wording it claims; exact and near duplicates are
   regenerated; every filter is executed once more and must return rows. Splits are stratified
   by path and wording; the held-out split holds only paraphrase styles training never sees.

Everything random flows from `random.Random` seeded by the config seed and the path id, and
iteration is in enumeration order, so the same seed gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from pathrl.data.entities import EntityFiller, fill, render_dates
from pathrl.data.example import Example, check_label
from pathrl.data.lexicon import LexicalResolver, distinctive_fields, has_cjk
from pathrl.data.templates import (
    ALL_STYLES,
    FUZZY_STYLES,
    HELDOUT_STYLES,
    INTENT_WEIGHTS,
    PRECISE_STYLES,
    Frame,
    QuestionTemplates,
)
from pathrl.db import Database
from pathrl.errors import PathrlError
from pathrl.paths import LegalPath, PathVocab, enumerate_paths
from pathrl.query import Filter
from pathrl.schema import Schema

GENERATOR_VERSION = "pathrl.data/1"
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
        13.5, "Average examples per legal path, held-out split included (seed: 566 for 42).")
    min_per_path: int = _opt(
        6, "Fewest examples any path gets, so multi-hop paths are not drowned.")
    null_via_share: float = _opt(
        0.6, "Share of examples on single-hop paths (via = null). Real traffic is mostly "
             "single hop; the seed had ~80%, which makes 'always null' a reward hack.")
    hop_weight_step: float = _opt(
        0.25, "Among multi-hop paths, extra weight per hop beyond two (difficulty grading).")
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
        for name in ("null_via_share", "fuzzy_ratio", "heldout_share", "llm_share"):
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
    out = text.replace(entity, "\x00")
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
    """P0: everyday single-hop lookups; P1: two hops or fuzzy single hop; P2: the long tail
    (three hops or more, fuzzy multi-hop)."""
    difficulty = hops + (1 if wording == "fuzzy" else 0)
    return "P0" if difficulty <= 1 else ("P1" if difficulty == 2 else "P2")


def allocate_quotas(paths: list[LegalPath], cfg: DatasetConfig) -> dict[str, int]:
    """Examples per path: single-hop paths share `null_via_share` of the total, multi-hop paths
    the rest weighted by hop count, every path at least `min_per_path`."""
    total = round(cfg.examples_per_path * len(paths))
    single = [p for p in paths if not p.via]
    multi = [p for p in paths if p.via]
    weights = {p.id: 1.0 if not p.via else 1.0 + cfg.hop_weight_step * (p.n_hops - 2)
               for p in paths}
    if single and multi:
        single_total = round(total * cfg.null_via_share)
        multi_total = total - single_total
        multi_total = max(multi_total, cfg.min_per_path * len(multi))
        single_total = max(total - multi_total, cfg.min_per_path * len(single))
        groups = [(single, single_total), (multi, multi_total)]
    else:
        groups = [(paths, max(total, cfg.min_per_path * len(paths)))]
    quotas: dict[str, int] = {}
    for group, group_total in groups:
        weight_sum = sum(weights[p.id] for p in group)
        exact = {p.id: group_total * weights[p.id] / weight_sum for p in group}
        for p in group:
            quotas[p.id] = max(cfg.min_per_path, int(exact[p.id]))
        # Largest remainders first (ties in enumeration order) until the group total is met.
        order = sorted(group, key=lambda p: -(exact[p.id] - int(exact[p.id])))
        i = 0
        while sum(quotas[p.id] for p in group) < group_total and order:
            quotas[order[i % len(order)].id] += 1
            i += 1
    return quotas


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
        self.filler = EntityFiller(schema, database, [p.anchor for p in self.paths])
        self.resolver = LexicalResolver(schema, self.paths, self.filler.entity_tables)
        self.templates = QuestionTemplates(schema, distinctive_fields(schema))
        self.report: dict[str, Any] = {"fallback_to_precise": 0, "rejected": Counter(),
                                       "english_only_paths": [], "llm": None}
        self._seen_questions: dict[str, str] = {}  # normalised question -> path id
        self._seeds: dict[str, list[SeedQuestion]] = {}

    # -- stage 1 ------------------------------------------------------------------------------
    def languages_for(self, path: LegalPath) -> list[str]:
        """Chinese needs Chinese synonyms for every table of the path."""
        langs = [lang for lang in self.cfg.languages if lang == "en" or all(
            self.schema.table(t).synonyms_zh for t in path.tables)]
        if not langs:  # Chinese only was asked, and this schema cannot say it
            raise PathrlError(f"path {path.id}: no Chinese synonyms for its tables; add "
                              "synonyms.zh to the schema or include 'en' in languages")
        return langs

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
                raise PathrlError(f"path {path.id}: cannot write 3 unambiguous {lang} seed "
                                  "questions; give its tables distinct synonyms")
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
            raise PathrlError(f"path {path.id}: no {path.anchor} value returns rows along this "
                              "path; check the data (pathrl schema check)")
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

    def build_path(self, path: LegalPath, quota: int,
                   llm_pool: list[dict] | None = None) -> list[Example]:
        rng = random.Random(f"{self.cfg.seed}:path:{path.id}")
        seeds = self.seed_questions(path)
        by_lang: dict[str, list[SeedQuestion]] = {}
        for s in seeds:
            by_lang.setdefault(s.frame.lang, []).append(s)
        state = _PathState()
        out: list[Example] = []
        for slot in self.plan_slots(path, quota, rng):
            example = None
            if llm_pool and not slot.heldout and rng.random() < self.cfg.llm_share:
                example = self._take_llm(path, slot, llm_pool, state)
            attempts = 0
            while example is None:
                attempts += 1
                if attempts > 2 * self.cfg.max_attempts:
                    raise PathrlError(f"path {path.id}: cannot write a new unambiguous question "
                                      f"after {attempts - 1} tries; lower examples_per_path or "
                                      "add synonyms for its tables")
                wording = slot.wording
                if wording == "fuzzy" and attempts > self.cfg.max_attempts:
                    wording = "precise"
                    if attempts == self.cfg.max_attempts + 1:
                        self.report["fallback_to_precise"] += 1
                eff = _Slot(slot.lang, wording, slot.heldout)
                styles = self._styles_for(path, eff)
                if not styles:
                    if slot.heldout:  # no held-out style fits: use a training style instead
                        eff = _Slot(slot.lang, "precise", False)
                        styles = self._styles_for(path, eff)
                    if not styles:
                        raise PathrlError(f"path {path.id}: no paraphrase style available")
                style = rng.choices(styles, weights=[_STYLE_WEIGHTS[s] for s in styles])[0]
                # Paraphrase one of the path's seeds (same intent and field, new surface);
                # seeds are drawn by intent weight so many-field intents do not dominate.
                lang_seeds = by_lang[slot.lang]
                per_intent = Counter(s.frame.intent for s in lang_seeds)
                seed = rng.choices(lang_seeds, weights=[
                    INTENT_WEIGHTS[s.frame.intent] / per_intent[s.frame.intent]
                    for s in lang_seeds])[0]
                made = self._attempt(path, seed.frame, style, rng, state.entities)
                if made is None:
                    continue
                text, entity, dates, got_wording, _template, (frame_used, iso) = made
                if eff.wording is not None and got_wording != eff.wording:
                    self.report["rejected"]["wording_mismatch"] += 1
                    continue
                example = self._accept(path, text, entity, dates, iso, got_wording, style,
                                       frame_used.intent, state)
            out.append(example)
            self.progress("questions", 1, 0)
        return out

    def _accept(self, path: LegalPath, text: str, entity: str, dates: tuple[str, str] | None,
                iso: tuple[str, str] | None, wording: str, style: str, intent: str,
                state: _PathState) -> Example | None:
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
            filter={"entity": entity, "date_from": iso[0] if iso else None,
                    "date_to": iso[1] if iso else None},
        )

    def _take_llm(self, path: LegalPath, slot: _Slot, pool: list[dict],
                  state: _PathState) -> Example | None:
        for i, cand in enumerate(pool):
            if cand["lang"] != slot.lang or cand["wording"] != slot.wording:
                continue
            pool.pop(i)
            return self._accept(path, cand["question"], cand["entity"], cand["dates"],
                                cand["iso"], cand["wording"], "llm", cand["intent"], state)
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
    def verify(self, examples: list[Example]) -> None:
        """Labels legal, filters executable with rows: anything else is a bug worth stopping."""
        for ex in examples:
            try:
                check_label(ex, self.vocab)
            except ValueError as exc:
                raise PathrlError(f"example {ex.id} ({ex.question!r}): {exc}") from None
            result = self.database.run_path(self.vocab.path_by_id[ex.path_id],
                                             Filter(**ex.filter))
            if result.status != "ok":
                raise PathrlError(f"example {ex.id} ({ex.question!r}): its filter returns "
                                  f"{result.status} on the database ({result.error or '0 rows'})")
            self.progress("verify", 1, 0)

    def split(self, examples: list[Example]) -> DatasetSplits:
        """heldout = held-out styles; the rest train/val/test stratified by path and wording:
        each example goes to the split furthest below its share, counting both its path and
        its (hops, wording) cell, so small paths still spread over val and test."""
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
            cc = by_cell.setdefault((ex.hops, ex.wording, ex.language), Counter())
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
                llm_pools[path.id] = self.llm_candidates(path)
            self.report["llm"] = {
                "endpoint": getattr(self.paraphraser, "describe", lambda: "custom")(),
                "candidates": sum(map(len, llm_pools.values()))}
        for path in self.paths:
            examples.extend(self.build_path(path, quotas[path.id], llm_pools.get(path.id)))
        self.progress("verify_start", 0, len(examples))
        self.verify(examples)
        splits = self.split(examples)
        if self.paraphraser is not None:
            self.report["llm"]["used"] = sum(ex.style == "llm" for ex in examples)
        splits.report = {
            "generator": GENERATOR_VERSION,
            "schema": self.schema.name,
            "schema_fingerprint": self.schema.fingerprint(),
            "legal_paths": len(self.vocab.paths),
            "paths_with_examples": len(self.paths),
            "quotas": quotas,
            "fallback_to_precise": self.report["fallback_to_precise"],
            "rejected_candidates": dict(sorted(self.report["rejected"].items())),
            "entity_queries": self.filler.queries,
            "llm": self.report["llm"],
            "config": self.cfg.to_dict(),
        }
        return splits


def build_dataset(schema: Schema, database: Database, cfg: DatasetConfig | None = None, *,
                  paraphraser: Any | None = None,
                  progress: Progress | None = None) -> DatasetSplits:
    """Build `{train, val, test, heldout}` for `schema` from `database` (see module doc).

    `paraphraser`: an optional `pathrl.data.llm.LLMParaphraser` (or anything with
    `paraphrase(question, lang, n, keep) -> list[str]`). `progress(stage, done, total)` is
    called as questions are written and verified."""
    return DatasetBuilder(schema, database, cfg or DatasetConfig(), paraphraser,
                          progress).build()
