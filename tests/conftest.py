"""Shared test set-up. Keep it minimal: each area's fixtures live beside its tests."""

from __future__ import annotations

import os

import pytest

import pathrl  # noqa: F401  (first: sets OMP_WAIT_POLICY before any test imports torch)


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
