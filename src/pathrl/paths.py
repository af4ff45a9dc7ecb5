"""Legal paths: the Router's action space.

Every simple path along the schema's relations, up to `rules.max_hops` hops, that starts at an
anchor-able table, ends at a target-able table and passes the business rules, is legal. So is,
unless `rules.single_table` is off, every target-able table on its own (anchor = target, no via,
zero hops):
half of what people ask ("How many regions are there?") needs one table. Each path
is an (anchor, via, target) triple plus the join keys of every hop. Enumeration is deterministic:
paths are sorted by hop count, then by the table sequence (anchor, via..., target), then by the
join fields (parallel foreign keys); ids are derived from the table sequence, so the same schema
always yields the same ids in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from pathrl.errors import PathrlError
from pathrl.schema import Schema

Via = tuple[str, ...]
Triple = tuple[str, str, Via]  # (anchor, target, via)


@dataclass(frozen=True)
class Hop:
    """One join step: from `src_table.src_field` to `dst_table.dst_field`.

    `forward` is True when the hop follows the foreign key (child -> parent, many-to-one),
    False when it walks it backwards (parent -> children, one-to-many: rows fan out).
    """

    src_table: str
    src_field: str
    dst_table: str
    dst_field: str
    forward: bool


@dataclass(frozen=True)
class LegalPath:
    id: str
    anchor: str
    via: Via
    target: str
    hops: tuple[Hop, ...]

    @property
    def n_hops(self) -> int:
        return len(self.hops)

    @property
    def is_single_table(self) -> bool:
        return not self.hops

    @property
    def tables(self) -> tuple[str, ...]:
        return (self.anchor,) if not self.hops else (self.anchor, *self.via, self.target)

    @property
    def triple(self) -> Triple:
        return (self.anchor, self.target, self.via)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "anchor": self.anchor,
            "via": list(self.via),
            "target": self.target,
            "hops": self.n_hops,
            "joins": [
                {"from": f"{h.src_table}.{h.src_field}", "to": f"{h.dst_table}.{h.dst_field}",
                 "direction": "forward" if h.forward else "backward"}
                for h in self.hops
            ],
        }


def _steps(schema: Schema) -> dict[str, list[Hop]]:
    """Outgoing join steps per table, after the direction and hop rules."""
    rules = schema.rules
    deny = {h.replace(" ", "") for h in rules.deny_hops}
    allow = {h.replace(" ", "") for h in rules.allow_hops}
    steps: dict[str, list[Hop]] = {t: [] for t in schema.table_names}
    for r in schema.relations:
        if r.from_table == r.to_table:
            continue  # a simple path never revisits a table
        candidates = []
        if rules.direction in ("both", "forward"):
            candidates.append(Hop(r.from_table, r.from_field, r.to_table, r.to_field, True))
        if rules.direction in ("both", "backward"):
            candidates.append(Hop(r.to_table, r.to_field, r.from_table, r.from_field, False))
        for hop in candidates:
            name = f"{hop.src_table}->{hop.dst_table}"
            if name in deny or (allow and name not in allow):
                continue
            steps[hop.src_table].append(hop)
    for hops in steps.values():
        hops.sort(key=lambda h: (h.dst_table, h.src_field, h.dst_field, not h.forward))
    return steps


def enumerate_paths(schema: Schema, max_hops: int | None = None,
                    max_paths: int | None = None) -> list[LegalPath]:
    """All legal paths of `schema` (see module doc). `max_hops` / `max_paths` override the
    schema's rules. The walk stops with a `PathrlError` once it has explored more than
    `max_paths` partial paths: simple paths grow factorially on a dense graph with a large
    `max_hops`, and an unbounded walk would eat memory for minutes."""
    limit = schema.rules.max_hops if max_hops is None else max_hops
    cap = schema.rules.max_paths if max_paths is None else max_paths
    if limit < 1:
        raise PathrlError(f"max_hops must be >= 1, got {limit}")
    if cap < 1:
        raise PathrlError(f"max_paths must be >= 1, got {cap}")
    explored = 0
    steps = _steps(schema)
    anchors = [t.name for t in schema.tables if t.anchor]
    targets = {t.name for t in schema.tables if t.target}
    found: list[tuple[str, ...] | tuple] = []

    if schema.rules.single_table:
        # Only `target` matters: a single-table question asks for the table's own rows,
        # whether or not it also names one of them.
        found.extend(((t.name,), ()) for t in schema.tables if t.target)

    def walk(tables: list[str], hops: list[Hop]) -> None:
        nonlocal explored
        explored += 1
        if explored > cap:
            raise PathrlError(
                f"schema '{schema.name}': more than {cap:,} candidate paths within max_hops="
                f"{limit}; lower rules.max_hops (or --max-hops), or raise rules.max_paths "
                "(or --max-paths) if you really want them all")
        if hops and tables[-1] in targets:
            found.append((tuple(tables), tuple(hops)))
        if len(hops) == limit:
            return
        for hop in steps[tables[-1]]:
            if hop.dst_table not in tables:
                walk([*tables, hop.dst_table], [*hops, hop])

    for anchor in anchors:
        walk([anchor], [])
    found.sort(key=lambda item: (len(item[1]), item[0],
                                 [(h.src_field, h.dst_field, h.forward) for h in item[1]]))
    paths: list[LegalPath] = []
    used: dict[str, int] = {}
    for tables, hops in found:
        base = ">".join(tables)
        used[base] = used.get(base, 0) + 1
        path_id = base if used[base] == 1 else f"{base}#{used[base]}"
        paths.append(LegalPath(path_id, tables[0], tuple(tables[1:-1]), tables[-1], hops))
    return paths


class PathVocab:
    """The label vocabularies of the Router heads and the set of legal triples.

    Index 0 of `vias` is always the empty via ("none"). When two legal paths share the same
    triple (parallel foreign keys between the same tables) the first path (in enumeration
    order) is the one a triple resolves to.
    """

    NONE_VIA: Via = ()

    def __init__(self, paths: Sequence[LegalPath]):
        if not paths:
            raise PathrlError("the schema has no legal path: check relations, anchor/target "
                              "flags and rules.max_hops")
        self.paths = list(paths)
        self.anchors: list[str] = sorted({p.anchor for p in paths})
        self.targets: list[str] = sorted({p.target for p in paths})
        self.vias: list[Via] = [self.NONE_VIA] + sorted(
            {p.via for p in paths if p.via}, key=lambda v: (len(v), v))
        self.path_by_triple: dict[Triple, LegalPath] = {}
        for p in paths:
            self.path_by_triple.setdefault(p.triple, p)
        self.triples: list[Triple] = list(self.path_by_triple)
        self.path_by_id = {p.id: p for p in paths}

    @classmethod
    def from_schema(cls, schema: Schema) -> PathVocab:
        return cls(enumerate_paths(schema))

    @cached_property
    def anchor_index(self) -> dict[str, int]:
        return {a: i for i, a in enumerate(self.anchors)}

    @cached_property
    def target_index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.targets)}

    @cached_property
    def via_index(self) -> dict[Via, int]:
        return {v: i for i, v in enumerate(self.vias)}

    @cached_property
    def triple_indices(self) -> list[tuple[int, int, int]]:
        """(anchor_idx, target_idx, via_idx) of every legal triple, for constrained decoding."""
        return [(self.anchor_index[a], self.target_index[t], self.via_index[v])
                for a, t, v in self.triples]

    def is_legal(self, anchor: str, target: str, via: Iterable[str]) -> bool:
        return (anchor, target, tuple(via)) in self.path_by_triple

    def path(self, anchor: str, target: str, via: Iterable[str] = ()) -> LegalPath:
        """The legal path for a triple, or a clear error listing the legal vias."""
        triple = (anchor, target, tuple(via))
        if triple in self.path_by_triple:
            return self.path_by_triple[triple]
        options = [" > ".join(v) or "(none)" for a, t, v in self.triples
                   if a == anchor and t == target]
        hint = ("legal via options: " + "; ".join(options)) if options else (
            f"no legal path joins '{anchor}' to '{target}'")
        shown = " > ".join(triple[2]) or "(none)"
        raise PathrlError(f"illegal route {anchor} -[{shown}]-> {target}: {hint}")

    def shortest(self, anchor: str, target: str) -> LegalPath | None:
        """The legal path with the fewest hops between two tables (first in order on ties)."""
        options = [p for p in self.paths if p.anchor == anchor and p.target == target]
        return min(options, key=lambda p: p.n_hops) if options else None

    @staticmethod
    def via_label(via: Via) -> str:
        return " > ".join(via) if via else "none"
