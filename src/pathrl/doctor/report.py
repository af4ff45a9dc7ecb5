"""Render a DoctorReport: Rich console, Markdown, JSON, and one PNG plot per finding."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from pathrl.doctor.engine import DoctorReport
from pathrl.doctor.findings import Finding
from pathrl.doctor.signals import RunLog
from pathrl.io import atomic_write_text

SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
SEVERITY_ICON = {"critical": "✖", "warning": "▲", "info": "ℹ"}


def findings_json(findings: list[Finding]) -> str:
    """The `--json` output: a list of findings."""
    return json.dumps([f.to_dict() for f in findings], indent=2, ensure_ascii=False)


def _steps(window: tuple[float, float]) -> str:
    start, end = (int(v) if float(v).is_integer() else v for v in window)
    return f"{start}" if start == end else f"{start}–{end}"


def print_report(report: DoctorReport, console: Console | None = None) -> None:
    """Worst-first summary table, then one panel per finding."""
    console = console or Console()
    signals = sorted({name for log in report.logs for name in log.signals})
    console.print(
        f"[bold]pathrl doctor[/] {report.target}: {len(report.logs)} log(s), "
        f"{len(signals)} signals ({', '.join(signals)})"
    )
    for note in report.notes:
        console.print(f"[dim]note:[/] {note}")
    if not report.findings:
        console.print("[bold green]✔ no findings[/] — every applicable rule passed.")
        _print_skipped(report, console)
        return
    table = Table(title="Findings (worst first)", show_lines=False)
    table.add_column("severity")
    table.add_column("rule")
    table.add_column("steps")
    table.add_column("diagnosis")
    for finding in report.findings:
        style = SEVERITY_STYLE[finding.severity]
        table.add_row(
            Text(f"{SEVERITY_ICON[finding.severity]} {finding.severity}", style=style),
            finding.rule,
            _steps(finding.window),
            finding.title or finding.diagnosis,
        )
    console.print(table)
    for finding in report.findings:
        console.print(_panel(finding, multiple_logs=len(report.logs) > 1))
    _print_skipped(report, console)
    counts = {s: sum(f.severity == s for f in report.findings) for s in SEVERITY_STYLE}
    console.print(
        f"[bold]{counts['critical']} critical[/], {counts['warning']} warning, "
        f"{counts['info']} info"
    )


def _panel(finding: Finding, multiple_logs: bool) -> Panel:
    body = Text()
    body.append(finding.diagnosis + "\n\n")
    body.append("Evidence\n", style="bold")
    for evidence in finding.evidence:
        body.append(f"  • {evidence.observation}\n")
    body.append("Probable causes (most likely first)\n", style="bold")
    for i, cause in enumerate(finding.causes, 1):
        body.append(f"  {i}. {cause}\n")
    body.append("Fixes\n", style="bold")
    for fix in finding.fixes:
        body.append(f"  → {fix}\n")
    body.append(f"Source: {finding.reference}", style="dim")
    if multiple_logs:
        body.append(f"\nLog: {finding.source}", style="dim")
    style = SEVERITY_STYLE[finding.severity]
    title = f"{SEVERITY_ICON[finding.severity]} {finding.rule} — {finding.title}"
    return Panel(body, title=Text(title, style=style), border_style=style, title_align="left")


def _print_skipped(report: DoctorReport, console: Console) -> None:
    if report.skipped:
        ids = sorted({s.rule for s in report.skipped})
        console.print(
            f"[dim]{len(ids)} rule(s) not applicable to these logs (their signals were not "
            "logged); see --out / --markdown for the list[/]"
        )


def markdown_report(
    report: DoctorReport, plots: dict[int, Path] | None = None, relative_to: Path | None = None
) -> str:
    """The report as Markdown; `plots` maps finding index -> PNG path (embedded as images)."""
    plots = plots or {}
    lines = [f"# pathrl doctor: {report.target}", ""]
    counts = {s: sum(f.severity == s for f in report.findings) for s in SEVERITY_STYLE}
    lines.append(
        f"**{counts['critical']} critical**, {counts['warning']} warning, {counts['info']} info "
        f"— {len(report.logs)} log(s): " + ", ".join(f"`{log.source}`" for log in report.logs)
    )
    lines.append("")
    for note in report.notes:
        lines.append(f"> note: {note}")
    if report.notes:
        lines.append("")
    if not report.findings:
        lines += ["No findings: every applicable rule passed.", ""]
    else:
        lines += ["| severity | rule | steps | diagnosis |", "|---|---|---|---|"]
        for f in report.findings:
            lines.append(f"| {f.severity} | `{f.rule}` | {_steps(f.window)} | {f.title} |")
        lines.append("")
    for index, f in enumerate(report.findings):
        lines += [f"## {SEVERITY_ICON[f.severity]} `{f.rule}` — {f.title} ({f.severity})", ""]
        lines += [f.diagnosis, "", "**Evidence**", ""]
        lines += [f"- {e.observation}" for e in f.evidence]
        lines += ["", "**Probable causes** (most likely first)", ""]
        lines += [f"{i}. {c}" for i, c in enumerate(f.causes, 1)]
        lines += ["", "**Fixes**", ""]
        lines += [f"- {fix}" for fix in f.fixes]
        lines += ["", f"_Source: {f.reference}; log: `{f.source}`_", ""]
        if index in plots:
            path = plots[index]
            shown = Path(os.path.relpath(path, relative_to)) if relative_to else path
            lines += [f"![{f.rule}]({shown.as_posix()})", ""]
    if report.skipped:
        ids = sorted({s.rule for s in report.skipped})
        lines += [f"Not applicable to these logs: {', '.join(f'`{i}`' for i in ids)}", ""]
    return "\n".join(lines)


def plot_findings(report: DoctorReport, directory: Path) -> dict[int, Path]:
    """One PNG per finding: each evidence signal, its threshold and the flagged window."""
    from pathrl.plots import figure, save_png

    directory.mkdir(parents=True, exist_ok=True)
    logs = {log.source: log for log in report.logs}
    paths: dict[int, Path] = {}
    for index, finding in enumerate(report.findings):
        log = logs.get(finding.source)
        panels = _plot_panels(finding, log)
        if not panels:
            continue
        with figure(figsize=(8, 2.6 * len(panels))) as fig:
            axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)
            for axis, (evidence, steps, values) in zip(axes[:, 0], panels, strict=True):
                axis.plot(steps, values, color="#1f77b4", linewidth=1.2,
                          label=evidence.metric)
                if evidence.threshold is not None:
                    axis.axhline(
                        evidence.threshold,
                        color="#d62728",
                        linestyle="--",
                        linewidth=1,
                        label=f"threshold {evidence.threshold:g}",
                    )
                axis.axvspan(*_span(evidence.window), color="#ff7f0e", alpha=0.2,
                             label="flagged")
                axis.set_ylabel(evidence.signal)
                axis.legend(loc="best", fontsize=8)
                axis.grid(alpha=0.3)
            axes[-1, 0].set_xlabel("step")
            fig.suptitle(f"{finding.severity}: {finding.rule} — {finding.title}", fontsize=10)
            fig.tight_layout()
            paths[index] = save_png(fig, directory / f"{index + 1:02d}_{finding.rule}.png",
                                    dpi=90, tight=False)
    return paths


def _span(window: tuple[float, float]) -> tuple[float, float]:
    start, end = window
    # A single-step window still needs a visible band.
    return (start - 0.5, end + 0.5) if start == end else (start, end)


def _plot_panels(finding: Finding, log: RunLog | None) -> list[tuple[Any, Any, Any]]:
    panels = []
    seen = set()
    for evidence in finding.evidence[:4]:
        if evidence.signal in seen:
            continue
        seen.add(evidence.signal)
        series = log.get(evidence.signal) if log is not None else None
        if series is not None and len(series.finite()):
            finite = series.finite()
            panels.append((evidence, finite.steps, finite.values))
        elif evidence.values:
            steps, values = zip(*evidence.values, strict=True)
            panels.append((evidence, list(steps), list(values)))
    return panels


def write_outputs(
    report: DoctorReport,
    out_dir: Path | None = None,
    markdown_path: Path | None = None,
    plots: bool = True,
) -> dict[str, Path]:
    """Write report.md, findings.json and plots/ under `out_dir`, and/or a Markdown file."""
    written: dict[str, Path] = {}
    plot_paths: dict[int, Path] = {}
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        if plots:
            plot_paths = plot_findings(report, out_dir / "plots")
        json_path = out_dir / "findings.json"
        atomic_write_text(json_path, findings_json(report.findings) + "\n")
        md_path = out_dir / "report.md"
        atomic_write_text(md_path, markdown_report(report, plot_paths, out_dir))
        written |= {"json": json_path, "markdown": md_path}
    if markdown_path is not None:
        markdown_path.parent.mkdir(parents=True, exist_ok=True)
        base = markdown_path.parent
        if plots and not plot_paths:
            plot_paths = plot_findings(report, base / f"{markdown_path.stem}_plots")
        relative = base if all(_is_under(p, base) for p in plot_paths.values()) else None
        atomic_write_text(markdown_path, markdown_report(report, plot_paths, relative))
        written["markdown_file"] = markdown_path
    if plot_paths:
        written["plots"] = next(iter(plot_paths.values())).parent
    return written


def _is_under(path: Path, base: Path) -> bool:
    try:
        path.resolve().relative_to(base.resolve())
    except ValueError:
        return False
    return True
