"""Router model, SFT and PPO on a tiny schema, with a tiny random BERT from a local directory
(`tiny_backbone` fixture): the mechanics, not the quality (benchmarks/ measure that)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import torch

from pathrl.errors import PathrlError
from pathrl.paths import PathVocab
from pathrl.router.evaluate import triple_metrics
from pathrl.router.model import RouterConfig, RouterModel
from pathrl.router.ppo import PPOConfig, RouterPPOTrainer
from pathrl.router.sft import SFTConfig, SFTTrainer
from pathrl.schema import Schema

TINY = Schema.from_dict({
    "name": "tiny",
    "tables": {
        "project": {"key": "id", "display": "name", "fields": {"id": "str", "name": "str"}},
        "contract": {"key": "id", "display": "no",
                     "fields": {"id": "str", "no": "str", "project_id": "str"}},
        "change_log": {"key": "id", "anchor": False,
                       "fields": {"id": "str", "contract_id": "str"}},
    },
    "relations": [{"from": "contract.project_id", "to": "project.id"},
                  {"from": "change_log.contract_id", "to": "contract.id"}],
})
VOCAB = PathVocab.from_schema(TINY)


@dataclass
class Q:
    question: str
    anchor: str
    target: str
    via: tuple[str, ...] = ()

    @property
    def triple(self):
        return (self.anchor, self.target, self.via)


TRAIN = [
    Q("list the contracts of project Alpha", "project", "contract"),
    Q("contracts signed for project Beta", "project", "contract"),
    Q("项目 伽马 的合同", "project", "contract"),
    Q("change logs of the contracts of project Alpha", "project", "change_log", ("contract",)),
    Q("show change records for project Beta", "project", "change_log", ("contract",)),
    Q("项目 伽马 的变更记录", "project", "change_log", ("contract",)),
    Q("which project does contract HT-001 belong to", "contract", "project"),
    Q("the project of contract HT-002", "contract", "project"),
    Q("change logs of contract HT-001", "contract", "change_log"),
    Q("amendments recorded on contract HT-003", "contract", "change_log"),
]


@pytest.fixture(scope="module")
def backbone(tiny_backbone):
    return tiny_backbone


def fresh_model(backbone: str, **cfg) -> RouterModel:
    torch.manual_seed(0)
    model = RouterModel(RouterConfig(backbone=backbone, **cfg), VOCAB, TINY.fingerprint())
    model.extend_vocab([q.question for q in TRAIN])
    model.setup_trainable()
    return model


@pytest.fixture(scope="module")
def sft_dir(tmp_path_factory, backbone):
    out = tmp_path_factory.mktemp("sft")
    model = fresh_model(backbone)
    SFTTrainer(model, SFTConfig(epochs=60, batch_size=16, patience=60, lr=1e-3, head_lr=5e-3),
               TRAIN, TRAIN, out).train()
    return out


def test_sft_reaches_full_train_accuracy(sft_dir):
    model = RouterModel.from_pretrained(sft_dir / "model", VOCAB, TINY.fingerprint())
    preds = model.predict([q.question for q in TRAIN])
    assert triple_metrics(preds, [q.triple for q in TRAIN], VOCAB)["exact_match"] == 1.0
    log = [json.loads(line) for line in (sft_dir / "sft_metrics.jsonl").read_text().splitlines()]
    assert log[0]["train_loss"] > log[-1]["train_loss"]


def test_reloaded_router_keeps_added_characters(sft_dir):
    model = RouterModel.from_pretrained(sft_dir / "model", VOCAB, TINY.fingerprint())
    unk = model.tokenizer.unk_token
    assert unk not in model.tokenizer.tokenize("项目 伽马 的合同")


def test_constrained_decoding_never_returns_illegal_triple(backbone):
    model = fresh_model(backbone)
    # Push the heads toward an illegal combination: anchor contract, target project, via contract
    with torch.no_grad():
        for head, name in (("anchor", "contract"), ("target", "project"), ("via", ("contract",))):
            index = {"anchor": VOCAB.anchor_index, "target": VOCAB.target_index,
                     "via": VOCAB.via_index}[head][name]
            model.heads[head].bias[index] += 50.0
    questions = [q.question for q in TRAIN]
    unconstrained = model.predict(questions, constrained=False)
    constrained = model.predict(questions, constrained=True)
    assert all(not VOCAB.is_legal(*t) for t in unconstrained)
    assert all(VOCAB.is_legal(*t) for t in constrained)
    route = model.route(questions[0], top_k=3)
    assert VOCAB.is_legal(*route.triple) and len(route.alternatives) == 2
    assert all(VOCAB.is_legal(*alt) for alt, _ in route.alternatives)


def test_loading_against_another_schema_fails(sft_dir):
    other = Schema.from_dict({**TINY.to_dict(), "rules": {"max_hops": 1}})
    with pytest.raises(PathrlError, match="another schema"):
        RouterModel.from_pretrained(sft_dir / "model", PathVocab.from_schema(other),
                                    other.fingerprint())
    with pytest.raises(PathrlError, match="not a saved router"):
        RouterModel.from_pretrained(sft_dir, VOCAB, TINY.fingerprint())


def test_ppo_from_sft_keeps_exact_match(sft_dir, tmp_path):
    model = RouterModel.from_pretrained(sft_dir / "model", VOCAB, TINY.fingerprint())
    cfg = PPOConfig(total_updates=3, rollout_batch_size=10, minibatch_size=10,
                    micro_batch_size=10, eval_every=1, checkpoint_every=0, doctor=False)
    summary = RouterPPOTrainer(model, cfg, TRAIN, TRAIN, tmp_path).train()
    assert summary["updates"] == 3
    preds = model.predict([q.question for q in TRAIN])
    assert triple_metrics(preds, [q.triple for q in TRAIN], VOCAB)["exact_match"] == 1.0
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 1, 2]
    for key in ("reward_mean", "approx_kl", "kl_to_ref", "clip_fraction", "value_loss",
                "entropy/via", "via_null_rate_pred", "via_null_rate_label", "reward/exact"):
        assert key in records[0]
    assert (tmp_path / "model" / "router.json").exists()


def test_head_learning_rate_gives_the_heads_their_own_rate(sft_dir, tmp_path):
    def trainer(out, **kwargs):
        model = RouterModel.from_pretrained(sft_dir / "model", VOCAB, TINY.fingerprint())
        cfg = PPOConfig(total_updates=1, rollout_batch_size=8, minibatch_size=8,
                        micro_batch_size=8, eval_every=0, checkpoint_every=0, doctor=False,
                        critic_warmup_updates=0, **kwargs)
        return RouterPPOTrainer(model, cfg, TRAIN, TRAIN, out)

    plain = trainer(tmp_path / "plain", head_learning_rate=None)
    assert len(plain.optimizer.param_groups) == 3  # None: the heads share the actor's rate
    fast = trainer(tmp_path / "fast", head_learning_rate=1e-2)
    heads = {id(p) for p in fast.model.fresh_parameters()}
    assert heads and len(fast.optimizer.param_groups) == 4
    assert {id(p) for p in fast.optimizer.param_groups[3]["params"]} == heads
    assert fast.optimizer.param_groups[3]["lr"] == 1e-2
    assert not heads & {id(p) for p in fast.optimizer.param_groups[0]["params"]}
    before = {n: p.detach().clone() for n, p in fast.model.heads.named_parameters()}
    fast.train()
    slow = {n: p.detach().clone() for n, p in plain.model.heads.named_parameters()}
    plain.train()
    moved_fast = max(float((p.detach() - before[n]).abs().max())
                     for n, p in fast.model.heads.named_parameters())
    moved_slow = max(float((p.detach() - slow[n]).abs().max())
                     for n, p in plain.model.heads.named_parameters())
    assert moved_fast > 10 * moved_slow > 0


def test_ppo_resume_gives_identical_metrics(sft_dir, tmp_path):
    cfg = PPOConfig(total_updates=4, rollout_batch_size=8, minibatch_size=4,
                    micro_batch_size=4, eval_every=0, checkpoint_every=2, doctor=False)

    def trainer(out):
        model = RouterModel.from_pretrained(sft_dir / "model", VOCAB, TINY.fingerprint())
        return RouterPPOTrainer(model, cfg, TRAIN, TRAIN, out)

    trainer(tmp_path / "full").train()

    def interrupt(done, total, metrics):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        trainer(tmp_path / "cut").train(progress=interrupt)
    trainer(tmp_path / "cut").train(resume=True)
    full = (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()
    resumed = (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()
    assert len(full) == 4
    assert resumed == full


def test_resume_without_checkpoint_is_a_clear_error(sft_dir, tmp_path):
    model = RouterModel.from_pretrained(sft_dir / "model", VOCAB, TINY.fingerprint())
    trainer = RouterPPOTrainer(model, PPOConfig(doctor=False), TRAIN, TRAIN, tmp_path)
    with pytest.raises(PathrlError, match="no checkpoint"):
        trainer.train(resume=True)


@pytest.mark.parametrize("kwargs, message", [
    ({"learning_rate": -1e-6}, "learning rates"),
    ({"head_learning_rate": 0.0}, "learning rates"),
    ({"clip_range": 1.0}, "clip_range"),
    ({"n_epochs": 0}, "n_epochs"),
    ({"critic": "both"}, "critic"),
    ({"kl_estimator": "k9"}, "kl_estimator"),
])
def test_bad_ppo_config(kwargs, message):
    with pytest.raises(PathrlError, match=message):
        PPOConfig(**kwargs)


def test_bad_model_and_sft_config(backbone):
    with pytest.raises(PathrlError, match="unknown backbone"):
        RouterModel(RouterConfig(backbone="/no/such/dir"), VOCAB, TINY.fingerprint())
    with pytest.raises(PathrlError, match="lr"):
        SFTConfig(lr=-1.0)
    with pytest.raises(PathrlError, match="freeze_layers"):
        fresh_model(backbone, freeze_layers=99)


def test_aggressive_preset_matches_the_seed_table():
    agg = PPOConfig.aggressive()
    assert (agg.learning_rate, agg.vf_coef, agg.clip_range, agg.target_kl, agg.n_epochs,
            agg.freeze_layers) == (3e-4, 0.5, 0.2, 0.1, 10, 0)
    golden = PPOConfig()
    assert 1e-6 <= golden.learning_rate <= 5e-6 and 0.01 <= golden.vf_coef <= 0.1
    assert 0.1 <= golden.clip_range <= 0.15 and 0.02 <= golden.target_kl <= 0.05
    assert 2 <= golden.n_epochs <= 4 and golden.critic_learning_rate > golden.learning_rate


def test_separate_critic_and_freezing(sft_dir, tmp_path):
    model = RouterModel.from_pretrained(sft_dir / "model", VOCAB, TINY.fingerprint())
    cfg = PPOConfig(total_updates=1, rollout_batch_size=4, minibatch_size=4, micro_batch_size=4,
                    critic="separate", freeze_layers=3, eval_every=0, checkpoint_every=0,
                    doctor=False, critic_warmup_updates=0)
    before = {n: p.detach().clone() for n, p in model.backbone.named_parameters()}
    RouterPPOTrainer(model, cfg, TRAIN, TRAIN, tmp_path).train()
    assert model.critic_backbone is not None
    layer0 = [n for n in before if ".layer.0." in n]
    top = [n for n in before if ".layer.5." in n]
    params = {n: p.detach().cpu() for n, p in model.backbone.named_parameters()}  # any device
    assert all(torch.equal(before[n], params[n]) for n in layer0)  # frozen
    assert any(not torch.equal(before[n], params[n]) for n in top)  # trained


def test_lora_trains_few_parameters_and_saves_merged(backbone, tmp_path):
    model = fresh_model(backbone, lora=True)
    trainable = sum(p.numel() for p in model.backbone.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.backbone.parameters())
    assert 0 < trainable < 0.2 * total  # adapters (+ added-character rows), not the backbone
    SFTTrainer(model, SFTConfig(epochs=2, batch_size=16, patience=5), TRAIN, TRAIN,
               tmp_path).train()
    reloaded = RouterModel.from_pretrained(tmp_path / "model", VOCAB, TINY.fingerprint())
    questions = [q.question for q in TRAIN]
    assert reloaded.predict(questions) == model.predict(questions)  # LoRA merged on save


def test_ppo_keeps_the_best_validation_policy(sft_dir, tmp_path):
    """The aggressive preset drifts; the saved model is the best validated one (the SFT start
    at worst), and the summary says which update it is."""
    model = RouterModel.from_pretrained(sft_dir / "model", VOCAB, TINY.fingerprint())
    questions = [q.question for q in TRAIN]
    sft_em = triple_metrics(model.predict(questions), [q.triple for q in TRAIN],
                            VOCAB)["exact_match"]
    cfg = PPOConfig.aggressive(total_updates=4, rollout_batch_size=8, minibatch_size=4,
                               micro_batch_size=4, learning_rate=5e-3, eval_every=2,
                               doctor=False)
    summary = RouterPPOTrainer(model, cfg, TRAIN, TRAIN, tmp_path).train()
    kept = summary["kept"]
    assert kept is not None and kept["update"] in (0, 2, 4)
    assert kept["val_exact_match"] >= sft_em
    saved = RouterModel.from_pretrained(tmp_path / "model", VOCAB, TINY.fingerprint())
    em = triple_metrics(saved.predict(questions), [q.triple for q in TRAIN], VOCAB)
    assert em["exact_match"] == pytest.approx(kept["val_exact_match"])


def test_prompt_weights_steer_the_rollouts(sft_dir, tmp_path):
    model = RouterModel.from_pretrained(sft_dir / "model", VOCAB, TINY.fingerprint())
    weights = [0.0] * len(TRAIN)
    weights[3] = weights[4] = 1.0
    cfg = PPOConfig(total_updates=1, rollout_batch_size=2, minibatch_size=2,
                    micro_batch_size=2, doctor=False, eval_every=0)
    trainer = RouterPPOTrainer(model, cfg, TRAIN, TRAIN, tmp_path, prompt_weights=weights)
    assert sorted(trainer.rollout().idx.tolist()) == [3, 4]
    with pytest.raises(PathrlError, match="prompt_weights"):
        RouterPPOTrainer(model, cfg, TRAIN, TRAIN, tmp_path, prompt_weights=[1.0])


def test_ctrl_c_mid_update_resumes_exactly(sft_dir, tmp_path):
    """A real SIGINT in the middle of an update is honoured at its end: the checkpoint is a
    whole-update state, and resuming gives the uninterrupted run's metrics and weights."""
    import os
    import signal

    cfg = PPOConfig(total_updates=4, rollout_batch_size=8, minibatch_size=4,
                    micro_batch_size=4, eval_every=0, checkpoint_every=0, doctor=False)

    def trainer(out):
        model = RouterModel.from_pretrained(sft_dir / "model", VOCAB, TINY.fingerprint())
        return RouterPPOTrainer(model, cfg, TRAIN, TRAIN, out)

    full = trainer(tmp_path / "full")
    full.train()
    cut = trainer(tmp_path / "cut")
    optimise = cut.optimise

    def optimise_then_ctrl_c(batch):
        if cut.update == 1:
            os.kill(os.getpid(), signal.SIGINT)  # arrives between two optimiser steps
        return optimise(batch)

    cut.optimise = optimise_then_ctrl_c
    with pytest.raises(KeyboardInterrupt):
        cut.train()
    assert cut.latest_checkpoint().name == "update_00002.pt"  # update 1 finished first
    resumed = trainer(tmp_path / "cut")
    resumed.train(resume=True)
    assert ((tmp_path / "cut" / "metrics.jsonl").read_text()
            == (tmp_path / "full" / "metrics.jsonl").read_text())
    for (name, a), (_, b) in zip(full.model.state_dict().items(),
                                 resumed.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_resume_extends_a_finished_run(sft_dir, tmp_path):
    cfg = PPOConfig(total_updates=2, rollout_batch_size=8, minibatch_size=4,
                    micro_batch_size=4, eval_every=0, checkpoint_every=0, doctor=False)
    model = RouterModel.from_pretrained(sft_dir / "model", VOCAB, TINY.fingerprint())
    RouterPPOTrainer(model, cfg, TRAIN, TRAIN, tmp_path).train()
    first = (tmp_path / "metrics.jsonl").read_text().splitlines()
    longer = PPOConfig(**{**cfg.__dict__, "total_updates": 3})
    model = RouterModel.from_pretrained(sft_dir / "model", VOCAB, TINY.fingerprint())
    summary = RouterPPOTrainer(model, longer, TRAIN, TRAIN, tmp_path).train(resume=True)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert summary["updates"] == 3 and summary["updates_run"] == 1
    assert lines[:2] == first and len(lines) == 3  # nothing rolled back or rewritten


def test_sft_ctrl_c_then_resume_matches_an_uninterrupted_run(backbone, tmp_path):
    import os
    import signal

    cfg = SFTConfig(epochs=3, batch_size=4, patience=3, lr=1e-3, head_lr=5e-3)
    full_model = fresh_model(backbone)
    SFTTrainer(full_model, cfg, TRAIN, TRAIN, tmp_path / "full").train()

    def ctrl_c_after_first_epoch(done, total, record):
        if done == 1:
            os.kill(os.getpid(), signal.SIGINT)  # honoured when the epoch's bookkeeping ends

    with pytest.raises(KeyboardInterrupt):
        SFTTrainer(fresh_model(backbone), cfg, TRAIN, TRAIN, tmp_path / "cut").train(
            progress=ctrl_c_after_first_epoch)
    assert len((tmp_path / "cut" / "sft_metrics.jsonl").read_text().splitlines()) == 1
    resumed = fresh_model(backbone)
    SFTTrainer(resumed, cfg, TRAIN, TRAIN, tmp_path / "cut").train(resume=True)
    assert ((tmp_path / "cut" / "sft_metrics.jsonl").read_text()
            == (tmp_path / "full" / "sft_metrics.jsonl").read_text())
    for (name, a), (_, b) in zip(full_model.state_dict().items(),
                                 resumed.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    (tmp_path / "cut" / "checkpoints" / "sft_last.pt").write_bytes(b"truncated")
    with pytest.raises(PathrlError, match="truncated or not a checkpoint"):
        SFTTrainer(fresh_model(backbone), cfg, TRAIN, TRAIN, tmp_path / "cut").train(
            resume=True)


def test_truncated_or_foreign_ppo_checkpoint_is_one_clear_error(sft_dir, tmp_path):
    cfg = PPOConfig(total_updates=1, rollout_batch_size=8, minibatch_size=4,
                    micro_batch_size=4, eval_every=0, doctor=False)
    model = RouterModel.from_pretrained(sft_dir / "model", VOCAB, TINY.fingerprint())
    RouterPPOTrainer(model, cfg, TRAIN, TRAIN, tmp_path).train()
    other = PPOConfig.aggressive(total_updates=2, rollout_batch_size=8, minibatch_size=4,
                                 micro_batch_size=4, eval_every=0, doctor=False)
    model = RouterModel.from_pretrained(sft_dir / "model", VOCAB, TINY.fingerprint())
    with pytest.raises(PathrlError, match="does not fit this model or config"):
        RouterPPOTrainer(model, other, TRAIN, TRAIN, tmp_path).train(resume=True)
    latest = sorted((tmp_path / "checkpoints").glob("update_*.pt"))[-1]
    latest.write_bytes(latest.read_bytes()[:100])
    model = RouterModel.from_pretrained(sft_dir / "model", VOCAB, TINY.fingerprint())
    with pytest.raises(PathrlError, match="truncated or not a checkpoint"):
        RouterPPOTrainer(model, cfg, TRAIN, TRAIN, tmp_path).train(resume=True)
