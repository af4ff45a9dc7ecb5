"""`open_service`: one call loads schema + database + router for every front end."""

from __future__ import annotations

from pathlib import Path

import pytest

from pathrl.errors import PathrlError
from pathrl.service import open_service


@pytest.fixture(scope="module")
def service(tiny_router_dir):
    svc = open_service(tiny_router_dir, top_k=2)
    yield svc
    svc.close()


def test_routes_are_legal_paths_ranked(service):
    routing = service.route(["contracts of project Riyadh Railway", "how many suppliers"])
    assert len(routing) == 2
    legal = {p.id for p in service.paths}
    for r in routing:
        assert 1 <= len(r.routes) <= 2
        assert all(route.path.id in legal for route in r.routes)
        probabilities = [route.probability for route in r.routes]
        assert probabilities == sorted(probabilities, reverse=True)
        assert sum(probabilities) <= 1.0 + 1e-6


def test_ask_answers_with_a_status(service):
    answer = service.ask("contracts of project Riyadh Railway")
    assert answer.status in {"ok", "empty", "no_entity", "entity_not_found", "ambiguous_entity"}
    assert answer.to_dict()["question"] == "contracts of project Riyadh Railway"


def test_describe_and_path_lookup(service):
    info = service.describe()
    assert info["schema"] == "demo_pm" and info["paths"] == len(service.paths) == 55
    assert service.path("project").anchor == "project"
    with pytest.raises(PathrlError, match="not a legal path"):
        service.path("project>nowhere")


def test_user_mistakes_are_clear_errors(tiny_router_dir, tmp_path):
    with pytest.raises(PathrlError, match="not a saved router"):
        open_service(tmp_path)
    schema = Path(__file__).parent.parent / "src/pathrl/demo/schema.yaml"
    with pytest.raises(PathrlError, match="needs a database URL"):
        open_service(tiny_router_dir, schema_path=schema)
