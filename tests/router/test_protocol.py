"""The `Router` protocol: ranked routes, RouterModel and baselines behind it, `load_router`
dispatch, and the Chinese characters `extend_vocab` adds up front (tiny random BERT)."""

from __future__ import annotations

import json

import pytest
import torch

from pathrl.errors import PathrlError
from pathrl.paths import PathVocab
from pathrl.router import protocol
from pathrl.router.baselines import make_baseline
from pathrl.router.model import RouterConfig, RouterModel, gb2312_hanzi
from pathrl.router.protocol import RankedRoute, Router, Routing, load_router
from pathrl.schema import Schema

TINY = Schema.from_dict({
    "name": "tiny",
    "tables": {
        "project": {"key": "id", "display": "name", "fields": {"id": "str", "name": "str"},
                    "synonyms_zh": ["项目"]},
        "contract": {"key": "id", "display": "no",
                     "fields": {"id": "str", "no": "str", "project_id": "str"},
                     "synonyms_zh": ["合同"]},
        "change_log": {"key": "id", "anchor": False,
                       "fields": {"id": "str", "contract_id": "str"}},
    },
    "relations": [{"from": "contract.project_id", "to": "project.id"},
                  {"from": "change_log.contract_id", "to": "contract.id"}],
})
VOCAB = PathVocab.from_schema(TINY)
TRAIN_QUESTIONS = ["list the contracts of project Alpha", "项目 伽马 的合同",
                   "change logs of contract HT-001", "员工王喆的项目"]  # 喆: not in GB2312
QUESTIONS = [*TRAIN_QUESTIONS, "which project does contract HT-002 belong to",
             "how many projects are there"]


@pytest.fixture(scope="module")
def model(tiny_backbone) -> RouterModel:
    torch.manual_seed(0)
    m = RouterModel(RouterConfig(backbone=tiny_backbone), VOCAB, TINY.fingerprint())
    m.extend_vocab(TRAIN_QUESTIONS)
    m.setup_trainable()
    return m


def test_routing_types():
    path = VOCAB.path("project", "change_log", ("contract",))
    route = RankedRoute(path, 0.7)
    assert route.triple == ("project", "change_log", ("contract",)) and route.via == ("contract",)
    routing = Routing("q", [route, RankedRoute(VOCAB.path("project", "contract"), 0.2)])
    assert routing.best is route
    assert routing.to_dict()["routes"][0] == {"anchor": "project", "via": ["contract"],
                                              "target": "change_log",
                                              "path": "project>contract>change_log",
                                              "probability": 0.7}
    with pytest.raises(PathrlError, match="sum to"):
        Routing("q", [route, RankedRoute(path, 0.5)])
    with pytest.raises(PathrlError, match="no legal route"):
        _ = Routing("q", []).best


def test_router_model_route_batch(model):
    assert isinstance(model, Router)
    routings = model.route_batch(QUESTIONS, top_k=4)
    assert [r.question for r in routings] == QUESTIONS
    for routing in routings:
        probs = [r.probability for r in routing.routes]
        assert len(routing.routes) == 4
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-6
        assert all(VOCAB.is_legal(*r.triple) for r in routing.routes)
    # Batched routing agrees with one question at a time and with predict().
    singles = [model.route_batch([q], top_k=4)[0] for q in QUESTIONS]
    for batched, single in zip(routings, singles, strict=True):
        assert [r.path.id for r in batched.routes] == [r.path.id for r in single.routes]
        assert batched.best.probability == pytest.approx(single.best.probability, abs=1e-5)
    assert [r.best.triple for r in routings] == model.predict(QUESTIONS)
    # top_k larger than the number of legal triples: all of them, summing to 1.
    everything = model.route_batch(QUESTIONS[:1], top_k=10_000)[0]
    assert len(everything.routes) == len(VOCAB.triples)
    assert sum(r.probability for r in everything.routes) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(PathrlError, match="not a single string"):
        model.route_batch("one question")


def test_route_wrapper_matches_route_batch(model):
    route = model.route(QUESTIONS[0], top_k=3)
    routing = model.route_batch(QUESTIONS[:1], top_k=3)[0]
    assert route.path == routing.best.path
    assert route.probability == pytest.approx(routing.best.probability)
    assert [t for t, _ in route.alternatives] == [r.triple for r in routing.routes[1:]]


def test_load_router_dispatches_on_kind(model, tmp_path, monkeypatch):
    saved = model.save_pretrained(tmp_path / "factored")
    loaded = load_router(saved, TINY)
    assert isinstance(loaded, RouterModel)
    assert [r.best.triple for r in loaded.route_batch(QUESTIONS)] == model.predict(QUESTIONS)

    class Toy:
        vocab = VOCAB

        def route_batch(self, questions, top_k=3):
            return [Routing(q, []) for q in questions]

    toy_dir = tmp_path / "toy"
    toy_dir.mkdir()
    (toy_dir / "router.json").write_text(json.dumps({"kind": "toy"}))
    with pytest.raises(PathrlError, match="unknown kind 'toy'"):
        load_router(toy_dir, TINY)
    # A loader takes (directory, schema) and, optionally, the database.
    monkeypatch.setitem(protocol.ROUTER_LOADERS, "toy",
                        lambda directory, schema, database=None: Toy())
    assert isinstance(load_router(toy_dir, TINY), Toy)
    with pytest.raises(PathrlError, match="not a saved router"):
        load_router(tmp_path, TINY)


def test_lexical_baseline_is_a_router():
    base = make_baseline("lexical", TINY, VOCAB)
    assert isinstance(base, Router)
    questions = ["change logs of the contracts of project Alpha", "hello"]
    picked, nothing = base.route_batch(questions)
    assert base.predict(questions) == [picked.best.triple, None]
    assert [r.probability for r in picked.routes] == [1.0]
    assert picked.best.triple == ("project", "change_log", ("contract",))
    assert nothing.routes == []


# -- Chinese characters at inference -----------------------------------------------------------

def test_gb2312_hanzi():
    hanzi = gb2312_hanzi()
    assert len(hanzi) == len(set(hanzi)) == 6763
    assert {"啊", "齄", "鼹", "项", "目"} <= set(hanzi)


def test_unseen_common_character_is_not_unknown(model, tmp_path):
    unseen = "鼹"  # GB2312 level 2, in no training question
    assert all(unseen not in q for q in TRAIN_QUESTIONS)
    unk = model.tokenizer.unk_token
    assert model.tokenizer.tokenize(unseen) != [unk]
    question = "鼹鼠项目的合同"
    ids = model.tokenize([question])["input_ids"][0].tolist()
    assert model.tokenizer.unk_token_id not in ids
    reloaded = RouterModel.from_pretrained(model.save_pretrained(tmp_path / "r"), VOCAB,
                                           TINY.fingerprint())
    assert reloaded.tokenize([question])["input_ids"][0].tolist() == ids
    assert reloaded.config.added_tokens == model.config.added_tokens


def test_training_characters_outside_gb2312_are_added(model):
    assert "喆" not in gb2312_hanzi()
    assert model.tokenizer.tokenize("喆") != [model.tokenizer.unk_token]
    assert "喆" in model.config.added_tokens


def test_extend_vocab_off_adds_nothing(tiny_backbone):
    m = RouterModel(RouterConfig(backbone=tiny_backbone, extend_vocab=False), VOCAB,
                    TINY.fingerprint())
    assert m.extend_vocab(TRAIN_QUESTIONS) == 0
    assert m.tokenizer.tokenize("鼹") == [m.tokenizer.unk_token]
