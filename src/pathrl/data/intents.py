"""Questions as people ask them, for any legal path, from the schema and its data alone.

Real questions aggregate ("How many employees does each department have?"), filter on
attribute values ("products priced above 100"), rank ("the car with the lowest mpg"), name a
column instead of a table ("salary of George Novak") and often name no row at all. For each
legal path `UsageQuestions.candidates` writes such questions in English and Chinese, labelled by
construction with the route convention of docs/dataset.md (target = the rows listed, counted or
ranked; anchor = the table of the condition, the grouping key or the named row; anchor = target
when the condition is on the target or there is none):

  single-table paths (anchor = target): count, list (a column of every row), filter_text,
      filter_number, filter_date, group_count (by a column), superlative (max/min of a
      column), aggregate (average/total/maximum), exists, lookup (a named row, a column of it)
  join paths: group_count ("... does each <anchor> have"), superlative by a count over the
      anchor ("Which <target> has the most <anchors>?", one hop), count / exists / aggregate
      for a named anchor row, a column of the target for a named row (column mention, one
      hop), and target rows of anchors filtered on an anchor attribute ("contracts of
      projects in Indonesia").

Values are real: categorical text, numbers and days read from the database (`profile`), named
rows from any name-like text column, and every condition along a join is one whose anchor value
reaches rows. Words come from the schema's synonyms when it has them, else from the table and
column names (`pathrl.naming`); Chinese uses the synonyms, else the built-in dictionary
(`zh_words`), else the English word inside the Chinese sentence (code-mixing).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from pathrl import naming
from pathrl.data.entities import EntityFiller
from pathrl.data.example import Condition
from pathrl.data.lexicon import additive, field_phrase, table_words
from pathrl.data.profile import ColumnProfile, TableProfile
from pathrl.data.zh_words import zh_phrase
from pathrl.paths import LegalPath
from pathrl.schema import Schema, Table

USAGE_INTENTS = ("count", "list", "filter_text", "filter_number", "filter_date", "group_count",
                 "superlative", "aggregate", "exists", "lookup")
_VALUE_FIRST = "\x03"  # marks a sentence that starts with a value: no capital letter
_PLACE_WORDS = {"country", "city", "region", "state", "province", "location", "area", "zone"}


@dataclass(frozen=True)
class UsageQuestion:
    """A written question with its label parts: the intent, the value it names, a Filter dict
    and an optional attribute condition."""

    text: str
    lang: str
    intent: str
    wording: str  # precise: every table of the path named by a word; fuzzy otherwise
    entity: str = ""
    filter: dict[str, Any] = field(default_factory=dict)
    condition: Condition | None = None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}".rstrip("0")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].isascii() else text


def zh_tidy(text: str) -> str:
    """English words inside Chinese: one space around them, none before Chinese punctuation."""
    text = re.sub(r"(?<=[\u3400-\u9fff])(?=[A-Za-z])|(?<=[A-Za-z])(?=[\u3400-\u9fff])", " ",
                  text)
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"\s+(?=[？，。、：])", "", text)


def _no_filter(entity: str | None = None, date_from: str | None = None,
               date_to: str | None = None) -> dict[str, Any]:
    return {"entity": entity, "date_from": date_from, "date_to": date_to}


class _Words:
    """Nouns and column phrases of one table, per language."""

    def __init__(self, table: Table):
        self.table = table
        self.en = list(table_words(table, "en"))
        self.zh = list(table_words(table, "zh"))
        self._columns: dict[tuple[str, str], str] = {}

    def noun(self, lang: str, rng: random.Random) -> str:
        words = self.zh if lang == "zh" else self.en
        return words[0] if len(words) == 1 or rng.random() < 0.6 else rng.choice(words)

    def nouns(self, lang: str, rng: random.Random) -> str:
        word = self.noun(lang, rng)
        return word if lang == "zh" else naming.plural(word)

    def summable(self, column: str) -> bool:
        key = (column, "+")
        if key not in self._columns:
            self._columns[key] = "y" if additive(field_phrase(
                self.table, self.table.field(column))) else ""
        return bool(self._columns[key])

    def column(self, column: str, lang: str) -> str:
        key = (column, lang)
        if key not in self._columns:
            self._columns[key] = self._column(column, lang)
        return self._columns[key]

    def _column(self, column: str, lang: str) -> str:
        fp = field_phrase(self.table, self.table.field(column))
        f = self.table.field(column)
        en = fp.en if f.description.strip() else naming.column_phrase(column, self.table.name)
        if f.type in ("date", "datetime") and en.endswith((" at", " on")):
            en = en[:-3] + " date"  # "placed_at" -> "placed date": "orders with a placed date"
        if lang == "zh":
            return fp.zh or zh_phrase(en) or en
        return en


class UsageQuestions:
    """Writes usage questions for legal paths (see module doc)."""

    def __init__(self, schema: Schema, profiles: dict[str, TableProfile], filler: EntityFiller,
                 reachable_values: Callable[[LegalPath, str], list[str]] | None = None):
        self.schema = schema
        self.profiles = profiles
        self.filler = filler
        self.reachable_values = reachable_values
        self.words = {t.name: _Words(t) for t in schema.tables}
        self._tables = {t.name: t for t in schema.tables}
        self._column_owners: dict[str, set[str]] = {}
        for t in schema.tables:
            for f in t.fields:
                self._column_owners.setdefault(self.words[t.name].column(f.name, "en"),
                                               set()).add(t.name)

    # -- what a table offers ------------------------------------------------------------------

    def _t(self, name: str) -> Table:
        return self._tables[name]  # Schema.table() scans: too slow for 15k paths
    def _columns(self, table: str, kind: str) -> list[ColumnProfile]:
        prof = self.profiles[table]
        return [c for c in prof.of_kind(kind)
                if c.name != prof.display or kind != "text"]

    def _categorical(self, table: str) -> list[ColumnProfile]:
        return [c for c in self._columns(table, "text") if c.categorical]

    def _numbers(self, table: str) -> list[ColumnProfile]:
        return [c for c in self._columns(table, "number") if c.n_distinct >= 2]

    def _dates(self, table: str) -> list[ColumnProfile]:
        return [c for c in self._columns(table, "date") if c.n_distinct >= 2]

    def _name_columns(self, table: str) -> list[ColumnProfile]:
        """Columns whose values name rows: the display field first, then other name-like text."""
        prof = self.profiles[table]
        out = [prof.columns[prof.display]] if prof.columns[prof.display].values and \
            prof.columns[prof.display].kind == "text" else []
        return out + [c for c in prof.of_kind("text") if c.name_like and c.name != prof.display]

    def _entity_filter(self, table: str, column: str, value: str
                       ) -> tuple[dict[str, Any], Condition | None]:
        """A named row: Filter.entity when the column is the schema's display field (what the
        query side matches), else an equality condition."""
        if column == self._t(table).display:
            return _no_filter(entity=value), None
        return _no_filter(), Condition(table, column, "eq", value)

    # -- entry point --------------------------------------------------------------------------
    def candidates(self, path: LegalPath, lang: str, rng: random.Random,
                   rounds: int = 6) -> Iterator[UsageQuestion]:
        """Usage questions for `path` in `lang`, written lazily: each round asks every intent
        writer (in a shuffled order) for one question, so intents interleave and a path that
        needs one question costs one. Stops after `rounds` rounds or a round that writes
        nothing."""
        writers = (self._single_table_writers() if path.is_single_table
                   else self._join_writers(path))
        writers = list(writers)
        rng.shuffle(writers)
        for _ in range(rounds):
            wrote = False
            for _intent, writer in writers:
                made = writer(path, lang, rng)
                if made is not None:
                    wrote = True
                    yield made
            if not wrote:
                return

    def _single_table_writers(self) -> list[tuple[str, Callable]]:
        return [("count", self._count), ("list", self._list), ("filter_text", self._filter_text),
                ("filter_number", self._filter_number), ("filter_date", self._filter_date),
                ("group_count", self._group_count), ("superlative", self._superlative),
                ("aggregate", self._aggregate), ("exists", self._exists),
                ("lookup", self._lookup_row)]

    def _join_writers(self, path: LegalPath) -> list[tuple[str, Callable]]:
        out = [("group_count", self._group_by_anchor), ("count", self._count_of_entity),
               ("exists", self._exists_for_entity), ("aggregate", self._aggregate_of_entity),
               ("filter_text", self._filter_on_anchor)]
        out += [("superlative", self._most_by_count), ("filter_number", self._number_on_anchor)]
        if path.n_hops == 1:
            out.append(("lookup", self._column_of_entity))
        return out

    # -- single-table -------------------------------------------------------------------------
    def _count(self, path: LegalPath, lang: str, rng: random.Random) -> UsageQuestion:
        w = self.words[path.target]
        n = w.nouns(lang, rng)
        if lang == "zh":
            text = rng.choice([f"{n}有多少个？", f"一共有多少{n}？", f"统计{n}的数量",
                               f"我们有几个{n}？"])
        else:
            text = rng.choice([f"How many {n} are there?", f"How many {n} do we have?",
                               f"What is the total number of {n}?", f"Count the {n}.",
                               f"number of {n}?"])
        return UsageQuestion(_fix(text, lang), lang, "count", "precise", "", _no_filter())

    def _list(self, path: LegalPath, lang: str, rng: random.Random) -> UsageQuestion | None:
        w = self.words[path.target]
        cols = [c for c in self.profiles[path.target].columns.values()
                if c.kind in ("text", "number", "date")]
        if not cols:
            return None
        c = w.column(rng.choice(cols).name, lang)
        n = w.nouns(lang, rng)
        if lang == "zh":
            text = rng.choice([f"列出所有{n}的{c}", f"所有{n}的{c}是什么？", f"查看每个{n}的{c}"])
        else:
            text = rng.choice([f"List the {naming.plural(c)} of all {n}.",
                               f"Show the {c} of every {w.noun(lang, rng)}.",
                               f"What are the {naming.plural(c)} of the {n}?"])
        return UsageQuestion(_fix(text, lang), lang, "list", "precise", "", _no_filter())

    def _filter_text(self, path: LegalPath, lang: str, rng: random.Random
                     ) -> UsageQuestion | None:
        cols = self._categorical(path.target)
        if not cols:
            return None
        col = rng.choice(cols)
        value = rng.choice(col.values)
        w = self.words[path.target]
        c, n = w.column(col.name, lang), w.nouns(lang, rng)
        if lang == "zh":
            text = rng.choice([f"{c}是{value}的{n}有哪些？", f"列出{c}为{value}的{n}",
                               f"查询{c}为“{value}”的{n}"])
        else:
            options = [f"Which {n} have {c} {value}?", f"List the {n} whose {c} is {value}.",
                       f'Show {n} with {c} "{value}".']
            if set(naming.words(col.name)) & _PLACE_WORDS:
                options.append(f"{n} in {value}")
            text = rng.choice(options)
        flt, cond = self._entity_filter(path.target, col.name, value)
        return UsageQuestion(_fix(text, lang), lang, "filter_text", "precise", value, flt,
                             cond or Condition(path.target, col.name, "eq", value))

    def _filter_number(self, path: LegalPath, lang: str, rng: random.Random
                       ) -> UsageQuestion | None:
        cols = self._numbers(path.target)
        if not cols:
            return None
        col = rng.choice(cols)
        w = self.words[path.target]
        c, n = w.column(col.name, lang), w.nouns(lang, rng)
        vals = col.values
        op = rng.choice(["gt", "lt", "between"] if len(vals) >= 3 else ["gt", "lt"])
        if op == "gt":
            v = rng.choice(vals[:-1])  # the maximum is above it: rows exist
            cond, shown = Condition(path.target, col.name, "gt", v), _num(v)
            text = (rng.choice([f"{c}大于{shown}的{n}有哪些？", f"{c}超过{shown}的{n}"])
                    if lang == "zh" else
                    rng.choice([f"Which {n} have a {c} above {shown}?",
                                f"List {n} with {c} greater than {shown}.",
                                f"{n} with {c} over {shown}"]))
        elif op == "lt":
            v = rng.choice(vals[1:])
            cond, shown = Condition(path.target, col.name, "lt", v), _num(v)
            text = (rng.choice([f"{c}小于{shown}的{n}有哪些？", f"{c}低于{shown}的{n}"])
                    if lang == "zh" else
                    rng.choice([f"Show {n} whose {c} is below {shown}.",
                                f"Which {n} have a {c} less than {shown}?",
                                f"{n} with {c} under {shown}"]))
        else:
            lo, hi = sorted(rng.sample(vals, 2))
            cond, shown = Condition(path.target, col.name, "between", lo, hi), _num(lo)
            text = (f"{c}在{_num(lo)}到{_num(hi)}之间的{n}有哪些？" if lang == "zh" else
                    rng.choice([f"Which {n} have a {c} between {_num(lo)} and {_num(hi)}?",
                                f"List {n} with {c} from {_num(lo)} to {_num(hi)}."]))
        return UsageQuestion(_fix(text, lang), lang, "filter_number", "precise", shown,
                             _no_filter(), cond)

    def _filter_date(self, path: LegalPath, lang: str, rng: random.Random
                     ) -> UsageQuestion | None:
        cols = self._dates(path.target)
        if not cols:
            return None
        col = rng.choice(cols)
        w = self.words[path.target]
        c, n = w.column(col.name, lang), w.nouns(lang, rng)
        vals = col.values
        op = rng.choice(["before", "after", "year"])
        is_time = col.name == self._t(path.target).time_field
        if op == "before":
            day = rng.choice(vals[1:])
            cond = Condition(path.target, col.name, "before", day)
            flt = _no_filter(date_to=(date.fromisoformat(day) - timedelta(days=1)).isoformat())
            shown = day
            text = (rng.choice([f"{c}在{day}之前的{n}有哪些？", f"{c}早于{day}的{n}"])
                    if lang == "zh" else
                    rng.choice([f"Which {n} have a {c} before {day}?",
                                f"List {n} with {c} earlier than {day}."]))
        elif op == "after":
            day = rng.choice(vals[:-1])
            cond = Condition(path.target, col.name, "after", day)
            flt = _no_filter(date_from=(date.fromisoformat(day) + timedelta(days=1)).isoformat())
            shown = day
            text = (rng.choice([f"{c}在{day}之后的{n}有哪些？", f"{c}晚于{day}的{n}"])
                    if lang == "zh" else
                    rng.choice([f"List {n} with {c} after {day}.",
                                f"Which {n} have a {c} later than {day}?"]))
        else:
            year = rng.choice(vals)[:4]
            cond = Condition(path.target, col.name, "year", year)
            flt = _no_filter(date_from=f"{year}-01-01", date_to=f"{year}-12-31")
            shown = year
            text = (rng.choice([f"{c}在{year}年的{n}有哪些？", f"{year}年{c}的{n}"])
                    if lang == "zh" else
                    rng.choice([f"Which {n} have a {c} in {year}?",
                                f"Show {n} with {c} in {year}."]))
        if not is_time:  # Filter dates apply to the time field only
            flt = _no_filter()
        return UsageQuestion(_fix(text, lang), lang, "filter_date", "precise", shown, flt, cond)

    def _group_count(self, path: LegalPath, lang: str, rng: random.Random
                     ) -> UsageQuestion | None:
        cols = self._categorical(path.target)
        if not cols:
            return None
        w = self.words[path.target]
        c, n = w.column(rng.choice(cols).name, lang), w.nouns(lang, rng)
        text = (rng.choice([f"每个{c}有多少{n}？", f"按{c}统计{n}的数量"]) if lang == "zh" else
                rng.choice([f"How many {n} are there per {c}?", f"Count the {n} by {c}.",
                            f"What is the number of {n} for each {c}?"]))
        return UsageQuestion(_fix(text, lang), lang, "group_count", "precise", "", _no_filter())

    def _superlative(self, path: LegalPath, lang: str, rng: random.Random
                     ) -> UsageQuestion | None:
        cols = self._numbers(path.target) + self._dates(path.target)
        if not cols:
            return None
        col = rng.choice(cols)
        w = self.words[path.target]
        c, one = w.column(col.name, lang), w.noun(lang, rng)
        high = rng.random() < 0.5
        if col.kind == "date":
            word = ("最晚" if high else "最早") if lang == "zh" else ("latest" if high
                                                                    else "earliest")
        else:
            word = ("最高" if high else "最低") if lang == "zh" else rng.choice(
                ["highest", "largest"] if high else ["lowest", "smallest"])
        text = (rng.choice([f"{c}{word}的{one}是哪个？", f"哪个{one}的{c}{word}？"])
                if lang == "zh" else
                rng.choice([f"Which {one} has the {word} {c}?", f"the {one} with the {word} {c}",
                            f"What is the {one} with the {word} {c}?"]))
        return UsageQuestion(_fix(text, lang), lang, "superlative", "precise", "", _no_filter())

    def _aggregate(self, path: LegalPath, lang: str, rng: random.Random
                   ) -> UsageQuestion | None:
        cols = self._numbers(path.target)
        if not cols:
            return None
        col = rng.choice(cols)
        w = self.words[path.target]
        c, n = w.column(col.name, lang), w.nouns(lang, rng)
        summable = w.summable(col.name)
        kinds = ["avg", "max"] + (["sum"] if summable else [])
        kind = rng.choice(kinds)
        if lang == "zh":
            text = {"avg": f"{n}的平均{c}是多少？", "max": f"{n}的最大{c}是多少？",
                    "sum": f"所有{n}的{c}总和是多少？"}[kind]
        else:
            text = rng.choice({
                "avg": [f"What is the average {c} of all {n}?", f"average {c} of the {n}?"],
                "max": [f"What is the maximum {c} among the {n}?"],
                "sum": [f"What is the total {c} of all {n}?", f"Sum the {c} of the {n}."],
            }[kind])
        return UsageQuestion(_fix(text, lang), lang, "aggregate", "precise", "", _no_filter())

    def _exists(self, path: LegalPath, lang: str, rng: random.Random) -> UsageQuestion | None:
        cols = self._categorical(path.target)
        if not cols:
            return None
        col = rng.choice(cols)
        value = rng.choice(col.values)
        w = self.words[path.target]
        c, one, n = w.column(col.name, lang), w.noun(lang, rng), w.nouns(lang, rng)
        text = (rng.choice([f"有没有{c}是{value}的{one}？", f"是否存在{c}为{value}的{one}？"])
                if lang == "zh" else
                rng.choice([f"Is there any {one} with {c} {value}?",
                            f"Do we have any {n} whose {c} is {value}?",
                            f"Are there {n} with {c} {value}?"]))
        return UsageQuestion(_fix(text, lang), lang, "exists", "precise", value, _no_filter(),
                             Condition(path.target, col.name, "eq", value))

    def _lookup_row(self, path: LegalPath, lang: str, rng: random.Random
                    ) -> UsageQuestion | None:
        """A named row of the table (by any name-like column) or one of its columns."""
        names = self._name_columns(path.target)
        if not names:
            return None
        name_col = rng.choice(names)
        value = rng.choice(name_col.values)
        w = self.words[path.target]
        one = w.noun(lang, rng)
        others = [c for c in self.profiles[path.target].columns.values()
                  if c.kind in ("text", "number", "date") and c.name != name_col.name]
        flt, cond = self._entity_filter(path.target, name_col.name, value)
        if others and rng.random() < 0.7:
            c = w.column(rng.choice(others).name, lang)
            named = rng.random() < 0.5
            if lang == "zh":
                text = f"{one}{value}的{c}是什么？" if named else f"{value}的{c}是多少？"
            else:
                text = (rng.choice([f"What is the {c} of {one} {value}?",
                                    f"Show the {c} of the {one} {value}."]) if named else
                        rng.choice([f"What is the {c} of {value}?",
                                    f"{_VALUE_FIRST}{value}'s {c}?"]))
            wording = "precise" if named else "fuzzy"
        else:
            text = (rng.choice([f"查询{one}{value}", f"{one}“{value}”的信息"]) if lang == "zh" else
                    rng.choice([f"Show the {one} {value}.", f"Find {one} {value}.",
                                f"Look up the {one} named {value}."]))
            wording = "precise"
        return UsageQuestion(_fix(text, lang), lang, "lookup", wording, value, flt, cond)

    # -- join paths ---------------------------------------------------------------------------
    def _via_phrase(self, path: LegalPath, lang: str, rng: random.Random) -> str:
        """The bridge tables as a chain: "合同的付款" (anchor side first), "payments of the
        contracts" (nearest the target first)."""
        words = [self.words[v].nouns(lang, rng) for v in path.via]
        return "的".join(words) if lang == "zh" else " of the ".join(reversed(words))

    @staticmethod
    def _fans_out(path: LegalPath) -> bool:
        """Several target rows per anchor row (a backward hop on the way)."""
        return any(not h.forward for h in path.hops)

    def _group_by_anchor(self, path: LegalPath, lang: str, rng: random.Random
                         ) -> UsageQuestion | None:
        if not self._fans_out(path) or not self.filler.has_rows(path):
            return None
        a = self.words[path.anchor].noun(lang, rng)
        t = self.words[path.target].nouns(lang, rng)
        if path.via:
            v = self._via_phrase(path, lang, rng)
            text = (rng.choice([f"每个{a}的{v}共有多少{t}？", f"按{a}统计其{v}的{t}数量"])
                    if lang == "zh" else
                    rng.choice([f"For each {a}, how many {t} are there across the {v}?",
                                f"Count the {t} of the {v} per {a}."]))
        else:
            text = (rng.choice([f"每个{a}有多少{t}？", f"按{a}统计{t}的数量"]) if lang == "zh" else
                    rng.choice([f"How many {t} does each {a} have?", f"Count the {t} per {a}.",
                                f"What is the number of {t} for each {a}?"]))
        return UsageQuestion(_fix(text, lang), lang, "group_count", "precise", "", _no_filter())

    def _most_by_count(self, path: LegalPath, lang: str, rng: random.Random
                       ) -> UsageQuestion | None:
        """"Which customer placed the most orders?": the counted table is the anchor (many
        anchor rows per target row: every hop follows a foreign key)."""
        if self._fans_out(path) or not self.filler.has_rows(path):
            return None
        counted = self.words[path.anchor].nouns(lang, rng)
        ranked = self.words[path.target].noun(lang, rng)
        most = rng.random() < 0.7
        if path.via:
            v = self._via_phrase(path, lang, rng)
            if lang == "zh":
                text = f"哪个{ranked}的{v}的{counted}{'最多' if most else '最少'}？"
            else:
                word = "most" if most else "fewest"
                text = f"Which {ranked} has the {word} {counted} across its {v}?"
        elif lang == "zh":
            text = rng.choice([f"哪个{ranked}的{counted}{'最多' if most else '最少'}？",
                               f"{counted}{'最多' if most else '最少'}的{ranked}是哪个？"])
        else:
            word = "most" if most else "fewest"
            text = rng.choice([f"Which {ranked} has the {word} {counted}?",
                               f"the {ranked} with the {word} {counted}",
                               f"Which {ranked} has {'the most' if most else 'the fewest'} "
                               f"{counted} linked to it?"])
        return UsageQuestion(_fix(text, lang), lang, "superlative", "precise", "", _no_filter())

    def _number_on_anchor(self, path: LegalPath, lang: str, rng: random.Random
                          ) -> UsageQuestion | None:
        """"Car makers of the cars with mpg above 30": a numeric anchor condition whose rows
        reach the target (a threshold below the largest such value)."""
        cols = self._numbers(path.anchor)
        if not cols or self.reachable_values is None:
            return None
        col = rng.choice(cols)
        values = sorted({n for n in (_float(v) for v in self.reachable_values(path, col.name))
                         if n is not None})
        if len(values) < 2:
            return None
        v = rng.choice(values[:-1])
        wa = self.words[path.anchor]
        c, a = wa.column(col.name, lang), wa.nouns(lang, rng)
        t = self.words[path.target].nouns(lang, rng)
        chain = f"{self._via_phrase(path, lang, rng)}的" if path.via and lang == "zh" else ""
        if lang == "zh":
            text = f"{c}大于{_num(v)}的{a}的{chain}{t}有哪些？"
        elif path.via:
            text = (f"List the {t} of the {self._via_phrase(path, lang, rng)} of {a} with "
                    f"{c} above {_num(v)}.")
        else:
            text = rng.choice([f"Which {t} have {a} with {c} above {_num(v)}?",
                               f"List the {t} of {a} whose {c} is greater than {_num(v)}."])
        return UsageQuestion(_fix(text, lang), lang, "filter_number", "precise", _num(v),
                             _no_filter(), Condition(path.anchor, col.name, "gt", v))

    def _named_anchor(self, path: LegalPath, rng: random.Random) -> tuple[str, str] | None:
        """(value, column) of an anchor row with rows along the path: mostly by the display
        field, sometimes by another name-like text column ("employee by email")."""
        display = self.filler.display[path.anchor]
        others = [c for c in self._name_columns(path.anchor) if c.name != display]
        if others and self.reachable_values is not None and rng.random() < 0.25:
            col = rng.choice(others)
            values = self.reachable_values(path, col.name)
            if values:
                return rng.choice(values), col.name
        pool = self.filler.reachable_entities(path)
        return (rng.choice(pool), display) if pool else None

    def _entity_parts(self, path: LegalPath, named: tuple[str, str]
                      ) -> tuple[dict, Condition | None]:
        return self._entity_filter(path.anchor, named[1], named[0])

    def _count_of_entity(self, path: LegalPath, lang: str, rng: random.Random
                         ) -> UsageQuestion | None:
        named = self._named_anchor(path, rng)
        if named is None:
            return None
        e = named[0]
        a = self.words[path.anchor].noun(lang, rng)
        t = self.words[path.target].nouns(lang, rng)
        with_word = rng.random() < 0.6 or bool(path.via)
        if path.via:
            v = self._via_phrase(path, lang, rng)
            text = (f"{a}{e}的{v}有多少{t}？" if lang == "zh" else
                    rng.choice([f"How many {t} are there for the {v} of {a} {e}?",
                                f"Count the {t} of the {v} of {a} {e}."]))
        elif lang == "zh":
            text = f"{a}{e}有多少{t}？" if with_word else f"{e}有多少{t}？"
        else:
            text = (rng.choice([f"How many {t} does {a} {e} have?",
                                f"Count the {t} of {a} {e}."]) if with_word else
                    rng.choice([f"How many {t} does {e} have?", f"How many {t} for {e}?"]))
        flt, cond = self._entity_parts(path, named)
        return UsageQuestion(_fix(text, lang), lang, "count", "precise" if with_word else "fuzzy",
                             e, flt, cond)

    def _exists_for_entity(self, path: LegalPath, lang: str, rng: random.Random
                           ) -> UsageQuestion | None:
        named = self._named_anchor(path, rng)
        if named is None:
            return None
        e = named[0]
        a = self.words[path.anchor].noun(lang, rng)
        t = self.words[path.target].nouns(lang, rng)
        if path.via:
            v = self._via_phrase(path, lang, rng)
            text = (f"{a}{e}的{v}有没有{t}？" if lang == "zh" else
                    f"Do the {v} of {a} {e} have any {t}?")
        else:
            text = (rng.choice([f"{a}{e}有没有{t}？", f"{a}{e}是否有{t}？"]) if lang == "zh" else
                    rng.choice([f"Does {a} {e} have any {t}?",
                                f"Are there any {t} for {a} {e}?"]))
        flt, cond = self._entity_parts(path, named)
        return UsageQuestion(_fix(text, lang), lang, "exists", "precise", e, flt, cond)

    def _aggregate_of_entity(self, path: LegalPath, lang: str, rng: random.Random
                             ) -> UsageQuestion | None:
        cols = self._numbers(path.target)
        named = self._named_anchor(path, rng) if cols else None
        if named is None:
            return None
        e = named[0]
        col = rng.choice(cols)
        w = self.words[path.target]
        c, t = w.column(col.name, lang), w.nouns(lang, rng)
        a = self.words[path.anchor].noun(lang, rng)
        summable = w.summable(col.name)
        kind = "total" if summable and rng.random() < 0.6 else "average"
        if path.via:
            v = self._via_phrase(path, lang, rng)
            text = (f"{a}{e}的{v}的{t}的{'总' if kind == 'total' else '平均'}{c}是多少？"
                    if lang == "zh" else
                    f"What is the {kind} {c} of the {t} of the {v} of {a} {e}?")
        elif lang == "zh":
            text = f"{a}{e}的{t}的{'总' if kind == 'total' else '平均'}{c}是多少？"
        else:
            text = rng.choice([f"What is the {kind} {c} of the {t} of {a} {e}?",
                               f"{kind} {c} of {a} {e}'s {t}?"])
        flt, cond = self._entity_parts(path, named)
        return UsageQuestion(_fix(text, lang), lang, "aggregate", "precise", e, flt, cond)

    def _column_of_entity(self, path: LegalPath, lang: str, rng: random.Random
                          ) -> UsageQuestion | None:
        """"What is the salary of George Novak?": the column names the target table."""
        target_cols = [c for c in self.profiles[path.target].columns.values()
                       if c.kind in ("text", "number", "date")
                       and self._column_owners.get(self.words[path.target].column(c.name, "en"))
                       == {path.target}]
        named = self._named_anchor(path, rng) if target_cols else None
        if named is None:
            return None
        e = named[0]
        c = self.words[path.target].column(rng.choice(target_cols).name, lang)
        text = (rng.choice([f"{e}的{c}是多少？", f"{e}的{c}是什么？"]) if lang == "zh" else
                rng.choice([f"What is the {c} of {e}?", f"{_VALUE_FIRST}{e}'s {c}?",
                            f"Show the {c} for {e}."]))
        flt, cond = self._entity_parts(path, named)
        return UsageQuestion(_fix(text, lang), lang, "lookup", "fuzzy", e, flt, cond)

    def _filter_on_anchor(self, path: LegalPath, lang: str, rng: random.Random
                          ) -> UsageQuestion | None:
        """"Contracts of projects in Indonesia": a categorical anchor value that reaches rows."""
        cols = self._categorical(path.anchor)
        if not cols or self.reachable_values is None:
            return None
        col = rng.choice(cols)
        values = self.reachable_values(path, col.name)
        if not values:
            return None
        value = rng.choice(values)
        wa = self.words[path.anchor]
        c, a = wa.column(col.name, lang), wa.nouns(lang, rng)
        t = self.words[path.target].nouns(lang, rng)
        if path.via:
            v = self._via_phrase(path, lang, rng)
            text = (f"{c}为{value}的{a}的{v}的{t}有哪些？" if lang == "zh" else
                    f"List the {t} of the {v} of {a} whose {c} is {value}.")
        elif lang == "zh":
            text = rng.choice([f"{c}为{value}的{a}的{t}有哪些？", f"列出{c}是{value}的{a}的{t}"])
        else:
            options = [f"List the {t} of {a} whose {c} is {value}.",
                       f"Which {t} belong to {a} with {c} {value}?"]
            if set(naming.words(col.name)) & _PLACE_WORDS:
                options.append(f"{t} of {a} in {value}")
            text = rng.choice(options)
        return UsageQuestion(_fix(text, lang), lang, "filter_text", "precise", value,
                             _no_filter(), Condition(path.anchor, col.name, "eq", value))


def _fix(text: str, lang: str) -> str:
    """Chinese spacing, or English whitespace and a capital first letter unless the sentence
    starts with a value (a value is written as the data has it: "p12@shop.example's city?")."""
    if lang == "zh":
        return zh_tidy(text)
    text = re.sub(r"\s+", " ", text).strip()
    return text[1:] if text.startswith(_VALUE_FIRST) else _cap(text)
