"""Words for tables and fields, and the lexical resolver that keeps labels inferable.

Questions are written from the schema alone: a table is named by its synonyms (English and
Chinese, plus its humanised name), a target can also be hinted by one of its fields whose phrase
no other table shares ("progress percent" -> construction). `LexicalResolver` reads a question
back the way a careful human would: the entity names the anchor, the table words and field hints
name tables, and among the legal paths that contain every named table and end at a named one,
the shortest wins. A generated question is kept only when that reading is unique and equals its
label, so no example is ambiguous between two legal paths.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pathrl import naming
from pathrl.data.zh_words import zh_phrase
from pathrl.paths import LegalPath
from pathrl.schema import Field, Schema, Table

_CJK = re.compile(r"[\u3400-\u9fff]")
# A description that enumerates values ("pass / fail / rework") is no phrase for the field.
_ENUM_DESCRIPTION = re.compile(r"\s/\s|\sor\s")
_NOT_ADDITIVE = re.compile(r"percent|progress|rate|ratio|score|rating|level|year|age\b")
_UNIT_SUFFIX = re.compile(r"\s+in\s+[A-Z]{2,4}$")
_BEFORE_ENTITY = re.compile(r"[\s\"'“”「」]*\x00")

# Chinese phrases for common English field phrases; a field without one is simply not used in
# Chinese field questions (the schema carries no Chinese field names).
ZH_FIELD_WORDS: dict[str, str] = {
    "amount": "金额", "contract amount": "合同金额", "amount change": "变更金额",
    "budget": "预算", "quantity": "数量", "progress percent": "进度百分比", "progress": "进度",
    "status": "状态", "reason": "原因", "result": "结果", "rating": "评级", "country": "国家",
    "department": "部门", "job title": "职位", "delivered item": "交付物品",
    "work done": "施工内容", "milestone title": "里程碑名称", "contract title": "合同标题",
    "method": "支付方式", "change type": "变更类型", "region": "区域", "reached": "是否完成",
    "payment date": "付款日期", "signing date": "签订日期", "due date": "到期日",
    "issue date": "开票日期", "date of the change": "变更日期", "delivery date": "交付日期",
    "start date": "开工日期", "date": "日期", "title": "标题", "name": "名称",
    "full name": "姓名", "project name": "项目名称", "supplier name": "供应商名称",
    "contract number": "合同编号", "invoice number": "发票号码", "role on the project": "项目角色",
}


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def plural(noun: str) -> str:
    """English plural of a (possibly multi-word) noun phrase; a plural stays as it is."""
    if not noun.isascii():
        return noun
    return naming.plural(noun)


def humanize(identifier: str) -> str:
    return naming.humanize(identifier)


def table_words(table: Table, lang: str) -> tuple[str, ...]:
    """The words a user calls a table by, most usual first (never empty)."""
    if lang == "zh":
        words = tuple(table.synonyms_zh)
        if words:
            return words
        zh = zh_phrase(naming.table_noun(table.name))
        # No Chinese synonym, no dictionary entry: the English word inside a Chinese sentence.
        return (zh,) if zh else table_words(table, "en")
    # Synonyms may be plural ("orders" from introspection): the singular is the word.
    words = tuple(dict.fromkeys(naming.singular(w.lower().strip()) for w in table.synonyms_en
                                if w.strip()))
    return words or (naming.table_noun(table.name),)


@dataclass(frozen=True)
class FieldPhrase:
    """How questions name a field, per language (`zh` may be missing)."""

    table: str
    field: Field
    en: str
    zh: str | None

    def text(self, lang: str) -> str | None:
        return self.zh if lang == "zh" else self.en


def field_phrase(table: Table, field: Field) -> FieldPhrase:
    description = field.description.strip()
    if not description or _ENUM_DESCRIPTION.search(description):
        en = humanize(field.name)
    else:
        en = _UNIT_SUFFIX.sub("", description).strip().lower()
    zh = (ZH_FIELD_WORDS.get(en) or ZH_FIELD_WORDS.get(humanize(field.name))
          or zh_phrase(naming.column_phrase(field.name, table.name)))
    return FieldPhrase(table.name, field, en, zh)


def question_fields(schema: Schema, table: Table) -> list[FieldPhrase]:
    """Fields a question may ask about: not the key, not a foreign key (codes mean nothing to a
    user), not the time field (dates have their own intents)."""
    foreign = {(r.from_table, r.from_field) for r in schema.relations}
    return [field_phrase(table, f) for f in table.fields
            if f.name != table.key and (table.name, f.name) not in foreign
            and f.name != table.time_field and f.type != "bool"]


def additive(fp: FieldPhrase) -> bool:
    """A numeric field whose total means something (amounts, quantities; not percentages)."""
    return fp.field.type in ("int", "float") and not _NOT_ADDITIVE.search(
        f"{fp.field.name} {fp.en}")


def distinctive_fields(schema: Schema) -> dict[str, list[FieldPhrase]]:
    """Per table, the fields whose English phrase no other table's question field shares and
    that contain no other table's word: such a phrase alone points at its table."""
    phrases = {t.name: question_fields(schema, t) for t in schema.tables if t.target}
    owners: dict[str, set[str]] = {}
    for tname, fps in phrases.items():
        for fp in fps:
            owners.setdefault(fp.en, set()).add(tname)
    owners_of_word: dict[str, set[str]] = {}
    cjk_words: dict[str, set[str]] = {}
    for t in schema.tables:
        for lang in ("en", "zh"):
            for w in table_words(t, lang):
                bucket = cjk_words if has_cjk(w) else owners_of_word
                bucket.setdefault(w.lower(), set()).add(t.name)
    out: dict[str, list[FieldPhrase]] = {}
    for tname, fps in sorted(phrases.items()):
        keep = []
        for fp in fps:
            if owners[fp.en] != {tname} or len(fp.en) < 4:
                continue
            # Another table's word inside the phrase: the phrase would name that table too.
            grams = _ngrams(fp.en)
            if any(owners_of_word.get(g, {tname}) - {tname} for g in grams):
                continue
            if fp.zh and any(w in fp.zh and owners - {tname} for w, owners in cjk_words.items()):
                continue
            keep.append(fp)
        out[tname] = keep
    return out


