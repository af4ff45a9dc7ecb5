"""Schema loading, validation, (de)serialisation and fingerprint (importing a schema from a
database: tests/test_schema_import.py)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from pathrl.demo import SCHEMA_FILE, demo_schema
from pathrl.errors import SchemaError
from pathrl.schema import (
    Schema,
    connected_components,
    disconnected_tables,
)


def base() -> dict[str, Any]:
    """A valid two-table schema; tests break one thing at a time."""
    return {
        "name": "mini",
        "tables": {
            "a": {"key": "id", "display": "name", "fields": {"id": "str", "name": "str"}},
            "b": {"key": "id", "time_field": "day",
                  "fields": {"id": "str", "a_id": "str", "day": "date"}},
        },
        "relations": [{"from": "b.a_id", "to": "a.id"}],
    }


def broken(edit) -> dict[str, Any]:
    data = copy.deepcopy(base())
    edit(data)
    return data


def test_base_is_valid():
    schema = Schema.from_dict(base())
    assert schema.table_names == ("a", "b")
    assert schema.relations[0].label == "b.a_id -> a.id"
    assert schema.table("b").time_field == "day"
    assert schema.table("b").display == "id"  # display defaults to the key


INVALID = {
    "unknown table in relation": (
        lambda d: d["relations"].append({"from": "b.a_id", "to": "nope.id"}),
        "unknown table 'nope'"),
    "unknown field in relation": (
        lambda d: d["relations"].append({"from": "b.missing", "to": "a.id"}),
        "table 'b' has no field 'missing'"),
    "duplicate table (list form)": (
        lambda d: d.update(tables=[{"name": "a", "fields": ["id"]},
                                   {"name": "a", "fields": ["id", "x"]}], relations=[]),
        "duplicate table name 'a'"),
    "duplicate field (list form)": (
        lambda d: d["tables"]["a"].update(fields=["id", "name", "name"]),
        "table 'a': duplicate field(s) name"),
    "empty schema": (lambda d: d.update(tables={}, relations=[]), "is empty"),
    "self-loop": (
        lambda d: (d["tables"]["a"]["fields"].update(parent_id="str"),
                   d["relations"].append({"from": "a.parent_id", "to": "a.id"})),
        "relation a.parent_id -> a.id: self-loop"),
    "dollar in table name": (
        lambda d: d["tables"].update({"a$b": {"fields": {"id": "str"}}}),
        "'a$b' is not a plain identifier"),
    "dot in field name": (
        lambda d: d["tables"]["a"]["fields"].update({"x.y": "str"}),
        "table 'a': 'x.y' is not a plain identifier"),
    "space in field name": (
        lambda d: d["tables"]["a"]["fields"].update({"my field": "str"}),
        "'my field' is not a plain identifier"),
    "bad cardinality": (
        lambda d: d["relations"][0].update(cardinality="many_to_many"),
        "unknown cardinality 'many_to_many'"),
    "max_hops zero": (lambda d: d.update(rules={"max_hops": 0}),
                      "rules.max_hops must be >= 1, got 0"),
    "max_hops not a number": (lambda d: d.update(rules={"max_hops": "three"}),
                              "bad rules section"),
    "bad direction": (lambda d: d.update(rules={"direction": "sideways"}),
                      "rules.direction must be both|forward|backward, got 'sideways'"),
    "deny hop over unknown table": (lambda d: d.update(rules={"deny_hops": ["a->zzz"]}),
                                    "rule hop 'a->zzz' must be 'table->table'"),
    "key not a field": (lambda d: d["tables"]["a"].update(key="pk"),
                        "table 'a': key field 'pk' is not among its fields"),
    "time_field not a field": (lambda d: d["tables"]["b"].update(time_field="when"),
                               "table 'b': time_field field 'when' is not among its fields"),
    "unknown field type": (lambda d: d["tables"]["a"]["fields"].update(name="text"),
                           "field 'name' has unknown type 'text'"),
    "malformed relation": (lambda d: d["relations"].append({"from": "b", "to": "a.id"}),
                           "must look like {from: table.field, to: table.field}"),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_validation_errors_name_the_problem(case):
    edit, expected = INVALID[case]
    with pytest.raises(SchemaError) as err:
        Schema.from_dict(broken(edit))
    assert expected in str(err.value)


def test_self_loop_allowed_by_rule():
    def edit(d):
        d["tables"]["a"]["fields"]["parent_id"] = "str"
        d["relations"].append({"from": "a.parent_id", "to": "a.id"})
        d["rules"] = {"allow_self_loops": True}

    assert len(Schema.from_dict(broken(edit)).relations) == 2


def test_every_problem_is_listed_at_once():
    def edit(d):
        d["relations"][0]["cardinality"] = "lots"
        d["tables"]["a"]["key"] = "pk"
        d["rules"] = {"max_hops": 0}

    with pytest.raises(SchemaError) as err:
        Schema.from_dict(broken(edit))
    msg = str(err.value)
    assert msg.startswith("schema 'mini' is invalid:")
    for part in ("unknown cardinality 'lots'", "key field 'pk'", "max_hops must be >= 1"):
        assert part in msg
    assert msg.count("\n  - ") == 3


def test_top_level_must_be_a_mapping():
    with pytest.raises(SchemaError, match="expected a mapping at the top level"):
        Schema.from_dict(["a", "b"])  # type: ignore[arg-type]


def test_duplicate_keys_in_yaml_file(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("tables:\n  a: {fields: {id: str}}\n  a: {fields: {id: str, x: int}}\n")
    with pytest.raises(SchemaError) as err:
        Schema.load(path)
    assert "duplicate key 'a'" in str(err.value) and str(path) in str(err.value)
    path.write_text("tables:\n  a:\n    fields: {id: str, x: str, x: int}\n")
    with pytest.raises(SchemaError, match="duplicate key 'x'"):
        Schema.load(path)


def test_duplicate_keys_in_json_file(tmp_path):
    path = tmp_path / "dup.json"
    path.write_text('{"tables": {"a": {"fields": {"id": "str"}}, "a": {"fields": {"id": "int"}}}}')
    with pytest.raises(SchemaError, match="duplicate key\\(s\\) 'a'"):
        Schema.load(path)


def test_unparseable_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("tables: {a: [unclosed\n")
    with pytest.raises(SchemaError) as err:
        Schema.load(path)
    assert f"{path}: cannot parse" in str(err.value)


def test_unparseable_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"tables": ')
    with pytest.raises(SchemaError, match="cannot parse"):
        Schema.load(path)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(SchemaError) as err:
        Schema.load(path)
    assert str(err.value) == f"schema file not found: {path}"


def test_lookup_errors_name_the_known_tables():
    schema = Schema.from_dict(base())
    with pytest.raises(SchemaError, match=r"unknown table 'zz' \(known tables: a, b\)"):
        schema.table("zz")
    with pytest.raises(SchemaError, match="table 'a' has no field 'zz'"):
        schema.table("a").field("zz")


def test_disconnected_tables_are_reported():
    def edit(d):
        d["tables"]["lonely"] = {"fields": {"id": "str"}}

    schema = Schema.from_dict(broken(edit))
    assert disconnected_tables(schema) == ["lonely"]
    assert connected_components(schema) == [["a", "b"], ["lonely"]]
    assert disconnected_tables(demo_schema()) == []
    assert len(connected_components(demo_schema())) == 1


# -- round trips and fingerprint ---------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_round_trip(tmp_path, suffix):
    schema = demo_schema()
    path = tmp_path / f"demo{suffix}"
    schema.save(path)
    again = Schema.load(path)
    assert again == schema
    assert again.to_dict() == schema.to_dict()
    assert again.fingerprint() == schema.fingerprint()
    assert "合同变更记录" in path.read_text(encoding="utf-8")  # unicode written as is
    assert again.table("contract_change_log").synonyms_zh[0] == "合同变更记录"


def test_fingerprint_is_stable_and_tracks_structure():
    schema = demo_schema()
    assert schema.fingerprint() == Schema.load(SCHEMA_FILE).fingerprint()
    assert len(schema.fingerprint()) == 16

    def variant(edit) -> str:
        data = schema.to_dict()
        edit(data)
        return Schema.from_dict(data).fingerprint()

    # words do not change what a router learned; relations and rules do
    assert variant(lambda d: d["tables"]["project"].update(description="x")) == \
        schema.fingerprint()
    changed = {
        "relation target": variant(lambda d: d["relations"][0].update(to="project.name")),
        "relation removed": variant(lambda d: d["relations"].pop()),
        "max_hops": variant(lambda d: d["rules"].update(max_hops=2)),
        "deny rule": variant(lambda d: d["rules"].update(deny_hops=[])),
    }
    assert schema.fingerprint() not in changed.values()
    assert len(set(changed.values())) == len(changed)


def test_list_forms_are_accepted(tmp_path: Path):
    data = {"tables": [{"name": "a", "fields": ["id", {"name": "n", "type": "int"}]}]}
    schema = Schema.from_dict(data, source=str(tmp_path / "listy.yaml"))
    assert schema.name == "listy"
    assert schema.table("a").field("n").type == "int"
    assert schema.table("a").field("id").type == "str"
