"""Live doctor: evaluate the rules during training and stop the bleeding on a critical finding.

The trainer calls :meth:`DoctorCallback.on_update` once per update with that update's metrics
(the same names it writes to `metrics.jsonl`). Only windows that end at the latest update are
checked, so a symptom is reported when it appears, once per rule.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from pathrl.doctor.config import DoctorConfig
from pathrl.doctor.engine import evaluate_rules
from pathrl.doctor.findings import SEVERITY_RANK, Finding
from pathrl.doctor.rules import Rule, build_rules
from pathrl.doctor.signals import build_run_log

logger = logging.getLogger("pathrl.doctor")

_LOG_LEVEL = {"critical": logging.ERROR, "warning": logging.WARNING, "info": logging.INFO}


class DoctorCallback:
    """Evaluate the doctor's rules on the metrics history after each update.

    Args:
        config: thresholds (default :class:`DoctorConfig`).
        stop_on_critical: set :attr:`should_stop` when a critical finding appears.
        rules: a custom rule set (default: :func:`build_rules` of `config`).
        mapping: extra raw-name -> canonical-signal aliases.
        check_every: evaluate the rules every N updates (1 = every update).
        on_finding: called with each new finding (e.g. to print it in a Rich console);
            findings are always logged on the ``pathrl.doctor`` logger too.
    """

    def __init__(
        self,
        config: DoctorConfig | None = None,
        stop_on_critical: bool = True,
        *,
        rules: Sequence[Rule] | None = None,
        mapping: Mapping[str, str] | None = None,
        check_every: int = 1,
        on_finding: Callable[[Finding], None] | None = None,
    ) -> None:
        self.config = config or DoctorConfig()
        self.stop_on_critical = stop_on_critical
        self.rules = list(rules) if rules is not None else build_rules(self.config)
        self.mapping = dict(mapping or {})
        self.check_every = max(1, check_every)
        self.on_finding = on_finding
        self.findings: list[Finding] = []
        self.should_stop = False
        self._history: dict[str, list[tuple[float, float]]] = {}
        self._updates = 0
        # Rule id -> severity rank already reported; a rule reports again only if it worsens.
        self._reported: dict[str, int] = {}

    def on_update(self, step: int, metrics: Mapping[str, float]) -> list[Finding]:
        """Record one update's metrics; return the findings that are new at this update."""
        for name, value in metrics.items():
            if name == "step":
                continue
            number = _as_float(value)
            if number is not None:
                self._history.setdefault(name, []).append((float(step), number))
        self._updates += 1
        if self._updates % self.check_every:
            return []
        log = build_run_log(self._history, "live", self.mapping)
        if not log.signals:
            return []
        candidates, _ = evaluate_rules(log, self.rules, tail=True)
        new = [f for f in candidates if self._is_new(f)]
        for finding in new:
            self._reported[finding.rule] = SEVERITY_RANK[finding.severity]
            self.findings.append(finding)
            self._announce(step, finding)
            if finding.severity == "critical" and self.stop_on_critical:
                self.should_stop = True
        return new

    # -- checkpointing: a resumed run's doctor sees the whole run, not only what follows ----
    def state_dict(self) -> dict:
        """The metrics seen so far, the findings and what was reported (the trainer's
        checkpoint holds it: after `--resume` the trend rules see every update)."""
        return {"history": {name: list(points) for name, points in self._history.items()},
                "updates": self._updates, "reported": dict(self._reported),
                "findings": list(self.findings), "should_stop": self.should_stop}

    def load_state_dict(self, state: Mapping) -> None:
        self._history = {name: [tuple(p) for p in points]
                         for name, points in state["history"].items()}
        self._updates = int(state["updates"])
        self._reported = dict(state["reported"])
        self.findings = list(state["findings"])
        self.should_stop = bool(state["should_stop"])

    @property
    def critical(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "critical"]

    def _is_new(self, finding: Finding) -> bool:
        previous = self._reported.get(finding.rule)
        return previous is None or SEVERITY_RANK[finding.severity] < previous

    def _announce(self, step: int, finding: Finding) -> None:
        evidence = finding.evidence[0].observation if finding.evidence else ""
        logger.log(
            _LOG_LEVEL[finding.severity],
            "doctor [%s] %s at update %s: %s — %s; fix: %s",
            finding.severity,
            finding.rule,
            step,
            finding.diagnosis,
            evidence,
            finding.fixes[0] if finding.fixes else "",
        )
        if self.on_finding is not None:
            self.on_finding(finding)


def _as_float(value: object) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)  # numpy / torch scalars; NaN is kept: non_finite_metrics reports it
    except (TypeError, ValueError):
        return None
