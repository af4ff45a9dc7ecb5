"""The schema graph: tables, foreign-key relations and the business rules over them.

A `Schema` is what the Router must learn the "physics" of. It can be loaded from YAML/JSON
(`Schema.load`) or drafted from a database by `pathrl.schema_import`. Validation errors name the
offending table/field so a user can fix their file.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pathrl.errors import SchemaError
from pathrl.io import atomic_write_text

CARDINALITIES = ("many_to_one", "one_to_one", "one_to_many")
FIELD_TYPES = ("str", "int", "float", "date", "datetime", "bool")
# Identifiers reach SQL and MQL as names, so they must be plain (no '$', '.', quotes, spaces).
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Field:
    """A column (SQL) or document field (MongoDB)."""

    name: str
    type: str = "str"
    description: str = ""


@dataclass(frozen=True)
class Table:
    """A table or collection, with the words users call it by."""

    name: str
    key: str
    display: str
    fields: tuple[Field, ...]
    description: str = ""
    synonyms_en: tuple[str, ...] = ()
    synonyms_zh: tuple[str, ...] = ()
    time_field: str | None = None
    # Business rules: which tables a question may start from (anchor) or ask for (target).
    anchor: bool = True
    target: bool = True

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise SchemaError(f"table '{self.name}' has no field '{name}'")


@dataclass(frozen=True)
class Relation:
    """A directed foreign key: `from_table.from_field` references `to_table.to_field`."""

    from_table: str
    from_field: str
    to_table: str
    to_field: str
    cardinality: str = "many_to_one"

    @property
    def label(self) -> str:
        return f"{self.from_table}.{self.from_field} -> {self.to_table}.{self.to_field}"


@dataclass(frozen=True)
class PathRules:
    """Business rules that filter the enumerated paths.

    `deny_hops` / `allow_hops` hold "a->b" strings over table names (the direction of travel,
    not of the foreign key). `direction` picks which way foreign keys may be travelled:
    "both" (default; a join works both ways), "forward" (child -> parent only) or "backward".
    `single_table` makes every table that may be both anchor and target a legal route on its
    own (anchor = target, no via, no join): "How many regions are there?" needs one table.
    """

    max_hops: int = 3
    single_table: bool = True
    direction: str = "both"
    deny_hops: tuple[str, ...] = ()
    allow_hops: tuple[str, ...] = ()
    allow_self_loops: bool = False
    #: Cap on the partial paths explored while enumerating (not part of the fingerprint: it
    #: bounds the work, it does not change which paths are legal).
    max_paths: int = 200_000


@dataclass(frozen=True)
class Schema:
    """Tables + relations + path rules. Immutable; use the loaders to build one."""

    name: str
    tables: tuple[Table, ...]
    relations: tuple[Relation, ...]
    rules: PathRules = field(default_factory=PathRules)
    description: str = ""

    def __post_init__(self) -> None:
        validate(self)

    # -- lookup -----------------------------------------------------------------------------
    @property
    def table_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tables)

    def table(self, name: str) -> Table:
        for t in self.tables:
            if t.name == name:
                return t
        known = ", ".join(self.table_names)
        raise SchemaError(f"unknown table '{name}' (known tables: {known})")

    def fingerprint(self) -> str:
        """A short hash of the tables, relations and rules: routers remember which schema they
        were trained on and refuse another one."""
        payload = json.dumps(
            {
                "tables": sorted((t.name, t.key, t.field_names) for t in self.tables),
                "relations": sorted(r.label for r in self.relations),
                "rules": {k: v for k, v in asdict(self.rules).items() if k != "max_paths"},
            },
            sort_keys=True,
            default=list,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    # -- (de)serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "rules": {
                "max_hops": self.rules.max_hops,
                "single_table": self.rules.single_table,
                "direction": self.rules.direction,
                "deny_hops": list(self.rules.deny_hops),
                "allow_hops": list(self.rules.allow_hops),
                "allow_self_loops": self.rules.allow_self_loops,
                **({"max_paths": self.rules.max_paths}
                   if self.rules.max_paths != PathRules.max_paths else {}),
            },
            "tables": {
                t.name: {
                    "description": t.description,
                    "synonyms": {"en": list(t.synonyms_en), "zh": list(t.synonyms_zh)},
                    "key": t.key,
                    "display": t.display,
                    "time_field": t.time_field,
                    "anchor": t.anchor,
                    "target": t.target,
                    "fields": {f.name: {"type": f.type, "description": f.description}
                               for f in t.fields},
                }
                for t in self.tables
            },
            "relations": [
                {"from": f"{r.from_table}.{r.from_field}", "to": f"{r.to_table}.{r.to_field}",
                 "cardinality": r.cardinality}
                for r in self.relations
            ],
        }

    def save(self, path: str | Path) -> None:
        """Write YAML (JSON for a .json path) atomically: a reader never sees half a file."""
        path = Path(path)
        text = (json.dumps(self.to_dict(), ensure_ascii=False, indent=2)
                if path.suffix == ".json"
                else yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False))
        atomic_write_text(path, text)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> Schema:
        if not isinstance(data, dict):
            raise SchemaError(f"{source}: expected a mapping at the top level")
        tables_raw = data.get("tables") or {}
        # Also accept a list of {name: ...}; kept as pairs so validation sees duplicate names.
        if isinstance(tables_raw, list):
            table_items = [(t.get("name") if isinstance(t, dict) else None, t)
                           for t in tables_raw]
        elif isinstance(tables_raw, dict):
            table_items = list(tables_raw.items())
        else:
            raise SchemaError(f"{source}: 'tables' must be a mapping of table name to table")
        tables = tuple(_table_from_dict(name, spec or {}, source) for name, spec in table_items)
        relations_raw = data.get("relations") or []
        if not isinstance(relations_raw, list):
            raise SchemaError(f"{source}: 'relations' must be a list of {{from:, to:}} items")
        relations = tuple(_relation_from_dict(r, source) for r in relations_raw)
        rules_raw = _mapping(data.get("rules"), "rules", source)
        try:
            rules = _rules_from_dict(rules_raw, source)
        except SchemaError as exc:
            detail = str(exc).removeprefix(f"{source}: ")
            raise SchemaError(f"{source}: bad rules section: {detail}") from None
        name = data.get("name") or Path(source).stem
        return cls(name=_text(name, "name", source), tables=tables, relations=relations,
                   rules=rules, description=_text(data.get("description"), "description",
                                                  source))

    @classmethod
    def load(cls, path: str | Path) -> Schema:
        """Load a schema from a .yaml/.yml/.json file."""
        path = Path(path)
        if path.is_dir():
            raise SchemaError(f"{path} is a directory; --schema takes a .yaml/.json file")
        if not path.is_file():
            raise SchemaError(f"schema file not found: {path}")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise SchemaError(f"{path}: not a text file (a schema is UTF-8 YAML or JSON)") from None
        except OSError as exc:
            raise SchemaError(f"cannot read schema file {path}: {exc.strerror}") from None
        try:
            data = (json.loads(text, object_pairs_hook=_unique_keys) if path.suffix == ".json"
                    else yaml.load(text, Loader=_UniqueKeyLoader))  # a SafeLoader
        except yaml.MarkedYAMLError as exc:  # one line: where, then what
            mark = exc.problem_mark
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            what = " ".join(str(part) for part in (exc.context, exc.problem) if part)
            raise SchemaError(f"{path}: cannot parse{where}: {what}") from None
        except (ValueError, yaml.YAMLError) as exc:  # JSONDecodeError is a ValueError
            first = str(exc).strip().splitlines()
            raise SchemaError(f"{path}: cannot parse: {' '.join(first)}") from None
        except RecursionError:
            raise SchemaError(f"{path}: cannot parse: nested too deeply") from None
        return cls.from_dict(data, source=str(path))


class _UniqueKeyLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses duplicate mapping keys: PyYAML silently keeps the last
    one, which would hide a table or field declared twice."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        # Aliases let a few lines expand into gigabytes ("billion laughs"); a schema never
        # needs them, so anchors and aliases are refused outright.
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.composer.ComposerError(
                None, None, "YAML anchors and aliases (&name, *name) are not allowed in a "
                "schema", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _rules_from_dict(rules_raw: dict[str, Any], source: str) -> PathRules:
    unknown = sorted(set(rules_raw) - set(PathRules.__dataclass_fields__))
    if unknown:
        raise SchemaError(f"{source}: unknown rule(s) {', '.join(map(str, unknown))} (known: "
                          f"{', '.join(PathRules.__dataclass_fields__)})")
    return PathRules(
        max_hops=_integer(rules_raw.get("max_hops", 3), "rules.max_hops", source),
        single_table=_flag(rules_raw.get("single_table", True), "rules.single_table",
                           source),
        direction=_text(rules_raw.get("direction", "both"), "rules.direction", source),
        deny_hops=_texts(rules_raw.get("deny_hops"), "rules.deny_hops", source),
        allow_hops=_texts(rules_raw.get("allow_hops"), "rules.allow_hops", source),
        allow_self_loops=_flag(rules_raw.get("allow_self_loops", False),
                               "rules.allow_self_loops", source),
        max_paths=_integer(rules_raw.get("max_paths", PathRules.max_paths),
                           "rules.max_paths", source),
    )


def _flag(value: Any, what: str, source: str) -> bool:
    """A YAML boolean; "no"/"false" strings or numbers would silently read as True."""
    if not isinstance(value, bool):
        raise SchemaError(f"{source}: {what} must be true or false, got {value!r:.60}")
    return value


def _integer(value: Any, what: str, source: str) -> int:
    """A whole number (3.7 or "3" would be silently truncated or mis-read)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SchemaError(f"{source}: {what} must be an integer, got {value!r:.60}")
    return value


