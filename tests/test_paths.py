"""Legal-path enumeration (`enumerate_paths`) and the Router vocabulary (`PathVocab`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest

from pathrl.demo import demo_schema
from pathrl.errors import PathrlError
from pathrl.paths import Hop, PathVocab, enumerate_paths
from pathrl.schema import Schema, SchemaError


def make_schema(relations: list[str], tables: dict[str, dict[str, Any]] | None = None,
                **rules: Any) -> Schema:
    """A small schema from 'a.f->b.g' strings; every table gets `id` plus the FK fields used.
    Single-table routes are off unless asked for, so the join enumeration is seen alone."""
    rules.setdefault("single_table", False)
    fields: dict[str, set[str]] = {}
    for t in tables or {}:
        fields.setdefault(t, {"id"})
    rels = []
    for rel in relations:
        src, dst = rel.split("->")
        for end in (src, dst):
            table, fname = end.split(".")
            fields.setdefault(table, {"id"}).add(fname)
        rels.append({"from": src, "to": dst})
    spec = {
        name: {"key": "id", "fields": sorted(fs), **(tables or {}).get(name, {})}
        for name, fs in sorted(fields.items())
    }
    return Schema.from_dict({"name": "t", "tables": spec, "relations": rels, "rules": rules})


CHAIN = ["b.a_id->a.id", "c.b_id->b.id"]  # a <- b <- c (b references a, c references b)


def ids(schema: Schema, **kw: Any) -> list[str]:
    return [p.id for p in enumerate_paths(schema, **kw)]


def test_chain_counts_and_order():
    # Sorted by hop count, then by the table sequence.
    assert ids(make_schema(CHAIN)) == ["a>b", "b>a", "b>c", "c>b", "a>b>c", "c>b>a"]


def test_hop_limit_from_rules_and_override():
    chain4 = ["b.a_id->a.id", "c.b_id->b.id", "d.c_id->c.id"]
    assert Counter(p.n_hops for p in enumerate_paths(make_schema(chain4))) == {1: 6, 2: 4, 3: 2}
    assert Counter(p.n_hops for p in enumerate_paths(make_schema(chain4, max_hops=2))) == {
        1: 6, 2: 4}
    assert ids(make_schema(chain4), max_hops=1) == ["a>b", "b>a", "b>c", "c>b", "c>d", "d>c"]
    with pytest.raises(PathrlError, match="max_hops must be >= 1, got 0"):
        enumerate_paths(make_schema(chain4), max_hops=0)


def test_cycle_paths_never_revisit_a_table():
    triangle = make_schema(["a.b_id->b.id", "b.c_id->c.id", "c.a_id->a.id"], max_hops=5)
    paths = enumerate_paths(triangle)
    for p in paths:
        assert len(set(p.tables)) == len(p.tables), p.id
    # 3 tables: 6 one-hop + 6 two-hop simple paths; a third hop would revisit the anchor.
    assert Counter(p.n_hops for p in paths) == {1: 6, 2: 6}


def test_deny_hops_remove_only_that_direction():
    got = ids(make_schema(CHAIN, deny_hops=["b->c"]))
    assert got == ["a>b", "b>a", "c>b", "c>b>a"]


def test_allow_hops_keep_only_listed_steps():
    assert ids(make_schema(CHAIN, allow_hops=["a->b", "b->c"])) == ["a>b", "b>c", "a>b>c"]


def test_direction_forward_follows_foreign_keys_only():
    paths = enumerate_paths(make_schema(CHAIN, direction="forward"))
    assert [p.id for p in paths] == ["b>a", "c>b", "c>b>a"]
    assert all(h.forward for p in paths for h in p.hops)
    assert paths[-1].hops == (Hop("c", "b_id", "b", "id", True), Hop("b", "a_id", "a", "id", True))


def test_direction_backward_walks_foreign_keys_in_reverse():
    paths = enumerate_paths(make_schema(CHAIN, direction="backward"))
    assert [p.id for p in paths] == ["a>b", "b>c", "a>b>c"]
    assert all(not h.forward for p in paths for h in p.hops)
    assert paths[-1].hops == (Hop("a", "id", "b", "a_id", False),
                              Hop("b", "id", "c", "b_id", False))


def test_anchor_and_target_flags():
    schema = make_schema(CHAIN, tables={"a": {"anchor": False}, "c": {"target": False}})
    paths = enumerate_paths(schema)
    assert [p.id for p in paths] == ["b>a", "c>b", "c>b>a"]
    assert all(p.anchor != "a" and p.target != "c" for p in paths)
    # a non-target table may still be passed through
    bridge = make_schema(CHAIN, tables={"b": {"anchor": False, "target": False}})
    assert ids(bridge) == ["a>b>c", "c>b>a"]


def test_parallel_foreign_keys_get_numbered_ids():
    schema = make_schema(["t.x_id->u.id", "t.y_id->u.id"])
    paths = enumerate_paths(schema)
    assert [p.id for p in paths] == ["t>u", "t>u#2", "u>t", "u>t#2"]
    by_id = {p.id: p for p in paths}
    assert by_id["t>u"].hops == (Hop("t", "x_id", "u", "id", True),)
    assert by_id["t>u#2"].hops == (Hop("t", "y_id", "u", "id", True),)
    assert by_id["u>t"].hops == (Hop("u", "id", "t", "x_id", False),)
    assert by_id["u>t#2"].hops == (Hop("u", "id", "t", "y_id", False),)
    vocab = PathVocab(paths)
    # Both share the triple (t, u, ()); the triple resolves to the first path.
    assert vocab.triples == [("t", "u", ()), ("u", "t", ())]
    assert vocab.path("t", "u").id == "t>u"
    assert vocab.path_by_id["t>u#2"].hops[0].src_field == "y_id"


def test_self_loop_is_kept_in_schema_but_not_in_paths():
    schema = make_schema(["a.parent_id->a.id", "b.a_id->a.id"], allow_self_loops=True)
    assert len(schema.relations) == 2
    assert ids(schema) == ["a>b", "b>a"]


def test_declaration_order_does_not_change_ids_or_order():
    relations = ["b.a_id->a.id", "c.b_id->b.id", "c.a_id->a.id", "d.c_id->c.id", "d.c2_id->c.id"]
    forward = enumerate_paths(make_schema(relations))
    data = make_schema(relations).to_dict()
    data["relations"] = data["relations"][::-1]
    data["tables"] = dict(reversed(list(data["tables"].items())))
    shuffled = enumerate_paths(Schema.from_dict(data))
    assert [p.to_dict() for p in shuffled] == [p.to_dict() for p in forward]
    assert enumerate_paths(make_schema(relations)) == forward  # same call, same result


def test_demo_ids_stable_across_processes():
    """Path ids, their order and the fingerprint do not depend on hash randomisation."""
    script = ("import json; from pathrl.demo import demo_schema; "
              "from pathrl.paths import enumerate_paths; s = demo_schema(); "
              "print(json.dumps([[p.id for p in enumerate_paths(s)], s.fingerprint()]))")
    here = [[p.id for p in enumerate_paths(demo_schema())], demo_schema().fingerprint()]
    for hash_seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             check=True, env={**os.environ, "PYTHONHASHSEED": hash_seed})
        assert json.loads(out.stdout) == here


# -- the demo schema ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_paths():
    return enumerate_paths(demo_schema())


def test_demo_has_55_paths_by_hop_count(demo_paths):
    assert len(demo_paths) == 55
    assert Counter(p.n_hops for p in demo_paths) == {0: 11, 1: 11, 2: 17, 3: 16}
    assert len({p.id for p in demo_paths}) == 55
    assert [p.n_hops for p in demo_paths] == sorted(p.n_hops for p in demo_paths)


def test_single_table_routes_are_legal_for_every_target_table():
    schema = make_schema(CHAIN, tables={"c": {"target": False}}, single_table=True)
    paths = enumerate_paths(schema)
    singles = [p for p in paths if p.is_single_table]
    assert [(p.id, p.anchor, p.via, p.target, p.n_hops) for p in singles] == [
        ("a", "a", (), "a", 0), ("b", "b", (), "b", 0)]  # c is not a target
    assert singles[0].tables == ("a",) and paths[:2] == singles  # zero hops sort first
    vocab = PathVocab(paths)
    assert vocab.is_legal("a", "a", []) and not vocab.is_legal("c", "c", [])
    assert vocab.path("b", "b").is_single_table
    assert vocab.shortest("a", "a").id == "a"
    off = make_schema(CHAIN)  # the rule turns them off
    assert not any(p.is_single_table for p in enumerate_paths(off))


def test_single_table_rule_must_be_a_boolean():
    with pytest.raises(SchemaError, match="rules.single_table must be true or false"):
        make_schema(CHAIN, single_table="no")


def test_demo_rules_are_applied(demo_paths):
    steps = {(h.src_table, h.dst_table) for p in demo_paths for h in p.hops}
    assert ("project_member", "employee") not in steps  # deny_hops
    assert ("inspection", "employee") not in steps
    assert ("employee", "project_member") in steps  # the reverse direction is not denied
    anchors = {p.anchor for p in demo_paths if not p.is_single_table}
    assert anchors == {"contract", "employee", "project", "supplier"}
    assert "project_member" not in {p.target for p in demo_paths}
    assert "project_member" not in {p.anchor for p in demo_paths}  # not a target either
    assert all(p.n_hops <= 3 for p in demo_paths)


def test_demo_hops_carry_join_keys(demo_paths):
    path = next(p for p in demo_paths if p.id == "project>contract>contract_change_log")
    assert path.anchor == "project" and path.via == ("contract",)
    assert path.target == "contract_change_log"
    assert path.hops == (Hop("project", "id", "contract", "project_id", False),
                         Hop("contract", "id", "contract_change_log", "contract_id", False))
    assert path.to_dict()["joins"] == [
        {"from": "project.id", "to": "contract.project_id", "direction": "backward"},
        {"from": "contract.id", "to": "contract_change_log.contract_id",
         "direction": "backward"},
    ]


def test_vocab(demo_paths):
    vocab = PathVocab(demo_paths)
    assert vocab.vias[0] == () and PathVocab.via_label(()) == "none"
    # Single-table routes make every target table an anchor too.
    assert vocab.anchors == sorted(p.anchor for p in demo_paths if p.is_single_table)
    assert len(vocab.triples) == 55  # no parallel FKs in the demo
    assert len(vocab.triple_indices) == 55
    for (a, t, v), (ai, ti, vi) in zip(vocab.triples, vocab.triple_indices, strict=True):
        assert (vocab.anchors[ai], vocab.targets[ti], vocab.vias[vi]) == (a, t, v)
    assert vocab.is_legal("project", "contract_change_log", ["contract"])
    assert not vocab.is_legal("project", "contract_change_log", [])
    assert vocab.shortest("project", "supplier").id == "project>construction>supplier"
    assert vocab.shortest("invoice", "project") is None


def test_vocab_errors_name_the_legal_options(demo_paths):
    vocab = PathVocab(demo_paths)
    with pytest.raises(PathrlError) as err:
        vocab.path("project", "supplier", ["milestone"])
    msg = str(err.value)
    assert "illegal route project -[milestone]-> supplier" in msg
    assert "legal via options: construction; contract" in msg
    with pytest.raises(PathrlError, match="no legal path joins 'invoice' to 'project'"):
        vocab.path("invoice", "project")
    with pytest.raises(PathrlError, match="no legal path"):
        PathVocab([])
