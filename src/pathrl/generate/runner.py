"""Ask the router first, then let an LLM write the query along the legal path (method §1.4).

    generator = RoutedGenerator(service, make_llm(local="smollm2"))
    result = generator.generate("Contracts of project Riyadh Railway")            # routed
    result = generator.generate("Contracts of project Riyadh Railway", routed=False)  # direct
    result.route, result.prompt.user, result.run.status, result.run.query, result.run.rows

The route is the router's best legal path; the entity is the one pathrl's own pipeline finds in
its start table (`RoutedQA.find_entity`), given to the LLM with the column it matched and the
value as the database writes it. The completion is parsed, checked and run by
`pathrl.generate.safety.run_completion` (read-only, row limit, timeout).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pathrl.generate.backends import QueryLLM
from pathrl.generate.prompt import Prompt, RouteHint, build_prompt
from pathrl.generate.safety import GeneratedRun, run_completion
from pathrl.router.protocol import RankedRoute, Routing, check_questions
from pathrl.service import RouteService

DEFAULT_MAX_ROWS = 200
DEFAULT_TIMEOUT_S = 5.0
CHUNK = 8  # prompts per LLM call: the progress bar moves once per chunk


@dataclass
class Generation:
    """One question's prompt, completion and outcome."""

    question: str
    prompt: Prompt
    route: RankedRoute | None
    """The router's route (also set for a direct prompt, which does not show it)."""
    run: GeneratedRun

    def to_dict(self, max_rows: int | None = 20) -> dict[str, Any]:
        return {"question": self.question, "condition": self.prompt.condition,
                "route": self.route.to_dict() if self.route else None,
                "hint": self.prompt.route.to_dict() if self.prompt.route else None,
                **self.run.to_dict(max_rows=max_rows)}


class RoutedGenerator:
    """Prompts, generates and runs queries for questions over one `RouteService`."""

    def __init__(self, service: RouteService, llm: QueryLLM, *, few_shot: int = 1,
                 max_rows: int = DEFAULT_MAX_ROWS, timeout_s: float = DEFAULT_TIMEOUT_S):
        self.service = service
        self.llm = llm
        self.few_shot = few_shot
        self.max_rows = max_rows
        self.timeout_s = timeout_s

    @property
    def backend(self) -> str:
        return self.service.database.backend

    def hint(self, question: str, route: RankedRoute) -> RouteHint:
        """The route and the entity pathrl finds in its start table (None when none)."""
        qa = self.service.qa
        found = qa.find_entity(question, route.anchor)
        if found is None:
            return RouteHint(route.path)
        display = self.service.schema.table(route.anchor).display
        if found.field == display:
            return RouteHint(route.path, found.value, display)
        # Another column: the value as the database writes it (the match ignores case).
        folded = found.mention.casefold()
        exact = next((value for value, name, _shown in qa.table_values(route.anchor).others
                      if name == found.field and value.casefold() == folded), found.mention)
        return RouteHint(route.path, exact, found.field)

    def prompt(self, question: str, route: RankedRoute | None, routed: bool) -> Prompt:
        hint = self.hint(question, route) if routed and route is not None else None
        return build_prompt(self.service.schema, self.backend, question, hint, self.few_shot)

    def complete(self, prompts: Sequence[Prompt],
                 progress: Callable[[int], None] | None = None) -> list[str]:
        """The LLM's completions, asked `CHUNK` prompts at a time."""
        out: list[str] = []
        for i in range(0, len(prompts), CHUNK):
            chunk = list(prompts[i:i + CHUNK])
            out += self.llm.generate(chunk)
            if progress is not None:
                progress(len(chunk))
        return out

    def run(self, completion: str) -> GeneratedRun:
        return run_completion(self.service.database, completion, max_rows=self.max_rows,
                              timeout_s=self.timeout_s)

    def generate_batch(self, questions: Sequence[str], routed: bool = True,
                       routings: Sequence[Routing] | None = None,
                       progress: Callable[[int], None] | None = None) -> list[Generation]:
        questions = check_questions(questions)
        if routings is None:
            routings = self.service.route(questions)
        routes = [r.routes[0] if r.routes else None for r in routings]
        prompts = [self.prompt(q, route, routed) for q, route in zip(questions, routes,
                                                                     strict=True)]
        completions = self.complete(prompts, progress)
        return [Generation(q, p, route, self.run(c))
                for q, p, route, c in zip(questions, prompts, routes, completions, strict=True)]

    def generate(self, question: str, routed: bool = True) -> Generation:
        return self.generate_batch([question], routed)[0]
