"""`pathrl doctor` on a corpus of real public training logs: precision and recall. Prints JSON.

The logs stay outside git (most of their repositories carry no licence); the manifest below says
where each comes from (repository, path, commit) and what happened in that run, with the
evidence. Lay them out as ``<corpus>/<id>/<file>`` (the file name as in its repository) and run

    .venv/bin/python benchmarks/doctor_corpus.py --corpus /work/data/doctor_corpus

Scoring, per log: every warning or critical finding is either *agreed* (a practitioner would
say the same of that run) or an overcall; info findings are not scored. Precision = agreed /
all findings, also for critical ones alone. Recall = problem runs where at least one of the
problem's expected rules fired / problem runs. A healthy run must exit 0 (no critical finding).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pathrl.doctor import run_doctor
from pathrl.errors import PathrlError

Verdict = Literal["healthy", "problem"]


@dataclass(frozen=True)
class CorpusLog:
    """One real run: where it comes from and what a practitioner says happened."""

    id: str
    repo: str
    path: str
    commit: str
    trainer: str
    verdict: Verdict
    evidence: str
    #: Findings a practitioner agrees with for this run (any severity).
    agreed: frozenset[str] = frozenset()
    #: For problem runs: any of these firing counts as the problem being found.
    expected: frozenset[str] = frozenset()
    #: Expected exit code of `pathrl doctor` (1 only when a critical reading is right).
    exit_code: int = 0


STALLED = frozenset({"reward_flat", "no_learning_signal"})

MANIFEST: tuple[CorpusLog, ...] = (
    CorpusLog(
        "cartpole_ppo_bulbul", "Bulbul-chouhan/PPO-CartPole-Reinforcement-Learning",
        "logs/monitor.csv", "98bfbb999426ec6230096c0cdd788ef24e826893",
        "SB3 PPO, Monitor CSV (CartPole-v1)", "healthy",
        "results/evaluation_report.txt in the repo: average reward 500.00 over 100 episodes "
        "(the maximum); returns 25 -> 450 per fifth of the run",
    ),
    CorpusLog(
        "lunar_karthik",
        "KARTHIK-M116/Reinforcement_Learning-Lunar_lander-Assignment---Deep-Reinforcement-Learning",
        "monitor.csv", "43de5ab6458401c5c03dbd40588c132c193e66a0",
        "SB3, Monitor CSV (LunarLander-v3)", "healthy",
        "returns rise steadily, -178 -> +97 per fifth of the run; no pathology",
    ),
    CorpusLog(
        "lunar_scobots_ppo_v1", "Alexander-W-BP/LunarLanderSCoBots",
        "logs/PPO/log_v1/monitor.csv", "5ea682e57acd2aa600a668a58027803f17c4b29e",
        "SB3 PPO, Monitor CSV (LunarLander-v3)", "problem",
        "64k steps: the 100-episode mean peaks near -105 and ends at -170, where it began; the "
        "author re-ran it (log_v2). Stalled, not broken: warnings, exit 0",
        agreed=frozenset({"reward_flat", "reward_gain_lost"}), expected=STALLED,
    ),
    CorpusLog(
        "lunar_scobots_ppo_v2", "Alexander-W-BP/LunarLanderSCoBots",
        "logs/PPO/log_v2/monitor.csv", "5ea682e57acd2aa600a668a58027803f17c4b29e",
        "SB3 PPO, Monitor CSV (LunarLander-v3)", "healthy",
        "the re-run: a dip mid-run, then the last fifth's returns are the best (-59); early PPO "
        "on LunarLander, still improving",
    ),
    CorpusLog(
        "maxg_pusher_monitor", "MaxGalindo150/deeprl", "logs/pusher/monitor.csv",
        "42b3be449574d2414a8c430bfe63ef5b119c8458", "PPO (SB3-style Monitor CSV, Pusher-v5)",
        "healthy",
        "commit 'ppo done': the author's PPO reference run; 30k episodes, -33 -> -29.5 and "
        "holding (MIT licence)",
    ),
    CorpusLog(
        "maxg_sb3_dqn_monitor", "MaxGalindo150/deeprl",
        "examples/dqn/logs_stable/sb3_0.csv.monitor.csv",
        "3c9d8dde63628339436d69a6e56d2fcf9b34e22c", "SB3 DQN, Monitor CSV (SpaceInvaders-v5)",
        "healthy", "the SB3 baseline run of the author's comparison: returns 262 -> 424 (MIT)",
    ),
    CorpusLog(
        "sb3_dqn_cartpole_tb_1", "MaxGalindo150/deeprl",
        "dqn_cartpole_tensorboard/DQN_1/events.out.tfevents.1732326597.pop-os.35401.0",
        "6ae1cf39965fa56fc3316ace147da7664ae997a0", "SB3 DQN, TensorBoard (CartPole)",
        "healthy",
        "short first DQN run, ep_rew_mean 11 -> 16: slow but no pathology to name (MIT)",
    ),
    CorpusLog(
        "sb3_dqn_cartpole_tb_2", "MaxGalindo150/deeprl",
        "dqn_cartpole_tensorboard/DQN_2/events.out.tfevents.1732329155.pop-os.60627.0",
        "6ae1cf39965fa56fc3316ace147da7664ae997a0", "SB3 DQN, TensorBoard (CartPole)",
        "healthy",
        "ep_rew_mean 22 -> 183, dips to 96, recovers to 163: DQN's usual CartPole wobble (MIT)",
    ),
    CorpusLog(
        "sb3_dqn_cartpole_tb_3", "MaxGalindo150/deeprl",
        "dqn_cartpole_tensorboard/DQN_3/events.out.tfevents.1732402695.pop-os.228055.0",
        "fb5eb3fff2404cb40c9cf860c7b18e7039b026fb", "SB3 DQN, TensorBoard (CartPole)",
        "problem",
        "17k steps at ep_rew_mean ~21, a random CartPole policy's level: it never learned (MIT)",
        agreed=frozenset({"reward_flat"}), expected=STALLED,
    ),
    CorpusLog(
        "frozenlake_qlearning_5", "MaxGalindo150/deeprl",
        "q_learning_frozenlake_tensorboard/QLearning_5/events.out.tfevents.1732555261.pop-os."
        "19149.0",
        "98062a6640e40b9fd4fe1cddacfa923d19657031", "Q-learning, SB3-style TensorBoard "
        "(FrozenLake)", "problem",
        "success rate stays at 0–3% (a random policy's ~1.5%); the next commit is 'we need to "
        "restore the q_table in a proper way' (MIT)",
        agreed=frozenset({"reward_flat"}), expected=STALLED,
    ),
    CorpusLog(
        "hf_sft_trainer_state_viz", "aigoncharov/trainer_state_viz", "trainer_state.json",
        "2e3c1d4f8b60000a1a52d5436c21b27c86e036ef", "HF Trainer fine-tuning", "healthy",
        "the tool's sample run: loss 0.26 -> 0.055, eval accuracies logged per group (MIT)",
    ),
    CorpusLog(
        "orpo_rlhf_recsys", "chandlerzuo/rlhf_recsys", "outputs/trainer_state.json",
        "6fd3d4f0bed96a51409097dd426bf0bb01aaf692", "TRL ORPO (HF Trainer)", "healthy",
        "preference accuracy 0.46 -> 0.76, loss 0.47 -> 0.08; grad_norm 4–14 is logged before "
        "clipping at 1.0",
    ),
    CorpusLog(
        "swift_sft_deepclima", "lgc-FINANCE/DeepClima-R1", "trainer_state.json",
        "d79478ab3016a2d4f02dd780d1ce92fe50c859de", "ms-swift SFT (HF Trainer)", "healthy",
        "token accuracy 0 -> 0.89, eval_loss 0.158 -> 0.129 (best checkpoint at the end); "
        "grad_norm 52 at step 1 is the pre-clip norm of the first batch",
    ),
    CorpusLog(
        "llamafactory_grpo_360", "hykun1989/360-LLaMA-Factory-grpo", "trainer_log.jsonl",
        "d303f8e43d8d4aded4f73112530d5c269a46f8f7", "LLaMA-Factory preference training",
        "healthy",
        "the first 202 of 5,100 steps, all inside the lr warmup (lr <= 2e-7): loss near ln 2 "
        "and accuracy ~0.6 are what this stage looks like (Apache-2.0)",
    ),
    CorpusLog(
        "trl_grpo_issue_openr1_704", "huggingface/open-r1",
        "issue #704 (the step table pasted in the thread)", "-", "TRL GRPO", "healthy",
        "'why kl = nan when grpo train?': kl is NaN from step 1 while loss and reward are "
        "finite; the KL is not computed in that setup, the run did not diverge",
        agreed=frozenset({"metric_never_finite"}),
    ),
    CorpusLog(
        "trl_grpo_issue_3452", "huggingface/trl", "issue #3452 (log lines pasted in the thread)",
        "-", "TRL GRPO", "healthy",
        "'GRPO reward=0 and loss=0': the pasted steps have grad_norm ~0.1 and reward_std "
        "0.57–0.79, so there is a learning signal; GRPO's loss is ~0 at the start by design",
    ),
)


@dataclass
class LogResult:
    id: str
    verdict: Verdict
    findings: dict[str, str]
    overcalls: list[str]
    found: bool | None
    exit_code: int
    exit_ok: bool
    error: str | None = None


def evaluate(corpus: Path, entry: CorpusLog) -> LogResult:
    directory = corpus / entry.id
    try:
        report = run_doctor(directory)
    except PathrlError as exc:
        return LogResult(entry.id, entry.verdict, {}, [], False, 2, False, str(exc))
    scored = {f.rule: f.severity for f in report.findings if f.severity != "info"}
    exit_code = 1 if report.has_critical else 0
    found = bool(entry.expected & set(scored)) if entry.verdict == "problem" else None
    return LogResult(
        id=entry.id,
        verdict=entry.verdict,
        findings=scored,
        overcalls=sorted(set(scored) - entry.agreed),
        found=found,
        exit_code=exit_code,
        exit_ok=exit_code == entry.exit_code,
    )


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 3) if denominator else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("/work/data/doctor_corpus"))
    args = parser.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"corpus not found: {args.corpus} (see the manifest in this script)")
    entries = [e for e in MANIFEST if (args.corpus / e.id).is_dir()]
    results = [evaluate(args.corpus, e) for e in entries]
    findings = sum(len(r.findings) for r in results)
    agreed = findings - sum(len(r.overcalls) for r in results)
    critical = [(r, rule) for r in results for rule, sev in r.findings.items() if sev == "critical"]
    critical_agreed = sum(rule not in r.overcalls for r, rule in critical)
    problems = [r for r in results if r.verdict == "problem"]
    healthy = [r for r in results if r.verdict == "healthy"]
    summary = {
        "logs": len(results),
        "missing": [e.id for e in MANIFEST if e not in entries],
        "healthy": len(healthy),
        "problem": len(problems),
        "findings": findings,
        "precision": _ratio(agreed, findings),
        "critical_findings": len(critical),
        "critical_precision": _ratio(critical_agreed, len(critical)),
        "recall": _ratio(sum(bool(r.found) for r in problems), len(problems)),
        "healthy_exit_0": _ratio(sum(r.exit_code == 0 for r in healthy), len(healthy)),
        "exit_code_correct": _ratio(sum(r.exit_ok for r in results), len(results)),
    }
    print(json.dumps({"summary": summary, "logs": [r.__dict__ for r in results]}, indent=2))


if __name__ == "__main__":
    main()