_TOKEN = re.compile(r"[a-z0-9]+")


def _ngrams(text: str) -> set[str]:
    """Every contiguous run of words of `text`, as the substring it spans (lower-cased)."""
    low = text.lower()
    spans = [(m.start(), m.end()) for m in _TOKEN.finditer(low)]
    return {low[spans[i][0]:spans[j][1]] for i in range(len(spans))
            for j in range(i, len(spans))}


@dataclass(frozen=True)
class Reading:
    """What the resolver understood: which tables were named (by a table word or a field hint)
    and the legal paths consistent with the question (`path` when exactly one)."""

    named_by_word: frozenset[str]
    named_by_hint: frozenset[str]
    anchors: frozenset[str]
    candidates: tuple[LegalPath, ...]

    @property
    def path(self) -> LegalPath | None:
        return self.candidates[0] if len(self.candidates) == 1 else None


class LexicalResolver:
    """Reads a question's route back from its words (see module doc)."""

    def __init__(self, schema: Schema, paths: Sequence[LegalPath],
                 entity_tables: dict[str, set[str]]):
        self.paths = list(paths)
        self.entity_tables = entity_tables
        entries: list[tuple[str, str, bool]] = []  # (surface, table, is_hint)
        for t in schema.tables:
            for lang in ("en", "zh"):
                for w in table_words(t, lang):
                    entries.append((w, t.name, False))
                    if lang == "en":
                        entries.append((plural(w), t.name, False))
            entries.append((humanize(t.name), t.name, False))
            entries.append((plural(humanize(t.name)), t.name, False))
        for tname, fps in distinctive_fields(schema).items():
            for fp in fps:
                entries.append((fp.en, tname, True))
                if fp.zh:
                    entries.append((fp.zh, tname, True))
        # Longest surface first: "contract change record" is not "contract" + rest. A surface
        # two tables share names the first of them (sorted), as one claim per span allows.
        unique = sorted({(s.lower(), tname, hint) for s, tname, hint in entries if s},
                        key=lambda e: (-len(e[0]), e[0], e[1], e[2]))
        self.entries = unique
        self._surface: dict[str, tuple[str, bool]] = {}
        for surface, tname, hint in unique:
            self._surface.setdefault(surface, (tname, hint))
        self._max_words = max((len(_TOKEN.findall(s)) for s in self._surface
                               if not has_cjk(s)), default=1)
        self._max_cjk = max((len(s) for s in self._surface if has_cjk(s)), default=1)
        self._order = {p.id: i for i, p in enumerate(self.paths)}
        self._by_pair: dict[tuple[str, str], list[tuple[LegalPath, frozenset[str]]]] = {}
        for p in self.paths:
            self._by_pair.setdefault((p.anchor, p.target), []).append((p, frozenset(p.tables)))

    def _candidates(self, text: str) -> list[tuple[int, int, str]]:
        """Every (start, end, surface) where a known surface occurs on word boundaries (CJK
        surfaces anywhere): a token index, not one regex per surface."""
        found = []
        spans = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
        for i, (start, _) in enumerate(spans):
            for j in range(i, min(len(spans), i + self._max_words)):
                piece = text[start:spans[j][1]]
                if piece in self._surface:
                    found.append((start, spans[j][1], piece))
        for start, ch in enumerate(text):
            if not _CJK.match(ch):
                continue
            for end in range(start + 1, min(len(text), start + self._max_cjk) + 1):
                piece = text[start:end]
                if piece in self._surface:
                    found.append((start, end, piece))
        return found

    def mentions(self, question: str, masked: Iterable[str] = ()) -> list[tuple[int, str, bool,
                                                                              bool]]:
        """Table mentions in reading order: (position, table, is_field_hint, names_the_anchor).
        The entity and `masked` values are blanked first (names contain table words: "...
        Engineering Ltd.", "...项目"); a mention right before the entity ("contract HT-...",
        "合同“HT-...”") names the anchor."""
        text = question.lower()
        for value in masked:
            if value:
                text = text.replace(str(value).lower(), "\x00")
        found = []
        taken = [False] * len(text)
        # Claim longest surfaces first, then alphabetically, then left to right.
        for start, end, surface in sorted(self._candidates(text),
                                          key=lambda c: (-(c[1] - c[0]), c[2], c[0])):
            if any(taken[start:end]):
                continue
            taken[start:end] = [True] * (end - start)
            tname, hint = self._surface[surface]
            names_anchor = _BEFORE_ENTITY.match(text, end) is not None
            found.append((start, tname, hint, names_anchor))
        return sorted(found)

    def named_tables(self, question: str, masked: Iterable[str] = ()) -> tuple[set, set]:
        found = self.mentions(question, masked)
        return ({t for _, t, hint, _ in found if not hint}, {t for _, t, hint, _ in found if hint})

    def read(self, question: str, entity: str | None,
             masked: Iterable[str] = ()) -> Reading:
        found = self.mentions(question, [entity or "", *masked])
        by_word = {t for _, t, hint, _ in found if not hint}
        by_hint = {t for _, t, hint, _ in found if hint}
        named = by_word | by_hint
        anchors = set(self.entity_tables.get(entity or "", set()))
        if not anchors:  # no known entity: the anchor must be named
            anchors = set(named)
        consistent = sorted((p for a in anchors for t in named
                             for p, tables in self._by_pair.get((a, t), ())
                             if named <= tables), key=lambda p: self._order[p.id])
        if consistent:
            fewest = min(p.n_hops for p in consistent)
            consistent = [p for p in consistent if p.n_hops == fewest]
        if len({p.target for p in consistent}) > 1:
            # Same tables, different target: the asked-for table is the head noun, the first
            # mention in English and the last in Chinese (outside the anchor phrase).
            heads = [t for _, t, _, names_anchor in found if not names_anchor]
            if heads:
                head = heads[-1] if has_cjk(question) else heads[0]
                consistent = [p for p in consistent if p.target == head]
        return Reading(frozenset(by_word), frozenset(by_hint), frozenset(anchors),
                       tuple(consistent))
