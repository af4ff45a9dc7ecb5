"""Procedural schemas: a business domain (or an ERP of up to hundreds of tables) -> `Schema`.

`generate_schema(domain, n_tables, seed, naming)` picks a connected subset of a domain's table
pool (one-to-many foreign keys, many-to-many links through junction tables), keeps a random
share of the optional columns and renames everything in a naming style. `generate_erp_schema`
builds scale-test schemas: hub tables, then module tables each with 1-3 foreign keys to earlier
tables. Both are deterministic in their seed and leave synonyms empty on purpose: whatever
learns to route them must cope with bare table names.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from pathrl import schema as schema_mod
from pathrl.errors import PathrlError
from pathrl.naming import plural
from pathrl.schema import Field, PathRules, Relation, Schema, Table
from pathrl.synth.domains import (
    DOMAINS,
    ERP_HUBS,
    ERP_MODULES,
    ERP_SATELLITES,
    ColumnSpec,
    ParentRef,
    TableSpec,
    erp_template,
)
from pathrl.synth.values import value_type

NAMING_STYLES = ("snake", "camel", "plural", "prefixed", "abbrev")
MIN_TABLES = 3
MAX_TABLES = 15
ERP_MIN_TABLES = len(ERP_HUBS)
ERP_MAX_TABLES = 500
OPTIONAL_COLUMN_SHARE = 0.7
MAX_HOPS = 3

_ABBREVIATIONS = {
    "order": "ord", "item": "itm", "line": "ln", "customer": "cust", "employee": "emp",
    "department": "dept", "quantity": "qty", "amount": "amt", "number": "num", "date": "dt",
    "description": "desc", "status": "stat", "category": "cat", "product": "prod",
    "invoice": "inv", "payment": "pmt", "shipment": "shpmt", "warehouse": "whse",
    "supplier": "supp", "region": "rgn", "sales": "sls", "contact": "cntct", "person": "prsn",
    "promotion": "promo", "return": "rtn", "price": "prc", "list": "lst", "position": "pos",
    "office": "ofc", "request": "req", "record": "rec", "training": "trng", "course": "crs",
    "enrollment": "enrl", "performance": "perf", "review": "rvw", "benefit": "bnft",
    "candidate": "cand", "interview": "intvw", "clinical": "clin", "doctor": "dr",
    "patient": "pt", "admission": "adm", "appointment": "appt", "diagnosis": "dx",
    "medication": "med", "prescription": "rx", "insurance": "ins", "provider": "prov",
    "medical": "mdcl", "teacher": "tchr", "student": "stdnt", "guardian": "grdn",
    "attendance": "attnd", "vehicle": "veh", "driver": "drv", "consignment": "consgn",
    "delivery": "dlv", "maintenance": "maint", "project": "proj", "member": "mbr",
    "company": "co", "document": "doc", "contract": "ctr", "management": "mgmt",
    "identifier": "id", "code": "cd", "name": "nm", "title": "ttl", "value": "val",
}


@dataclass(frozen=True)
class Namer:
    """Spells canonical snake_case names (tables, columns) in one naming style."""

    style: str

    def table(self, canonical: str) -> str:
        words = canonical.split("_")
        if self.style == "camel":
            return "".join(w.capitalize() for w in words)
        if self.style == "plural":
            return "_".join([*words[:-1], plural(words[-1])])
        if self.style == "prefixed":
            return "tbl_" + canonical
        if self.style == "abbrev":
            return "_".join(abbreviate(w) for w in words)
        return canonical

    def column(self, canonical: str) -> str:
        words = canonical.split("_")
        if self.style == "camel":
            return words[0] + "".join(w.capitalize() for w in words[1:])
        if self.style == "abbrev":
            return "_".join(abbreviate(w) for w in words)
        return canonical


def abbreviate(word: str) -> str:
    """A DBA-style abbreviation: a known one, else the first letter plus consonants (max 4)."""
    if word in _ABBREVIATIONS:
        return _ABBREVIATIONS[word]
    if len(word) <= 4:
        return word
    skeleton = word[0] + re.sub(r"[aeiou]", "", word[1:])
    squeezed = re.sub(r"(.)\1+", r"\1", skeleton)
    return squeezed[:4] if len(squeezed) >= 3 else word[:4]


def humanize(canonical: str) -> str:
    """'order_date' -> 'order date'."""
    return canonical.replace("_", " ")


def datetime_type() -> str:
    """`datetime` if the schema module knows that field type (read at call time), else date."""
    return "datetime" if "datetime" in schema_mod.FIELD_TYPES else "date"


# -- picking a connected subset of a domain's pool -------------------------------------------------
def _pick_tables(pool: tuple[TableSpec, ...], n_tables: int,
                 rng: random.Random) -> list[TableSpec]:
    """Grow a connected set of `n_tables` specs from a random start. A junction table comes
    in together with whichever of its two ends are missing, so it always links both."""
    by_name = {t.name: t for t in pool}
    children: dict[str, set[str]] = {t.name: set() for t in pool}
    for t in pool:
        for p in t.parents:
            children[p.table].add(t.name)
    starts = [t.name for t in pool if not t.junction]
    rng.shuffle(starts)
    for start in starts:
        chosen = [start]
        while len(chosen) < n_tables:
            moves = _moves(by_name, children, chosen, n_tables - len(chosen))
            if not moves:
                break
            chosen.extend(rng.choice(moves))
        if len(chosen) == n_tables:
            # Pool order lists parents before children, as a hand-written schema would.
            return [t for t in pool if t.name in set(chosen)]
    raise PathrlError(f"cannot pick {n_tables} connected tables from this pool")


def _moves(by_name: dict[str, TableSpec], children: dict[str, set[str]], chosen: list[str],
           room: int) -> list[list[str]]:
    """The table groups that may join `chosen` next (each adjacent to it, within `room`)."""
    inside = set(chosen)
    moves: list[list[str]] = []
    for name in sorted(by_name):
        spec = by_name[name]
        if name in inside:
            continue
        ends = {p.table for p in spec.parents}
        if spec.junction:
            missing = sorted(ends - inside)
            if ends & inside and len(missing) + 1 <= room and all(
                    not by_name[m].junction for m in missing):
                moves.append([*missing, name])
        elif ends & inside or children[name] & {c for c in inside if not by_name[c].junction}:
            moves.append([name])
    return moves


# -- building the Schema ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Built:
    table: Table
    relations: tuple[Relation, ...]


def _build_table(canonical: str, spec: TableSpec, parents: list[ParentRef],
                 names: dict[str, str], keys: dict[str, str], namer: Namer, rng: random.Random,
                 description: str | None = None) -> _Built:
    """Table `canonical` shaped by `spec`: key, foreign keys, kept columns, outgoing
    relations. (ERP tables share a few column templates, hence the separate name.)"""
    name = names[canonical]
    dt_type = datetime_type()
    fields = [Field(keys[canonical], "int", f"Primary key of the {humanize(canonical)}")]
    relations = []
    for ref in parents:
        column = namer.column(ref.column)
        target = humanize(ref.table)
        what = f"{humanize(ref.role)} ({target})" if ref.role else target
        fields.append(Field(column, "int", f"References the {what}"))
        relations.append(Relation(name, column, names[ref.table], keys[ref.table]))
    kept: list[ColumnSpec] = [c for c in spec.columns
                              if not c.optional or rng.random() < OPTIONAL_COLUMN_SHARE]
    for col in kept:
        # The description is the canonical name, which the populator reads the kind back from.
        fields.append(Field(namer.column(col.name), value_type(col.kind, dt_type),
                            humanize(col.name).capitalize()))
    fields = _dedupe_fields(fields)
    display = namer.column(spec.display) if spec.display else keys[canonical]
    kept_names = {c.name for c in kept}
    time_field = (namer.column(spec.time_field)
                  if spec.time_field and spec.time_field in kept_names else None)
    table = Table(name=name, key=keys[canonical], display=display, fields=tuple(fields),
                  description=spec.description if description is None else description,
                  time_field=time_field, anchor=spec.anchor, target=spec.target)
    return _Built(table, tuple(relations))


def _dedupe_fields(fields: list[Field]) -> list[Field]:
    """Abbreviation can merge two column names; the later one gets a numeric suffix."""
    seen: set[str] = set()
    out = []
    for f in fields:
        name, k = f.name, 2
        while name in seen:
            name, k = f"{f.name}{k}", k + 1
        seen.add(name)
        out.append(Field(name, f.type, f.description))
    return out


def _table_names(canonical: list[str], namer: Namer) -> dict[str, str]:
    """Styled table names; one that clashes with an earlier one keeps its snake_case name."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for c in canonical:
        styled = namer.table(c)
        if styled.lower() in used:
            styled = c
        used.add(styled.lower())
        names[c] = styled
    return names


