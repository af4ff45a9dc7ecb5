"""What a question asks of its route: a count, counts per group, the top row, an average,
whether any row exists, a column of a named row, or rows meeting attribute conditions.

    values = lambda table, column: distinct_values(database, table, column)
    parser = IntentParser(schema, SchemaLinker(schema, database), values)
    intent = parser.parse("How many contracts does each supplier have?",
                          vocab.path_by_id["supplier>contract"])
    intent.kind == "group_count"; intent.description == "count of contract rows per supplier"

A router picks the route (docs/dataset.md: target = the rows listed, counted or ranked; anchor
= the table of the condition, the grouping key or the named row); this module reads the rest
of the question in the words the dataset generator writes (`pathrl.data.intents`, English and
Chinese) and returns an `Intent`: an `AnswerShape` for `pathrl.query`'s answer builders plus
what it understood. It understands:

- kinds: `count` ("how many", "number of", 多少个/几家/…), `group_count` (a count "per / each
  / by" a table of the route or a categorical column: "每个供应商", "按状态"), `superlative`
  (the row(s) with the most/fewest rows along the route, the highest total of a column, or
  the max/min of a column: "largest amount", "latest", "预算最高的项目"), `aggregate`
  (average / total / maximum / minimum of a numeric column: "平均预算", "how much … in
  total"), `exists` ("is there", "are there any", 有没有/是否有), `attribute` (a column of the
  route's target: "budget of Riyadh Railway", "when did … start");
- conditions (`pathrl.data.example.Condition`): a database value of a text column of a route
  table (value retrieval by `SchemaLinker`; short codes such as a rating "A" only next to their
  column word: "rated A", "评级为A"), numbers ("over 1,000,000", "at least 5k", "between 1.5
  million and 2 million", "超过100万", "80%以上") on the numeric column the question names (or
  the only one its table has), dates ("after 2022", "before March 2021", "in 2020", "2022年以后",
  "2024年3月") on the date column it names (a verb counts: "signed" -> signing date) or the
  target's time field.

The anchor's own display value is not a condition: `RoutedQA` looks it up (the entity).
Anything recognised but not usable (a number whose column is unclear, "each project" when no
project table is on the route, a count condition "more than 5 contracts") lands in
`unparsed`, and the intent falls back to `rows`: every row along the route, said so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from pathrl import naming
from pathrl.data.example import Condition
from pathrl.data.intents import _PLACE_WORDS
from pathrl.data.lexicon import ZH_FIELD_WORDS, additive, field_phrase, has_cjk, table_words
from pathrl.data.zh_words import zh_phrase
from pathrl.linking import SchemaLinker
from pathrl.paths import LegalPath
from pathrl.query import AnswerShape, ColumnRef
from pathrl.schema import Schema, Table

KINDS = ("rows", "count", "group_count", "superlative", "aggregate", "exists", "attribute")
ValueSource = Callable[[str, str], Sequence[str]]  # (table, column) -> distinct text values

_MONTHS = {m: i for i, m in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"), start=1)}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_YEAR = r"(?:19|20)\d{2}"
# A date: ISO day, "March 2022", "2022", "2022年3月", "2022年".
_DATE = (rf"(?P<iso>{_YEAR}-\d{{2}}-\d{{2}})|(?:(?P<mon>{_MONTH_RE})\.?\s+(?P<myear>{_YEAR}))"
         rf"|(?P<zyear>{_YEAR})\s*年(?:\s*(?P<zmon>\d{{1,2}})\s*月)?|(?P<year>{_YEAR})")
_DATE_TEXT = re.sub(r"\(\?P<\w+>", "(?:", _DATE)  # the same, without named groups
_ANY_DATE = re.compile(rf"(?<![A-Za-z0-9-])(?:{_DATE})")

_UNITS = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "b": 1e9,
          "bn": 1e9, "billion": 1e9, "千": 1e3, "万": 1e4, "百万": 1e6, "千万": 1e7, "亿": 1e8,
          "%": 1.0}
_NUMBER = (r"(?<![A-Za-z0-9.\-])[$¥€]?\s*(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
           r"(?:\s*(?P<unit>thousand|million|billion|百万|千万|万|亿|千|%)|(?P<short>k|mn|m|bn|b)"
           r"(?![A-Za-z]))?")
_NUMBER_RE = re.compile(_NUMBER)
# A number as text (for "between X and Y"), checked again with _NUMBER_RE.
_NUMBER_TEXT = (r"[$¥€]?\s*\d[\d,]*(?:\.\d+)?(?:\s*(?:thousand|million|billion|百万|千万|万|亿|"
                r"千|%)|(?:k|mn|m|bn|b)(?![A-Za-z]))?")
_EN_NUMBER_OPS = [
    (r"no less than|not less than|at least|a minimum of|minimum of|>=|≥", "gte"),
    (r"no more than|not more than|at most|up to|a maximum of|<=|≤", "lte"),
    (r"more than|greater than|higher than|larger than|bigger than|over|above|exceeding|"
     r"exceeds|exceed|in excess of|>", "gt"),
    (r"less than|fewer than|lower than|smaller than|under|below|<", "lt")]
_ZH_NUMBER_OPS = [(r"不少于|不低于|至少|不小于", "gte"),
                  (r"不超过|不高于|不多于|不大于|最多", "lte"),
                  (r"超过|大于|高于|多于|超出", "gt"), (r"小于|低于|少于|不到|不足", "lt")]
_ZH_MEASURE = "个家份次条张批位名项笔件种人"
_CURRENCY = r"(?:\s*(?:cny|rmb|yuan|usd|dollars?|元|块))?"

_EN_COUNT = re.compile(r"\bhow many\b|\bnumber of\b|\bcount\b|\bhow often\b")
_ZH_COUNT = re.compile(rf"(?:多少|几)[{_ZH_MEASURE}]|数量|总数|个数|多少(?=\S)")
_EN_EXISTS = re.compile(r"^\s*(?:is|are|was|were) there\b|^\s*(?:do|does|did|has|have|is|are|was|"
                        r"were)\b[^?]*\b(?:any|anyone|anybody|anything)\b|\bexists?\b")
_ZH_EXISTS = re.compile(r"有没有|是否有|是否存在|有无|是不是|存在|有[^？?]*吗")
_EN_GROUP = re.compile(r"\b(?:for each|in each|for every|each|per|by|every)\s+(?:single\s+)?")
_ZH_GROUP = re.compile(r"每一个|每个|每家|每位|每份|每条|每名|每项|各个|按照|按|各|每")
_EN_AGG = [(re.compile(r"\b(?:average|avg|mean)\b"), "avg"),
           (re.compile(r"\b(?:total|sum|overall|in total|altogether|combined)\b|\bhow much\b"),
            "sum"),
           (re.compile(r"\b(?:maximum|max)\b"), "max"), (re.compile(r"\b(?:minimum|min)\b"), "min")]
_ZH_AGG = [(re.compile(r"平均|均值"), "avg"),
           (re.compile(r"总额|总和|合计|总计|总共|共计|一共|总(?!数)|多少钱|付了多少"), "sum")]
_ZH_AGG_EXTREME = re.compile(r"(?P<word>最大|最高|最小|最低)(?P<rest>\S*?)(?:是多少|为多少|多少)")
# Superlatives: (pattern, direction, what): what = size (a number), time (a date), count.
_EN_SUPER = [(r"most recently|most recent|latest|newest", True, "time"),
             (r"earliest|oldest", False, "time"),
             (r"largest|biggest|highest|greatest|most expensive", True, "size"),
             (r"smallest|lowest|cheapest|least expensive", False, "size"),
             (r"most", True, "count"), (r"fewest|least", False, "count")]
_ZH_SUPER = [("最新|最近|最晚", True, "time"), ("最早", False, "time"),
             ("最大|最高|最贵", True, "size"), ("最小|最低|最便宜", False, "size"),
             ("最多", True, "count"), ("最少", False, "count")]
_EN_SUM_WORD = re.compile(r"\b(?:total|sum|combined|overall)\b")
_ZH_SUM_WORD = re.compile(r"合计|总额|总和|总")
_EN_QUESTION = re.compile(r"^\s*(?:what|what's|whats|which|when|where|who|whose|show|list|give|"
                          r"tell|display|find|get|look up)\b|'s\b")
_ZH_QUESTION = re.compile(r"是什么|是多少|是哪|什么时候|何时|哪|多少|几号|怎么样|如何|查询"
                          r"|列出|显示|的[^的]+$")
_EN_WHEN = re.compile(r"^\s*when\b|\bwhat (?:day|date|time)\b")
_ZH_WHEN = re.compile(r"什么时候|何时|哪天|几号|哪一天")
_EN_WHERE = re.compile(r"^\s*where\b|\bwhich (?:country|city|region|place)\b")
_ZH_WHERE = re.compile(r"在哪|哪里|哪儿|哪个国家|哪个城市")
# English words of the cues above and the measures they go with: after a table word they name
# no row ("contract value", "project total").
CUE_WORDS = frozenset("""
average avg mean total sum overall combined altogether maximum max minimum min most fewest least
largest biggest highest greatest smallest lowest cheapest latest newest earliest oldest recent
value values worth volume figure figures amount amounts count number numbers any exist exists
""".split())  # noqa: SIM905 - a word list reads better as text
_STEM_SUFFIXES = ("ing", "ed", "es", "ment", "ery", "s", "e", "y")
_IRREGULAR = {"paid": "pay", "done": "do", "made": "make", "began": "begin", "begun": "begin"}
_NOT_STEMS = frozenset({"date", "day", "time", "at", "on", "of", "the", "a", "when", "in"})


def _stem(word: str) -> str:
    word = _IRREGULAR.get(word, word)
    for suffix in _STEM_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[:-len(suffix)]
    return word


@dataclass(frozen=True)
class Unparsed:
    """Words the parser recognised but could not use, and why."""

    phrase: str
    reason: str

    def __str__(self) -> str:
        return f"'{self.phrase}' ({self.reason})"


@dataclass(frozen=True)
class Intent:
    """A question's reading: `shape` says what to compute (see `pathrl.query.AnswerShape`),
    `unparsed` what was recognised but could not be used (then `kind` is `rows`), `cues` the
    question's words behind the reading."""

    shape: AnswerShape
    unparsed: tuple[Unparsed, ...] = ()
    cues: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return self.shape.kind

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return tuple(self.shape.conditions)  # type: ignore[arg-type]

    @property
    def fell_back(self) -> bool:
        """Rows along the route because something the question says was not understood."""
        return self.kind == "rows" and bool(self.unparsed)

    def with_conditions(self, extra: Sequence[Condition]) -> Intent:
        known = set(self.shape.conditions)
        added = tuple(c for c in extra if c not in known)
        return replace(self, shape=replace(self.shape,
                                           conditions=(*self.shape.conditions, *added)))

    def without_conditions(self) -> Intent:
        return replace(self, shape=replace(self.shape, conditions=()))

    @property
    def description(self) -> str:
        return describe(self.shape)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "description": self.description,
                "conditions": [c.to_dict() for c in self.conditions],
                "unparsed": [{"phrase": u.phrase, "reason": u.reason} for u in self.unparsed]}


