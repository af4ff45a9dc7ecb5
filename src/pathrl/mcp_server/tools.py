"""What the MCP tools do, with no protocol in sight: `RouterTools` over a loaded `RouteService`.

    tools = RouterTools(open_service(Path("runs/demo/scorer/ppo/model")))
    tools.route_question("Contracts of project Riyadh Railway", top_k=3).routes[0].path
    tools.run_route(path="project>contract", entity="Riyadh Railway", limit=5).rows

Each method returns a pydantic record (the SDK publishes its JSON schema as the tool's output
schema) with a `summary()` for people and for models that read text only. A caller's mistake
(an empty question, an unknown path id or table, a `top_k` or `limit` out of range) is a
`PathrlError` with one line saying what to change; the server turns it into a tool error.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz import fuzz, process

from pathrl.errors import PathrlError
from pathrl.paths import LegalPath
from pathrl.pipeline import MAX_AMBIGUOUS_SHOWN, Answer
from pathrl.router.protocol import RankedRoute, Routing
from pathrl.service import RouteService

MAX_TOP_K = 10
MAX_LIMIT = 100  # rows returned per run_route call (the count is always the full one)
DEFAULT_LIMIT = 20
MAX_QUESTION_CHARS = 2000
N_ALTERNATIVES = 2  # runner-up routes run_route reports when it routes the question itself

Status = Literal["ok", "empty", "error", "no_entity", "entity_not_found", "ambiguous_entity",
                 "no_route"]  # pathrl.pipeline.STATUSES, spelled out for the JSON schema


class ToolRecord(BaseModel):
    # `from` is a Python keyword: fields named from_ travel as "from".
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    def summary(self) -> str:
        """Text for people and for clients that show the model text only."""
        return self.model_dump_json(indent=2)


class RouteInfo(ToolRecord):
    """One ranked legal route."""

    path: str = Field(description="Legal path id; pass it to run_route as `path`.")
    anchor: str = Field(description="Table the question starts from (holds the entity).")
    via: list[str] = Field(description="Tables joined through, in order (empty: direct).")
    target: str = Field(description="Table whose rows answer the question.")
    hops: int = Field(description="Number of joins (0: a single table).")
    probability: float = Field(description="The router's probability for this route.")

    @classmethod
    def of(cls, route: RankedRoute) -> RouteInfo:
        return cls(path=route.path.id, anchor=route.anchor, via=list(route.via),
                   target=route.target, hops=route.path.n_hops,
                   probability=round(route.probability, 4))

    def label(self) -> str:
        return " > ".join((self.anchor, *self.via, self.target)) if self.hops else self.anchor


class EntityLookup(ToolRecord):
    """What the question names in a table (looked up among that table's rows)."""

    table: str = Field(description="Table searched: the best route's anchor.")
    mention: str | None = Field(description="The question's words for the entity (None: the "
                                            "question names none).")
    found: bool = Field(description="Whether the table holds it.")
    field: str | None = Field(description="Column it matched in (when found).")
    values: list[str] = Field(description="Display values of the rows holding it (at most "
                                          f"{MAX_AMBIGUOUS_SHOWN}).")
    n_rows: int = Field(description="How many rows hold it (several: a shared value such as "
                                    "a country).")
    suggestions: list[str] = Field(description="Closest values of the table when not found.")


class RouteQuestionResult(ToolRecord):
    question: str
    routes: list[RouteInfo] = Field(description="Legal routes, most probable first.")
    entity: EntityLookup | None = Field(description="The entity named, looked up in the best "
                                                    "route's anchor table (None: no route).")

    def summary(self) -> str:
        lines = [f"Routes for: {self.question}"]
        lines += [f"{rank}. {r.label()}  (path {r.path}, p={r.probability:.2f})"
                  for rank, r in enumerate(self.routes, start=1)]
        if not self.routes:
            lines.append("no legal route found")
        entity = self.entity
        if entity is not None and entity.found:
            shown = ", ".join(f"'{v}'" for v in entity.values)
            more = f" (+{entity.n_rows - len(entity.values)} more)" if (
                entity.n_rows > len(entity.values)) else ""
            lines.append(f"entity in {entity.table}: '{entity.mention}' ({entity.field}) -> "
                         f"{shown}{more}")
        elif entity is not None and entity.mention is not None:
            hint = ", ".join(f"'{s}'" for s in entity.suggestions)
            lines.append(f"entity: no {entity.table} named '{entity.mention}'"
                         + (f"; closest: {hint}" if hint else ""))
        elif entity is not None:
            lines.append(f"entity: none named (a query would return every {entity.table} row "
                         "along the route)")
        return "\n".join(lines)


class RunRouteResult(ToolRecord):
    """The answer: route, entity, the read-only query that ran, and its rows."""

    question: str | None
    status: Status = Field(description="ok | empty | error: the query ran filtered on the "
                                       "entity; no_entity: it ran unfiltered; entity_not_found "
                                       "| ambiguous_entity | no_route: no query ran.")
    message: str = Field(description="One line saying what happened.")
    route: RouteInfo | None = Field(description="The route used (probability 1.0 when the "
                                                "caller gave the path).")
    alternatives: list[RouteInfo] = Field(description="Next most probable routes (when the "
                                                      "question was routed).")
    entity: str | None = Field(description="Display value the query filtered on.")
    entities: list[str] = Field(description="Every display value the query ran with.")
    mention: str | None = Field(description="The words naming the entity (found or not).")
    matched_field: str | None
    suggestions: list[str] = Field(description="Closest values when the entity is not found, "
                                               "or rows holding an ambiguous one.")
    query: str = Field(description="The query that ran, with bound parameters as "
                                   "placeholders (empty: none ran).")
    language: Literal["sql", "mql"]
    count: int = Field(description="Rows the query returned (all of them).")
    rows: list[dict[str, Any]] = Field(description="The first `limit` rows (target table "
                                                   "columns).")
    truncated: bool = Field(description="Whether `rows` holds fewer rows than `count`.")
    elapsed_ms: float | None
    error: str | None

    def summary(self) -> str:
        lines = [f"status: {self.status} - {self.message}"]
        if self.route is not None:
            lines.append(f"route: {self.route.label()}  (path {self.route.path}, "
                         f"p={self.route.probability:.2f})")
        if self.alternatives:
            lines.append("other routes: " + "; ".join(
                f"{r.path} (p={r.probability:.2f})" for r in self.alternatives))
        if self.suggestions:
            lines.append("suggestions: " + ", ".join(f"'{s}'" for s in self.suggestions))
        if self.query:
            lines.append(f"{self.language}: {' '.join(self.query.split())}")
            shown = f" (showing {len(self.rows)})" if self.truncated else ""
            lines.append(f"rows: {self.count}{shown}")
            lines += [json.dumps(row, ensure_ascii=False, default=str) for row in self.rows]
        return "\n".join(lines)


class Join(ToolRecord):
    from_: str = Field(alias="from", description="table.field the join leaves from.")
    to: str = Field(description="table.field it arrives at.")
    direction: Literal["forward", "backward"] = Field(
        description="forward: along the foreign key (many-to-one); backward: against it "
                    "(one-to-many, rows fan out).")


class PathInfo(ToolRecord):
    id: str = Field(description="Path id; pass it to run_route as `path`.")
    anchor: str
    via: list[str]
    target: str
    hops: int
    joins: list[Join] = Field(description="Join keys of each hop, in order.")

    @classmethod
    def of(cls, path: LegalPath) -> PathInfo:
        joins = [Join(from_=f"{h.src_table}.{h.src_field}", to=f"{h.dst_table}.{h.dst_field}",
                      direction="forward" if h.forward else "backward") for h in path.hops]
        return cls(id=path.id, anchor=path.anchor, via=list(path.via), target=path.target,
                   hops=path.n_hops, joins=joins)


class ListPathsResult(ToolRecord):
    schema_name: str
    table: str | None = Field(description="The table filter (None: every path).")
    count: int
    paths: list[PathInfo]

    def summary(self) -> str:
        which = f" touching {self.table}" if self.table else ""
        lines = [f"{self.count} legal paths{which} in schema {self.schema_name}:"]
        for p in self.paths:
            joins = ", ".join(f"{j.from_}={j.to}" for j in p.joins) or "single table"
            lines.append(f"{p.id}  [{joins}]")
        return "\n".join(lines)


class Column(ToolRecord):
    name: str
    type: str = Field(description="str | int | float | date | datetime | bool")
    description: str


class TableInfo(ToolRecord):
    name: str
    description: str
    key: str = Field(description="Primary key field.")
    display: str = Field(description="Field that names a row (what entities are matched on).")
    time_field: str | None = Field(description="Date field of the table, if any.")
    anchor: bool = Field(description="Whether a question may start from this table.")
    target: bool = Field(description="Whether a question may ask for this table's rows.")
    synonyms: list[str] = Field(description="Words users call the table by (en, zh).")
    fields: list[Column]


class RelationInfo(ToolRecord):
    from_: str = Field(alias="from", description="table.field holding the foreign key.")
    to: str = Field(description="table.field it references.")
    cardinality: str = Field(description="many_to_one | one_to_one | one_to_many")


class SchemaDescription(ToolRecord):
    schema_name: str
    description: str
    backend: str = Field(description="sqlite | postgres | mongo")
    language: Literal["sql", "mql"]
    max_hops: int = Field(description="Longest legal join path.")
    n_paths: int = Field(description="Number of legal paths (list them with list_paths).")
    tables: list[TableInfo]
    relations: list[RelationInfo]

    def summary(self) -> str:
        lines = [f"schema {self.schema_name} ({self.backend}): {len(self.tables)} tables, "
                 f"{len(self.relations)} relations, {self.n_paths} legal paths"]
        if self.description:
            lines.append(self.description)
        for t in self.tables:
            roles = "/".join(r for r, on in (("anchor", t.anchor), ("target", t.target)) if on)
            fields = ", ".join(f"{f.name}:{f.type}" for f in t.fields)
            lines.append(f"- {t.name} (key {t.key}, display {t.display}; {roles or 'bridge'}): "
                         f"{fields}")
        lines.append("relations:")
        lines += [f"- {r.from_} -> {r.to} ({r.cardinality})" for r in self.relations]
        return "\n".join(lines)


class RouterTools:
    """The four tools over one loaded service. Calls are serialised: the server runs each
    synchronous tool on a worker thread, and one router forward at a time is what a shared
    CPU does best anyway."""

    def __init__(self, service: RouteService):
        self.service = service
        self._lock = threading.Lock()

    @property
    def language(self) -> Literal["sql", "mql"]:
        return "mql" if self.service.database.backend == "mongo" else "sql"

    # -- tools ----------------------------------------------------------------------------------
    def route_question(self, question: str, top_k: int = 3) -> RouteQuestionResult:
        question = _check_question(question)
        _check_range("top_k", top_k, 1, MAX_TOP_K)
        with self._lock:
            routing = self.service.route([question], top_k=top_k)[0]
            entity = self._lookup(question, routing.best.anchor) if routing.routes else None
        return RouteQuestionResult(question=question,
                                   routes=[RouteInfo.of(r) for r in routing.routes],
                                   entity=entity)

    def run_route(self, question: str | None = None, path: str | None = None,
                  entity: str | None = None, limit: int = DEFAULT_LIMIT) -> RunRouteResult:
        _check_range("limit", limit, 1, MAX_LIMIT)
        if path is None and question is None:
            raise PathrlError("give a question (routed by the model) or a path id (from "
                              "route_question or list_paths), or both")
        if question is not None:
            question = _check_question(question)
        if entity is not None and not entity.strip():
            raise PathrlError("entity is empty: give a value of the route's anchor table, or "
                              "leave it out")
        with self._lock:
            alternatives: list[RankedRoute] = []
            if path is not None:
                route = RankedRoute(self._legal_path(path), 1.0)
            else:
                routing = self.service.route([question], top_k=1 + N_ALTERNATIVES)[0]
                if not routing.routes:
                    return self._result(Answer(question, "no_route", None), [], limit)
                route, *alternatives = routing.routes
            answer = self._answer(route, question, entity)
        return self._result(answer, alternatives, limit)

    def list_paths(self, table: str | None = None) -> ListPathsResult:
        schema = self.service.schema
        if table is not None:
            schema.table(table)  # an unknown table is an error naming the known ones
        paths = [p for p in self.service.paths if table is None or table in p.tables]
        return ListPathsResult(schema_name=schema.name, table=table, count=len(paths),
                               paths=[PathInfo.of(p) for p in paths])

    def describe_schema(self) -> SchemaDescription:
        schema = self.service.schema
        tables = [TableInfo(name=t.name, description=t.description, key=t.key,
                            display=t.display, time_field=t.time_field, anchor=t.anchor,
                            target=t.target, synonyms=[*t.synonyms_en, *t.synonyms_zh],
                            fields=[Column(name=f.name, type=f.type, description=f.description)
                                    for f in t.fields])
                  for t in schema.tables]
        relations = [RelationInfo(from_=f"{r.from_table}.{r.from_field}",
                                  to=f"{r.to_table}.{r.to_field}", cardinality=r.cardinality)
                     for r in schema.relations]
        return SchemaDescription(schema_name=schema.name, description=schema.description,
                                 backend=self.service.database.backend, language=self.language,
                                 max_hops=schema.rules.max_hops,
                                 n_paths=len(self.service.paths), tables=tables,
                                 relations=relations)

    # -- helpers --------------------------------------------------------------------------------
    def _legal_path(self, path_id: str) -> LegalPath:
        by_id = self.service.vocab.path_by_id
        if path_id in by_id:
            return by_id[path_id]
        close = process.extract(path_id, list(by_id), scorer=fuzz.WRatio, limit=3)
        hint = ", ".join(f"'{choice}'" for choice, _score, _index in close)
        raise PathrlError(f"'{path_id}' is not a legal path id of schema "
                          f"{self.service.schema.name} (closest: {hint}; list_paths gives all "
                          f"{len(by_id)})")

    def _lookup(self, question: str, table: str) -> EntityLookup:
        qa = self.service.qa
        found = qa.find_entity(question, table)
        if found is not None:
            return EntityLookup(table=table, mention=found.mention, found=True,
                                field=found.field,
                                values=list(found.values[:MAX_AMBIGUOUS_SHOWN]),
                                n_rows=len(found.values), suggestions=[])
        mention = qa.named_mention(question)
        suggestions = qa.suggestions(mention, table) if mention is not None else []
        return EntityLookup(table=table, mention=mention, found=False, field=None, values=[],
                            n_rows=0, suggestions=suggestions)

    def _answer(self, route: RankedRoute, question: str | None, entity: str | None) -> Answer:
        """The pipeline's answer on this route: a given `entity` (a display value of the
        anchor table) is what the query filters on, as `pathrl serve` does; else the entity is
        looked for in the question, and with neither every row along the route is returned."""
        qa = self.service.qa
        if entity is not None or question is None:
            return qa.answer_route(route, entity, question or "")
        return qa.answer(Routing(question, [route]))

    def _result(self, answer: Answer, alternatives: list[RankedRoute],
                limit: int) -> RunRouteResult:
        data = answer.to_dict(max_rows=limit)
        return RunRouteResult(
            question=answer.question or None, status=answer.status, message=answer.message,
            route=RouteInfo.of(answer.route) if answer.route is not None else None,
            alternatives=[RouteInfo.of(r) for r in alternatives], entity=answer.entity,
            entities=answer.entities, mention=answer.mention,
            matched_field=answer.matched_field, suggestions=answer.suggestions,
            query=answer.query, language=self.language, count=data["count"],
            rows=data["rows"], truncated=len(data["rows"]) < data["count"],
            elapsed_ms=data["elapsed_ms"], error=data["error"])


def _check_question(question: str) -> str:
    question = question.strip()
    if not question:
        raise PathrlError("question is empty: ask about the data, e.g. 'contracts of project "
                          "Riyadh Railway'")
    if len(question) > MAX_QUESTION_CHARS:
        raise PathrlError(f"question is {len(question)} characters long; at most "
                          f"{MAX_QUESTION_CHARS}")
    return question


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise PathrlError(f"{name} must be between {low} and {high}, got {value}")