def _key_names(canonical: list[str], namer: Namer, rng: random.Random) -> dict[str, str]:
    """One key style per schema: `id` everywhere, or `<table>_id` (styled)."""
    per_table = rng.random() < 0.3
    return {c: namer.column(f"{c}_id") if per_table else "id" for c in canonical}


def generate_schema(domain: str, n_tables: int, seed: int, naming: str = "snake",
                    name: str | None = None) -> Schema:
    """A connected `n_tables`-table schema of a business `domain` (see `DOMAINS`), spelled in
    `naming` style (one of `NAMING_STYLES`); the same arguments always give the same schema."""
    if domain not in DOMAINS:
        raise PathrlError(f"unknown domain '{domain}' (use one of {', '.join(DOMAINS)})")
    if naming not in NAMING_STYLES:
        raise PathrlError(f"unknown naming style '{naming}' "
                          f"(use one of {', '.join(NAMING_STYLES)})")
    pool = DOMAINS[domain]
    top = min(MAX_TABLES, len(pool))
    if not MIN_TABLES <= n_tables <= top:
        raise PathrlError(f"n_tables must be between {MIN_TABLES} and {top}, got {n_tables}")
    rng = random.Random(f"pathrl.synth/{domain}/{n_tables}/{seed}")
    namer = Namer(naming)
    specs = _pick_tables(pool, n_tables, rng)
    canonical = [s.name for s in specs]
    names = _table_names(canonical, namer)
    keys = _key_names(canonical, namer, rng)
    inside = set(canonical)
    built = [_build_table(s.name, s, [p for p in s.parents if p.table in inside], names, keys,
                          namer, rng) for s in specs]
    return Schema(
        name=name or f"{domain}_{naming}_{n_tables}t_s{seed}",
        tables=tuple(b.table for b in built),
        relations=tuple(r for b in built for r in b.relations),
        rules=PathRules(max_hops=MAX_HOPS),
        description=f"Generated {domain} schema ({n_tables} tables, {naming} names, seed {seed}).",
    )


