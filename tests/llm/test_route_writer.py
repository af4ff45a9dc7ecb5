"""The generative router (pathrl.llm.genrouter): the prompt lists every legal path once, answers
parse (ids, JSON in prose, illegal ids), the shared-prefix LM computes what the plain model
computes, candidate scores are the model's own probabilities, the Router contract, save/load
through `load_router`, SFT lowers the loss and teaches the answer, the rewards, and one GRPO
step saving a loadable router (tiny random chat LM, a 3-table schema)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import torch
from llm_fixtures import tiny_lm_dir  # noqa: F401

from pathrl.errors import PathrlError
from pathrl.llm.genrouter.prefix import PrefixedLM
from pathrl.llm.genrouter.prompt import RoutePrompt, first_json_object
from pathrl.llm.genrouter.router import (
    GenerativeConfig,
    GenerativeRouter,
    plan_candidates,
)
from pathrl.llm.genrouter.train import (
    NO_ROUTE_REWARD,
    RouteFormatReward,
    RouteReward,
    route_metrics,
    train_generative_grpo,
    train_generative_sft,
    uncertain_examples,
)
from pathrl.llm.grpo import GRPOConfig
from pathrl.llm.models import (
    collate_completions,
    encode_completion,
    encode_prompt,
    load_policy,
    sequence_logprobs,
)
from pathrl.llm.sft import LLMSFTConfig
from pathrl.paths import PathVocab
from pathrl.rl.logging import read_jsonl
from pathrl.router.protocol import Router, load_router
from pathrl.router.reward import LayeredReward, RewardConfig
from pathrl.schema import Schema

TINY = Schema.from_dict({
    "name": "tiny",
    "tables": {
        "project": {"key": "id", "display": "name", "fields": {"id": "str", "name": "str"},
                    "synonyms": {"en": ["programme"], "zh": ["项目"]}},
        "contract": {"key": "id", "display": "no",
                     "fields": {"id": "str", "no": "str", "project_id": "str"},
                     "synonyms": {"zh": ["合同"]}},
        "change_log": {"key": "id", "anchor": False,
                       "fields": {"id": "str", "contract_id": "str"}},
    },
    "relations": [{"from": "contract.project_id", "to": "project.id"},
                  {"from": "change_log.contract_id", "to": "contract.id"}],
})
VOCAB = PathVocab.from_schema(TINY)


@dataclass(frozen=True)
class Labelled:
    """What the trainers read off a dataset example."""

    question: str
    anchor: str
    target: str
    via: tuple[str, ...] = ()

    @property
    def triple(self):
        return (self.anchor, self.target, self.via)


TRAIN = [Labelled("contracts of project Alpha", "project", "contract"),
         Labelled("change logs of contract HT-1", "contract", "change_log"),
         Labelled("项目 伽马 的合同", "project", "contract"),
         Labelled("change logs of project Beta", "project", "change_log", ("contract",))]
QUESTIONS = [ex.question for ex in TRAIN] + ["how many projects are there"]


def _sft_config(**overrides) -> LLMSFTConfig:
    values = {"learning_rate": 1e-2, "batch_size": 4, "max_steps": 40, "warmup_ratio": 0.0,
              "lr_scheduler": "constant", "max_length": 192, "seed": 3, "device": "cpu"}
    values.update(overrides)
    return LLMSFTConfig(**values)


@pytest.fixture(scope="module", params=["id", "triple"])
def trained(request, tiny_lm_dir, tmp_path_factory):  # noqa: F811
    """A generative router (each answer format) SFT-trained on TRAIN until it writes their
    answers."""
    out = tmp_path_factory.mktemp(f"gen-sft-{request.param}")
    router, summary = train_generative_sft(TINY, {"train": TRAIN, "val": TRAIN[:2]}, out,
                                           _sft_config(model=str(tiny_lm_dir), eval_every=40),
                                           GenerativeConfig(completion=request.param,
                                                            max_new_tokens=96))
    return router, summary, out


# -- prompt and parsing --------------------------------------------------------------------------
def test_prompt_lists_every_legal_path_once_and_the_question():
    prompt = RoutePrompt(TINY, completion="id")
    messages = prompt.messages("contracts of project Alpha")
    system = messages[0]["content"]
    assert messages[-1] == {"role": "user", "content": "contracts of project Alpha"}
    lines = [line for line in system.splitlines() if line.startswith("P0")]
    assert len(lines) == len(VOCAB.triples) == len(set(lines))
    for triple in VOCAB.triples:
        path = VOCAB.path_by_triple[triple]
        line = prompt.path_line(prompt.index_of_triple[triple])
        assert lines.count(line) == 1 and line.endswith(" > ".join(path.tables))
    assert "P07: project > contract > change_log" in lines


def test_parse_ids_json_in_prose_and_illegal_ids():
    prompt = RoutePrompt(TINY, completion="id")
    target = prompt.paths[prompt.index_of_id["P05"]]
    assert prompt.completion(target) == '{"path": "P05"}'
    for text in ('{"path": "P05"}', 'Sure! ```json\n{"path": "P05"}\n``` done',
                 '{"path": " p05 "}', 'first {broken, then {"path": "P05"}'):
        parsed = prompt.parse(text)
        assert parsed.status == "json" and parsed.path == target and parsed.well_formed
    loose = prompt.parse("The route is P05.")
    assert loose.status == "loose" and loose.path == target and not loose.well_formed
    for text, status in (('{"path": "P99"}', "illegal"), ('{"path": 5}', "illegal"),
                         ("P99", "illegal"), ("P5", "unparsable"), ("", "unparsable"),
                         ('{"route": "five"}', "unparsable")):
        parsed = prompt.parse(text)
        assert (parsed.status, parsed.path, parsed.legal) == (status, None, False), text
    assert first_json_object('x {"a": 1} {"path": 2}', ("path",)) == {"path": 2}


def test_parse_triples_maps_synonyms_and_keeps_an_illegal_triple():
    prompt = RoutePrompt(TINY, completion="triple")
    gold = VOCAB.path("project", "change_log", ("contract",))
    text = prompt.completion(gold)
    assert json.loads(text) == {"anchor": "project", "via": ["contract"],
                                "target": "change_log"}
    assert prompt.parse(f"Answer: {text}").path == gold
    synonyms = prompt.parse('{"anchor": "programme", "via": "contract", "target": '
                            '"change_log"}')
    assert synonyms.path == gold
    illegal = prompt.parse('{"anchor": "change_log", "via": [], "target": "project"}')
    assert (illegal.status, illegal.path) == ("illegal", None)
    assert illegal.triple == ("change_log", "project", ())
    assert prompt.parse('{"anchor": "nowhere", "target": "project"}').status == "illegal"
    assert "- project > contract > change_log" in prompt.system_text()


def test_unknown_completion_format_is_a_clear_error():
    with pytest.raises(PathrlError, match="unknown completion format"):
        RoutePrompt(TINY, completion="sql")
    with pytest.raises(PathrlError, match="unknown config key"):
        GenerativeConfig.from_dict({"completion": "id", "beams": 4})


# -- the shared-prefix model and the candidate scores --------------------------------------------
def test_plan_scores_each_candidate_up_to_its_unique_prefix():
    plan = plan_candidates([[1, 2, 3, 9], [1, 2, 4, 9], [1, 5, 9], [1, 2, 3, 7, 9]])
    assert plan.stem == (1,)
    assert plan.tails == ((2, 3, 9), (2, 4), (5,), (2, 3, 7))
    # Prefix-free: no tail starts another, so the scored events are disjoint.
    assert not any(a != b and b[:len(a)] == a for a in plan.tails for b in plan.tails)
    assert plan.rows == ((2, 3),)
    assert plan.row_of == (0, 0, -1, 0)
    with pytest.raises(PathrlError, match="tokenize the same"):
        plan_candidates([[1, 2], [1, 2]])


def test_prefixed_lm_matches_the_plain_model(tiny_lm_dir):  # noqa: F811
    model, tokenizer = load_policy(str(tiny_lm_dir), device="cpu")
    router = GenerativeRouter(TINY, model, tokenizer)
    questions = QUESTIONS[:3]
    # Greedy answers through the cached prefix are those of the whole prompt.
    from pathrl.llm.models import generate_texts

    whole = generate_texts(model, tokenizer, [router.prompt.messages(q) for q in questions],
                           max_new_tokens=router.config.answer_budget)
    router.answer(questions)
    assert router.last_outputs == whole
    # Candidate log-probs equal the plain model's log-prob of each answer's scored tokens.
    scores = router.candidate_logprobs(questions)
    plan = router.plan
    for row, question in enumerate(questions):
        prompt = encode_prompt(tokenizer, router.prompt.messages(question)) + list(plan.stem)
        batch = collate_completions([prompt] * len(plan.tails), [list(t) for t in plan.tails],
                                    tokenizer.pad_token_id)
        with torch.no_grad():
            expected = sequence_logprobs(model, batch.input_ids, batch.attention_mask,
                                         batch.completion_mask).sum(dim=1)
        assert torch.allclose(scores[row], expected, atol=1e-4)
    assert (scores.exp().sum(dim=1) <= 1 + 1e-5).all()


@pytest.mark.parametrize("completion", ["id", "triple"])
def test_constrained_decoding_always_writes_a_legal_answer(tiny_lm_dir, completion):  # noqa: F811
    model, tokenizer = load_policy(str(tiny_lm_dir), device="cpu")
    router = GenerativeRouter(TINY, model, tokenizer, GenerativeConfig(completion=completion))
    free = router.answer(QUESTIONS)
    assert not any(p.legal for p in free)  # a random model writes no route on its own
    held = router.answer(QUESTIONS, constrained=True)
    assert router.parse_counts() == {"json": len(QUESTIONS)}
    assert router.last_outputs[0] in router.prompt.candidates()
    assert [p.triple for p in held] == router.predict(QUESTIONS, constrained=True)
    assert all(VOCAB.is_legal(*p.triple) for p in held)


def test_prefix_cache_follows_weight_updates(tiny_lm_dir):  # noqa: F811
    model, tokenizer = load_policy(str(tiny_lm_dir), device="cpu")
    lm = PrefixedLM(model, tokenizer, "<|im_start|>system\nhello<|im_end|>\n")
    ids = torch.tensor([encode_completion(tokenizer, "What is 12 plus 30?")])
    before = lm(input_ids=ids).logits
    with torch.no_grad():
        next(model.parameters()).add_(0.5)  # an in-place update, as an optimiser makes
    after = lm(input_ids=ids).logits
    full = torch.tensor([lm.prefix_ids + ids[0].tolist()])
    with torch.no_grad():
        expected = model(input_ids=full).logits[:, lm.prefix_length:]
    assert not torch.allclose(before, after)
    assert torch.allclose(after, expected, atol=1e-4)
    # Under bfloat16 autocast the prefix is cached apart (its keys come out in bfloat16).
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = lm(input_ids=ids).logits
    assert mixed.shape == expected.shape and torch.isfinite(mixed).all()
    assert torch.allclose(lm(input_ids=ids).logits, expected, atol=1e-4)


# -- training and the Router contract ------------------------------------------------------------
def test_sft_lowers_the_loss_and_teaches_the_answers(trained):
    router, summary, out = trained
    log = read_jsonl(out / "metrics.jsonl")
    assert log[-1]["loss"] < 0.5 * log[0]["loss"]
    assert summary.final_eval["eval_loss"] < summary.initial_eval["eval_loss"]
    answers = router.answer([ex.question for ex in TRAIN])
    assert [p.path.triple if p.path else None for p in answers] == [ex.triple for ex in TRAIN]
    assert router.parse_counts() == {"json": len(TRAIN)}
    assert route_metrics(router, TRAIN)["exact_match"] == 1.0


def test_one_sft_step_lowers_the_loss(tiny_lm_dir, tmp_path):  # noqa: F811
    _router, summary = train_generative_sft(
        TINY, {"train": TRAIN, "val": TRAIN}, tmp_path,
        _sft_config(model=str(tiny_lm_dir), max_steps=2, eval_every=2))
    assert summary.final_eval["eval_loss"] < summary.initial_eval["eval_loss"]


def test_router_contract(trained):
    router, _summary, _out = trained
    assert isinstance(router, Router)
    routings = router.route_batch(QUESTIONS, top_k=3)
    assert [r.question for r in routings] == QUESTIONS
    for routing in routings:
        assert len(routing.routes) <= 3
        assert all(VOCAB.is_legal(*r.triple) for r in routing.routes)
        probs = [r.probability for r in routing.routes]
        assert all(0.0 < p <= 1.0 for p in probs) and sum(probs) <= 1 + 1e-4
        assert probs[1:] == sorted(probs[1:], reverse=True)  # after the greedy pick
    assert [r.best.triple for r in routings[:len(TRAIN)]] == [ex.triple for ex in TRAIN]
    assert len(router.route_batch(QUESTIONS[:1], top_k=len(VOCAB.triples))[0].routes) == \
        len(VOCAB.triples)
    assert router.predict(QUESTIONS[:len(TRAIN)], constrained=True) == \
        [ex.triple for ex in TRAIN]
    with pytest.raises(PathrlError, match="not a single string"):
        router.route_batch("a question")


def test_an_answer_naming_no_route_gives_no_route(trained, monkeypatch):
    router, _summary, _out = trained
    import pathrl.llm.genrouter.router as module

    unknown = ('{"path": "P99"}' if router.config.completion == "id"
               else '{"anchor": "nowhere", "target": "project"}')
    monkeypatch.setattr(module, "generate_texts", lambda *a, **k: [unknown, "no idea"])
    routings = router.route_batch(QUESTIONS[:2])
    assert [r.routes for r in routings] == [[], []]
    assert router.parse_counts() == {"illegal": 1, "unparsable": 1}
    assert router.predict(QUESTIONS[:2]) == [None, None]


def test_save_and_load_round_trip(trained, tmp_path):
    router, _summary, out = trained
    meta = json.loads((out / "model" / "router.json").read_text())
    assert meta["kind"] == "generative" and meta["n_candidates"] == len(VOCAB.triples)
    loaded = load_router(out / "model", TINY)
    assert isinstance(loaded, GenerativeRouter)
    original = [r.to_dict() for r in router.route_batch(QUESTIONS)]
    assert [r.to_dict() for r in loaded.route_batch(QUESTIONS)] == original
    again = router.save_pretrained(tmp_path / "copy")
    assert [r.to_dict() for r in load_router(again, TINY).route_batch(QUESTIONS)] == original
    (tmp_path / "scorer").mkdir()
    (tmp_path / "scorer" / "router.json").write_text('{"kind": "scorer"}')
    with pytest.raises(PathrlError, match="not a generative one"):
        GenerativeRouter.from_pretrained(tmp_path / "scorer", TINY)


# -- rewards and GRPO ----------------------------------------------------------------------------
def test_route_rewards():
    prompt = RoutePrompt(TINY, completion="id")
    gold = TRAIN[3]  # project > contract > change_log
    right = prompt.completion(gold.triple)
    wrong = prompt.completion(("project", "contract", ()))
    completions = [right, wrong, '{"path": "P99"}', "no idea",
                   [{"role": "assistant", "content": right}]]
    n = len(completions)
    columns = {"anchor": [gold.anchor] * n, "target": [gold.target] * n,
               "via": [list(gold.via)] * n}
    rewards = RouteReward(prompt)(completions, **columns)
    layered = LayeredReward(RewardConfig(), VOCAB)
    expected, _ = layered([gold.triple, ("project", "contract", ())], [gold.triple] * 2)
    assert rewards[:2] == pytest.approx(expected.tolist())
    assert rewards[2:4] == [NO_ROUTE_REWARD] * 2 and rewards[4] == pytest.approx(rewards[0])
    assert rewards[0] == pytest.approx(2.0) and rewards[0] > rewards[1] > NO_ROUTE_REWARD
    assert RouteFormatReward(prompt)(completions) == [1.0, 1.0, 0.0, 0.0, 1.0]
    # The triple format: an illegal triple is scored on its components, below a legal one.
    triples = RoutePrompt(TINY, completion="triple")
    illegal = '{"anchor": "project", "via": [], "target": "change_log"}'
    scores = RouteReward(triples)([triples.completion(gold.triple), illegal, "?"],
                                  **{k: v[:3] for k, v in columns.items()})
    assert scores[0] > scores[1] > scores[2] == NO_ROUTE_REWARD
    assert RouteFormatReward(triples)([illegal]) == [0.0]


def test_uncertain_examples_and_one_grpo_step(trained, tmp_path):
    router, _summary, out = trained
    assert uncertain_examples(router, TRAIN, max_probability=1.01) == TRAIN
    confident = uncertain_examples(router, TRAIN, max_probability=0.0)
    assert confident == []
    config = GRPOConfig(num_generations=2, prompts_per_step=2, max_prompt_length=64,
                        max_completion_length=12, total_steps=1, eval_every=1,
                        checkpoint_every=0, learning_rate=1e-3, device="cpu", doctor=False,
                        lora=None)
    grpo_router, summary = train_generative_grpo(TINY, out / "model", TRAIN, tmp_path,
                                                 config, eval_examples=TRAIN[:2])
    log = read_jsonl(tmp_path / "metrics.jsonl")
    assert {"rewards/route_reward/mean", "rewards/route_format_reward/mean"} <= set(log[0])
    assert "eval/exact_match" in summary.final_eval
    loaded = load_router(tmp_path / "model", TINY)
    assert [r.to_dict() for r in loaded.route_batch(QUESTIONS)] == \
        [r.to_dict() for r in grpo_router.route_batch(QUESTIONS)]