def _text(value: Any, what: str, source: str, default: str = "") -> str:
    """A plain string (None -> `default`); numbers, lists and mappings are refused."""
    if value is None:
        return default
    if not isinstance(value, str):
        raise SchemaError(f"{source}: {what} must be a string, got "
                          f"{type(value).__name__} {value!r:.60}")
    return value


def _texts(value: Any, what: str, source: str) -> tuple[str, ...]:
    """A list of plain strings (None -> empty)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise SchemaError(f"{source}: {what} must be a list of strings, got {value!r:.60}")
    return tuple(_text(item, f"{what}[{i}]", source) for i, item in enumerate(value))


def _mapping(value: Any, what: str, source: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SchemaError(f"{source}: {what} must be a mapping, got {value!r:.60}")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json `object_pairs_hook` refusing duplicate keys (json keeps the last one silently)."""
    keys = [k for k, _ in pairs]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ValueError(f"duplicate key(s) {', '.join(map(repr, dupes))}")
    return dict(pairs)


def _field_from_spec(table: str, raw: Any, spec: Any, source: str) -> Field:
    where = f"table '{table}' field {raw!r:.40}"
    name = _text(raw, f"table '{table}': a field name", source)
    if isinstance(spec, str) or spec is None:
        return Field(name, spec or "str")
    spec = _mapping(spec, where, source)
    return Field(name, _text(spec.get("type"), f"{where} type", source, "str"),
                 _text(spec.get("description"), f"{where} description", source))


