"""Fixtures for route-injected generation: the demo schema and databases, the labelled
questions of `generate_helpers.cases` and a fake endpoint answering them."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from generate_helpers import FakeChat, cases
from sqlalchemy.exc import SQLAlchemyError

from pathrl.db import SQLDatabase, open_database, write_sql
from pathrl.demo import demo_rows, demo_schema
from pathrl.paths import PathVocab

PG_URL = os.environ.get("PATHRL_TEST_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")


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


@pytest.fixture(scope="module")
def pg_db(schema):
    """The demo rows in a fresh PostgreSQL schema (dropped afterwards); skipped without a
    server (PATHRL_TEST_PG_URL points at another one)."""
    pg_schema = f"pathrl_generate_{os.getpid()}"
    try:
        admin = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {pg_schema}")
    except (SQLAlchemyError, ImportError) as exc:
        pytest.skip(f"no PostgreSQL server reachable at {PG_URL}: {exc.__class__.__name__}")
    url = sa.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={pg_schema}"})
    url_text = url.render_as_string(hide_password=False)
    try:
        write_sql(url_text, schema, demo_rows(7))
        database = SQLDatabase(schema, url_text)
        yield database
        database.close()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {pg_schema} CASCADE")
        admin.dispose()


@pytest.fixture(scope="session")
def ab_cases(vocab):
    return cases(vocab)


@pytest.fixture
def fake_chat(ab_cases):
    fake = FakeChat({c.example.question: (c.routed, c.direct) for c in ab_cases})
    yield fake
    fake.close()
