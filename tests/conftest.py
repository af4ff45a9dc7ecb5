"""Shared test set-up. Keep it minimal: each area's fixtures live beside its tests."""

from __future__ import annotations

import os

import pytest

from pathrl.environment import prepare_command_environment

# The test process runs like the `pathrl` command: OMP_WAIT_POLICY before any test imports
# torch, the Hub offline, transformers quiet.
prepare_command_environment()


@pytest.fixture(autouse=True, scope="session")
def pathrl_home(tmp_path_factory: pytest.TempPathFactory):
    """Generated artefacts (the demo SQLite file, ...) go to a temporary PATHRL_HOME, never to
    ~/.cache/pathrl. Subprocesses started by tests inherit it through the environment."""
    home = tmp_path_factory.mktemp("pathrl_home")
    old = os.environ.get("PATHRL_HOME")
    os.environ["PATHRL_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("PATHRL_HOME", None)
    else:
        os.environ["PATHRL_HOME"] = old


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny random BERT saved as a local Hugging Face directory: router mechanics tests run
    in seconds, and the "any local HF directory" backbone path is exercised on the way."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from pathrl.backbones import resolve_backbone

    out = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(resolve_backbone("minilm").path)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=64, num_hidden_layers=6,
                        num_attention_heads=2, intermediate_size=128,
                        max_position_embeddings=128)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return str(out)


@pytest.fixture(scope="session")
def tiny_router_dir(tmp_path_factory: pytest.TempPathFactory, tiny_backbone: str):
    """An untrained path scorer on the demo schema with the tiny random BERT, saved as a router
    directory: front ends (server, MCP, generation) are tested against a real saved router in
    seconds. Its routes are legal but not accurate."""
    from pathrl.db import open_database
    from pathrl.demo import demo_schema
    from pathrl.router.workflows import new_router

    schema = demo_schema()
    database = open_database(schema, "sqlite", demo_seed=7)
    router = new_router(schema, "scorer", backbone=tiny_backbone, database=database)
    return router.save_pretrained(tmp_path_factory.mktemp("tiny-router") / "model")
