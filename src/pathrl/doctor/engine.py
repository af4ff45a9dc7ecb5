"""Run the rules over a run's logs and collect findings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pathrl.doctor.config import DoctorConfig
from pathrl.doctor.findings import Finding, sort_findings
from pathrl.doctor.readers import RawLog, read_path, records_to_raw_log
from pathrl.doctor.rules import Rule, build_rules
from pathrl.doctor.signals import SIGNAL_ALIASES, RunLog, build_run_log
from pathrl.errors import PathrlError

PathOrRecords = str | Path | Sequence[Mapping[str, Any]]


@dataclass
class SkippedRule:
    """A rule that could not be checked on a log, and why."""

    rule: str
    reason: str


@dataclass
class DoctorReport:
    """Everything the doctor learned about a run: findings plus what it could not check."""

    target: str
    logs: list[RunLog]
    findings: list[Finding]
    skipped: list[SkippedRule] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        return [note for log in self.logs for note in log.notes]

    @property
    def has_critical(self) -> bool:
        return any(f.severity == "critical" for f in self.findings)


def evaluate_rules(
    log: RunLog, rules: Iterable[Rule], tail: bool = False
) -> tuple[list[Finding], list[SkippedRule]]:
    """Findings of `rules` on one log (superseded ones removed) and the rules skipped."""
    findings: list[Finding] = []
    skipped: list[SkippedRule] = []
    for rule in rules:
        if not rule.applies_to(log):
            skipped.append(SkippedRule(rule.id, _skip_reason(rule, log)))
            continue
        match = rule.pattern.evaluate(log, tail=tail)
        if match is None:
            continue
        findings.append(
            Finding(
                rule=rule.id,
                severity=rule.severity,
                diagnosis=rule.diagnosis,
                causes=list(rule.causes),
                fixes=list(rule.fixes),
                evidence=match.evidence,
                title=rule.title,
                source=log.source,
                reference=rule.source,
            )
        )
    return _drop_superseded(findings, rules), skipped


def _drop_superseded(findings: list[Finding], rules: Iterable[Rule]) -> list[Finding]:
    by_id = {r.id: r for r in rules}
    fired = {f.rule for f in findings}
    superseded = {s for rule_id in fired for s in by_id[rule_id].supersedes}
    return [f for f in findings if f.rule not in superseded]


def _skip_reason(rule: Rule, log: RunLog) -> str:
    if rule.flavors is not None and not (rule.flavors & log.flavors):
        return f"only for {', '.join(sorted(rule.flavors))} logs"
    if rule.exclude_flavors & log.flavors:
        return f"not for {', '.join(sorted(rule.exclude_flavors & log.flavors))} logs"
    names = rule.signal_names()
    missing = [name for name in names if log.resolve(tuple(name.split(" | "))) is None]
    return "missing signal " + ", ".join(missing) if missing else "signals not logged"


def load_logs(
    path_or_records: PathOrRecords, mapping: Mapping[str, str] | None = None
) -> list[RunLog]:
    """Read and map a run (path or in-memory records) to canonical signals.

    Raises PathrlError when nothing the doctor understands is in there.
    """
    raw_logs: list[RawLog]
    if isinstance(path_or_records, str | Path):
        raw_logs = read_path(path_or_records)
    else:
        raw_logs = [records_to_raw_log(path_or_records, "<records>")]
    logs = [build_run_log(r.columns, r.source, mapping, r.notes, r.flavor_hints) for r in raw_logs]
    known = [log for log in logs if log.signals]
    if not known:
        found = sorted({name for log in logs for name in log.raw_names})
        shown = ", ".join(found[:15]) + (" ..." if len(found) > 15 else "")
        raise PathrlError(
            f"{_describe(path_or_records)}: none of the metric names are known to the doctor "
            f"(found: {shown}). Map them with --map RAW=SIGNAL; signals: "
            f"{', '.join(sorted(SIGNAL_ALIASES))}"
        )
    for log in logs:
        if not log.signals:
            known[0].notes.append(f"{log.source}: no known metric names; skipped")
    if not any(np.isfinite(s.values).any() for log in known for s in log.signals.values()):
        raise PathrlError(
            f"{_describe(path_or_records)}: every metric value is NaN or infinite; "
            "nothing to diagnose"
        )
    return known


def _describe(path_or_records: PathOrRecords) -> str:
    return str(path_or_records) if isinstance(path_or_records, str | Path) else "<records>"


def run_doctor(
    path_or_records: PathOrRecords,
    config: DoctorConfig | None = None,
    mapping: Mapping[str, str] | None = None,
    rules: Sequence[Rule] | None = None,
) -> DoctorReport:
    """Diagnose a run after the fact: every log found, every applicable rule."""
    logs = load_logs(path_or_records, mapping)
    active = list(rules) if rules is not None else build_rules(config)
    findings: list[Finding] = []
    skipped: list[SkippedRule] = []
    for log in logs:
        log_findings, log_skipped = evaluate_rules(log, active)
        findings += log_findings
        skipped += log_skipped
    return DoctorReport(_describe(path_or_records), logs, sort_findings(findings), skipped)


def diagnose(
    path_or_records: PathOrRecords,
    config: DoctorConfig | None = None,
    mapping: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Findings for a run directory, a log file or a list of metric records, worst first."""
    return run_doctor(path_or_records, config, mapping).findings
