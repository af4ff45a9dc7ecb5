"""What every router offers, so they are interchangeable: the three-head classifier
(`RouterModel`), the baselines, a path scorer or a generative router.

    router = load_router("runs/demo/ppo/model", schema)
    routing = router.route_batch(["Contracts of project Riyadh Railway"], top_k=3)[0]
    routing.best.path.id, [r.probability for r in routing.routes]

A router returns, per question, a `Routing`: legal paths only, best first, with probabilities
that sum to at most 1 (the rest is mass on routes not shown, or a router that cannot say).
A router that finds no route returns an empty `routes` list, never an illegal path.

`load_router` reads `router.json` of a saved router and dispatches on its `"kind"` (absent:
"factored", the three-head `RouterModel`). Another router registers its loader in
`ROUTER_LOADERS` under its own kind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from pathrl.errors import PathrlError
from pathrl.paths import LegalPath, PathVocab, Triple, Via
from pathrl.schema import Schema

ConfigT = TypeVar("ConfigT")


@dataclass(frozen=True)
class RankedRoute:
    """One legal path and the router's probability for it."""

    path: LegalPath
    probability: float

    @property
    def anchor(self) -> str:
        return self.path.anchor

    @property
    def target(self) -> str:
        return self.path.target

    @property
    def via(self) -> Via:
        return self.path.via

    @property
    def triple(self) -> Triple:
        return self.path.triple

    def to_dict(self) -> dict:
        return {"anchor": self.anchor, "via": list(self.via), "target": self.target,
                "path": self.path.id, "probability": round(self.probability, 4)}


@dataclass
class Routing:
    """A question's routes, best first (may be empty: the router found none)."""

    question: str
    routes: list[RankedRoute] = field(default_factory=list)

    def __post_init__(self) -> None:
        total = sum(r.probability for r in self.routes)
        if total > 1.0 + 1e-4:
            raise PathrlError(f"route probabilities sum to {total:.4f} > 1")

    @property
    def best(self) -> RankedRoute:
        if not self.routes:
            raise PathrlError(f"no legal route for '{self.question}'")
        return self.routes[0]

    def to_dict(self) -> dict:
        return {"question": self.question, "routes": [r.to_dict() for r in self.routes]}


@runtime_checkable
class Router(Protocol):
    """Question -> ranked legal paths of the schema behind `vocab`."""

    vocab: PathVocab

    def route_batch(self, questions: Sequence[str], top_k: int = 3) -> list[Routing]:
        """One `Routing` per question, at most `top_k` routes each."""
        ...


def routing_from_triples(questions: Sequence[str], triples: Sequence[Triple | None],
                         vocab: PathVocab) -> list[Routing]:
    """Routings for a router that gives one answer per question and no probabilities: its
    pick with probability 1.0 when legal; no route when it has none or it is illegal."""
    out = []
    for question, triple in zip(questions, triples, strict=True):
        legal = triple is not None and vocab.is_legal(*triple)
        routes = [RankedRoute(vocab.path(*triple), 1.0)] if legal else []
        out.append(Routing(question, routes))
    return out


def check_questions(questions: Sequence[str]) -> list[str]:
    """A list of strings, or a clear error (a bare string is the usual mistake)."""
    if isinstance(questions, str):
        raise PathrlError("expected a list of questions, not a single string")
    bad = [i for i, q in enumerate(questions) if not isinstance(q, str)]
    if bad:
        raise PathrlError(f"question(s) at position(s) {bad[:5]} are not strings")
    return list(questions)


def _load_factored(directory: Path, schema: Schema, database=None) -> Router:
    from pathrl.router.model import RouterModel

    return RouterModel.from_pretrained(directory, PathVocab.from_schema(schema),
                                       schema.fingerprint())


def _load_scorer(directory: Path, schema: Schema, database=None) -> Router:
    from pathrl.router.scorer import PathScorer

    scorer = PathScorer.from_pretrained(directory)
    scorer.bind(schema, database)
    return scorer


def _load_generative(directory: Path, schema: Schema, database=None) -> Router:
    from pathrl.llm.genrouter.router import load_generative

    return load_generative(directory, schema, database)


RouterLoader = Callable[[Path, Schema, Any], Router]
ROUTER_LOADERS: dict[str, RouterLoader] = {"factored": _load_factored, "scorer": _load_scorer,
                                           "generative": _load_generative}
"""Saved router kinds (router.json "kind") -> loader(directory, schema, database). The
database is optional; routers that read values (the path scorer) use it."""
DEFAULT_KIND = "factored"


def read_router_meta(directory: str | Path) -> Any:
    """The parsed router.json of a saved router, or a clear error."""
    directory = Path(directory)
    meta_file = directory / "router.json"
    if not meta_file.is_file():
        raise PathrlError(f"'{directory}' is not a saved router (no router.json)")
    try:
        return json.loads(meta_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PathrlError(f"{meta_file} is not valid JSON: {exc}") from None


def saved_config(cls: type[ConfigT], meta: Any, directory: Path) -> ConfigT:
    """The architecture config saved in router.json's "config", type-checked field by field
    (a hand-edited or foreign file gives one clear error, never a TypeError deep inside)."""
    from pathrl.config import config_from_dict

    raw = meta.get("config") if isinstance(meta, dict) else None
    if not isinstance(raw, dict):
        raise PathrlError(f"{directory / 'router.json'}: 'config' must be a mapping")
    try:
        return config_from_dict(cls, raw)
    except PathrlError as exc:
        raise PathrlError(f"{directory / 'router.json'}: {exc}") from None


def read_weights(path: Path, load: Callable[[str], Any]) -> Any:
    """`load(str(path))` for a saved router's weight file; a missing, truncated or mismatched
    file is one error that names it."""
    from safetensors import SafetensorError

    try:
        return load(str(path))
    except (OSError, RuntimeError, ValueError, SafetensorError) as exc:
        raise PathrlError(f"cannot load the router weights {path}: "
                          f"{exc.__class__.__name__}: {str(exc)[:200]}") from None


def load_router(directory: str | Path, schema: Schema, database=None,
                device: str | None = "auto") -> Router:
    """The saved router in `directory`, of whatever kind its router.json says, ready to route
    `schema` (a schema-reading router also reads `database`'s values when given). `device`
    (`pathrl.devices`; auto: CUDA, then MPS, else the CPU; None: the CPU it loads on) moves a
    classifier or path scorer there; the generative router picks its device when it loads."""
    directory = Path(directory)
    meta = read_router_meta(directory)
    kind = meta.get("kind", DEFAULT_KIND) if isinstance(meta, dict) else None
    if kind not in ROUTER_LOADERS:
        raise PathrlError(f"router in '{directory}' is of unknown kind {kind!r} (known: "
                          f"{', '.join(sorted(ROUTER_LOADERS))})")
    from torch import nn

    from pathrl.devices import resolve_device

    target = resolve_device(device) if device is not None else None  # bad name: fail early
    router = ROUTER_LOADERS[kind](directory, schema, database)
    if target is not None and isinstance(router, nn.Module):
        router.to(target)
    return router
