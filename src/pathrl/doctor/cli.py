"""`pathrl doctor PATH`: diagnose an RL training run from its logs.

Exit codes: 0 no critical finding, 1 at least one critical finding (CI can gate on it),
2 user error (raised as PathrlError, turned into one red line by the root CLI).
"""

from __future__ import annotations

from pathlib import Path

import typer

#: The files that mark `--out` as holding an earlier report (plots/ comes with them).
REPORT_FILES = ("report.md", "findings.json")

app = typer.Typer(
    help="Diagnose an RL training run from its logs (worst finding first).",
    no_args_is_help=True,
    # Mounted with add_typer, this is a click group, which by default stops parsing options at
    # the first positional: allow `pathrl doctor RUN --json` as well as `--json RUN`.
    context_settings={"allow_interspersed_args": True},
)


@app.callback(invoke_without_command=True)
def doctor(
    path: Path | None = typer.Argument(
        None,
        help="Run directory (metrics.jsonl, sft_metrics.jsonl, TensorBoard events, "
        "trainer_state.json, SB3 monitor.csv beside PPO_1/) or a JSONL / JSON / CSV / SB3 "
        "Monitor CSV / TensorBoard file.",
        show_default=False,
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the findings as a JSON list (nothing else on stdout)."
    ),
    markdown: Path | None = typer.Option(
        None, "--markdown", help="Write a Markdown report (with plots) to this file."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write report.md, findings.json and plots/*.png to this directory."
    ),
    config: Path | None = typer.Option(
        None, "--config", help="YAML file overriding thresholds (DoctorConfig field names)."
    ),
    mapping: list[str] = typer.Option(
        [], "--map", help="Map a raw metric name to a signal, RAW=SIGNAL (repeatable)."
    ),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Draw one PNG per finding."),
    list_rules: bool = typer.Option(
        False, "--list-rules", help="List the rules and exit (PATH is ignored)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Replace the files of an earlier report in --out / --markdown."
    ),
) -> None:
    """Read a run's metrics, apply the troubleshooting rules, report what is wrong and how to
    fix it. Exits 1 when a critical finding exists."""
    from rich.console import Console

    from pathrl.doctor.config import DoctorConfig
    from pathrl.doctor.engine import run_doctor
    from pathrl.doctor.report import findings_json, print_report, write_outputs
    from pathrl.doctor.rules import build_rules
    from pathrl.doctor.signals import parse_mapping
    from pathrl.errors import PathrlError
    from pathrl.io import check_output_dir, check_output_file

    doctor_config = DoctorConfig.from_file(config) if config else DoctorConfig()
    console = Console()
    if list_rules:
        for rule in build_rules(doctor_config):
            console.print(f"[bold]{rule.id}[/] ({rule.severity}): {rule.title}")
        return
    if path is None:
        raise PathrlError("missing PATH: a run directory or a log file to diagnose")
    # Output mistakes fail before the logs are read, and leave nothing behind.
    if out is not None:
        check_output_dir(out, force, "--out", REPORT_FILES)
    if markdown is not None:
        check_output_file(markdown, force, "--markdown")
    report = run_doctor(path, doctor_config, parse_mapping(mapping))
    if as_json:
        typer.echo(findings_json(report.findings))
    else:
        print_report(report, console)
    if out is not None or markdown is not None:
        try:
            _remove_earlier_plots(out, markdown)
            written = write_outputs(report, out, markdown, plots=plots)
        except OSError as exc:
            raise PathrlError(f"cannot write the report: {exc.strerror or exc}"
                              f"{f' ({exc.filename})' if exc.filename else ''}") from None
        if not as_json:
            for kind, target in written.items():
                console.print(f"[dim]wrote {kind}: {target}[/]")
    if report.has_critical:
        raise typer.Exit(code=1)


def _remove_earlier_plots(out: Path | None, markdown: Path | None) -> None:
    """An earlier report's numbered plots (NN_rule.png), which the new report may not
    overwrite one for one; anything else in those folders is left alone."""
    folders = [out / "plots"] if out is not None else []
    if markdown is not None:
        folders.append(markdown.parent / f"{markdown.stem}_plots")
    for folder in folders:
        for png in folder.glob("[0-9][0-9]_*.png"):
            png.unlink()