def _noun(table: str) -> str:
    return naming.table_noun(table)


def _column_words(ref: ColumnRef) -> str:
    return naming.column_phrase(ref.column, ref.table)


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    return f"{value:,}" if isinstance(value, (int, float)) else str(value)


def describe_condition(cond: Condition, subject: str) -> str:
    where = _column_words(ColumnRef(cond.table, cond.column))
    if cond.table != subject:
        where = f"{_noun(cond.table)} {where}"
    ops = {"eq": "=", "gt": ">", "lt": "<", "gte": ">=", "lte": "<=", "before": "before",
           "after": "after", "year": "in"}
    if cond.op == "between":
        return f"{where} between {_number(cond.value)} and {_number(cond.value2)}"
    value = f"'{cond.value}'" if cond.op == "eq" and isinstance(cond.value, str) else _number(
        cond.value)
    return f"{where} {ops[cond.op]} {value}"


def describe(shape: AnswerShape) -> str:
    """One line: "count of contract rows per supplier", "average budget of project rows"."""
    rows = f"{_noun(shape.subject)} rows"
    group = ""
    if shape.group_table is not None:
        group = (_noun(shape.group_table) if shape.group_column is None else
                 _column_words(ColumnRef(shape.group_table, shape.group_column)))
    column = _column_words(shape.column) if shape.column else ""
    names = {"sum": "total", "avg": "average", "max": "maximum", "min": "minimum"}
    if shape.kind == "count":
        text = f"count of {rows}"
    elif shape.kind == "group_count":
        text = f"count of {rows} per {group}"
    elif shape.kind == "exists":
        text = f"whether any {rows} exist"
    elif shape.kind == "attribute":
        text = f"{column} of {rows}"
    elif shape.kind == "aggregate":
        of = shape.column.table if shape.column else shape.subject
        text = f"{names[shape.function or 'sum']} {column} of {_noun(of)} rows" + (
            f" per {group}" if group else "")
    elif shape.kind == "superlative":
        most = "highest" if shape.descending else "lowest"
        if shape.group_table is not None and shape.function in (None, "count"):
            text = (f"{_noun(shape.group_table)} rows with the "
                    f"{'most' if shape.descending else 'fewest'} {rows}")
        elif shape.group_table is not None:
            text = (f"{_noun(shape.group_table)} rows with the {most} "
                    f"{names[shape.function or 'sum']} {column}")
        else:
            text = f"{rows} with the {most} {column}"
    elif shape.conditions:
        text = rows
    else:
        text = f"every {_noun(shape.subject)} row along the route"
    if shape.conditions:
        text += " where " + " and ".join(describe_condition(c, shape.subject)  # type: ignore
                                         for c in shape.conditions)
    return text


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    kind: str  # table | column | value
    table: str
    column: str = ""
    value: str = ""