# -- ERP scale schemas -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _ErpTable:
    name: str
    module: str
    spec: TableSpec
    header: str | None  # the table a line or satellite belongs to


def _erp_tables(n_tables: int, rng: random.Random) -> list[_ErpTable]:
    """Hubs, then module tables round-robin over shuffled modules, then satellites."""
    out = [_ErpTable(h.name, "core", h, None) for h in ERP_HUBS]
    modules = list(ERP_MODULES)
    rng.shuffle(modules)
    queues = {m: list(ERP_MODULES[m][1]) for m in modules}
    while any(queues.values()):
        for m in modules:
            if queues[m]:
                name = queues[m].pop(0)
                header = next((name[: -len(s)] for s in ("_line", "_member", "_comment")
                               if name.endswith(s)), None)
                out.append(_ErpTable(name, m, erp_template(name), header))
    bases = [t for t in out if t.module != "core" and t.header is None]
    rng.shuffle(bases)
    for suffix in ERP_SATELLITES:
        for base in bases:
            out.append(_ErpTable(f"{base.name}_{suffix}", base.module,
                                 erp_template(base.name, satellite=True), base.name))
    return out[:n_tables]


def _erp_parents(table: _ErpTable, earlier: list[_ErpTable], rng: random.Random) -> list[str]:
    """1-3 distinct earlier tables: the header (lines, satellites) or a module hub first,
    then tables of the same module or hubs, rarely any earlier table."""
    if table.module == "core":
        return [p.table for p in table.spec.parents]
    names = {t.name for t in earlier}
    hubs = [h for h in ERP_MODULES[table.module][0] if h in names]
    same_module = [t.name for t in earlier if t.module == table.module]
    first = table.header if table.header in names else rng.choice(hubs or sorted(names))
    parents = [first]
    wanted = rng.choice((1, 1, 2, 2, 3))
    for _ in range(8):
        if len(parents) >= wanted:
            break
        roll = rng.random()
        pick_from = (same_module if roll < 0.5 and same_module else
                     hubs if roll < 0.85 and hubs else [t.name for t in earlier])
        candidate = rng.choice(pick_from)
        if candidate not in parents:
            parents.append(candidate)
    return parents


def generate_erp_schema(n_tables: int, seed: int) -> Schema:
    """An ERP-like schema of `n_tables` tables for scale tests: hubs (company, department,
    employee, customer, supplier, product, warehouse, cost center), module tables (sales,
    purchasing, inventory, finance, ...), then satellite tables (approvals, attachments, ...);
    every table after the first has 1-3 foreign keys to earlier ones."""
    if not ERP_MIN_TABLES <= n_tables <= ERP_MAX_TABLES:
        raise PathrlError(f"an ERP schema has {ERP_MIN_TABLES} to {ERP_MAX_TABLES} tables, "
                          f"got {n_tables}")
    rng = random.Random(f"pathrl.synth/erp/{n_tables}/{seed}")
    namer = Namer("snake")
    plan = _erp_tables(n_tables, rng)
    names = {t.name: t.name for t in plan}
    keys = {t.name: "id" for t in plan}
    built = []
    for i, t in enumerate(plan):
        parents = [ParentRef(p) for p in _erp_parents(t, plan[:i], rng)]
        label = humanize(t.name)
        description = t.spec.description or (
            f"{label.capitalize()} ({t.module} module)" if t.header is None
            else f"{label.capitalize()} of a {humanize(t.header)}")
        built.append(_build_table(t.name, t.spec, parents, names, keys, namer, rng, description))
    return Schema(
        name=f"erp_{n_tables}t_s{seed}",
        tables=tuple(b.table for b in built),
        relations=tuple(r for b in built for r in b.relations),
        rules=PathRules(max_hops=MAX_HOPS),
        description=f"Generated ERP schema ({n_tables} tables, seed {seed}).",
    )
