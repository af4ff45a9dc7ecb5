"""One call opens what every front end needs: schema + database + router + question answering.

    service = open_service(Path("runs/demo/ppo/model"))          # demo schema and SQLite data
    service = open_service(model, schema_path=Path("shop.yaml"), db_url="sqlite:///shop.db")
    service.route(["How many contracts does each supplier have?"], top_k=3)
    service.ask("Contracts of project Riyadh Railway").to_dict()

The CLI (`pathrl route`), the HTTP server (`pathrl serve`), the MCP server (`pathrl mcp`) and
Python users all go through `RouteService`, so they load the same way and answer the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pathrl.db import Database, open_database
from pathrl.errors import PathrlError
from pathrl.paths import LegalPath, PathVocab
from pathrl.pipeline import Answer, RoutedQA
from pathrl.router.protocol import Router, Routing, load_router
from pathrl.schema import Schema


@dataclass
class RouteService:
    """A loaded schema, its read-only database and a router, ready to answer questions."""

    schema: Schema
    database: Database
    router: Router
    model_dir: Path | None = None
    top_k: int = 3
    qa: RoutedQA = field(init=False)
    vocab: PathVocab = field(init=False)

    def __post_init__(self) -> None:
        self.qa = RoutedQA(self.router, self.database, top_k=self.top_k)
        self.vocab = PathVocab.from_schema(self.schema)

    @property
    def paths(self) -> list[LegalPath]:
        return list(self.vocab.paths)

    def route(self, questions: Sequence[str], top_k: int | None = None) -> list[Routing]:
        """Ranked legal routes for each question (one batched router call)."""
        return self.router.route_batch(list(questions), top_k=top_k or self.top_k)

    def ask(self, question: str) -> Answer:
        """Route, find the entity, run the read-only query."""
        return self.qa.ask(question)

    def ask_batch(self, questions: Sequence[str]) -> list[Answer]:
        return self.qa.ask_batch(list(questions))

    def path(self, path_id: str) -> LegalPath:
        """The legal path with this id (`PathVocab` ids such as 'project>contract'); a clear
        error for an id that is not a legal path."""
        if path_id in self.vocab.path_by_id:
            return self.vocab.path_by_id[path_id]
        raise PathrlError(f"'{path_id}' is not a legal path of schema {self.schema.name} "
                          f"({len(self.vocab.paths)} paths; list them with `pathrl schema paths`)")

    def describe(self) -> dict[str, Any]:
        return {"schema": self.schema.name, "tables": len(self.schema.tables),
                "paths": len(self.vocab.paths),
                "model": str(self.model_dir) if self.model_dir else None}

    def close(self) -> None:
        self.database.close()


def open_service(model_dir: Path, *, schema_path: Path | None = None, backend: str = "sqlite",
                 db_url: str | None = None, seed: int = 7, top_k: int = 3) -> RouteService:
    """Load a saved router with its schema and database. With no `schema_path` the demo schema
    and its demo data (from `seed`) are used; a custom schema needs `db_url` (SQL) or a
    MongoDB URL. Errors a user can fix are `PathrlError`s."""
    from pathrl.schema_cli import load_schema

    schema = load_schema(schema_path)
    if db_url is None and schema_path is not None and backend != "mongo":
        raise PathrlError("a custom schema needs a database URL (--db sqlite:///f.db, "
                          "postgresql+psycopg://u@h/db)")
    demo_seed = seed if schema_path is None else None
    database = open_database(schema, backend, db_url, demo_seed=demo_seed)
    router = load_router(Path(model_dir), schema, database)
    return RouteService(schema=schema, database=database, router=router,
                        model_dir=Path(model_dir), top_k=top_k)
