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
  (a category, not a name); no query runs and `suggestions` lists some of them;
- `no_route`: the router returned no legal route; no query runs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process, utils

from pathrl.data.lexicon import field_phrase, has_cjk, humanize, plural, table_words
from pathrl.db import Database, ExecResult
from pathrl.paths import PathVocab
from pathrl.query import Filter
from pathrl.router.baselines import ZH_CONNECTORS, TableMatcher, entity_spans
from pathrl.router.protocol import RankedRoute, Router, Routing, check_questions

STATUSES = ("ok", "empty", "error", "no_entity", "entity_not_found", "ambiguous_entity",
            "no_route")
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
        if self.status == "no_entity":
            return f"no entity named: all {count} rows along the route, unfiltered"
        if len(self.entities) > 1:
            return (f"{count} rows for the {len(self.entities)} {self.route.anchor} rows whose "
                    f"{self.matched_field} is '{self.mention}'")
        return f"{count} rows for {self.route.anchor} '{self.entity}'"

    def to_dict(self, max_rows: int | None = 20) -> dict[str, Any]:
        result = self.result.to_dict(max_rows=max_rows) if self.result is not None else {}
        return {"question": self.question, "status": self.status, "message": self.message,
                "route": self.route.to_dict() if self.route is not None else None,
                "entity": self.entity, "entities": self.entities, "mention": self.mention,
                "matched_field": self.matched_field, "suggestions": self.suggestions,
                "query": self.query, "count": result.get("count", 0),
                "rows": result.get("rows", []), "elapsed_ms": result.get("elapsed_ms"),
                "error": result.get("error")}


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
        found = self.find_entity(question, route.anchor)
        if found is not None and len(found.values) > MAX_ROWS_PER_VALUE:
            return Answer(question, "ambiguous_entity", route, mention=found.mention,
                          matched_field=found.field,
                          suggestions=list(found.values[:MAX_AMBIGUOUS_SHOWN]))
        if found is not None:
            result = self._run_for(route, found.values)
            entity = None if found.ambiguous else found.value
            return Answer(question, result.status, route, entity=entity, mention=found.mention,
                          matched_field=found.field, entities=list(found.values), result=result)
        mention = self.named_mention(question)
        if mention is not None:
            return Answer(question, "entity_not_found", route, mention=mention,
                          suggestions=self.suggestions(mention, route.anchor))
        result = self.database.run_path(route.path, Filter())
        status = "error" if result.status == "error" else "no_entity"
        return Answer(question, status, route, result=result)

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