@dataclass
class _Reading:
    """The parser's working state for one question."""

    text: str  # case-folded
    zh: bool
    route: LegalPath
    tables: list[_Span] = field(default_factory=list)
    columns: list[_Span] = field(default_factory=list)
    values: list[_Span] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)
    used: list[tuple[int, int]] = field(default_factory=list)  # spans consumed by a clause
    unparsed: list[Unparsed] = field(default_factory=list)
    cues: list[str] = field(default_factory=list)

    def miss(self, phrase: str, reason: str) -> None:
        self.unparsed.append(Unparsed(phrase.strip(), reason))

    def free(self, span: _Span) -> bool:
        return not any(s < span.end and span.start < e for s, e in self.used)

    def use(self, start: int, end: int) -> None:
        self.used.append((start, end))


class IntentParser:
    """Reads questions into `Intent`s for one schema (see module doc). `linker` finds database
    values (built with a database); `values` lists a column's distinct values (short codes
    such as ratings are matched only next to their column word)."""

    def __init__(self, schema: Schema, linker: SchemaLinker | None = None,
                 values: ValueSource | None = None):
        self.schema = schema
        self.linker = linker or SchemaLinker(schema)
        self.values = values
        self._tables = {t.name: t for t in schema.tables}
        foreign = {(r.from_table, r.from_field) for r in schema.relations}
        self._surfaces: dict[str, set[tuple[str, str]]] = {}  # surface -> {(table, column|"")}
        self._stems: dict[str, set[tuple[str, str]]] = {}  # date verb stem -> {(table, column)}
        for t in schema.tables:
            nouns_en = table_words(t, "en")
            nouns_zh = table_words(t, "zh")
            for w in {*nouns_en, *(naming.plural(w) for w in nouns_en), naming.humanize(t.name),
                      naming.plural(naming.humanize(t.name)), *nouns_zh, *t.synonyms_zh}:
                self._add(w, t.name, "")
            for f in t.fields:
                if f.name == t.key or (t.name, f.name) in foreign or f.type == "bool":
                    continue
                fp = field_phrase(t, f)
                phrases = {fp.en, naming.humanize(f.name), naming.column_phrase(f.name, t.name)}
                for p in list(phrases):
                    phrases.add(naming.plural(p))
                    for noun in nouns_en:
                        if not p.startswith(noun):
                            phrases.add(f"{noun} {p}")
                for p in phrases:
                    self._add(p, t.name, f.name)
                zh = {fp.zh} | {ZH_FIELD_WORDS.get(p) or zh_phrase(p) for p in phrases}
                for word in zh - {None}:
                    self._add(word, t.name, f.name)
                    for noun in nouns_zh:
                        if not word.startswith(noun):
                            self._add(noun + word, t.name, f.name)
                if f.type in ("date", "datetime"):
                    for w in {*fp.en.split(), *naming.words(f.name)} - _NOT_STEMS:
                        self._stems.setdefault(_stem(w), set()).add((t.name, f.name))
                    if fp.zh:
                        verb = re.sub(r"(日期|时间|日)$", "", fp.zh)
                        if len(verb) >= 2 and verb != fp.zh:
                            self._stems.setdefault(verb, set()).add((t.name, f.name))
        ordered = sorted(self._surfaces, key=lambda s: (-len(s), s))
        parts = [re.escape(s) if has_cjk(s) else rf"(?<![\w]){re.escape(s)}(?![\w])"
                 for s in ordered]
        self._surface_re = re.compile("|".join(parts)) if parts else None

    def _add(self, surface: str, table: str, column: str) -> None:
        surface = surface.strip().casefold()
        if len(surface) >= 2:
            self._surfaces.setdefault(surface, set()).add((table, column))

    def names_nothing(self, text: str) -> bool:
        """Whether `text` is only the parser's own words, no row's name: cue words ("total",
        "value"), table or column words, verbs of date columns ("started", "signed")."""
        words = re.findall(r"[a-z]+", text.casefold())
        return bool(words) and all(w in CUE_WORDS or w in self._surfaces or _stem(w) in
                                   self._stems for w in words)

    # -- the reading --------------------------------------------------------------------------
    def parse(self, question: str, route: LegalPath) -> Intent:
        """The question's intent on `route` (see module doc)."""
        text = question.casefold().replace("’", "'")
        r = _Reading(text, has_cjk(question), route)
        self._find_values(question, r)
        self._find_words(r)
        self._numbers(r)
        self._dates(r)
        self._short_values(r, question.replace("’", "'"))
        shape = self._kind(r)
        if r.unparsed:
            shape = AnswerShape("rows", route.target)
            return Intent(shape, tuple(dict.fromkeys(r.unparsed)), tuple(r.cues))
        return Intent(replace(shape, conditions=tuple(r.conditions)), (), tuple(r.cues))

    def _table(self, name: str) -> Table:
        return self._tables[name]

    def _find_values(self, question: str, r: _Reading) -> None:
        """Database values of text columns of the route's tables (not the anchor's display
        field: that is the entity), as equality conditions."""
        tables = set(r.route.tables)
        anchor_display = self._table(r.route.anchor).display
        seen: set[tuple[str, str, str]] = set()
        for mention in self.linker.link(question).values:
            if mention.table not in tables or (mention.table == r.route.anchor
                                               and mention.column == anchor_display):
                continue
            key = (mention.table, mention.column, mention.text)
            if key in seen:
                continue
            seen.add(key)
            start = r.text.find(mention.text.casefold())
            if start < 0:
                continue
            r.values.append(_Span(start, start + len(mention.text), "value", mention.table,
                                  mention.column, mention.text))

    def _find_words(self, r: _Reading) -> None:
        """Table and column words, longest first; a value's span hides the words inside it,
        and a table or column word hides a value inside it ("quality" in "quality checks")."""
        if self._surface_re is None:
            return
        tables = set(r.route.tables)
        for m in self._surface_re.finditer(r.text):
            owners = self._surfaces[m.group(0)]
            for table, column in sorted(owners):
                span = _Span(m.start(), m.end(), "column" if column else "table", table, column)
                (r.columns if column else r.tables).append(span)
        words = r.tables + r.columns
        r.values = [v for v in r.values if not any(
            w.start <= v.start and v.end <= w.end and (w.end - w.start) > (v.end - v.start)
            or (w.start, w.end) == (v.start, v.end) for w in words)]
        taken = [(v.start, v.end) for v in r.values]
        r.tables = [s for s in r.tables if not any(a <= s.start and s.end <= b
                                                   for a, b in taken)]
        r.columns = [s for s in r.columns if not any(a <= s.start and s.end <= b
                                                     for a, b in taken)]
        for v in r.values:
            r.conditions.append(Condition(v.table, v.column, "eq", v.value))
        r.tables = [s for s in r.tables if s.table in tables]
        r.columns = [s for s in r.columns if s.table in tables]

    # -- conditions ---------------------------------------------------------------------------
    def _numeric_columns(self, table: str) -> list[str]:
        foreign = {r.from_field for r in self.schema.relations if r.from_table == table}
        t = self._table(table)
        return [f.name for f in t.fields if f.type in ("int", "float") and f.name != t.key
                and f.name not in foreign]

    def _date_columns(self, table: str) -> list[str]:
        return [f.name for f in self._table(table).fields if f.type in ("date", "datetime")]

    def _near(self, spans: list[_Span], start: int, end: int, r: _Reading,
              before: int = 24, after: int = 0) -> list[_Span]:
        """Spans ending at most `before` characters before `start` (nearest first), then
        spans starting at most `after` characters after `end`."""
        left = sorted((s for s in spans if s.end <= start and start - s.end <= before),
                      key=lambda s: start - s.end)
        right = sorted((s for s in spans if s.start >= end and s.start - end <= after),
                       key=lambda s: s.start - end)
        return left + right

    def _column_for(self, r: _Reading, start: int, end: int, candidates: Callable[[str],
                    list[str]], what: str, after: int = 0) -> ColumnRef | None:
        """The column a comparison applies to: a column word right before it (or after it in
        Chinese), else the only candidate column of the table word next to it, else the
        only candidate column on the route."""
        near_cols = [s for s in self._near(r.columns, start, end, r, after=after)
                     if s.column in candidates(s.table)]
        near_tables = self._near(r.tables, start, end, r, after=after + 6 if r.zh else after)
        if near_cols:
            first = near_cols[0]
            same = {s.table for s in near_cols if (s.start, s.end) == (first.start, first.end)}
            # A column word several route tables share ("amount"): the table named next to
            # the comparison, else the target.
            named = [s.table for s in near_tables if s.table in same]
            table = (next(iter(same)) if len(same) == 1 else named[0] if named else
                     r.route.target if r.route.target in same else None)
            if table is not None:
                r.use(first.start, first.end)
                return ColumnRef(table, first.column)
            r.miss(r.text[first.start:first.end], f"{what}: of which table?")
            return None
        for s in near_tables:
            cols = candidates(s.table)
            if len(cols) == 1:
                return ColumnRef(s.table, cols[0])
        own = candidates(r.route.target)  # no word says where: the rows listed (the target)
        if len(own) == 1:
            return ColumnRef(r.route.target, own[0])
        every = [(t, c) for t in r.route.tables for c in candidates(t)]
        if len(every) == 1:
            return ColumnRef(*every[0])
        return None

    def _numbers(self, r: _Reading) -> None:
        ops = _ZH_NUMBER_OPS if r.zh else _EN_NUMBER_OPS
        taken: list[tuple[int, int]] = []
        between = (rf"(?:between|from)\s+(?P<a>{_NUMBER_TEXT})\s+(?:and|to|-)\s+"
                   rf"(?P<b>{_NUMBER_TEXT})" if not r.zh else
                   rf"(?:在|介于)?\s*(?P<a>{_NUMBER_TEXT})\s*(?:到|至|和|-|~)\s*"
                   rf"(?P<b>{_NUMBER_TEXT})\s*之间")
        for m in re.finditer(between, r.text):
            a, b = _NUMBER_RE.fullmatch(m.group("a").strip()), _NUMBER_RE.fullmatch(
                m.group("b").strip())
            if a and b and not (_looks_like_year(a) and _looks_like_year(b)):
                self._number_condition(r, m.start(), m.end(), "between", _value(a), _value(b))
                taken.append((m.start(), m.end()))
        for pattern, op in ops:
            for m in re.finditer(rf"(?:{pattern})\s*", r.text):
                if any(a <= m.start() < b for a, b in taken):
                    continue
                if r.zh and m.group(0) in ("以上", "以下"):
                    continue
                n = _NUMBER_RE.match(r.text, m.end())
                if not n or (_looks_like_year(n) and r.text[n.end():n.end() + 1] == "年"):
                    continue
                rest = r.text[n.end():]
                if self._counts_rows(rest, r):
                    r.miss(r.text[m.start():n.end()] + _first_words(rest),
                           "a condition on a count")
                    taken.append((m.start(), n.end()))
                    continue
                self._number_condition(r, m.start(), n.end(), op, _value(n))
                taken.append((m.start(), n.end()))
        if r.zh:  # "100万以上", "80%以下"
            postfix = r"(?P<n>[\d.,]+\s*(?:百万|千万|万|亿|千|%)?)\s*(?P<w>以上|以下)"
            for m in re.finditer(postfix, r.text):
                if any(a <= m.start() < b for a, b in taken):
                    continue
                n = _NUMBER_RE.fullmatch(m.group("n").strip())
                if n:
                    op = "gte" if m.group("w") == "以上" else "lte"
                    self._number_condition(r, m.start(), m.end(), op, _value(n))
                    taken.append((m.start(), m.end()))
        else:  # "5 or more"
            for m in re.finditer(r"(?P<n>\S+)\s+or\s+(?P<w>more|less|fewer)\b", r.text):
                n = _NUMBER_RE.fullmatch(m.group("n"))
                if n and not any(a <= m.start() < b for a, b in taken):
                    op = "gte" if m.group("w") == "more" else "lte"
                    self._number_condition(r, m.start(), m.end(), op, _value(n))

    def _counts_rows(self, rest: str, r: _Reading) -> bool:
        """A number followed by a table word ("more than 5 contracts", "超过5份合同") counts
        rows: a condition on a count, which the builders do not express."""
        if r.zh:
            return bool(re.match(rf"\s*[{_ZH_MEASURE}]", rest))
        word = re.match(r"\s*([a-z][\w\s]{0,30})", rest)
        if not word:
            return False
        head = word.group(1)
        return any(head.startswith(s) for s, owners in self._surfaces.items()
                   if any(not c for _t, c in owners) and not has_cjk(s))

    def _number_condition(self, r: _Reading, start: int, end: int, op: str, value: float,
                          value2: float | None = None) -> None:
        phrase = r.text[start:end].strip()
        ref = self._column_for(r, start, end, self._numeric_columns, "a number",
                               after=4 if r.zh else 0)
        r.use(start, end)
        if ref is None:
            r.miss(phrase, "a number: of which column?")
            return
        r.cues.append(phrase)
        r.conditions.append(Condition(ref.table, ref.column, op, value, value2))

    def _dates(self, r: _Reading) -> None:
        """Date conditions: "after 2022", "before March 2021", "in 2020", "between 2020 and
        2021", "2022年以后", "2024年3月", "since 2021", "before the end of 2024"."""
        text = r.text
        if r.zh:
            pattern = re.compile(
                rf"(?<![A-Za-z0-9-])(?P<a>{_DATE_TEXT})(?![A-Za-z0-9-])"
                rf"(?:\s*(?:到|至|-|—|~)\s*(?P<b>{_DATE_TEXT}))?(?P<end>底|末)?"
                r"\s*(?P<w>以后|之后|以来|后|以前|之前|前|之间)?")
        else:
            pattern = re.compile(
                r"(?P<w>between|from|before|earlier than|prior to|until|till|by|after|later "
                r"than|since|in|during|on|of)?\s*(?P<edge>the end of|end of|the start of|start of"
                rf"|the beginning of|beginning of)?\s*(?<![\w-])(?P<a>{_DATE_TEXT})(?![\w-])"
                rf"(?:\s+(?:and|to|through|-)\s+(?P<b>{_DATE_TEXT}))?")
        for m in pattern.finditer(text):
            if any(a <= m.start("a") < b for a, b in r.used):
                continue
            lo, hi = _date_range(m.group("a"))
            if lo is None:
                continue
            word = m.group("w") or ""
            if m.group("b"):
                b_lo, b_hi = _date_range(m.group("b"))
                if b_hi is None:
                    continue
                cond = ("between", lo.isoformat(), b_hi.isoformat())
            elif r.zh:
                if m.group("end"):
                    lo = hi
                if word in ("以后", "之后", "后"):
                    cond = ("after", hi.isoformat(), None)
                elif word == "以来":
                    cond = ("gte", lo.isoformat(), None)
                elif word in ("以前", "之前", "前"):
                    cond = ("before", lo.isoformat(), None) if not m.group("end") else (
                        "lte", hi.isoformat(), None)
                else:
                    cond = _in_range(lo, hi)
            else:
                edge = m.group("edge") or ""
                if "end" in edge:
                    lo = hi
                elif edge:
                    hi = lo
                if word in ("before", "earlier than", "prior to"):
                    cond = ("before", lo.isoformat(), None) if "end" not in edge else (
                        "lte", hi.isoformat(), None)
                elif word in ("until", "till", "by"):
                    cond = ("lte", hi.isoformat(), None)
                elif word in ("after", "later than"):
                    cond = ("after", hi.isoformat(), None)
                elif word == "since":
                    cond = ("gte", lo.isoformat(), None)
                elif word in ("in", "during", "on", "of", "from", "between") or edge:
                    cond = _in_range(lo, hi)
                else:
                    continue  # a bare year ("2023 contracts") is too loose
            start, end = m.start(), m.end()
            ref = self._date_column(r, start, end)
            r.use(start, end)
            if ref is None:
                r.miss(text[start:end].strip(), "a date: of which column?")
                continue
            r.cues.append(text[start:end].strip())
            r.conditions.append(Condition(ref.table, ref.column, cond[0], cond[1], cond[2]))

    def _date_column(self, r: _Reading, start: int, end: int) -> ColumnRef | None:
        """A date column word or verb next to the date ("signed in 2023", "2022年以后开工"),
        else the time field of the table word next to it, else the route target's time field,
        else the only date column on the route."""
        tables = set(r.route.tables)
        named = [s for s in self._near(r.columns, start, end, r, after=6 if r.zh else 0)
                 if s.column in self._date_columns(s.table)]
        ref = self._column_for(r, start, end, self._date_columns, "a date",
                               after=6 if r.zh else 0)
        if named:
            return ref
        window = r.text[max(0, start - 30):start] + " " + r.text[end:end + (12 if r.zh else 0)]
        stems = []
        if r.zh:
            stems = [(t, c) for stem, owners in self._stems.items() if has_cjk(stem)
                     and stem in window for t, c in owners if t in tables]
        else:
            for word in re.findall(r"[a-z]+", r.text[max(0, start - 30):start]):
                stems += [(t, c) for t, c in self._stems.get(_stem(word), ()) if t in tables]
        if len(set(stems)) == 1:
            return ColumnRef(*stems[0])
        if len(set(stems)) > 1:
            target_owned = {(t, c) for t, c in stems if t == r.route.target}
            if len(target_owned) == 1:
                return ColumnRef(*target_owned.pop())
        if ref is not None:
            return ref
        target = self._table(r.route.target)
        return ColumnRef(target.name, target.time_field) if target.time_field else None

    def _short_values(self, r: _Reading, question: str) -> None:
        """Values too short for value retrieval ("A", "QA") next to their column word, as the
        data writes them (case-sensitive: "rated A", "rating is B", "with a C rating", "评级为A";
        "the rating of a supplier" names none)."""
        if self.values is None or len(question) != len(r.text):
            return
        for span in r.columns:
            if not r.free(span) or any(c.table == span.table and c.column == span.column
                                       for c in r.conditions):
                continue
            values = [v for v in self.values(span.table, span.column) if len(v) <= 3]
            if not values:
                continue
            alternatives = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
            after = re.compile(rf"\s*(?:is|=|:|of|为|是|等于)?\s*(?P<v>{alternatives})"
                               r"(?![A-Za-z0-9])")
            before = re.compile(rf"(?<![A-Za-z0-9])(?P<v>{alternatives})\s*(?:-\s*)?$")
            m = after.match(question, span.end)
            hit = m.group("v") if m else None
            if hit is None:
                b = before.search(question[:span.start].rstrip())
                hit = b.group("v") if b else None
            if hit is None:
                continue
            r.use(span.start, span.end)
            r.conditions.append(Condition(span.table, span.column, "eq", hit))
        # "rated A": a verb form of the column's name ("rating" -> "rated").
        for table in r.route.tables:
            for f in self._table(table).fields:
                if f.type != "str" or any(c.table == table and c.column == f.name
                                          for c in r.conditions):
                    continue
                stem = _stem(f.name.casefold())
                m = re.search(rf"\b{re.escape(stem)}ed\s+(?P<v>[A-Za-z0-9]{{1,3}})(?![A-Za-z0-9])",
                              question, re.IGNORECASE)
                if m and m.group("v") in set(self.values(table, f.name)):
                    r.use(m.start(), m.end())
                    r.conditions.append(Condition(table, f.name, "eq", m.group("v")))

    # -- the kind -----------------------------------------------------------------------------
    def _kind(self, r: _Reading) -> AnswerShape:
        route = r.route
        target = route.target
        if (_ZH_EXISTS if r.zh else _EN_EXISTS).search(r.text) and not (
                _ZH_COUNT if r.zh else _EN_COUNT).search(r.text):
            r.cues.append("exists")
            return AnswerShape("exists", self._named_after(r, r"any|有没有|是否有", target))
        count = (_ZH_COUNT if r.zh else _EN_COUNT).search(r.text)
        if r.zh and count and count.group(0).startswith("多少") and len(count.group(0)) == 2:
            # "多少" alone counts when a table word follows ("有多少合同"), not "是多少".
            follows = [s for s in r.tables if 0 <= s.start - count.end() <= 1]
            count = count if follows else None
        if count is not None:
            # The route convention: the target is what is counted, or the anchor when the
            # target is the grouping key (a router that put the group last).
            r.cues.append(count.group(0))
            group = self._group(r, None)
            if group is False:
                return AnswerShape("rows", target)
            if group is not None:
                g_table, g_column = group
                counted = target if g_table != target or g_column else route.anchor
                if g_column is None and g_table == counted:
                    r.miss(f"{_noun(g_table)} per {_noun(g_table)}", "counts a table per itself")
                    return AnswerShape("rows", target)
                return AnswerShape("group_count", counted, group_table=g_table,
                                   group_column=g_column)
            return AnswerShape("count", target)
        superlative = self._superlative(r)
        if superlative is not None:
            return superlative
        aggregate = self._aggregate(r)
        if aggregate is not None:
            return aggregate
        attribute = self._attribute(r)
        if attribute is not None:
            return attribute
        return AnswerShape("rows", target)

    def _named_after(self, r: _Reading, cue: str, default: str) -> str:
        m = re.search(cue, r.text)
        if m:
            after = [s for s in r.tables if s.start >= m.end() and s.start - m.end() <= 12]
            if after:
                return after[0].table
        return default

    def _group(self, r: _Reading, counted: str | None) -> tuple[str, str | None] | None | bool:
        """The grouping key after "each / per / by / 每个 / 按": a table of the route (its
        rows) or a column of one (its values). None: no grouping; False: a grouping the route
        cannot express (noted)."""
        pattern = _ZH_GROUP if r.zh else _EN_GROUP
        for m in pattern.finditer(r.text):
            columns = [s for s in r.columns if s.start == m.end() and r.free(s)]
            tables = [s for s in r.tables if s.start == m.end()]
            longest = max((s.end for s in columns + tables), default=-1)
            columns = [s for s in columns if s.end == longest]
            tables = [s for s in tables if s.end == longest]
            if columns:
                owners = {(s.table, s.column) for s in columns}
                if len(owners) == 1:
                    s = columns[0]
                    r.use(m.start(), s.end)
                    r.cues.append(r.text[m.start():s.end])
                    return s.table, s.column
                r.miss(r.text[m.start():longest], "a grouping: of which table?")
                return False
            if tables:
                s = tables[0]
                r.cues.append(r.text[m.start():s.end])
                r.use(m.start(), s.end)
                if counted is not None and s.table == counted and len(r.route.tables) > 1:
                    continue
                return s.table, None
            word = re.match(r"[a-z]+|[\u3400-\u9fff]{1,4}", r.text[m.end():])
            if word and not r.zh and word.group(0) in ("the", "a", "an", "which", "what"):
                continue
            if word and re.match(r"(?:year|month|week|day|quarter|年|月|季度)", word.group(0)):
                r.miss(r.text[m.start():m.end() + len(word.group(0))], "grouping by time")
                return False
            other = self._surface_re.match(r.text, m.end()) if self._surface_re else None
            if other is not None:  # a table or column word of a table not on the route
                r.miss(r.text[m.start():other.end()], "a grouping by a table not on the route")
                return False
        return None

    def _superlative(self, r: _Reading) -> AnswerShape | None:
        route = r.route
        for pattern, high, what in (_ZH_SUPER if r.zh else _EN_SUPER):
            regex = pattern if r.zh else rf"\b(?:{pattern})\b"
            m = re.search(regex, r.text)
            if not m or any(a <= m.start() < b for a, b in r.used):
                continue
            if r.zh and _ZH_AGG_EXTREME.match(r.text, m.start()) and what == "size":
                m2 = _ZH_AGG_EXTREME.match(r.text, m.start())
                col_after = [s for s in r.columns if s.start == m.end()]
                if col_after and m2 and "的" not in m2.group("rest"):
                    continue  # "最大金额是多少": an aggregate, not a row
            r.cues.append(m.group(0))
            if what == "count":
                shape = self._most_rows(r, m, high)
                if shape is not None:
                    return shape
                if r.zh:
                    what = "size"  # "最多" also reads "largest"
                else:
                    continue
            total = (_ZH_SUM_WORD if r.zh else _EN_SUM_WORD).search(r.text)
            if total and what == "size":
                shape = self._highest_total(r, m, high)
                if shape is not None:
                    return shape
            ref = self._ranked_column(r, m, what)
            if ref is None:
                r.miss(m.group(0), "a ranking: by which column?")
                return AnswerShape("rows", route.target)
            return AnswerShape("superlative", ref.table, column=ref, descending=high)
        return None

    def _most_rows(self, r: _Reading, m: re.Match[str], high: bool) -> AnswerShape | None:
        """"Which supplier has the most contracts?" / "哪家供应商的合同最多": rank the rows of
        one end of the route by how many rows of the other end they reach."""
        route = r.route
        if r.zh:
            counted = [s for s in r.tables if 0 <= m.start() - s.end <= 1]
            counted = counted[-1:] if counted else [s for s in r.tables
                                                    if 0 <= s.start - m.end() <= 2]
        else:
            counted = [s for s in r.tables if 0 <= s.start - m.end() <= 12]
        if not counted:
            start = len(r.text) - len(r.text[m.end():].lstrip()) if not r.zh else m.end()
            other = self._surface_re.match(r.text, start) if self._surface_re else None
            if other is not None and any(not c for _t, c in self._surfaces[other.group(0)]):
                r.miss(r.text[m.start():other.end()], "a ranking by a count of a table not "
                       "on the route")
                return AnswerShape("rows", route.target)
            return None
        counted_table = counted[0].table
        ends = {route.anchor, route.target}
        if counted_table not in ends or len(ends) == 1:
            phrase = r.text[min(m.start(), counted[0].start):max(m.end(), counted[0].end)]
            r.miss(phrase, "a ranking by a count: not between the route's two ends")
            return AnswerShape("rows", route.target)
        ranked = (ends - {counted_table}).pop()
        return AnswerShape("superlative", counted_table, group_table=ranked, function="count",
                           descending=high)

    def _highest_total(self, r: _Reading, m: re.Match[str], high: bool) -> AnswerShape | None:
        """"Which project has the highest total contract value?": rank one end of the route
        by the total of a numeric column of the other end."""
        route = r.route
        ends = [route.anchor, route.target]
        if route.anchor == route.target:
            return None
        refs = {(s.table, s.column) for s in r.columns if s.column in self._numeric_columns(
            s.table) and s.table in ends}
        if not refs:
            named = [s.table for s in r.tables if s.table in ends
                     and len(self._numeric_columns(s.table)) == 1]
            refs = {(t, self._numeric_columns(t)[0]) for t in named}
            ranked_words = {s.table for s in r.tables}
            if len(refs) > 1 and len(ranked_words) > 1:
                # both ends named: the summed one is the one next to the total word
                total = (_ZH_SUM_WORD if r.zh else _EN_SUM_WORD).search(r.text)
                near = self._near(r.tables, total.start(), total.end(), r, before=6, after=20)
                refs = {(near[0].table, self._numeric_columns(near[0].table)[0])} if near else refs
        if len(refs) != 1:
            return None
        table, column = refs.pop()
        ranked = ends[0] if table == ends[1] else ends[1]
        return AnswerShape("superlative", table, group_table=ranked,
                           column=ColumnRef(table, column), function="sum", descending=high)

    def _ranked_column(self, r: _Reading, m: re.Match[str], what: str) -> ColumnRef | None:
        """The column a superlative ranks by: a column word next to it ("largest amount",
        "by budget", "预算最高"), else the only number (size) or the time field (time) of the
        table word next to it, else of the route's target."""
        wanted = self._numeric_columns if what == "size" else self._date_columns
        cols = [s for s in r.columns if s.column in wanted(s.table) and r.free(s)]
        near = ([s for s in cols if 0 <= m.start() - s.end <= 2] if r.zh else []) + [
            s for s in cols if 0 <= s.start - m.end() <= 3] + [
            s for s in cols if re.search(r"\bby\s+(?:the\s+)?$", r.text[:s.start])]
        if not near and what == "size":
            near = cols
        owners = list(dict.fromkeys((s.table, s.column) for s in near))
        if len(owners) == 1:
            return ColumnRef(*owners[0])
        if len(owners) > 1:
            in_target = [o for o in owners if o[0] == r.route.target]
            return ColumnRef(*in_target[0]) if len(in_target) == 1 else None

        def pick(table: str) -> ColumnRef | None:
            t = self._table(table)
            if what == "time":
                if t.time_field:
                    return ColumnRef(table, t.time_field)
                dates = self._date_columns(table)
                return ColumnRef(table, dates[0]) if len(dates) == 1 else None
            numbers = self._numeric_columns(table)
            return ColumnRef(table, numbers[0]) if len(numbers) == 1 else None

        words = sorted(r.tables, key=lambda s: abs(s.start - m.end()))
        for s in words[:1]:
            found = pick(s.table)
            if found is not None:
                return found
        return pick(r.route.target)

    def _aggregate(self, r: _Reading) -> AnswerShape | None:
        route = r.route
        found: tuple[re.Match[str], str] | None = None
        if r.zh:
            extreme = _ZH_AGG_EXTREME.search(r.text)
            if extreme and any(s.start == extreme.end("word") for s in r.columns):
                found = (extreme, "max" if extreme.group("word") in ("最大", "最高") else "min")
        for pattern, function in (_ZH_AGG if r.zh else _EN_AGG):
            if found is not None:
                break
            m = pattern.search(r.text)
            if m and not any(a <= m.start() < b for a, b in r.used):
                found = (m, function)
        if found is None:
            return None
        m, function = found
        r.cues.append(m.group(0))
        cols = [s for s in r.columns if s.column in self._numeric_columns(s.table)
                and r.free(s)]
        owners = list(dict.fromkeys((s.table, s.column) for s in cols))
        if len(owners) > 1:  # a column word two tables share: the target's
            in_target = [o for o in owners if o[0] == route.target]
            owners = in_target if len(in_target) == 1 else owners
        if len(owners) > 1:
            by_span = {}
            for s in cols:
                by_span.setdefault((s.start, s.end), set()).add((s.table, s.column))
            single = [next(iter(v)) for v in by_span.values() if len(v) == 1]
            owners = list(dict.fromkeys(single)) if len(set(single)) == 1 else owners
        ref: ColumnRef | None = None
        if len(owners) == 1:
            ref = ColumnRef(*owners[0])
        elif not owners:
            nearest = [s.table for s in sorted(r.tables, key=lambda s: abs(s.start - m.start()))]
            for table in [route.target, *nearest]:
                numbers = self._numeric_columns(table)
                if function == "sum":
                    numbers = [c for c in numbers if additive(field_phrase(
                        self._table(table), self._table(table).field(c)))]
                if len(numbers) == 1:
                    ref = ColumnRef(table, numbers[0])
                    break
        if ref is None:
            r.miss(m.group(0), "an aggregate: of which column?")
            return AnswerShape("rows", route.target)
        group = self._group(r, ref.table)
        if group is False:
            return AnswerShape("rows", route.target)
        if group is not None:
            return AnswerShape("aggregate", ref.table, column=ref, function=function,
                               group_table=group[0], group_column=group[1])
        return AnswerShape("aggregate", ref.table, column=ref, function=function)

    def _attribute(self, r: _Reading) -> AnswerShape | None:
        """A column of the route's target the question asks for ("budget of Riyadh Railway",
        "When did … start?", "Where is … based?", "…的职位是什么")."""
        target = r.route.target
        asks = (_ZH_QUESTION if r.zh else _EN_QUESTION).search(r.text)
        cols = [s for s in r.columns if s.table == target and r.free(s) and not any(
            c.table == s.table and c.column == s.column for c in r.conditions)]
        owners = list(dict.fromkeys(s.column for s in cols))
        if len(owners) == 1 and asks:
            r.cues.append(r.text[cols[0].start:cols[0].end])
            return AnswerShape("attribute", target, column=ColumnRef(target, owners[0]))
        if owners:
            return None
        t = self._table(target)
        if (_ZH_WHEN if r.zh else _EN_WHEN).search(r.text):
            column = None
            if r.zh:
                hits = [(tt, c) for stem, owners_ in self._stems.items() if has_cjk(stem)
                        and stem in r.text for tt, c in owners_ if tt == target]
            else:
                hits = [(tt, c) for w in re.findall(r"[a-z]+", r.text)
                        for tt, c in self._stems.get(_stem(w), ()) if tt == target]
            if len(set(hits)) == 1:
                column = hits[0][1]
            elif t.time_field:
                column = t.time_field
            if column:
                r.cues.append("when")
                return AnswerShape("attribute", target, column=ColumnRef(target, column))
        if (_ZH_WHERE if r.zh else _EN_WHERE).search(r.text):
            places = [f.name for f in t.fields if f.type == "str"
                      and set(naming.words(f.name)) & _PLACE_WORDS]
            if len(places) == 1:
                r.cues.append("where")
                return AnswerShape("attribute", target, column=ColumnRef(target, places[0]))
        return None


