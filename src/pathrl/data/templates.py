"""Question templates: seed questions per legal path and their rule-based paraphrases.

A question is realised from a `Frame` (path, language, intent, asked field) in a *style*. The seed
style ("plain") names every table of the path; the paraphrase styles reorder, swap synonyms,
speak colloquially or politely, or leave table words out (the fuzzy questions whose route must be
inferred). Three long-tail styles (`HELDOUT_STYLES`) are kept out of training altogether.

Realisations carry placeholders for the values the entity filler supplies later: `ENTITY`,
`DATE_FROM`, `DATE_TO`. Every realisation is English or Chinese; Chinese frames use the schema's
Chinese synonyms, so a schema without them yields English-only questions (the builder reports it).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from pathrl.data.lexicon import (
    FieldPhrase,
    additive,
    field_phrase,
    plural,
    question_fields,
    table_words,
)
from pathrl.paths import LegalPath
from pathrl.schema import Schema, Table

ENTITY = "\x01E\x01"
DATE_FROM = "\x01D1\x01"
DATE_TO = "\x01D2\x01"

INTENTS = ("list", "count", "latest", "sum", "attribute", "time_range")
# How often each intent is asked (renormalised over the intents a path supports).
INTENT_WEIGHTS = {"list": 0.32, "count": 0.15, "latest": 0.12, "sum": 0.1, "attribute": 0.14,
                  "time_range": 0.17}

PRECISE_STYLES = ("plain", "polite", "colloquial", "topic_first", "synonym")
FUZZY_STYLES = ("no_anchor_word", "no_bridge_word", "field_hint")
HELDOUT_STYLES = ("keywords", "codemix", "ellipsis")
ALL_STYLES = PRECISE_STYLES + FUZZY_STYLES + HELDOUT_STYLES
# The wording a style aims at (the builder re-checks the realised text).
STYLE_WORDING = {**{s: "precise" for s in PRECISE_STYLES}, **{s: "fuzzy" for s in FUZZY_STYLES},
                 "keywords": "precise", "codemix": "precise", "ellipsis": "fuzzy"}

# -- English frames: {NP} definite noun phrase, {N} bare plural head, {F} field, {TF} time field.
_EN_MANY = {
    "plain": {
        "list": ["List {NP}.", "Show {NP}.", "What are {NP}?", "Find all {N}."],
        "count": ["How many {N} are there?", "Count {NP}.", "What is the number of {N}?"],
        "latest": ["Show the most recent {N}.", "What are the latest {N}?",
                   "List {NP}, newest first."],
        "sum": ["What is the total {F} of {NP}?", "Sum up the {F} of {NP}."],
        "attribute": ["What is the {F} of each of {NP}?", "Show the {F} of {NP}."],
        "time_range": ["List {NP} between {D1} and {D2}.",
                       "Which {N} have a {TF} from {D1} to {D2}?"],
    },
    "polite": {
        "list": ["Could you list {NP}, please?", "Can you show me {NP}?",
                 "I'd like to see {NP}, please."],
        "count": ["Could you tell me how many {N} there are?", "Can you count {NP} for me?"],
        "latest": ["Could you show me the most recent {N}?",
                   "Can you find the latest {N}, please?"],
        "sum": ["Could you tell me the total {F} of {NP}?", "Can you add up the {F} of {NP}?"],
        "attribute": ["Could you show me the {F} of {NP}?",
                      "Can you tell me the {F} of each of {NP}?"],
        "time_range": ["Could you list {NP} between {D1} and {D2}, please?"],
    },
    "colloquial": {
        "list": ["what {N} have we got?", "pull up {NP}", "need {NP} asap", "got a list of {N}?"],
        "count": ["how many {N} we got?", "number of {N}?"],
        "latest": ["latest {N}?", "what's new in {NP}?"],
        "sum": ["total {F} for {NP}?", "what do {NP} add up to, {F}-wise?"],
        "attribute": ["what's the {F} on {NP}?", "{F} of {NP}?"],
        "time_range": ["{N} between {D1} and {D2}?", "anything in {NP} from {D1} to {D2}?"],
    },
}
_EN_ONE = {  # the path only follows foreign keys forward: exactly one row comes back
    "plain": {"list": ["Show {NP}.", "What is {NP}?", "Find {NP}.", "Look up {NP}."],
              "attribute": ["What is the {F} of {NP}?", "Show the {F} of {NP}."]},
    "polite": {"list": ["Could you look up {NP}, please?", "Can you tell me {NP}?"],
               "attribute": ["Could you tell me the {F} of {NP}?"]},
    "colloquial": {"list": ["which one is {NP}?", "need {NP}", "who's {NP} again?"],
                   "attribute": ["what's the {F} of {NP}?"]},
}
_EN_TOPIC = {
    "list": ["For {A}, list {REL}.", "Regarding {A}: show {REL}."],
    "count": ["For {A}, count {REL}.", "About {A} - how many are there of {REL}?"],
    "latest": ["For {A}, show {REL}, newest first."],
    "sum": ["For {A}, what is the total {F} of {REL}?"],
    "attribute": ["For {A}, what is the {F} of {REL}?"],
    "time_range": ["For {A}, list {REL} between {D1} and {D2}."],
}
_EN_TOPIC_ONE = ["For {A}, show {REL}.", "Regarding {A}: which is {REL}?"]
_EN_FIELD_HINT = {
    "attribute": ["What is the {F} for {C}?", "Show the {F} for {C}.", "{F} for {C}?"],
    "sum": ["What is the total {F} for {C}?", "Add up the {F} for {C}."],
}
_EN_INTENT_KEYWORD = {"list": "", "count": "count", "latest": "latest", "sum": "total {F}",
                      "attribute": "{F}", "time_range": "{D1} to {D2}"}

# -- Chinese frames: {NP} the chain, {F} field, {REL} the chain relative to a topic {A}.
_ZH_MANY = {
    "plain": {
        "list": ["查询{NP}", "列出{NP}", "{NP}有哪些？", "显示{NP}"],
        "count": ["{NP}有多少条？", "统计{NP}的数量", "{NP}一共有几条？"],
        "latest": ["{NP}中最新的是哪条？", "查询最近的{NP}", "按时间倒序列出{NP}"],
        "sum": ["{NP}的{F}合计是多少？", "汇总{NP}的{F}"],
        "attribute": ["{NP}的{F}分别是什么？", "查看{NP}的{F}"],
        "time_range": ["{D1}到{D2}之间{NP}有哪些？", "查询{D1}至{D2}期间的{NP}"],
    },
    "polite": {
        "list": ["请帮我查询一下{NP}", "麻烦列一下{NP}，谢谢", "能否帮我看看{NP}有哪些？"],
        "count": ["请问{NP}一共有多少条？", "麻烦统计一下{NP}的数量"],
        "latest": ["请帮我找出最新的{NP}", "麻烦查一下最近的{NP}"],
        "sum": ["请帮我汇总{NP}的{F}", "麻烦算一下{NP}的{F}合计"],
        "attribute": ["请问{NP}的{F}分别是什么？", "麻烦查看一下{NP}的{F}"],
        "time_range": ["请查询{D1}到{D2}之间的{NP}", "麻烦列出{D1}至{D2}期间的{NP}"],
    },
    "colloquial": {
        "list": ["{NP}都有啥？", "看看{NP}", "{NP}有哪些来着？", "我想看下{NP}"],
        "count": ["{NP}有几条啊？", "{NP}多少条？"],
        "latest": ["{NP}最近一条是啥？", "最新的{NP}看一下"],
        "sum": ["{NP}的{F}加起来多少？"],
        "attribute": ["{NP}的{F}都是啥？"],
        "time_range": ["{D1}到{D2}那段时间{NP}有啥？"],
    },
}
_ZH_ONE = {
    "plain": {"list": ["查询{NP}", "{NP}是哪个？", "{NP}是什么？"],
              "attribute": ["{NP}的{F}是什么？", "查看{NP}的{F}"]},
    "polite": {"list": ["请帮我查一下{NP}", "麻烦告诉我{NP}是哪个"],
               "attribute": ["请问{NP}的{F}是什么？"]},
    "colloquial": {"list": ["{NP}是哪个来着？", "{NP}是谁家？"],
                   "attribute": ["{NP}的{F}是啥？"]},
}
_ZH_TOPIC = {
    "list": ["{A}，{REL}有哪些？", "关于{A}，列出{REL}"],
    "count": ["{A}，{REL}一共多少条？"],
    "latest": ["{A}，{REL}里最新的是哪条？"],
    "sum": ["{A}，{REL}的{F}合计多少？"],
    "attribute": ["{A}，{REL}的{F}分别是什么？"],
    "time_range": ["{A}，{D1}到{D2}之间，{REL}有哪些？"],
}
_ZH_TOPIC_ONE = ["{A}，{REL}是哪个？", "关于{A}，查一下{REL}"]
_ZH_FIELD_HINT = {
    "attribute": ["{C}的{F}是什么？", "查一下{C}的{F}", "{C}的{F}有哪些？"],
    "attribute_numeric": ["{C}的{F}是多少？", "查一下{C}的{F}", "{C}的{F}分别是多少？"],
    "sum": ["{C}的{F}合计是多少？", "{C}的{F}一共多少？"],
}
_ZH_INTENT_KEYWORD = {"list": "", "count": "数量", "latest": "最新", "sum": "{F}合计",
                      "attribute": "{F}", "time_range": "{D1}至{D2}"}
_EN_LINKS = ("of", "of", "for", "linked to", "related to")
_ZH_LINKS = ("的", "的", "下的", "对应的", "相关的")


@dataclass(frozen=True)
class Frame:
    """What a question asks, before words: a path, a language, an intent and its field."""

    path: LegalPath
    lang: str
    intent: str
    field: FieldPhrase | None = None  # sum / attribute: the asked field


@dataclass(frozen=True)
class Draft:
    """A realised question with placeholders, and how it was made."""

    frame: Frame
    style: str
    text: str


class QuestionTemplates:
    """Realises frames of one schema in every style (see module doc)."""

    def __init__(self, schema: Schema, hint_fields: dict[str, list[FieldPhrase]]):
        self.schema = schema
        self.hint_fields = hint_fields
        self._field_cache: dict[tuple[str, str], list[FieldPhrase]] = {}
        self._tables = {t.name: t for t in schema.tables}

    def _t(self, name: str) -> Table:
        return self._tables[name]  # Schema.table() scans: too slow for 15k paths

    def _fields(self, table: str, lang: str) -> list[FieldPhrase]:
        """Question fields of a table with a phrase in `lang` (computed once per table)."""
        key = (table, lang)
        if key not in self._field_cache:
            self._field_cache[key] = [f for f in question_fields(self.schema,
                                                                 self._t(table))
                                      if f.text(lang)]
        return self._field_cache[key]

    # -- what a path supports -----------------------------------------------------------------
    @staticmethod
    def fans_out(path: LegalPath) -> list[bool]:
        """Per table of the path: does the question get several rows of it (a backward hop, one
        parent -> many children, happened on the way)? Singular nouns otherwise."""
        many, out = False, [False]
        for hop in path.hops:
            many = many or not hop.forward
            out.append(many)
        return out

    def intents(self, path: LegalPath, lang: str) -> list[str]:
        target = self._t(path.target)
        fields = self._fields(target.name, lang)
        numeric = [f for f in fields if additive(f)]
        if not self.fans_out(path)[-1]:
            return ["list"] + (["attribute"] if fields else [])
        out = ["list", "count"]
        if target.time_field:
            out += ["latest", "time_range"]
        if numeric:
            out.append("sum")
        if fields:
            out.append("attribute")
        return [i for i in INTENTS if i in out]

    def fields_for(self, path: LegalPath, lang: str, intent: str) -> list[FieldPhrase]:
        target = self._t(path.target)
        fields = self._fields(target.name, lang)
        if intent == "sum":
            return [f for f in fields if additive(f)]
        return fields if intent == "attribute" else []

    def hint_frames(self, path: LegalPath, lang: str) -> list[tuple[str, FieldPhrase]]:
        """(intent, field) pairs whose field alone points at the target (field_hint style)."""
        out = []
        many = self.fans_out(path)[-1]
        for fp in self.hint_fields.get(path.target, []):
            if not fp.text(lang):
                continue
            out.append(("attribute", fp))
            if many and additive(fp):
                out.append(("sum", fp))
        return out

    def styles(self, path: LegalPath, lang: str) -> list[str]:
        """Styles that can realise this path in this language."""
        out = ["plain", "polite", "colloquial", "topic_first", "no_anchor_word", "keywords",
               "ellipsis"]
        if self._has_alternative_words(path, lang):
            out.append("synonym")
        if path.via:
            out.append("no_bridge_word")
        if self.hint_frames(path, lang):
            out.append("field_hint")
        if lang == "zh":
            out.append("codemix")
        return [s for s in ALL_STYLES if s in out]

    def _has_alternative_words(self, path: LegalPath, lang: str) -> bool:
        return any(len(table_words(self._t(t), lang)) > 1 for t in path.tables)

    # -- realisation --------------------------------------------------------------------------
    def seed_frames(self, path: LegalPath, lang: str, rng: random.Random) -> list[Frame]:
        """At least three frames per path and language: one per supported intent, topped up
        with list questions."""
        frames = []
        for intent in self.intents(path, lang):
            fields = self.fields_for(path, lang, intent)
            if intent in ("sum", "attribute") and not fields:
                continue
            frames.append(Frame(path, lang, intent, rng.choice(fields) if fields else None))
        while len(frames) < 3:
            frames.append(Frame(path, lang, "list"))
        return frames

    def random_frame(self, path: LegalPath, lang: str, rng: random.Random) -> Frame:
        intents = self.intents(path, lang)
        intent = rng.choices(intents, weights=[INTENT_WEIGHTS[i] for i in intents])[0]
        fields = self.fields_for(path, lang, intent)
        if intent in ("sum", "attribute") and not fields:
            intent, fields = "list", []
        return Frame(path, lang, intent, rng.choice(fields) if fields else None)

    def realize(self, frame: Frame, style: str, rng: random.Random) -> Draft | None:
        """One question for `frame` in `style`, or None when the style cannot express it."""
        if style == "field_hint":
            options = self.hint_frames(frame.path, frame.lang)
            if not options:
                return None
            intent, fp = rng.choice(options)
            frame = Frame(frame.path, frame.lang, intent, fp)
        if style == "codemix" and frame.lang != "zh":
            return None
        if style == "no_bridge_word" and not frame.path.via:
            return None
        words = self._words(frame, style, rng)
        include = self._included(frame.path, style, rng)
        text = (self._realize_zh if frame.lang == "zh" else self._realize_en)(
            frame, style, words, include, rng)
        if text and frame.lang == "zh":
            text = _zh_spacing(text)
        return Draft(frame, style, text) if text else None

    def _words(self, frame: Frame, style: str, rng: random.Random) -> list[str]:
        words = []
        for i, tname in enumerate(frame.path.tables):
            lang = frame.lang
            if style == "codemix" and (i > 0 or rng.random() < 0.3):
                lang = "en"
            options = table_words(self._t(tname), lang)
            if style == "synonym" and len(options) > 1:
                word = rng.choice(options[1:])
            elif style == "plain" or len(options) == 1 or rng.random() < 0.5:
                word = options[0]
            else:
                word = rng.choice(options)
            words.append(word)
        return words

    @staticmethod
    def _included(path: LegalPath, style: str, rng: random.Random) -> list[bool]:
        """Which tables of the path the question names by a word."""
        n = len(path.tables)
        include = [True] * n
        if style in ("no_anchor_word", "ellipsis"):
            include[0] = False
        if style == "no_bridge_word":
            vias = list(range(1, n - 1))
            dropped = rng.sample(vias, rng.randint(1, len(vias)))
            for i in dropped:
                include[i] = False
            if rng.random() < 0.3:
                include[0] = False
        if style == "field_hint":
            include[-1] = False
            if path.via and rng.random() < 0.3:
                include[rng.randrange(1, n - 1)] = False
        if style == "ellipsis" and path.via and rng.random() < 0.5:
            for i in range(1, n - 1):
                include[i] = False
        return include

    # English ---------------------------------------------------------------------------------
    def _realize_en(self, frame: Frame, style: str, words: list[str], include: list[bool],
                    rng: random.Random) -> str | None:
        path, intent = frame.path, frame.intent
        many = self.fans_out(path)
        nouns = [plural(w) if m else w for w, m in zip(words, many, strict=True)]
        anchor = f"{words[0]} {ENTITY}" if include[0] else ENTITY
        f_text = frame.field.en if frame.field else ""
        tf = self._time_phrase(path, "en")

        chain = anchor  # "the payments of the contracts of project X"
        for i in range(1, len(nouns) - 1):
            if include[i]:
                chain = f"the {nouns[i]} {rng.choice(_EN_LINKS)} {chain}"
        link = rng.choice(_EN_LINKS)
        bare = f"{nouns[-1]} {link} {chain}"
        np_ = f"the {bare}"
        if path.is_single_table:  # the named row itself: "employee George Novak"
            if style in ("topic_first", "ellipsis", "field_hint"):
                return None
            bare = np_ = chain

        if style == "keywords":  # search-box style, head noun first as English users type it
            parts = [nouns[i] for i in range(len(nouns) - 1, 0, -1) if include[i]] + [anchor]
            kw = _EN_INTENT_KEYWORD[intent].format(F=f_text, D1=DATE_FROM, D2=DATE_TO)
            return " ".join(p for p in [kw if intent != "time_range" else "", *parts,
                                        kw if intent == "time_range" else ""] if p)
        if style == "ellipsis":
            head = nouns[-1]
            vias = [nouns[i] for i in range(1, len(nouns) - 1) if include[i]]
            rel = f"{head} of its {' and '.join(vias)}" if vias else head
            ask = {"count": f"how many {rel}?", "latest": f"latest {rel}?",
                   "sum": f"total {f_text} of {rel}?", "attribute": f"{f_text} of {rel}?",
                   "time_range": f"{rel} {DATE_FROM} to {DATE_TO}?"}.get(intent, f"{rel}?")
            return rng.choice([f"{ENTITY}: {ask}", f"{ENTITY} - {ask}"])
        if style == "field_hint":
            pattern = rng.choice(_EN_FIELD_HINT[intent])
            return _capitalise(pattern.format(F=f_text, C=chain))
        if style == "topic_first":
            rel = None
            for i in range(1, len(nouns) - 1):
                if include[i]:
                    rel = f"its {nouns[i]}" if rel is None else f"the {nouns[i]} of {rel}"
            rel = f"its {nouns[-1]}" if rel is None else f"the {nouns[-1]} of {rel}"
            if not many[-1] and intent != "list":
                return None
            pattern = rng.choice(_EN_TOPIC[intent] if many[-1] else _EN_TOPIC_ONE)
            return pattern.format(A=anchor, REL=rel, F=f_text, D1=DATE_FROM, D2=DATE_TO)

        flavour = style if style in ("polite", "colloquial") else "plain"
        if style in ("no_anchor_word", "no_bridge_word", "synonym"):
            flavour = rng.choice(["plain", "plain", "polite", "colloquial"])
        table = _EN_MANY if many[-1] else _EN_ONE
        patterns = table[flavour].get(intent)
        if not patterns:
            return None
        text = rng.choice(patterns).format(NP=np_, N=bare, F=f_text, TF=tf, D1=DATE_FROM,
                                           D2=DATE_TO)
        return text if flavour == "colloquial" else _capitalise(text)

    # Chinese ---------------------------------------------------------------------------------
    def _realize_zh(self, frame: Frame, style: str, words: list[str], include: list[bool],
                    rng: random.Random) -> str | None:
        path, intent = frame.path, frame.intent
        many = self.fans_out(path)
        f_text = (frame.field.zh if frame.field else "") or ""
        if frame.field and not f_text:
            return None
        spaced = style == "codemix"

        def join(a: str, link: str, b: str) -> str:
            return f"{a} {link} {b}" if spaced else f"{a}{link}{b}"

        if include[0]:
            anchor = rng.choice([f"{words[0]}{ENTITY}", f"{words[0]}“{ENTITY}”"])
            if spaced:
                anchor = f"{words[0]} {ENTITY}"
        else:
            anchor = ENTITY
        chain = anchor
        for i in range(1, len(words) - 1):
            if include[i]:
                chain = join(chain, rng.choice(_ZH_LINKS), words[i])
        np_ = join(chain, rng.choice(_ZH_LINKS), words[-1])
        if path.is_single_table:  # the named row itself: "员工张伟"
            if style in ("topic_first", "ellipsis", "field_hint"):
                return None
            np_ = chain

        if style == "keywords":
            parts = [anchor] + [words[i] for i in range(1, len(words)) if include[i]]
            kw = _ZH_INTENT_KEYWORD[intent].format(F=f_text, D1=DATE_FROM, D2=DATE_TO)
            return " ".join(p for p in [*parts, kw] if p)
        if style == "ellipsis":
            vias = [words[i] for i in range(1, len(words) - 1) if include[i]]
            rel = ("".join(f"{v}的" for v in vias)) + words[-1]
            ask = {"count": f"{rel}几条？", "latest": f"最新的{rel}？",
                   "sum": f"{rel}{f_text}合计？", "attribute": f"{rel}{f_text}？",
                   "time_range": f"{DATE_FROM}到{DATE_TO}的{rel}？"}.get(intent, f"{rel}呢？")
            return rng.choice([f"{ENTITY}的{ask}", f"{ENTITY} {ask}"])
        if style == "field_hint":
            numeric = frame.field is not None and frame.field.field.type in ("int", "float")
            key = "attribute_numeric" if intent == "attribute" and numeric else intent
            pattern = rng.choice(_ZH_FIELD_HINT[key])
            return pattern.format(F=f_text, C=chain)
        if style == "topic_first":
            rel = "其"
            for i in range(1, len(words) - 1):
                if include[i]:
                    rel = f"{rel}{words[i]}" if rel == "其" else f"{rel}{rng.choice(_ZH_LINKS)}"\
                                                                  f"{words[i]}"
            rel = f"{rel}{words[-1]}" if rel == "其" else f"{rel}{rng.choice(_ZH_LINKS)}{words[-1]}"
            if not many[-1] and intent != "list":
                return None
            pattern = rng.choice(_ZH_TOPIC[intent] if many[-1] else _ZH_TOPIC_ONE)
            return pattern.format(A=anchor, REL=rel, F=f_text, D1=DATE_FROM, D2=DATE_TO)

        flavour = style if style in ("polite", "colloquial") else "plain"
        if style in ("no_anchor_word", "no_bridge_word", "synonym", "codemix"):
            flavour = rng.choice(["plain", "plain", "polite", "colloquial"])
        table = _ZH_MANY if many[-1] else _ZH_ONE
        patterns = table[flavour].get(intent)
        if not patterns:
            return None
        pattern = rng.choice(patterns)
        return pattern.format(NP=np_, F=f_text, D1=DATE_FROM, D2=DATE_TO)

    def _time_phrase(self, path: LegalPath, lang: str) -> str:
        target = self._t(path.target)
        if not target.time_field:
            return ""
        fp = field_phrase(target, target.field(target.time_field))
        return fp.text(lang) or ""


def _zh_spacing(text: str) -> str:
    """English words inside Chinese (no Chinese synonym): one space around them, and one
    between a word and the entity placeholder ("bin location BL-2019-002")."""
    text = re.sub(r"(?<=[\u3400-\u9fff])(?=[A-Za-z])|(?<=[A-Za-z])(?=[\u3400-\u9fff])", " ",
                  text)
    text = re.sub(r"(?<=[A-Za-z])(?<!\x01E)(?=\x01)", " ", text)  # not inside ENTITY
    return re.sub(r"  +", " ", text)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text and text[0].isascii() else text
