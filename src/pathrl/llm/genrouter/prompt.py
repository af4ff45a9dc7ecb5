"""The generative router's prompt and answer: the schema's legal paths listed with short ids,
the question, and the route written back as JSON (docs/generative_router.md).

    prompt = RoutePrompt(schema)
    prompt.messages("Payments of contract HT-2021-019?")   # system (paths) + user (question)
    prompt.completion(path)        # '{"anchor": "contract", "via": [], "target": "payment"}'
    prompt.parse('Sure: {"anchor": "contract", "via": [], "target": "payment"}').path

Two answer formats (`COMPLETIONS`):

- "triple" (default): `{"anchor": "project", "via": ["contract"], "target": "payment"}`,
  table names as the listing writes them (synonyms are mapped by the LLM baseline's
  `TableMatcher`); a well-formed answer may name an illegal triple. The listing is
  `- project > contract > payment`.
- "id": `{"path": "P07"}`, the listing `P07: project > contract > payment`. Every answer is
  a choice, legal when well-formed, and scoring every candidate costs a couple of digit
  tokens; but a small model learns it far more slowly (docs/generative_router.md: 5.8% vs
  37.0% exact after the same 36 SFT steps), since it must look the id up in the list.

One line per legal triple: parallel foreign keys between the same tables (paths `a>b` and
`a>b#2`) give one candidate, the path `PathVocab.path_by_triple` resolves it to.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pathrl.errors import PathrlError
from pathrl.paths import LegalPath, PathVocab, Triple
from pathrl.router.baselines import TableMatcher, schema_prompt
from pathrl.schema import Schema

COMPLETIONS = ("triple", "id")
PARSE_STATUSES = ("json", "loose", "illegal", "unparsable")
"""How an answer parsed: `json` a JSON object naming a legal route; `loose` no valid JSON,
but a listed id written somewhere (id format only; the route is taken, the format reward is
not paid); `illegal` JSON naming an unknown id or an illegal triple; `unparsable` nothing
usable."""

_INSTRUCTIONS = (
    "You route business questions over a database to one of its legal join paths. A path "
    "starts at the anchor table (the table of the entity the question names), passes "
    "through the via tables in order, and ends at the target table (the table whose rows or "
    "values the question asks for). A path of one table is a question about that table "
    "alone.")
_ANSWER = {
    "id": 'Answer with the id of the one path that fits the question, as JSON: {"path": "%s"}',
    "triple": ('Answer with the one path that fits the question, as JSON: {"anchor": "%s", '
               '"via": [%s], "target": "%s"}'),
}


@dataclass(frozen=True)
class ParsedRoute:
    """What an answer says: its status (`PARSE_STATUSES`), the legal path it names (None
    unless json/loose) and, for the triple format, the triple it wrote even when illegal
    (the layered reward credits its right components)."""

    status: str
    path: LegalPath | None = None
    triple: Triple | None = None

    @property
    def legal(self) -> bool:
        return self.path is not None

    @property
    def well_formed(self) -> bool:
        """A JSON object naming a legal route (what the format reward pays for)."""
        return self.status == "json"


class RoutePrompt:
    """The prompt and answer format for one schema (see the module doc)."""

    def __init__(self, schema: Schema, completion: str = "triple", schema_tables: bool = False,
                 vocab: PathVocab | None = None):
        if completion not in COMPLETIONS:
            raise PathrlError(f"unknown completion format '{completion}': use one of "
                              f"{', '.join(COMPLETIONS)}")
        self.schema = schema
        self.vocab = vocab or PathVocab.from_schema(schema)
        self.completion_format = completion
        self.schema_tables = schema_tables
        self.paths: list[LegalPath] = [self.vocab.path_by_triple[t] for t in self.vocab.triples]
        width = max(2, len(str(len(self.paths))))
        # Fixed-width ids: no id is a prefix of another ("P1" vs "P10"), so a scored id is a
        # whole answer.
        self.ids = [f"P{i:0{width}d}" for i in range(1, len(self.paths) + 1)]
        self.index_of_id = {pid: i for i, pid in enumerate(self.ids)}
        self.index_of_triple = {p.triple: i for i, p in enumerate(self.paths)}
        self.matcher = TableMatcher(schema, self.vocab) if completion == "triple" else None
        self._id_pattern = re.compile(rf"(?<![A-Za-z0-9])P\d{{{width}}}(?!\d)")

    # -- the prompt ------------------------------------------------------------------------------
    def path_line(self, index: int) -> str:
        """`P07: project > contract > payment` (the triple format lists `- project > ...`)."""
        tables = " > ".join(self.paths[index].tables)
        return f"{self.ids[index]}: {tables}" if self.completion_format == "id" else f"- {tables}"

    def system_text(self) -> str:
        """Instructions, optionally the tables, then every legal path on its own line."""
        example = self.paths[min(len(self.paths) - 1, len(self.paths) // 2)]
        if self.completion_format == "id":
            answer = _ANSWER["id"] % self.ids[self.index_of_triple[example.triple]]
        else:
            via = ", ".join(f'"{v}"' for v in example.via)
            answer = _ANSWER["triple"] % (example.anchor, via, example.target)
        parts = [f"{_INSTRUCTIONS} {answer}"]
        if self.schema_tables:
            parts.append(schema_prompt(self.schema, "en", synonyms=True))
        parts.append("Legal paths:\n" + "\n".join(self.path_line(i)
                                                  for i in range(len(self.paths))))
        return "\n\n".join(parts)

    def shared_messages(self) -> list[dict[str, str]]:
        """The part every prompt shares (the system message): its KV cache is computed once."""
        return [{"role": "system", "content": self.system_text()}]

    def messages(self, question: str) -> list[dict[str, str]]:
        return [*self.shared_messages(), {"role": "user", "content": question}]

    # -- the answer --------------------------------------------------------------------------
    def completion(self, path: LegalPath | Triple) -> str:
        """The gold answer for a legal path (or its triple)."""
        triple = path.triple if isinstance(path, LegalPath) else path
        if triple not in self.index_of_triple:
            raise PathrlError(f"{triple} is not a legal route of schema '{self.schema.name}'")
        index = self.index_of_triple[triple]
        if self.completion_format == "id":
            return json.dumps({"path": self.ids[index]})
        anchor, target, via = triple
        return json.dumps({"anchor": anchor, "via": list(via), "target": target},
                          ensure_ascii=False)

    def candidates(self) -> list[str]:
        """Every legal answer, in listing order (what the router scores for its top-k)."""
        return [self.completion(p) for p in self.paths]

    def parse(self, text: str) -> ParsedRoute:
        """The route an answer names (see `PARSE_STATUSES`): the first JSON object in the text
        (prose around it is fine) that has the format's keys."""
        obj = first_json_object(text, ("path",) if self.completion_format == "id"
                                else ("anchor", "target"))
        if self.completion_format == "id":
            return self._parse_id(text, obj)
        return self._parse_triple(obj)

    def _parse_id(self, text: str, obj: dict[str, Any] | None) -> ParsedRoute:
        if obj is not None:
            value = obj.get("path")
            index = self.index_of_id.get(value.strip().upper()) if isinstance(value, str) \
                else None
            if index is None:
                return ParsedRoute("illegal")
            return ParsedRoute("json", self.paths[index], self.paths[index].triple)
        found = self._id_pattern.search(text or "")
        if found and found.group(0) in self.index_of_id:
            path = self.paths[self.index_of_id[found.group(0)]]
            return ParsedRoute("loose", path, path.triple)
        return ParsedRoute("illegal" if found else "unparsable")

    def _parse_triple(self, obj: dict[str, Any] | None) -> ParsedRoute:
        if obj is None:
            return ParsedRoute("unparsable")
        assert self.matcher is not None
        anchor = self.matcher.table_of(str(obj.get("anchor") or ""))
        target = self.matcher.table_of(str(obj.get("target") or ""))
        raw_via = obj.get("via") or []
        if isinstance(raw_via, str):
            raw_via = [v for v in re.split(r"\s*>\s*|\s*,\s*", raw_via)
                       if v.strip().lower() not in ("", "none", "null")]
        if anchor is None or target is None or not isinstance(raw_via, list):
            return ParsedRoute("illegal")
        via = tuple(self.matcher.table_of(str(v)) or f"?{v}" for v in raw_via)
        triple: Triple = (anchor, target, via)
        if triple in self.index_of_triple:
            return ParsedRoute("json", self.paths[self.index_of_triple[triple]], triple)
        return ParsedRoute("illegal", None, triple)


def first_json_object(text: str, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """The first JSON object in `text` holding every key of `keys` (None when there is
    none): prose, code fences or a second object around it are ignored."""
    if not text:
        return None
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            obj, _end = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(obj, dict) and all(k in obj for k in keys):
            return obj
    return None