def _table_from_dict(name: Any, spec: Any, source: str) -> Table:
    if not name or not isinstance(name, str):
        raise SchemaError(f"{source}: a table has no name")
    spec = _mapping(spec, f"table '{name}'", source)
    fields_raw = spec.get("fields") or {}
    # A list of names or {name: ...} is kept as pairs so validation sees duplicate fields.
    if isinstance(fields_raw, list):
        field_items = [(f, None) if not isinstance(f, dict) else (f.get("name"), f)
                       for f in fields_raw]
    elif isinstance(fields_raw, dict):
        field_items = list(fields_raw.items())
    else:
        raise SchemaError(f"{source}: table '{name}': fields must be a mapping or a list")
    fields = tuple(_field_from_spec(name, fname, fspec, source) for fname, fspec in field_items)
    synonyms = _mapping(spec.get("synonyms"), f"table '{name}' synonyms", source)
    key = _text(spec.get("key"), f"table '{name}' key", source, "id")
    time_field = spec.get("time_field")
    return Table(
        name=name,
        key=key,
        display=_text(spec.get("display"), f"table '{name}' display", source, key),
        fields=fields,
        description=_text(spec.get("description"), f"table '{name}' description", source),
        synonyms_en=_texts(synonyms.get("en"), f"table '{name}' synonyms.en", source),
        synonyms_zh=_texts(synonyms.get("zh"), f"table '{name}' synonyms.zh", source),
        time_field=None if time_field is None else _text(
            time_field, f"table '{name}' time_field", source),
        anchor=_flag(spec.get("anchor", True), f"table '{name}' anchor", source),
        target=_flag(spec.get("target", True), f"table '{name}' target", source),
    )


