"""From a question to rows, in one place: text -> route (Router) -> query (Generator) -> rows.

    qa = RoutedQA(router, database)
    answer = qa.ask("Show the change records of the contracts of project Riyadh Railway")
    answer.route.path.id, answer.query, answer.result.rows

The entity is the longest display value of the anchor table found in the question (values are
read once per anchor table from the database), so the query filters on a real value. A question
that names no known value runs unfiltered and says so (`answer.entity is None`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pathrl.db import Database, ExecResult
from pathrl.query import Filter
from pathrl.router.model import Route, RouterModel


@dataclass
class Answer:
    question: str
    route: Route
    entity: str | None
    query: str
    result: ExecResult

    def to_dict(self, max_rows: int | None = 20) -> dict:
        return {"question": self.question, "route": self.route.to_dict(), "entity": self.entity,
                **self.result.to_dict(max_rows=max_rows)}


class RoutedQA:
    def __init__(self, router: RouterModel, database: Database):
        self.router = router
        self.database = database
        self._values: dict[str, list[str]] = {}

    def entity_values(self, table: str) -> list[str]:
        """Display values of a table, longest first (so 'Riyadh Railway II' beats 'Riyadh
        Railway')."""
        from pathrl.data.entities import distinct_values

        if table not in self._values:
            display = self.database.schema.table(table).display
            values = distinct_values(self.database, table, display)
            self._values[table] = sorted(values, key=lambda v: (-len(v), v))
        return self._values[table]

    def find_entity(self, question: str, table: str) -> str | None:
        folded = question.casefold()
        return next((v for v in self.entity_values(table) if v.casefold() in folded), None)

    def ask(self, question: str) -> Answer:
        route = self.router.route(question)
        entity = self.find_entity(question, route.anchor)
        flt = Filter(entity=entity)
        result = self.database.run_path(route.path, flt)
        return Answer(question, route, entity, result.query, result)
