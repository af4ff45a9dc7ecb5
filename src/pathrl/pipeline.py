"""From a question to rows, in one place: text -> route (any `Router`) -> entity -> query -> rows.

    qa = RoutedQA(router, database)
    answer = qa.ask("Show the change records of the contracts of project Riyadh Railway")
    answer.status, answer.route.path.id, answer.entity, answer.query, answer.rows
    answers = qa.ask_batch(questions)  # one route_batch call
    qa.answer_route(RankedRoute(vocab.path_by_id["project>contract"], 1.0), "Riyadh Railway")

The entity is looked up in the route's anchor table (its rows are read once per table):
first among the display values (the field the query filters on), then among the table's other
text columns (value retrieval: "project P0001" -> the project whose id is P0001). A value of
another column shared by several rows ("contracts of suppliers in Germany") stands for all of
them: the route's query runs once per row (the query filters on one display value, as a bound
parameter) and the rows are merged. Longest value first, so "Riyadh Railway II" beats "Riyadh
Railway".

`Answer.status` says what happened, and only the first three run a query:

- `ok` / `empty` / `error`: the query filtered on the entity (or entities) found; rows, none,
  or it failed;
- `no_entity`: the question names no entity, so the query ran unfiltered (every row along the
  route; `error` if that query failed);
- `entity_not_found`: the question names an entity (a quoted, capitalised or code-like span,
  or the words after a table word: "project harmless") that the anchor table does not hold;
  no query runs and `suggestions` holds the 3 closest values (fuzzy match);
- `ambiguous_entity`: the value found belongs to more than `MAX_ROWS_PER_VALUE` anchor rows
  (a category, not a name) and the question does not filter on it (when its intent reads the
  value as a condition, "inspections whose result is 'pass'", the matching rows are the
  answer); no query runs and `suggestions` lists some of them;
- `no_route`: the router returned no legal route; no query runs.

The question's intent (`pathrl.intent`: a count, counts per group, the top row, an average,
whether any row exists, a column of the named row, attribute conditions such as "over
1,000,000" or "signed in 2023") decides what the query computes (`pathrl.query`'s answer
builders, SQL and MQL). `Answer.intent` says how the question was read and
`Answer.answer_kind` what the rows are: `answer` (what the question asks: a count, a ranking,
rows narrowed by the entity or the conditions) or `rows_along_route` (every row along the route,
because the question named nothing to narrow them or something it says was not understood,
which the message names). A question read as a plain listing keeps the behaviour above; with
an intent, `ok` / `empty` also mean the conditions matched rows or none, `no_entity` that the
answer covers every row along the route, and a value of a column other than the anchor's
display field is a condition (no one-query-per-row, no `ambiguous_entity`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process, utils

from pathrl.data.lexicon import field_phrase, has_cjk, humanize, plural, table_words
from pathrl.db import Database, ExecResult, MongoDatabase, SQLDatabase
from pathrl.errors import PathrlError
from pathrl.intent import Intent, IntentParser
from pathrl.linking import SchemaLinker
from pathrl.paths import LegalPath, PathVocab
from pathrl.query import (
    COUNT_LABEL,
    VALUE_LABEL,
    AnswerShape,
    Filter,
    MongoQuery,
    SQLQuery,
    answer_rows,
    mongo_answer_query,
    sql_answer_query,
)
from pathrl.router.baselines import ZH_CONNECTORS, TableMatcher, entity_spans
from pathrl.router.protocol import RankedRoute, Router, Routing, check_questions

STATUSES = ("ok", "empty", "error", "no_entity", "entity_not_found", "ambiguous_entity",
            "no_route")
ANSWER_KINDS = ("answer", "rows_along_route")
_SHOWN_IN_MESSAGE = 3
N_SUGGESTIONS = 3
MAX_AMBIGUOUS_SHOWN = 10
MAX_ROWS_PER_VALUE = 50  # one query per anchor row holding the value, at most
# Chinese words after a table word that start the rest of the question, not a name: "按项目统计
# 合同" (group by), "项目其…", "所有…".
_ZH_NOT_NAMES = ("统计", "计算", "查询", "列出", "显示", "汇总", "分组", "排序", "其", "按",
                 "所有", "全部", "每个", "各")
_MIN_VALUE_CHARS = 3  # shorter values of other columns ('A', 'QA') are ordinary words

# Words that follow a table word without naming one of its rows ("each project has", "the
# contract with the largest amount", "contracts of project X" -> only X is a name).
_EN_STOPWORDS = frozenset("""
a about above after all also an and any are as at be been before being below between both but
by can could did do does during each either ever every few for from had has have having he her
here his how i if in into is it its least less many may me might more most much must my near
no nor not of off on once one only or other our out over own per please same she should show
since so some such than that the their them then there these they this those through to too
total under until up very was we were what when where whether which while who whom whose why
will with within without would you your list give find tell get count number name named called
""".split())  # noqa: SIM905 - a word list reads better as text
_CODE = re.compile(r"(?<![\w-])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9][\w-]{2,}(?![\w-])")
_EN_WORD = re.compile(r"[A-Za-z][\w'&.\-]*")


@dataclass(frozen=True)
class EntityMatch:
    """A value of the anchor table the question names: `mention` is the question's text that
    matched, `field` the column it matched in, `values` the display values of the rows that
    hold it (what the query filters on): one, or several when the value is ambiguous."""

    mention: str
    field: str
    values: tuple[str, ...]

    @property
    def ambiguous(self) -> bool:
        return len(self.values) > 1

    @property
    def value(self) -> str:
        return self.values[0]


@dataclass
class Answer:
    """What `RoutedQA.ask` found (see the module doc for `status`)."""

    question: str
    status: str
    route: RankedRoute | None
    entity: str | None = None
    """The display value the query filtered on (None: no filter)."""
    mention: str | None = None
    """The question's words for the entity (found or not)."""
    entities: list[str] = field(default_factory=list)
    """Every display value the query ran with (several for a shared value: "in Germany")."""
    matched_field: str | None = None
    suggestions: list[str] = field(default_factory=list)
    result: ExecResult | None = None
    """The executed query's outcome; None when no query ran."""
    intent: Intent | None = None
    """How the question was read (None: not read, e.g. a route chosen by the caller)."""
    shown_fields: tuple[str, str] = ("id", "name")
    """(key, display) fields of the rows an answer names (a ranking, an attribute)."""

    @property
    def answer_kind(self) -> str:
        """`answer` when a query computed what the question asks (a count, a ranking, rows
        narrowed by the entity or the question's conditions); `rows_along_route` otherwise:
        every row along the route (nothing to narrow them, or something not understood)."""
        if self.result is None or self.status == "error":
            return "rows_along_route"
        intent = self.intent
        if intent is not None and intent.kind != "rows":
            return "answer"
        if intent is not None and intent.fell_back:
            return "rows_along_route"
        narrowed = bool(self.entities) or self.entity is not None or bool(
            intent is not None and intent.conditions)
        return "answer" if narrowed else "rows_along_route"

    @property
    def value(self) -> Any:
        """The single value of a count (int), an existence check (bool), an ungrouped
        aggregate (a number; None over no rows) or a superlative (the top count, total or
        column value); None for other answers."""
        intent = self.intent
        if intent is None or self.result is None or self.status == "error" or not self.rows:
            return None
        if intent.kind == "count":
            return self.rows[0].get(COUNT_LABEL, 0)
        if intent.kind == "exists":
            return bool(self.rows[0].get(COUNT_LABEL, 0))
        if intent.kind == "aggregate" and not intent.shape.grouped:
            return self.rows[0].get(VALUE_LABEL)
        shape = intent.shape
        if intent.kind == "superlative":  # the top value, which every tied row shares
            return (self.rows[0].get(shape.metric_label) if shape.grouped else
                    self.rows[0].get(shape.column.column) if shape.column else None)
        return None

    @property
    def query(self) -> str:
        return self.result.query if self.result is not None else ""

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self.result.rows if self.result is not None else []

    @property
    def message(self) -> str:
        """One line for people."""
        if self.status == "entity_not_found":
            hint = f"; did you mean {_quoted_list(self.suggestions)}?" if self.suggestions else ""
            return f"no {self.route.anchor} named '{self.mention}'{hint}"
        if self.status == "ambiguous_entity":
            return (f"'{self.mention}' ({self.matched_field}) belongs to more than "
                    f"{MAX_ROWS_PER_VALUE} {self.route.anchor} rows, e.g. "
                    f"{_quoted_list(self.suggestions[:3])}; name one")
        if self.status == "no_route":
            return "the router found no legal route for this question"
        count = self.result.count if self.result is not None else 0
        if self.status == "error":
            return f"the query failed: {self.result.error if self.result else ''}"
        if self.intent is not None and (self.intent.kind != "rows" or (
                self.intent.conditions and self.answer_kind == "answer")):
            return self._answer_message()
        if self.status == "no_entity":
            text = (f"no entity named: all {count} {self.route.target} rows along the route, "
                    "unfiltered")
        elif len(self.entities) > 1:
            text = (f"{count} rows for the {len(self.entities)} {self.route.anchor} rows whose "
                    f"{self.matched_field} is '{self.mention}'")
        else:
            text = f"{count} rows for {self.route.anchor} '{self.entity}'"
        return text + self._not_understood()

    def _not_understood(self) -> str:
        if self.intent is None or not self.intent.unparsed:
            return ""
        shown = ", ".join(str(u) for u in self.intent.unparsed)
        verb = "was" if len(self.intent.unparsed) == 1 else "were"
        return f"; the question's {shown} {verb} not understood"

    def _answer_message(self) -> str:
        """"count of contract rows per supplier for ...: 24 groups"."""
        intent = self.intent
        assert intent is not None and self.route is not None
        text = intent.description
        if self.entity is not None:
            text += f", for {self.route.anchor} '{self.entity}'"
        elif len(self.entities) > 1:
            text += (f", for the {len(self.entities)} {self.route.anchor} rows whose "
                     f"{self.matched_field} is '{self.mention}'")
        elif self.status == "no_entity":
            text += ", over every row along the route"
        shape, rows = intent.shape, self.rows
        if intent.kind in ("count", "exists") or (intent.kind == "aggregate"
                                                  and not shape.grouped):
            value = self.value
            shown = ("yes" if value else "no") if intent.kind == "exists" else _shown(value)
            return f"{text}: {shown}"
        if intent.kind in ("group_count", "aggregate"):
            return f"{text}: {len(rows)} group{'s' if len(rows) != 1 else ''}"
        key, display = self.shown_fields
        names = [str(r.get(display, r.get(key, ""))) for r in rows[:_SHOWN_IN_MESSAGE]]
        more = f" (+{len(rows) - _SHOWN_IN_MESSAGE})" if len(rows) > _SHOWN_IN_MESSAGE else ""
        if not rows:
            return f"{text}: none"
        if intent.kind == "superlative":
            metric = rows[0].get(shape.metric_label) if shape.grouped else (
                rows[0].get(shape.column.column) if shape.column else None)
            tied = f" ({len(rows)} tied)" if len(rows) > 1 else ""
            shown = f", {_shown(metric)}" if metric is not None else ""
            return f"{text}: {_quoted_list(names)}{more}{tied}{shown}"
        if intent.kind == "attribute" and shape.column is not None:
            pairs = [f"{r.get(display, r.get(key))}: {_shown(r.get(shape.column.column))}"
                     for r in rows[:_SHOWN_IN_MESSAGE]]
            return f"{text}: {'; '.join(pairs)}{more}"
        return f"{text}: {len(rows)} rows"

    def to_dict(self, max_rows: int | None = 20) -> dict[str, Any]:
        result = self.result.to_dict(max_rows=max_rows) if self.result is not None else {}
        return {"question": self.question, "status": self.status, "message": self.message,
                "route": self.route.to_dict() if self.route is not None else None,
                "entity": self.entity, "entities": self.entities, "mention": self.mention,
                "matched_field": self.matched_field, "suggestions": self.suggestions,
                "query": self.query, "count": result.get("count", 0),
                "rows": result.get("rows", []), "elapsed_ms": result.get("elapsed_ms"),
                "error": result.get("error"),
                "intent": self.intent.to_dict() if self.intent is not None else None,
                "answer_kind": self.answer_kind, "value": self.value}