def _relation_from_dict(raw: Any, source: str) -> Relation:
    try:
        from_table, from_field = str(raw["from"]).split(".", 1)
        to_table, to_field = str(raw["to"]).split(".", 1)
    except (KeyError, TypeError, ValueError):
        raise SchemaError(
            f"{source}: relation {raw!r} must look like {{from: table.field, to: table.field}}"
        ) from None
    return Relation(from_table, from_field, to_table, to_field,
                    _text(raw.get("cardinality"), f"relation {raw!r:.60} cardinality", source,
                          "many_to_one"))


# -- validation --------------------------------------------------------------------------------
def validate(schema: Schema) -> None:
    """Raise `SchemaError` listing every problem found (not just the first)."""
    problems: list[str] = []
    if not schema.tables:
        raise SchemaError(f"schema '{schema.name}' is empty: it declares no tables")
    seen: set[str] = set()
    for t in schema.tables:
        for ident in (t.name, *(f.name for f in t.fields)):
            if not _IDENTIFIER.match(ident):
                problems.append(f"table '{t.name}': '{ident}' is not a plain identifier "
                                "(letters, digits, underscore; no '$' or '.')")
        if t.name in seen:
            problems.append(f"duplicate table name '{t.name}'")
        seen.add(t.name)
        names = [f.name for f in t.fields]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            problems.append(f"table '{t.name}': duplicate field(s) {', '.join(dupes)}")
        for role, fname in (("key", t.key), ("display", t.display), ("time_field", t.time_field)):
            if fname is not None and fname not in names:
                problems.append(f"table '{t.name}': {role} field '{fname}' is not among its fields")
        for f in t.fields:
            if f.type not in FIELD_TYPES:
                problems.append(f"table '{t.name}': field '{f.name}' has unknown type '{f.type}' "
                                f"(use one of {', '.join(FIELD_TYPES)})")
    tables = {t.name: t for t in schema.tables}
    for r in schema.relations:
        for tname, fname in ((r.from_table, r.from_field), (r.to_table, r.to_field)):
            if tname not in tables:
                problems.append(f"relation {r.label}: unknown table '{tname}'")
            elif fname not in tables[tname].field_names:
                problems.append(f"relation {r.label}: table '{tname}' has no field '{fname}'")
        if r.from_table == r.to_table and not schema.rules.allow_self_loops:
            problems.append(f"relation {r.label}: self-loop (set rules.allow_self_loops: true "
                            "to keep it; paths never visit a table twice either way)")
        if r.cardinality not in CARDINALITIES:
            problems.append(f"relation {r.label}: unknown cardinality '{r.cardinality}'")
    rules = schema.rules
    if rules.max_hops < 1:
        problems.append(f"rules.max_hops must be >= 1, got {rules.max_hops}")
    if rules.max_paths < 1:
        problems.append(f"rules.max_paths must be >= 1, got {rules.max_paths}")
    if rules.direction not in ("both", "forward", "backward"):
        problems.append(f"rules.direction must be both|forward|backward, got '{rules.direction}'")
    for hop in (*rules.deny_hops, *rules.allow_hops):
        parts = hop.split("->")
        if len(parts) != 2 or any(p.strip() not in tables for p in parts):
            problems.append(f"rule hop '{hop}' must be 'table->table' over known tables")
    if problems:
        raise SchemaError(f"schema '{schema.name}' is invalid:\n  - " + "\n  - ".join(problems))


def disconnected_tables(schema: Schema) -> list[str]:
    """Tables that no relation touches (reported by `pathrl schema check`, not an error)."""
    touched = {r.from_table for r in schema.relations} | {r.to_table for r in schema.relations}
    return [t for t in schema.table_names if t not in touched] if len(schema.tables) > 1 else []


def connected_components(schema: Schema) -> list[list[str]]:
    """Groups of tables reachable from each other (ignoring direction), largest first."""
    parent = {t: t for t in schema.table_names}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for r in schema.relations:
        parent[find(r.from_table)] = find(r.to_table)
    groups: dict[str, list[str]] = {}
    for t in schema.table_names:
        groups.setdefault(find(t), []).append(t)
    return sorted(groups.values(), key=lambda g: (-len(g), g))
