"""What the doctor reports: a finding (diagnosis + causes + fixes) backed by evidence."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["info", "warning", "critical"]
SEVERITY_RANK: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}


@dataclass
class Evidence:
    """Where and how a signal showed the symptom.

    `window` is the flagged step range; `values` a few (step, value) points from it, for the
    report and the plot; `threshold` the line the signal crossed, when the pattern has one.
    """

    signal: str
    metric: str
    window: tuple[float, float]
    observation: str
    threshold: float | None = None
    values: list[tuple[float, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["window"] = list(self.window)
        data["values"] = [list(v) for v in self.values]
        return data


@dataclass
class Finding:
    """One diagnosed problem of a run."""

    rule: str
    severity: Severity
    diagnosis: str
    causes: list[str]
    fixes: list[str]
    evidence: list[Evidence]
    title: str = ""
    source: str = ""
    reference: str = ""

    @property
    def first_step(self) -> float:
        return min((e.window[0] for e in self.evidence), default=0.0)

    @property
    def window(self) -> tuple[float, float]:
        if not self.evidence:
            return (0.0, 0.0)
        return (min(e.window[0] for e in self.evidence), max(e.window[1] for e in self.evidence))

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "title": self.title,
            "diagnosis": self.diagnosis,
            "causes": list(self.causes),
            "fixes": list(self.fixes),
            "evidence": [e.to_dict() for e in self.evidence],
            "source": self.source,
            "reference": self.reference,
        }


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Worst first: critical before warning before info, then earliest symptom first."""
    return sorted(findings, key=lambda f: (SEVERITY_RANK[f.severity], f.first_step, f.rule))