def _value(m: re.Match[str]) -> float:
    number = float(m.group("num").replace(",", ""))
    unit = m.group("unit") or m.group("short")
    return number * _UNITS[unit] if unit else number


def _looks_like_year(m: re.Match[str]) -> bool:
    """A bare four-digit 19xx / 20xx number: "between 2020 and 2021" is a date range."""
    return bool(re.fullmatch(_YEAR, m.group("num"))) and not (m.group("unit")
                                                             or m.group("short"))


def _first_words(rest: str) -> str:
    word = re.match(r"\s*\S+", rest)
    return word.group(0) if word else ""


def _date_range(text: str | None) -> tuple[date | None, date | None]:
    """The first and last day a date expression covers."""
    if not text:
        return None, None
    m = _ANY_DATE.match(text.strip())
    if not m:
        return None, None
    try:
        if m.group("iso"):
            day = date.fromisoformat(m.group("iso"))
            return day, day
        if m.group("mon"):
            return _month(int(m.group("myear")), _MONTHS[m.group("mon")])
        if m.group("zyear"):
            year = int(m.group("zyear"))
            if m.group("zmon"):
                return _month(year, int(m.group("zmon")))
            return date(year, 1, 1), date(year, 12, 31)
        year = int(m.group("year"))
        return date(year, 1, 1), date(year, 12, 31)
    except ValueError:
        return None, None


def _month(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def _in_range(lo: date, hi: date) -> tuple[str, str, str | None]:
    if lo == hi:
        return ("between", lo.isoformat(), hi.isoformat())
    if lo.month == 1 and lo.day == 1 and hi.month == 12 and hi.day == 31 and lo.year == hi.year:
        return ("year", str(lo.year), None)
    return ("between", lo.isoformat(), hi.isoformat())


def parse_intent(question: str, route: LegalPath, schema: Schema,
                 linker: SchemaLinker | None = None,
                 values: ValueSource | None = None) -> Intent:
    """One question's intent (builds an `IntentParser`; keep one for many questions)."""
    return IntentParser(schema, linker, values).parse(question, route)