def _shown(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if not value.is_integer() else (
            f"{int(value):,}")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _nothing(answer: Answer) -> bool:
    """An answer over no rows: count 0, no row existing, no value, no group, no row."""
    if answer.intent is not None and answer.intent.kind in ("count", "exists", "aggregate") \
            and not answer.intent.shape.grouped:
        return not answer.value
    return not answer.rows


def _quoted_list(values: list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


@dataclass
class _TableValues:
    """An anchor table's values: display values, and every other text value with the display
    values of the rows that hold it."""

    display: list[str]  # longest first
    others: list[tuple[str, str, tuple[str, ...]]]  # (value, field, display values), longest 1st


def _contains(text: str, value: str) -> tuple[int, int] | None:
    """Where `value` occurs in `text` (both case-folded), not inside a longer Latin word or
    code: "Alpha" is not in "alphabet"; CJK has no word boundaries."""
    start = text.find(value)
    while start >= 0:
        end = start + len(value)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        glued = (value[0].isascii() and value[0].isalnum() and before.isascii()
                 and before.isalnum()) or (value[-1].isascii() and value[-1].isalnum()
                                           and after.isascii() and after.isalnum())
        if not glued:
            return start, end
        start = text.find(value, start + 1)
    return None


class RoutedQA:
    """Question -> Answer with any `Router` (see module doc)."""

    def __init__(self, router: Router, database: Database, top_k: int = 3):
        self.router = router
        self.database = database
        self.schema = database.schema
        self.top_k = top_k
        self._values: dict[str, _TableValues] = {}
        self._matcher = TableMatcher(self.schema, PathVocab.from_schema(self.schema))
        words = {w for t in self.schema.tables for w in (*table_words(t, "en"),
                                                            humanize(t.name))}
        self._singular_words = {w.casefold() for w in words}
        self._vocabulary = {s for s, _table, _hint in self._matcher.resolver.entries}
        # Column words: "delivery date", "contract numbers" name a column, not a row.
        phrases = [field_phrase(t, f) for t in self.schema.tables for f in t.fields]
        column_words = {w for fp in phrases for w in (*fp.en.split(),
                                                     *humanize(fp.field.name).split())}
        self._column_words = column_words | {plural(w) for w in column_words}
        self._zh_words = [p.zh for p in phrases if p.zh] + [
            w for w in self._vocabulary if has_cjk(w)]
        self._parser: IntentParser | None = None
        self._distinct: dict[tuple[str, str], list[str]] = {}

    # -- the question's intent ----------------------------------------------------------------
    @property
    def answers_intents(self) -> bool:
        """Whether the database runs pathrl's answer queries (SQL and MongoDB do; another
        `Database` runs route listings only, and every question is read as one)."""
        return isinstance(self.database, (SQLDatabase, MongoDatabase))

    def _column_values(self, table: str, column: str) -> list[str]:
        if (table, column) not in self._distinct:
            from pathrl.data.entities import distinct_values

            try:
                self._distinct[table, column] = distinct_values(self.database, table, column)
            except PathrlError:
                self._distinct[table, column] = []
        return self._distinct[table, column]

    @property
    def parser(self) -> IntentParser:
        """The intent parser, with the database's values (read once, on first use)."""
        if self._parser is None:
            linker = (SchemaLinker(self.schema, self.database) if self.answers_intents
                      else SchemaLinker(self.schema))
            self._parser = IntentParser(self.schema, linker, self._column_values
                                        if self.answers_intents else None)
        return self._parser

    def intent_of(self, question: str, path: LegalPath) -> Intent:
        """How `question` reads on `path` (see `pathrl.intent`)."""
        return self.parser.parse(question, path)

    # -- values -------------------------------------------------------------------------------
    def table_values(self, table: str) -> _TableValues:
        """The anchor table's values, read once (all its rows, through the read-only
        executor: the same code for SQL and MongoDB)."""
        if table not in self._values:
            spec = self.schema.table(table)
            result = self.database.execute_hops((), table, Filter())
            foreign = {r.from_field for r in self.schema.relations if r.from_table == table}
            text_fields = [f.name for f in spec.fields if f.type == "str"
                           and f.name != spec.display and f.name not in foreign]
            display: set[str] = set()
            holders: dict[tuple[str, str], set[str]] = {}
            for row in result.rows:
                shown = row.get(spec.display)
                if shown is None or not str(shown).strip():
                    continue
                shown = str(shown).strip()
                display.add(shown)
                for name in text_fields:
                    value = str(row.get(name) or "").strip()
                    if len(value) >= _MIN_VALUE_CHARS and value.casefold() not in self._vocabulary:
                        holders.setdefault((value, name), set()).add(shown)
            others = [(v, f, tuple(sorted(d))) for (v, f), d in holders.items()]
            self._values[table] = _TableValues(
                sorted(display, key=lambda v: (-len(v), v)),
                sorted(others, key=lambda o: (-len(o[0]), o[0], o[1])))
        return self._values[table]

    def entity_values(self, table: str) -> list[str]:
        """Display values of a table, longest first."""
        return self.table_values(table).display

    def find_entity(self, question: str, table: str) -> EntityMatch | None:
        """The value of `table` the question names (display values first, then the other
        text columns), or None when none occurs in it."""
        folded = question.casefold()
        values = self.table_values(table)
        display_field = self.schema.table(table).display
        candidates = [(v, display_field, (v,)) for v in values.display] + values.others
        for value, name, shown in candidates:
            span = _contains(folded, value.casefold())
            if span:
                return EntityMatch(question[span[0]:span[1]], name, shown)
        return None

    # -- a named entity that is not in the table ----------------------------------------------
    def named_mention(self, question: str) -> str | None:
        """The entity the question names from its surface alone, or None: a quoted,
        capitalised or CJK-in-English span (`entity_spans`), a code-like token (letters and
        digits: "HT-2099-001"), or the words after a singular table word ("project
        harmless", "项目和谐号的…") that are not schema words or function words."""
        spans = [s for s in entity_spans(question) if not self._is_vocabulary(s)]
        spans += [m.group(0) for m in _CODE.finditer(question)]
        spans += self._after_table_word(question)
        spans = [s.strip(" .,;:!?") for s in spans]
        spans = [s for s in spans if len(s) >= 2]  # "rating is B": a grade, not a name
        return max(spans, key=len) if spans else None

    def _is_vocabulary(self, text: str) -> bool:
        words = [w for w in re.split(r"[\s,.;:!?]+", text.casefold()) if w]
        return not words or all(w in self._vocabulary or w in _EN_STOPWORDS for w in words)

    def _after_table_word(self, question: str) -> list[str]:
        found = self._matcher.mentions(question)
        starts = sorted(s for s, *_ in found)
        out = []
        for _start, end, _table, hint, _names_anchor in found:
            if hint:
                continue
            stop = next((s for s in starts if s >= end), len(question))
            rest = question[end:stop]
            if has_cjk(question[end:end + 1]):
                cut = re.search("|".join(map(re.escape, ZH_CONNECTORS)) + r"|[\s\"“”]", rest)
                value = rest[:cut.start()] if cut else rest
                if value and not value.startswith(_ZH_NOT_NAMES) and not any(
                        value in w for w in self._zh_words):  # "交付日期": a column
                    out.append(value)
                continue
            if question[_start:end].casefold() not in self._singular_words:
                continue  # a plural is a head noun ("projects started in 2022"), not a type
            words = []
            for m in re.finditer(r"\S+", rest):
                word = m.group(0).rstrip(".?!,;:")
                folded = word.casefold()
                if (not _EN_WORD.fullmatch(word) or folded in _EN_STOPWORDS
                        or folded in self._column_words):
                    break  # only the words right after the table word, up to a function word
                words.append(word)
                if word != m.group(0):
                    break  # punctuation ends the name
            if words and not self._is_vocabulary(" ".join(words)):
                out.append(" ".join(words))
        return out

    def suggestions(self, mention: str, table: str, n: int = N_SUGGESTIONS) -> list[str]:
        """The `n` display values of the table closest to `mention`, best first (for a
        code-like mention, also the other values that identify one row: ids, numbers)."""
        values = self.table_values(table)
        choices = list(values.display)
        if _CODE.fullmatch(mention):
            choices += [v for v, _f, shown in values.others
                        if len(shown) == 1 and _CODE.fullmatch(v) and v not in choices]
        ranked = process.extract(mention, choices, scorer=fuzz.WRatio,
                                 processor=utils.default_process, limit=n)
        return [choice for choice, _score, _index in ranked]

    # -- the pipeline -------------------------------------------------------------------------
    def ask(self, question: str) -> Answer:
        return self.ask_batch([question])[0]

    def ask_batch(self, questions: Sequence[str]) -> list[Answer]:
        """`ask` for many questions, routed in one `route_batch` call."""
        routings = self.router.route_batch(check_questions(questions), top_k=self.top_k)
        return [self.answer(routing) for routing in routings]

    def answer(self, routing: Routing) -> Answer:
        """The Answer for a question already routed."""
        question = routing.question
        if not routing.routes:
            return Answer(question, "no_route", None)
        route = routing.best
        intent = self.intent_of(question, route.path) if self.answers_intents else None
        found = self.find_entity(question, route.anchor)
        if intent is not None and not self._plain(intent, route, found):
            return self._answer_intent(question, route, intent, found)
        if intent is not None:  # a listing: the anchor's values are the entity, as before
            intent = intent.without_conditions() if intent.unparsed else intent
        if found is not None and len(found.values) > MAX_ROWS_PER_VALUE:
            if intent is not None and intent.conditions and found.field != self.schema.table(
                    route.anchor).display:
                # "inspections whose result is 'pass'": a category the question filters on
                # (the intent read it as a condition), not a row's name.
                return self._answer_intent(question, route, intent, found)
            return Answer(question, "ambiguous_entity", route, mention=found.mention,
                          matched_field=found.field,
                          suggestions=list(found.values[:MAX_AMBIGUOUS_SHOWN]), intent=intent)
        if found is not None:
            result = self._run_for(route, found.values)
            entity = None if found.ambiguous else found.value
            if intent is not None:
                intent = self._entity_read(intent, route, found)
            return Answer(question, result.status, route, entity=entity, mention=found.mention,
                          matched_field=found.field, entities=list(found.values), result=result,
                          intent=intent)
        mention = self.named_mention(question)
        if mention is not None and intent is not None and self._intent_words(mention):
            mention = None  # "contract value": words of the question's intent, no name
        if mention is not None:
            return Answer(question, "entity_not_found", route, mention=mention,
                          suggestions=self.suggestions(mention, route.anchor), intent=intent)
        result = self.database.run_path(route.path, Filter())
        status = "error" if result.status == "error" else "no_entity"
        if intent is not None:
            intent = intent.without_conditions() if intent.conditions else intent
        return Answer(question, status, route, result=result, intent=intent)

    def _intent_words(self, mention: str) -> bool:
        """A lower-case mention made only of column, function or intent words ("value",
        "started"): no row's name."""
        return mention == mention.casefold() and all(
            w in self._column_words or w in _EN_STOPWORDS or self.parser.names_nothing(w)
            for w in mention.split())

    @staticmethod
    def _plain(intent: Intent, route: RankedRoute, found: EntityMatch | None) -> bool:
        """A listing with no condition, or whose one condition is the anchor value the entity
        lookup found: that lookup answers it (one query per anchor row holding the value)."""
        if intent.kind != "rows" or not intent.conditions:
            return intent.kind == "rows"
        return found is not None and all(
            c.op == "eq" and c.table == route.anchor and c.column == found.field
            and str(c.value).casefold() == found.mention.casefold() for c in intent.conditions)

    @staticmethod
    def _entity_read(intent: Intent, route: RankedRoute, found: EntityMatch) -> Intent:
        """The listing's intent as the entity lookup ran it: the anchor value it used."""
        kept = [c for c in intent.conditions if c.column == found.field
                and str(c.value).casefold() == found.mention.casefold()]
        return intent.without_conditions().with_conditions(kept)

    def _answer_intent(self, question: str, route: RankedRoute, intent: Intent,
                       found: EntityMatch | None) -> Answer:
        """Run the intent's answer query: the anchor row(s) the question names (display
        values) and the intent's conditions; a value of another anchor column is a
        condition."""
        anchor = self.schema.table(route.anchor)
        entities: tuple[str, ...] = ()
        entity = mention = matched = None
        if found is not None:
            mention, matched = found.mention, found.field
            covered = any(c.table == anchor.name and c.column == found.field and c.op == "eq"
                          for c in intent.conditions)
            if found.field == anchor.display or not covered:
                entities = found.values
                entity = None if found.ambiguous else found.value
        else:
            named = self.named_mention(question)
            if named is not None and self._intent_words(named):
                named = None  # "contract value", "project started": the intent's words
            if named is not None and not any(
                    named.casefold() in str(c.value).casefold()
                    or str(c.value).casefold() in named.casefold() for c in intent.conditions):
                return Answer(question, "entity_not_found", route, mention=named,
                              suggestions=self.suggestions(named, route.anchor), intent=intent)
        shape = intent.shape
        result = self.database.execute(self._answer_query(route.path, shape, entities))
        if result.status != "error":
            rows = answer_rows(shape, result.rows)
            result = ExecResult(result.status, len(rows), rows, result.elapsed_ms, None,
                                result.query)
        subject = self.schema.table(shape.group_table or shape.subject)
        answer = Answer(question, "ok", route, entity=entity, mention=mention,
                        matched_field=matched, entities=list(entities), result=result,
                        intent=intent, shown_fields=(subject.key, subject.display))
        if result.status == "error":
            answer.status = "error"
        elif _nothing(answer):
            answer.status = "empty"
        elif not entities and not intent.conditions:
            answer.status = "no_entity"
        return answer

    def _answer_query(self, path: LegalPath, shape: AnswerShape,
                      entities: tuple[str, ...]) -> SQLQuery | MongoQuery:
        if isinstance(self.database, MongoDatabase):
            return mongo_answer_query(self.schema, path.hops, path.anchor, shape, entities)
        assert isinstance(self.database, SQLDatabase)
        return sql_answer_query(self.schema, path.hops, path.anchor, shape, entities,
                                self.database.engine.dialect)

    def answer_route(self, route: RankedRoute, entity: str | None,
                     question: str = "") -> Answer:
        """The Answer for a route chosen by the caller (no router call): `entity` is a display
        value of the route's anchor table (matched case-insensitively; the stored spelling is
        what the query filters on, as a bound parameter), or None for every row along the
        route. A value the anchor table does not hold is `entity_not_found` with suggestions,
        and no query runs."""
        if entity is None:
            result = self.database.run_path(route.path, Filter())
            status = "error" if result.status == "error" else "no_entity"
            return Answer(question, status, route, result=result)
        display = self.schema.table(route.anchor).display
        values = self.table_values(route.anchor).display
        wanted = entity.strip()
        value = wanted if wanted in values else next(
            (v for v in values if v.casefold() == wanted.casefold()), None)
        if value is None:
            return Answer(question, "entity_not_found", route, mention=entity,
                          suggestions=self.suggestions(entity, route.anchor))
        result = self.database.run_path(route.path, Filter(entity=value))
        return Answer(question, result.status, route, entity=value, mention=entity,
                      matched_field=display, entities=[value], result=result)

    def _run_for(self, route: RankedRoute, values: tuple[str, ...]) -> ExecResult:
        """The route's rows for every anchor row in `values` (display values), merged in the
        query's order (by the target's key); the first failure if any query fails."""
        results = [self.database.run_path(route.path, Filter(entity=v)) for v in values]
        if len(results) == 1:
            return results[0]
        failed = next((r for r in results if r.status == "error"), None)
        if failed is not None:
            return failed
        key = self.schema.table(route.target).key
        unique = {tuple(sorted(row.items(), key=lambda kv: kv[0])): row
                  for r in results for row in r.rows}
        rows = sorted(unique.values(), key=lambda row: (row.get(key) is None,
                                                          row.get(key) or ""))
        return ExecResult("ok" if rows else "empty", len(rows), rows,
                          sum(r.elapsed_ms for r in results), None, results[0].query)
