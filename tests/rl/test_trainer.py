"""The shared trainer skeleton: loop order, exact resume, keep-best, stop rules, callbacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pathrl.errors import PathrlError
from pathrl.rl.trainer import LoopSettings, StepResult, Trainer


class Bandit(Trainer):
    """REINFORCE on a 4-armed bandit: small, stochastic (sampling uses `self.generator` and
    the global RNG), so resume exactness is a real test."""

    def __init__(self, out_dir, settings, trips=(), callbacks=()):
        super().__init__(out_dir, settings, callbacks)
        self.model = torch.nn.Linear(1, 4, bias=False)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=0.1)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=3)
        self.trips = set(trips)
        self.saved: Path | None = None

    def run_step(self) -> StepResult:
        logits = self.model(torch.ones(8, 1))
        actions = torch.multinomial(torch.softmax(logits, -1), 1, generator=self.generator)
        noise = torch.rand(8)  # global RNG: must be restored on resume too
        rewards = (actions.squeeze(1) == 2).float() + 0.01 * noise
        logp = torch.log_softmax(logits, -1).gather(1, actions).squeeze(1)
        loss = -(logp * (rewards - rewards.mean())).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        return StepResult({"reward_mean": float(rewards.mean()), "loss": float(loss)},
                          kl_early_stop=self.step in self.trips)

    def evaluate(self) -> float:
        return float(torch.softmax(self.model.weight.squeeze(1), -1)[2])

    def save_model(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(self.model.state_dict(), directory / "weights.pt")
        self.saved = directory


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_runs_logs_and_saves(tmp_path):
    trainer = Bandit(tmp_path, LoopSettings(total_steps=5, eval_every=2, eval_metric="p_best"))
    result = trainer.train()
    assert result.steps == result.steps_run == 5 and result.stop_reason is None
    log = _log(tmp_path)
    assert [r["step"] for r in log] == [0, 1, 2, 3, 4]
    assert all("p_best" in r for r in log)  # the latest evaluation rides along every step
    assert log[0]["p_best"] == pytest.approx(log[0]["p_best"])  # start evaluation, not None
    assert trainer.saved == tmp_path / "model"
    assert (tmp_path / "checkpoints" / "update_00005.pt").exists()


def test_interrupted_run_resumes_to_the_same_numbers(tmp_path):
    settings = LoopSettings(total_steps=6, eval_every=2, keep_best=True, seed=3)
    whole = Bandit(tmp_path / "whole", settings)
    whole.train()

    cut = Bandit(tmp_path / "cut", settings)

    def stop_at_3(step, total, metrics):
        if step == 3:
            cut._interrupt.requested = True  # what Ctrl-C does

    with pytest.raises(KeyboardInterrupt):
        cut.train(progress=stop_at_3)
    assert cut.latest_checkpoint().name == "update_00003.pt"
    resumed = Bandit(tmp_path / "cut", settings)
    resumed.train(resume=True)
    assert torch.equal(whole.model.weight, resumed.model.weight)
    assert _log(tmp_path / "whole") == _log(tmp_path / "cut")
    assert whole.best.step == resumed.best.step and whole.best.score == resumed.best.score


def test_keep_best_ships_the_best_evaluated_policy(tmp_path):
    trainer = Bandit(tmp_path, LoopSettings(total_steps=4, eval_every=1, keep_best=True))
    scores = iter([0.5, 0.9, 0.2, 0.1, 0.3])
    trainer.evaluate = lambda: next(scores)
    result = trainer.train()
    assert result.kept.step == 1 and result.kept.score == 0.9
    assert torch.equal(trainer.model.state_dict()["weight"], result.kept.state["weight"])


def test_kl_circuit_breaker_stops_after_consecutive_trips(tmp_path):
    trainer = Bandit(tmp_path, LoopSettings(total_steps=10, max_kl_trips=2), trips={1, 3, 4})
    result = trainer.train()
    assert result.steps == 5  # trips at 1 (reset at 2), then 3 and 4 in a row
    assert "circuit breaker" in result.stop_reason


class StopAfter:
    def __init__(self, n: int):
        self.n, self.seen, self.should_stop = n, [], False

    def on_update(self, step, metrics):
        self.seen.append((step, sorted(metrics)))
        self.should_stop = len(self.seen) >= self.n


def test_callbacks_see_finite_metrics_and_can_stop(tmp_path):
    callback = StopAfter(3)
    trainer = Bandit(tmp_path, LoopSettings(total_steps=10), callbacks=[callback])
    result = trainer.train()
    assert result.steps == 3 and "StopAfter" in result.stop_reason
    # eval_score is None (no evaluation): a callback never sees an unmeasured value
    assert callback.seen[0] == (0, ["loss", "reward_mean"])


def test_resume_without_checkpoint_and_foreign_file_are_clear_errors(tmp_path):
    with pytest.raises(PathrlError, match="no checkpoint"):
        Bandit(tmp_path, LoopSettings(total_steps=2)).train(resume=True)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "update_00001.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(PathrlError, match="truncated or not a checkpoint"):
        Bandit(tmp_path, LoopSettings(total_steps=2)).train(resume=True)
    with pytest.raises(PathrlError, match="total steps"):
        LoopSettings(total_steps=0)


def test_patience_stops_and_resumes_its_count(tmp_path):
    from pathrl.rl.trainer import Patience

    patience = Patience("p_best", 2)
    for step, value in enumerate([0.5, 0.7, 0.7, 0.6]):
        patience.on_update(step, {"p_best": value})
    assert patience.should_stop and patience.stale == 2 and patience.best == 0.7
    restored = Patience("p_best", 2)
    restored.load_state_dict(patience.state_dict())
    assert restored.should_stop
    settings = LoopSettings(total_steps=10, eval_every=1, eval_metric="p_best")
    trainer = Bandit(tmp_path, settings, callbacks=[Patience("p_best", 2)])
    scores = iter([0.5, 0.6, 0.6, 0.6, 0.9])
    trainer.evaluate = lambda: next(scores)
    result = trainer.train()
    assert result.steps == 3 and "early stopping" in result.stop_reason


def test_earlier_tie_and_one_checkpoint_file(tmp_path):
    settings = LoopSettings(total_steps=3, eval_every=1, eval_at_start=False, keep_best=True,
                            prefer_later_ties=False, checkpoint_every=1,
                            checkpoint_name="last.pt")
    trainer = Bandit(tmp_path, settings)
    scores = iter([0.4, 0.4, 0.1])
    trainer.evaluate = lambda: next(scores)
    result = trainer.train()
    assert result.kept.step == 1  # the first of the tied evaluations, no start evaluation
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["last.pt"]
    resumed = Bandit(tmp_path, settings)
    resumed.load_checkpoint(resumed.latest_checkpoint())
    assert resumed.step == 3 and resumed.best.step == 1


def test_keep_checkpoints_prunes_the_oldest(tmp_path):
    settings = LoopSettings(total_steps=5, checkpoint_every=1, keep_checkpoints=2)
    Bandit(tmp_path, settings).train()
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["update_00004.pt", "update_00005.pt"]


def test_callbacks_state_in_a_checkpoint_includes_its_step(tmp_path):
    from pathrl.rl.trainer import Patience

    patience = Patience("p_best", 5)
    settings = LoopSettings(total_steps=3, eval_every=1, eval_metric="p_best",
                            checkpoint_every=1)
    trainer = Bandit(tmp_path, settings, callbacks=[patience])
    scores = iter([0.5, 0.6, 0.4, 0.3])
    trainer.evaluate = lambda: next(scores)
    trainer.train()
    state = torch.load(tmp_path / "checkpoints" / "update_00002.pt", weights_only=False)
    # after step 2 (score 0.4 < 0.6) Patience had counted one stale step: saved with it
    assert state["callbacks"][0] == {"best": 0.6, "stale": 1}
