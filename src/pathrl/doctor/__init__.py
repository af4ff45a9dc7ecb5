"""pathrl doctor: diagnose RL training runs from their logs, live and after the fact.

After the fact::

    from pathrl.doctor import diagnose
    for finding in diagnose("runs/ppo"):
        print(finding.severity, finding.rule, finding.diagnosis)

Live, inside a trainer::

    from pathrl.doctor import DoctorCallback
    doctor = DoctorCallback(stop_on_critical=True)
    new_findings = doctor.on_update(step, metrics)
    if doctor.should_stop:
        ...
"""

from pathrl.doctor.callback import DoctorCallback
from pathrl.doctor.config import DoctorConfig
from pathrl.doctor.engine import DoctorReport, diagnose, run_doctor
from pathrl.doctor.findings import Evidence, Finding
from pathrl.doctor.rules import Rule, build_rules

__all__ = [
    "DoctorCallback",
    "DoctorConfig",
    "DoctorReport",
    "Evidence",
    "Finding",
    "Rule",
    "build_rules",
    "diagnose",
    "run_doctor",
]
