"""Prompts: the same schema for both conditions; only the route-injected one holds the route,
with every hop's join keys and the entity."""

from __future__ import annotations

import pytest

from pathrl.errors import PathrlError
from pathrl.generate.prompt import RouteHint, build_prompt, join_chain, schema_block

QUESTION = "Show the change records of the contracts of project Riyadh Railway"


def routed(schema, vocab, backend="sqlite", path_id="project>contract>contract_change_log"):
    hint = RouteHint(vocab.path_by_id[path_id], "Riyadh Railway", "name")
    return build_prompt(schema, backend, QUESTION, hint)


def test_routed_prompt_holds_each_hop_join_keys(schema, vocab):
    prompt = routed(schema, vocab)
    user = prompt.messages[-1]["content"]
    assert user.startswith(f"Question: {QUESTION}\nRoute (")
    assert ("- joins: project.id = contract.project_id → contract.id = "
            "contract_change_log.contract_id") in user
    assert "start table: project, filter project.name = 'Riyadh Railway'" in user
    assert "answer table: contract_change_log" in user
    assert prompt.condition == "routed"


def test_direct_prompt_has_the_same_schema_and_no_route(schema, vocab):
    direct = build_prompt(schema, "sqlite", QUESTION)
    with_route = routed(schema, vocab)
    assert direct.system == with_route.system  # same schema, same instructions
    assert direct.condition == "direct"
    user = direct.messages[-1]["content"]
    assert user == f"Question: {QUESTION}"
    assert "contract.id = contract_change_log.contract_id" not in user
    # The foreign keys are in the schema block of both (the direct LLM may find them).
    assert "- contract_change_log.contract_id -> contract.id" in direct.system


def test_schema_block_lists_tables_keys_and_types(schema):
    block = schema_block(schema)
    assert "- project(id*, name, region, country, start_date [date], budget [float])" in block
    assert "- project_member.employee_id -> employee.id" in block
    assert block.startswith("Tables (columns; * = key):")
    assert schema_block(schema, mongo=True).startswith("Collections (fields; * = key):")


def test_worked_example_follows_its_own_route(schema, vocab):
    direct = build_prompt(schema, "sqlite", QUESTION)
    routed_prompt = routed(schema, vocab)
    (ex_direct, answer), = direct.examples
    (ex_routed, answer_routed), = routed_prompt.examples
    assert ex_direct == "Question: List the contract change records of contract Alpha."
    assert "- joins: contract.id = contract_change_log.contract_id" in ex_routed
    assert answer == answer_routed and "JOIN contract_change_log ON contract.id = " \
        "contract_change_log.contract_id WHERE contract.contract_no = 'Alpha'" in answer
    roles = [m["role"] for m in routed_prompt.messages]
    assert roles == ["system", "user", "assistant", "user"]
    assert build_prompt(schema, "sqlite", QUESTION, few_shot=0).messages[1]["role"] == "user"


def test_mongo_prompt_asks_for_json_and_quotes_the_value_as_json(schema, vocab):
    hint = RouteHint(vocab.path_by_id["supplier"], "O'Neil \"Steel\"", "name")
    prompt = build_prompt(schema, "mongo", "Show supplier O'Neil", hint)
    assert '{"collection": "<collection to start from>", "pipeline": [...]}' in prompt.system
    assert "$lookup (from, localField, foreignField, as)" in prompt.system
    assert "table: supplier (no join), filter supplier.name = \"O'Neil \\\"Steel\\\"\"" in (
        prompt.user)
    (_, answer), = prompt.examples
    assert answer.startswith('```json\n{"collection": "contract", "pipeline": [')


def test_sql_value_quotes_are_doubled(schema, vocab):
    hint = RouteHint(vocab.path_by_id["project"], "Xi'an Metro Line", "name")
    prompt = build_prompt(schema, "sqlite", "Show project Xi'an Metro Line", hint)
    assert "filter project.name = 'Xi''an Metro Line'" in prompt.user


def test_route_without_entity_and_bad_inputs(schema, vocab):
    hint = RouteHint(vocab.path_by_id["project>contract"])
    assert "start table: project, no named row to filter on" in build_prompt(
        schema, "postgres", "contracts of projects", hint).user
    assert "PostgreSQL" in build_prompt(schema, "postgres", "q").system
    assert join_chain(vocab.path_by_id["supplier"]) == ""
    with pytest.raises(PathrlError, match="question is empty"):
        build_prompt(schema, "sqlite", "  ")
    with pytest.raises(PathrlError, match="unknown backend"):
        build_prompt(schema, "oracle", "q")
    with pytest.raises(PathrlError, match="few_shot"):
        build_prompt(schema, "sqlite", "q", few_shot=3)
