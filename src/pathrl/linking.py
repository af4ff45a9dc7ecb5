"""Schema linking: which tables a question names, by their words, their columns or their values.

Text-to-SQL systems call this schema linking; it is the strongest evidence a router has, and it
carries to schemas it was never trained on. For every table, `SchemaLinker.link(question)` says
whether the question names it (a table word: its humanised name, singular or plural, or a
synonym), names one of its columns ("salary" lives in `payroll`), or contains one of its values
(value retrieval: "Nairobi", "George Novak", "HT-2021-014" are looked up in the database). The
values found also become a short hint appended to the question ("Riyadh Railway = project
name"), so an encoder sees which table holds them.

Matching is case-insensitive, on word boundaries for Latin text and on substrings for Chinese;
all words of a schema go into one compiled alternation, so a 200-table schema costs one regex
search per question, not one per word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pathrl.naming import column_phrase, humanize, plural, table_noun
from pathrl.schema import Schema, Table

LINK_FEATURES = ("table_word", "column_word", "value")
_TABLE_WORD, _COLUMN_WORD, _VALUE = range(len(LINK_FEATURES))
_MAX_VALUES_PER_COLUMN = 2000
_MIN_VALUE_CHARS = 3
_CJK = re.compile(r"[\u3400-\u9fff]")
# Column words too generic to name a table by ("name" is in every other table).
_GENERIC_COLUMN_WORDS = frozenset({
    "id", "name", "code", "title", "type", "status", "date", "time", "description", "notes",
    "note", "number", "no", "value", "created", "updated", "created at", "updated at"})


@dataclass(frozen=True)
class ValueMention:
    """A value of the database found in a question."""

    text: str
    table: str
    column: str


@dataclass(frozen=True)
class Mention:
    """One thing the question names: a table word, a column word or a value, and every table
    it may refer to ("allergy" is a column of both has_allergy and allergy_type; "Cat" is a
    value of both). A route covers the mention when it passes through any of them."""

    feature: int  # index into LINK_FEATURES
    tables: frozenset[int]
    start: int = -1  # character offset of its first occurrence in the question (-1: unknown)


@dataclass(frozen=True)
class Links:
    """What a question names, per table index of the linker (`tables` order)."""

    table_word: frozenset[int]
    column_word: frozenset[int]
    values: tuple[ValueMention, ...]
    mentions: tuple[Mention, ...] = ()

    def value_tables(self, tables: Sequence[str]) -> frozenset[int]:
        index = {t: i for i, t in enumerate(tables)}
        return frozenset(index[v.table] for v in self.values if v.table in index)


def _pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    """One alternation, longest words first, word boundaries around Latin words."""
    unique = sorted({w.casefold() for w in words if w.strip()}, key=lambda w: (-len(w), w))
    if not unique:
        return None
    # `\w` matches CJK characters too: "Jakarta Bridge的质检" must still match "Jakarta Bridge"
    # (Chinese text puts no space between a Latin name and the next word).
    latin = r"[^\W\u3400-\u9fff]"
    parts = [re.escape(w) if _CJK.search(w) else rf"(?<!{latin}){re.escape(w)}(?!{latin})"
             for w in unique]
    return re.compile("|".join(parts))


def table_words(table: Table) -> set[str]:
    """The words a question may name a table by (English forms from the identifier, and every
    synonym the schema gives, in any language)."""
    noun = table_noun(table.name)
    found = {noun, plural(noun), humanize(table.name)}
    if noun[-1:].isalpha() and not noun.endswith(("s", "x", "z", "ch", "sh")):
        found.add(f"{noun}s")  # what people write beside the dictionary's: "aircrafts", "staffs"
    head, of, _ = noun.partition(" of ")
    if of and head not in _GENERIC_COLUMN_WORDS:  # member_of_club: "the members"
        found.update({head, plural(head)})
    for syn in (*table.synonyms_en, *table.synonyms_zh):
        found.add(syn)
        if not _CJK.search(syn):
            found.add(plural(syn))
    return {w for w in found if len(w) >= 2}


def column_phrases(table: Table) -> set[str]:
    """Phrases of the table's own columns (keys, foreign keys and generic words left out):
    what the path scorer reads of a table beside its noun."""
    return {phrase for f in table.fields
            if f.name != table.key and not f.name.lower().endswith("_id")
            and (phrase := column_phrase(f.name, table.name)) not in _GENERIC_COLUMN_WORDS
            and len(phrase) >= 3}


def column_words(table: Table) -> set[str]:
    """The words a question may name one of the table's columns by: its column phrases,
    singular and plural ("salary", "salaries"), and a natural text key ("Allergy" of
    allergy_type names allergies; an id-like or numeric key names nothing)."""
    phrases = column_phrases(table)
    key = table.field(table.key) if table.key in table.field_names else None
    if key is not None and key.type == "str" and not key.name.lower().endswith("id"):
        phrase = column_phrase(key.name, table.name)
        if phrase not in _GENERIC_COLUMN_WORDS and len(phrase) >= 3:
            phrases.add(phrase)
    return phrases | {plural(p) for p in phrases if p[-1:].isalpha()}


class SchemaLinker:
    """Links questions to the tables of one schema (and, given a database, to its values)."""

    def __init__(self, schema: Schema, database=None,
                 max_values_per_column: int = _MAX_VALUES_PER_COLUMN):
        self.schema = schema
        self.tables = list(schema.table_names)
        self._table_index = {t: i for i, t in enumerate(self.tables)}
        self._word_tables: dict[str, set[int]] = {}
        self._column_tables: dict[str, set[int]] = {}
        for i, table in enumerate(schema.tables):
            for w in table_words(table):
                self._word_tables.setdefault(w.casefold(), set()).add(i)
            for w in column_words(table):
                self._column_tables.setdefault(w.casefold(), set()).add(i)
        # A table whose foreign key holds another table's name (its display field or a text
        # "...name" key: instructor.dept_name -> department.dept_name) covers a mention of
        # that table without the join: "instructors in the Physics department" is a filter on
        # instructor alone.
        self._named_by_key: dict[int, set[int]] = {}
        for rel in schema.relations:
            referenced = schema.table(rel.to_table)
            names_it = rel.to_field == referenced.display or "name" in rel.to_field.lower()
            if (rel.from_table != rel.to_table and names_it
                    and referenced.field(rel.to_field).type == "str"
                    and not rel.to_field.lower().endswith("id")):
                self._named_by_key.setdefault(self._table_index[rel.to_table], set()).add(
                    self._table_index[rel.from_table])
        self._word_re = _pattern(self._word_tables)
        self._column_re = _pattern(self._column_tables)
        self._values: dict[str, list[tuple[str, str, str]]] = {}
        if database is not None:
            self._index_values(database, max_values_per_column)
        self._value_re = _pattern(self._values)

    def _index_values(self, database, limit: int) -> None:
        from pathrl.data.entities import distinct_values

        for table in self.schema.tables:
            for f in table.fields:
                if f.type != "str" or f.name == table.key or f.name.lower().endswith("_id"):
                    continue
                values = distinct_values(database, table.name, f.name)[:limit]
                for v in values:
                    if len(v) >= _MIN_VALUE_CHARS and not v.isdigit():
                        self._values.setdefault(v.casefold(), []).append((v, table.name, f.name))

    @property
    def has_values(self) -> bool:
        return bool(self._values)

    @staticmethod
    def _spans(pattern: re.Pattern[str] | None, text: str) -> list[tuple[int, int, str]]:
        return [] if pattern is None else [(m.start(), m.end(), m.group(0))
                                           for m in pattern.finditer(text)]

    def link(self, question: str) -> Links:
        folded = question.casefold()
        values: list[ValueMention] = []
        taken: list[tuple[int, int]] = []
        value_spans = self._spans(self._value_re, folded)
        for start, end, text in value_spans:
            taken.append((start, end))
            for original, table, column in self._values[text]:
                values.append(ValueMention(original, table, column))

        def free(start: int, end: int) -> bool:  # a word inside a value is no table word
            return not any(s < end and start < e for s, e in taken)

        word_spans = [(s, t) for s, e, t in self._spans(self._word_re, folded) if free(s, e)]
        column_spans = [(s, t) for s, e, t in self._spans(self._column_re, folded)
                        if free(s, e)]
        # First offset of each (feature, tables) mention: mentions come out in question order,
        # which the path scorer compares with a path's order of tables.
        found: dict[tuple[int, frozenset[int]], int] = {}
        for s, t in word_spans:
            named = self._word_tables[t]
            covering = named.union(*(self._named_by_key.get(i, ()) for i in named))
            found.setdefault((_TABLE_WORD, frozenset(covering)), s)
        for s, t in column_spans:
            found.setdefault((_COLUMN_WORD, frozenset(self._column_tables[t])), s)
        for s, _, text in value_spans:
            holders = frozenset(self._table_index[table] for _, table, _ in self._values[text])
            found.setdefault((_VALUE, holders), s)
        mentions = sorted((Mention(f, tables, s) for (f, tables), s in found.items()),
                          key=lambda m: m.start)
        return Links(frozenset(i for _, t in word_spans for i in self._word_tables[t]),
                     frozenset(i for _, t in column_spans for i in self._column_tables[t]),
                     tuple(values), tuple(mentions))

    def hint(self, links: Links, max_values: int = 4) -> str:
        """"Riyadh Railway = project name; ..." for the values found (empty when none)."""
        seen, parts = set(), []
        for v in links.values:
            key = (v.text, v.table, v.column)
            if key in seen:
                continue
            seen.add(key)
            parts.append(f"{v.text} = {table_noun(v.table)} {column_phrase(v.column, v.table)}")
            if len(parts) == max_values:
                break
        return "; ".join(parts)

    def augment(self, question: str) -> tuple[str, Links]:
        """The question with its value hint appended, and its links."""
        links = self.link(question)
        hint = self.hint(links)
        return (f"{question} | {hint}" if hint else question), links

    def feature_rows(self, links: Links) -> list[tuple[float, float, float]]:
        """Per table: (named by a table word, by a column word, holds a value of the question)."""
        value_tables = links.value_tables(self.tables)
        return [(float(i in links.table_word), float(i in links.column_word),
                 float(i in value_tables)) for i in range(len(self.tables))]
