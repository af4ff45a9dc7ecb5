"""Request and response bodies of the HTTP API (pydantic, so /docs shows every field).

Requests refuse unknown fields (a typo such as `"questoin"` is a 422, not a silently ignored
key). Limits that depend on the server's `ServeConfig` (how many questions, how many rows) are
checked by the endpoints, which know it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pathrl.paths import LegalPath
from pathrl.pipeline import Answer, EntityMatch
from pathrl.router.protocol import RankedRoute
from pathrl.schema import Schema

MAX_TOP_K = 10


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_text(value: str, what: str) -> None:
    if not value.strip():
        raise ValueError(f"{what} is empty")


# -- requests --------------------------------------------------------------------------------
class RouteRequest(_Request):
    """One question (`question`) or several (`questions`), not both."""

    question: str | None = Field(None, description="One question.",
                                 examples=["Show the contracts of project Riyadh Railway"])
    questions: list[str] | None = Field(None, description="Several questions, routed together.")
    top_k: int | None = Field(None, ge=1, le=MAX_TOP_K,
                              description="Routes per question (default: the server's).")

    @model_validator(mode="after")
    def _one_form(self) -> RouteRequest:
        if (self.question is None) == (self.questions is None):
            raise ValueError("give either 'question' or 'questions'")
        if self.question is not None:
            _check_text(self.question, "question")
        elif not self.questions:
            raise ValueError("'questions' is an empty list")
        for i, q in enumerate(self.questions or []):
            _check_text(q, f"questions[{i}]")
        return self

    @property
    def texts(self) -> list[str]:
        return [self.question] if self.question is not None else list(self.questions or [])


class QueryRequest(_Request):
    """A question (routed, then run) or a legal path id with an optional entity (run as is)."""

    question: str | None = Field(None, description="Route this question, then run the query.",
                                 examples=["Show the contracts of project Riyadh Railway"])
    path: str | None = Field(None, description="A legal path id (see GET /paths), run as is.",
                             examples=["project>contract"])
    entity: str | None = Field(None, description="With `path`: a display value of the path's "
                               "anchor table to filter on (null: every row along the path).")
    limit: int | None = Field(None, ge=1, description="Rows to return (at most the server's "
                              "row limit, its default).")

    @model_validator(mode="after")
    def _one_form(self) -> QueryRequest:
        if (self.question is None) == (self.path is None):
            raise ValueError("give either 'question' or 'path'")
        if self.question is not None:
            _check_text(self.question, "question")
            if self.entity is not None:
                raise ValueError("'entity' goes with 'path' (a question names its own entity)")
        if self.entity is not None:
            _check_text(self.entity, "entity")
        return self


# -- responses -------------------------------------------------------------------------------
class Problem(BaseModel):
    """Every error answer: one line saying what was wrong."""

    detail: str


class RouteOut(BaseModel):
    anchor: str
    via: list[str]
    target: str
    path: str = Field(description="The legal path id (GET /paths).")
    probability: float = Field(description="The router's probability, rounded to 4 places.")

    @classmethod
    def of(cls, route: RankedRoute) -> RouteOut:
        return cls(**route.to_dict())


class EntityOut(BaseModel):
    """The anchor-table value the question names (what /query would filter on)."""

    mention: str = Field(description="The question's words that matched.")
    field: str = Field(description="The anchor table's column they matched in.")
    value: str | None = Field(description="The display value the query filters on; null when "
                              "the mention is shared by several rows (see `values`).")
    values: list[str] = Field(description="Display values of every anchor row holding it.")

    @classmethod
    def of(cls, match: EntityMatch) -> EntityOut:
        return cls(mention=match.mention, field=match.field,
                   value=None if match.ambiguous else match.value, values=list(match.values))


class RoutedQuestion(BaseModel):
    question: str
    routes: list[RouteOut] = Field(description="Legal routes, most probable first.")
    entity: EntityOut | None = Field(description="The entity found in the top route's anchor "
                                     "table, or null.")


class RouteResponse(BaseModel):
    results: list[RoutedQuestion] = Field(description="One per question, in request order.")


class ConditionOut(BaseModel):
    table: str
    column: str
    op: str = Field(description="eq | gt | lt | gte | lte | between | before | after | year "
                    "(`pathrl.data.example.CONDITION_OPS`).")
    value: str | float
    value2: str | float | None = Field(None, description="The upper bound of `between`.")


class UnparsedOut(BaseModel):
    phrase: str = Field(description="Words of the question that were not understood.")
    reason: str


class IntentOut(BaseModel):
    """How the question was read (`pathrl.intent`)."""

    kind: str = Field(description="rows | count | group_count | superlative | aggregate | "
                      "exists | attribute")
    description: str
    conditions: list[ConditionOut]
    unparsed: list[UnparsedOut]


class QueryResponse(BaseModel):
    """`pathrl.pipeline.Answer` as JSON (see its `status` values), plus the query language."""

    question: str
    status: str = Field(description="ok | empty | error | no_entity | entity_not_found | "
                        "ambiguous_entity | no_route")
    message: str
    route: RouteOut | None
    entity: str | None
    entities: list[str]
    mention: str | None
    matched_field: str | None
    suggestions: list[str]
    language: str = Field(description="sql or mql: the language of `query`.")
    query: str = Field(description="The query run (bound parameters shown as placeholders); "
                       "empty when none ran.")
    count: int = Field(description="Rows the query found.")
    rows: list[dict[str, Any]] = Field(description="At most `limit` of them.")
    truncated: bool = Field(description="True when `count` exceeds the rows returned.")
    elapsed_ms: float | None
    error: str | None
    intent: IntentOut | None = Field(description="How the question was read; null for a path "
                                     "run as is.")
    answer_kind: str = Field(description="answer (what the question asks: a count, a ranking, "
                             "rows narrowed by the entity or conditions) or rows_along_route.")
    value: Any = Field(description="The single value of a count, an existence check or an "
                       "ungrouped aggregate; null otherwise.")

    @classmethod
    def of(cls, answer: Answer, language: str, limit: int) -> QueryResponse:
        data = answer.to_dict(max_rows=limit)
        data["route"] = RouteOut.of(answer.route) if answer.route is not None else None
        return cls(**data, language=language, truncated=data["count"] > len(data["rows"]))


class JoinOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", description="table.field the hop starts from.")
    to: str = Field(description="table.field it joins to.")
    direction: str = Field(description="forward (along the foreign key) or backward.")


class PathOut(BaseModel):
    id: str
    anchor: str
    via: list[str]
    target: str
    hops: int
    joins: list[JoinOut]

    @classmethod
    def of(cls, path: LegalPath) -> PathOut:
        return cls(**path.to_dict())


class PathsResponse(BaseModel):
    paths: list[PathOut]


class FieldOut(BaseModel):
    name: str
    type: str
    description: str


class TableOut(BaseModel):
    name: str
    key: str
    display: str = Field(description="The field entities are named by (what queries filter on).")
    description: str
    time_field: str | None
    anchor: bool = Field(description="Questions may start from this table.")
    target: bool = Field(description="Questions may ask for this table.")
    synonyms_en: list[str]
    synonyms_zh: list[str]
    fields: list[FieldOut]


class RelationOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", description="table.field holding the foreign key.")
    to: str = Field(description="table.field it references.")
    from_table: str
    to_table: str
    cardinality: str


class SchemaResponse(BaseModel):
    name: str
    description: str
    tables: list[TableOut]
    relations: list[RelationOut]

    @classmethod
    def of(cls, schema: Schema) -> SchemaResponse:
        tables = [TableOut(name=t.name, key=t.key, display=t.display, description=t.description,
                           time_field=t.time_field, anchor=t.anchor, target=t.target,
                           synonyms_en=list(t.synonyms_en), synonyms_zh=list(t.synonyms_zh),
                           fields=[FieldOut(name=f.name, type=f.type, description=f.description)
                                   for f in t.fields])
                  for t in schema.tables]
        relations = [RelationOut(from_=f"{r.from_table}.{r.from_field}",
                                 to=f"{r.to_table}.{r.to_field}", from_table=r.from_table,
                                 to_table=r.to_table, cardinality=r.cardinality)
                     for r in schema.relations]
        return cls(name=schema.name, description=schema.description, tables=tables,
                   relations=relations)


class HealthResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    status: str = Field(description="ok once the router is loaded.")
    schema_name: str = Field(alias="schema")
    backend: str = Field(description="sqlite | postgres | mongo")
    tables: int
    paths: int = Field(description="Legal paths of the schema.")
    model: str | None = Field(description="The router directory.")
    router_calls: int = Field(description="Batched model calls since start-up.")
    questions_routed: int = Field(description="Questions those calls routed.")
    largest_batch: int = Field(description="The most questions one call routed.")
