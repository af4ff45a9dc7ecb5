"""Fixtures for route-injected generation: the demo schema and databases, the labelled
questions of `generate_helpers.cases` and a fake endpoint answering them."""

from __future__ import annotations

import pytest
from generate_helpers import FakeChat, cases

from pathrl.db import open_database
from pathrl.demo import demo_schema
from pathrl.paths import PathVocab


@pytest.fixture(scope="session")
def schema():
    return demo_schema()


@pytest.fixture(scope="session")
def vocab(schema):
    return PathVocab.from_schema(schema)


@pytest.fixture(scope="session")
def sqlite_db(schema):
    database = open_database(schema, "sqlite", demo_seed=7)
    yield database
    database.close()


@pytest.fixture(scope="session")
def mongo_db(schema):
    return open_database(schema, "mongo", demo_seed=7)


@pytest.fixture(scope="session")
def ab_cases(vocab):
    return cases(vocab)


@pytest.fixture
def fake_chat(ab_cases):
    fake = FakeChat({c.example.question: (c.routed, c.direct) for c in ab_cases})
    yield fake
    fake.close()
