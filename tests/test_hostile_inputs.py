"""Mistakes users made, each one red line (`PathrlError`, exit 2) with nothing written.

Each case of `MISTAKES` builds its inputs in a fresh directory, runs the command through the
root CLI, and checks: a `PathrlError` whose message is one line and names the problem, and no
file created or changed under the directory. `test_console_script_*` runs a few of them
through the installed `pathrl` script to check the exit code and the lone stderr line.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pathrl.cli import app
from pathrl.demo import demo_schema
from pathrl.errors import PathrlError
from pathrl.io import (
    apply_umask,
    atomic_dir,
    atomic_write_text,
    check_output_dir,
)
from pathrl.paths import enumerate_paths
from pathrl.schema import Schema

runner = CliRunner()
PATHRL = Path(sys.executable).with_name("pathrl")
Setup = Callable[[Path], list[str]]


# -- inputs ------------------------------------------------------------------------------------
def _text_file(tmp: Path, name: str = "notes.db") -> Path:
    path = tmp / name
    path.write_text("these are my notes, not a database\n" * 20)
    return path


def _binary_file(tmp: Path, name: str) -> Path:
    path = tmp / name
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x01" * 64)
    return path


def _yaml(tmp: Path, text: str, name: str = "schema.yaml") -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def _schema_with(tmp: Path, **table_spec) -> Path:
    data = {"name": "s", "tables": {"project": {"key": "id", "fields": {"id": "str"},
                                                **table_spec}}}
    return _yaml(tmp, yaml.safe_dump(data))


ALIAS_BOMB = """name: bomb
tables:
  project:
    key: id
    fields: {id: str}
    description: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
    synonyms: {en: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]}
"""


def dense_schema_file(tmp: Path, n: int = 10) -> Path:
    """Ten tables, every one with a foreign key to every other: simple paths explode."""
    tables = {f"t{i}": {"key": "id", "fields": {"id": "int", **{f"f{j}": "int" for j in range(n)}}}
              for i in range(n)}
    relations = [{"from": f"t{i}.f{j}", "to": f"t{j}.id"}
                 for i in range(n) for j in range(n) if i != j]
    data = {"name": "dense", "rules": {"max_hops": 100}, "tables": tables,
            "relations": relations}
    return _yaml(tmp, yaml.safe_dump(data), "dense.yaml")


def _demo_schema_file(tmp: Path) -> Path:
    path = tmp / "demo.yaml"
    demo_schema().save(path)
    return path


def _unrelated_sqlite(tmp: Path) -> Path:
    path = tmp / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE unrelated (x INTEGER)")
    return path


def _run_dir(tmp: Path) -> Path:
    run = tmp / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("".join(
        json.dumps({"step": i, "reward_mean": 0.1 * i, "approx_kl": 0.01}) + "\n"
        for i in range(30)))
    return run


def _earlier_output(tmp: Path, name: str) -> Path:
    """An output directory holding `name` from an earlier run."""
    out = tmp / "out"
    out.mkdir()
    _text_file(out, name)
    return out


def _reward_json(tmp: Path, data: dict) -> Path:
    path = tmp / "reward.json"
    path.write_text(json.dumps(data))
    return path


WARMUP = ["warmup", "lunarlander", "train", "--timesteps", "256", "--no-progress"]

MISTAKES: dict[str, tuple[Setup, str]] = {
    # 1. databases: a missing SQLite file is never created; a database that does not answer
    #    fails at open, not as an "error" row with exit code 0
    "query sqlite URL to a missing file": (
        lambda t: ["query", "--anchor", "project", "--target", "contract",
                   "--db", f"sqlite:///{t / 'nofile.db'}"], "nofile.db does not exist"),
    "schema check sqlite URL to a missing file": (
        lambda t: ["schema", "check", "--db", f"sqlite:///{t / 'nofile.db'}"],
        "does not exist"),
    "route sqlite URL to a missing file": (
        lambda t: ["route", "a question", "--model", str(t / "router"),
                   "--db", f"sqlite:///{t / 'nofile.db'}"], "does not exist"),
    "query --db notaurl": (
        lambda t: ["query", "--anchor", "project", "--target", "contract", "--db",
                   str(t / "notaurl")], "read as a SQLite file path"),
    "query --db a text file": (
        lambda t: ["query", "--anchor", "project", "--target", "contract", "--db",
                   str(_text_file(t))], "file is not a database"),
    "schema check --db a directory": (
        lambda t: ["schema", "check", "--db", f"sqlite:///{t}"], "is a directory"),
    "schema check: every probe fails": (
        lambda t: ["schema", "check", "--schema", str(_demo_schema_file(t)), "--db",
                   f"sqlite:///{_unrelated_sqlite(t)}", "--json"],
        "probes failed on the database; first error: no such table"),
    "query on a database without the tables": (
        lambda t: ["query", "--anchor", "project", "--target", "contract", "--schema",
                   str(_demo_schema_file(t)), "--db", str(_unrelated_sqlite(t))],
        "failed: no such table"),
    "postgres connection refused": (
        lambda t: ["schema", "check", "--backend", "postgres", "--db",
                   "postgresql+psycopg://nobody@127.0.0.1:1/nodb"], "cannot open database"),
    "query --limit -1": (
        lambda t: ["query", "--anchor", "project", "--target", "contract", "--limit", "-1"],
        "'--limit'"),
    # 2. schema files
    "binary schema file": (
        lambda t: ["schema", "show", "--json", "--schema", str(_binary_file(t, "s.yaml"))],
        "not a text file"),
    "--schema a directory": (
        lambda t: ["schema", "show", "--schema", str(t)], "is a directory"),
    "YAML alias bomb in a description": (
        lambda t: ["schema", "show", "--json", "--schema", str(_yaml(t, ALIAS_BOMB))],
        "anchors and aliases"),
    "description is a list": (
        lambda t: ["schema", "show", "--schema", str(_schema_with(t, description=["a"]))],
        "description must be a string"),
    "synonym is a number": (
        lambda t: ["schema", "show", "--schema", str(_schema_with(t, synonyms={"en": [7]}))],
        "synonyms.en[0] must be a string"),
    "anchor flag is a string": (
        lambda t: ["schema", "show", "--schema", str(_schema_with(t, anchor="no"))],
        "anchor must be true or false"),
    "tables is a number": (
        lambda t: ["schema", "show", "--schema", str(_yaml(t, "name: s\ntables: 5\n"))],
        "'tables' must be a mapping"),
    "max_hops is fractional": (
        lambda t: ["schema", "show", "--schema", str(_yaml(
            t, "tables: {a: {fields: {id: str}}}\nrules: {max_hops: 2.5}\n"))],
        "rules.max_hops must be an integer"),
    # 3. enumeration cap
    "schema paths on a dense graph with max_hops 100": (
        lambda t: ["schema", "paths", "--json", "--schema", str(dense_schema_file(t)),
                   "--max-paths", "5000"], "more than 5,000 candidate paths"),
    # 4. schema draw
    "schema draw --out not a png": (
        lambda t: ["schema", "draw", "--out", str(t / "graph.txt")], "expected a .png"),
    "schema draw --out an existing png": (
        lambda t: ["schema", "draw", "--out", str(_binary_file(t, "mine.png"))],
        "pass --force"),
    "schema draw --out where no directory can be made": (
        lambda t: ["schema", "draw", "--out", str(_text_file(t, "blocker") / "g.png")],
        "cannot write"),
    # 5. doctor
    "doctor --config a word for a number": (
        lambda t: ["doctor", str(_run_dir(t)), "--config",
                   str(_yaml(t, "window: twenty\n", "cfg.yaml"))],
        "window must be an integer"),
    "doctor --config a binary file": (
        lambda t: ["doctor", str(_run_dir(t)), "--config",
                   str(_binary_file(t, "cfg.yaml"))], "not a text file"),
    "doctor --config disabled is a string": (
        lambda t: ["doctor", str(_run_dir(t)), "--config",
                   str(_yaml(t, "disabled: approx_kl_high\n", "cfg.yaml"))],
        "disabled must be a list"),
    "doctor --markdown a directory": (
        lambda t: ["doctor", str(_run_dir(t)), "--markdown", str(t)], "is a directory"),
    "doctor --out a file": (
        lambda t: ["doctor", str(_run_dir(t)), "--out", str(_text_file(t, "report"))],
        "is a file, not a directory"),
    "doctor --out holding an earlier report": (
        lambda t: ["doctor", str(_run_dir(t)), "--out", str(_earlier_output(t, "findings.json"))],
        "already holds a previous run (findings.json)"),
    # 6. warm-up: everything checked before training
    "warmup reward JSON with a string for a number": (
        lambda t: [*WARMUP, "--out", str(t / "out"), "--reward",
                   str(_reward_json(t, {"w_distance": "100", "replace_reward": True}))],
        "w_distance must be a number"),
    "warmup reward JSON with a number for a flag": (
        lambda t: [*WARMUP, "--out", str(t / "out"), "--reward",
                   str(_reward_json(t, {"replace_reward": 1}))],
        "replace_reward must be true or false"),
    "warmup binary reward file": (
        lambda t: [*WARMUP, "--out", str(t / "out"), "--reward",
                   str(_binary_file(t, "reward.json"))], "cannot read JSON"),
    "warmup --hp learning_rate=-1": (
        lambda t: [*WARMUP, "--out", str(t / "out"), "--hp", "learning_rate=-1"],
        "learning rate must be a number > 0"),
    "warmup --hp learning_rate=0": (
        lambda t: [*WARMUP, "--out", str(t / "out"), "--hp", "learning_rate=0"],
        "learning rate must be a number > 0"),
    "warmup --hp learning_rate=lin_0": (
        lambda t: [*WARMUP, "--out", str(t / "out"), "--hp", "learning_rate=lin_0"],
        "learning rate must be a number > 0"),
    "warmup --hp batch_size=0": (
        lambda t: [*WARMUP, "--out", str(t / "out"), "--hp", "batch_size=0"],
        "batch_size must be a whole number >= 1"),
    "warmup --hp n_steps=0": (
        lambda t: [*WARMUP, "--out", str(t / "out"), "--hp", "n_steps=0"],
        "n_steps must be a whole number >= 1"),
    "warmup --hp gamma=2": (
        lambda t: [*WARMUP, "--out", str(t / "out"), "--hp", "gamma=2"],
        "gamma must be a number >= 0 <= 1"),
    "warmup --hp unknown key": (
        lambda t: [*WARMUP, "--out", str(t / "out"), "--hp", "n_stepz=8"],
        "invalid hyperparameter(s) n_stepz"),
    "warmup --out holding an earlier report": (
        lambda t: [*WARMUP, "--out", str(_earlier_output(t, "report.json"))],
        "already holds a previous run (report.json)"),
}


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*")}


@pytest.mark.parametrize("case", list(MISTAKES))
def test_mistake_is_one_clear_line_and_writes_nothing(case, tmp_path, monkeypatch) -> None:
    if case.startswith("postgres"):
        pytest.importorskip("psycopg")
    setup, expected = MISTAKES[case]
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # a command writing to the current directory is caught too
    args = setup(work)
    before = _snapshot(work)
    result = runner.invoke(app, args)
    if isinstance(result.exception, SystemExit) or result.exception is None:
        # typer's own option checks (e.g. --limit min=0) exit 2 with a usage message
        assert result.exit_code == 2, result.output
        assert expected in " ".join(result.output.split())
    else:
        assert isinstance(result.exception, PathrlError), repr(result.exception)
        message = str(result.exception)
        assert expected in message, message
        assert "\n" not in message
    assert _snapshot(work) == before


# -- the console script: exit 2, one line on stderr, no traceback --------------------------------
@pytest.mark.parametrize("case", ["query sqlite URL to a missing file", "binary schema file",
                                  "doctor --out a file"])
def test_console_script_exits_2_with_one_line(case, tmp_path) -> None:
    if not PATHRL.exists():
        pytest.skip("pathrl console script not installed")
    setup, expected = MISTAKES[case]
    proc = subprocess.run([str(PATHRL), *setup(tmp_path)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env={**os.environ, "COLUMNS": "60"})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert expected in lines[0] and "Traceback" not in proc.stderr + proc.stdout


# -- the right behaviour -------------------------------------------------------------------------
def test_schema_draw_into_a_directory_writes_dir_schema_png(tmp_path) -> None:
    result = runner.invoke(app, ["schema", "draw", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = tmp_path / "schema.png"
    assert written.read_bytes()[:4] == b"\x89PNG"
    assert "schema.png" in result.output.replace("\n", "")
    assert not tmp_path.with_suffix(".png").exists()
    again = runner.invoke(app, ["schema", "draw", "--out", str(written), "--force"])
    assert again.exit_code == 0, again.output


def test_db_init_creates_the_sqlite_file_query_does_not(tmp_path) -> None:
    target = tmp_path / "new.db"
    assert runner.invoke(app, ["db", "init", "--db", f"sqlite:///{target}"]).exit_code == 0
    result = runner.invoke(app, ["query", "--anchor", "project", "--target", "contract",
                                 "--db", str(target), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "ok"


def test_sqlite_queries_cannot_write_even_outside_the_pragma(tmp_path) -> None:
    from pathrl.db import open_database

    target = tmp_path / "new.db"
    database = open_database(demo_schema(), "sqlite", str(target), create=True)
    with database.engine.connect() as conn, pytest.raises(Exception, match="readonly"):
        conn.exec_driver_sql("CREATE TABLE stolen (x INTEGER)")
    database.close()


def test_enumeration_cap_is_a_rule_and_stays_out_of_the_fingerprint(tmp_path) -> None:
    dense = Schema.load(dense_schema_file(tmp_path))
    with pytest.raises(PathrlError, match="more than 200,000 candidate paths"):
        enumerate_paths(dense)
    small = Schema.from_dict({**dense.to_dict(), "rules": {"max_hops": 2}})
    # single tables, then 90 ordered pairs x 2 parallel joins, 720 ordered triples x 2 x 2
    assert len(enumerate_paths(small)) == 10 + 90 * 2 + 720 * 4
    raised = Schema.from_dict({**demo_schema().to_dict(),
                               "rules": {**demo_schema().to_dict()["rules"], "max_paths": 10}})
    assert raised.fingerprint() == demo_schema().fingerprint()
    with pytest.raises(PathrlError, match="more than 10 candidate"):
        enumerate_paths(raised)
    assert Schema.from_dict(raised.to_dict()).rules.max_paths == 10  # round trip


def test_doctor_force_replaces_only_its_own_files(tmp_path) -> None:
    bad, healthy, out = tmp_path / "bad", _run_dir(tmp_path), tmp_path / "out"
    bad.mkdir()
    (bad / "metrics.jsonl").write_text("".join(
        json.dumps({"step": i, "reward_mean": 0.1 * i, "approx_kl": 0.8}) + "\n"
        for i in range(30)))
    (out / "plots").mkdir(parents=True)
    (out / "my_notes.txt").write_text("keep me")
    (out / "plots" / "my_figure.png").write_text("keep me too")
    first = runner.invoke(app, ["doctor", str(bad), "--out", str(out)])
    assert first.exit_code == 1, first.output  # a critical finding, with its plot
    assert list((out / "plots").glob("01_*.png"))
    again = runner.invoke(app, ["doctor", str(healthy), "--out", str(out)])
    assert isinstance(again.exception, PathrlError)
    assert "already holds a previous run" in str(again.exception)
    forced = runner.invoke(app, ["doctor", str(healthy), "--out", str(out), "--force"])
    assert json.loads((out / "findings.json").read_text()) == json.loads(
        runner.invoke(app, ["doctor", str(healthy), "--json"]).stdout)
    assert forced.exit_code == 0, forced.output
    assert not list((out / "plots").glob("01_*.png"))  # the earlier report's plot is gone
    assert (out / "my_notes.txt").read_text() == "keep me"
    assert (out / "plots" / "my_figure.png").read_text() == "keep me too"


def test_doctor_notes_steps_that_restart(tmp_path) -> None:
    from pathrl.doctor.readers import read_path

    log = tmp_path / "metrics.jsonl"
    records = [{"step": s, "reward_mean": 0.1 * s} for _ in range(2) for s in range(10)]
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    (raw,) = read_path(log)
    assert any("step goes back 1 time(s), first at record 11" in n for n in raw.notes)
    log.write_text("".join(json.dumps(r) + "\n" for r in records[:10]))
    assert not any("goes back" in n for n in read_path(log)[0].notes)


def _event_file(directory: Path, steps: list[int]) -> Path:
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(directory))
    for step in steps:
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(
            tag="loss", simple_value=1.0 / (step + 1))])
        writer.add_event(event_pb2.Event(step=step, wall_time=1.0, summary=summary))
    writer.close()
    (path,) = directory.glob("*tfevents*")
    return path


def test_doctor_warns_about_a_truncated_tensorboard_file(tmp_path) -> None:
    from pathrl.doctor.readers import read_path

    path = _event_file(tmp_path, list(range(40)))
    assert not read_path(path)[0].notes
    path.write_bytes(path.read_bytes()[:-9])
    (raw,) = read_path(path)
    assert len(raw.columns["loss"]) == 39
    assert any("truncated" in n and "partial last record" in n for n in raw.notes)


def test_doctor_notes_a_tensorboard_log_that_restarts(tmp_path) -> None:
    from pathrl.doctor.readers import read_path

    (raw,) = read_path(_event_file(tmp_path, [*range(10), *range(10)]))
    assert any("goes back" in n for n in raw.notes)


# -- pathrl.io: atomic writes that respect the umask -----------------------------------------
@pytest.mark.parametrize(("mask", "file_mode", "dir_mode"),
                         [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700), (0o002, 0o664, 0o775)])
def test_atomic_writes_respect_the_umask(mask, file_mode, dir_mode, tmp_path) -> None:
    old = os.umask(mask)
    try:
        text_file = atomic_write_text(tmp_path / "a" / "report.md", "hello")
        with atomic_dir(tmp_path / "dataset") as staging:
            (staging / "train.jsonl").write_text("{}\n")
            (staging / "sub").mkdir()
        private = tmp_path / "w.safetensors"
        private.write_bytes(b"x")
        private.chmod(0o600)  # what safetensors writes whatever the umask
        apply_umask(private)
    finally:
        os.umask(old)
    assert text_file.read_text() == "hello" and text_file.stat().st_mode & 0o777 == file_mode
    dataset = tmp_path / "dataset"
    assert dataset.stat().st_mode & 0o777 == dir_mode
    assert (dataset / "sub").stat().st_mode & 0o777 == dir_mode
    assert (dataset / "train.jsonl").stat().st_mode & 0o777 == file_mode
    assert private.stat().st_mode & 0o777 == file_mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "dataset", "w.safetensors"]


def test_atomic_dir_keeps_the_old_directory_when_filling_fails(tmp_path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(target) as staging:
        (staging / "new.txt").write_text("new")
        raise RuntimeError("interrupted")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    with atomic_dir(target) as staging:
        (staging / "new.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_check_output_dir_policy(tmp_path) -> None:
    out = tmp_path / "out"
    assert check_output_dir(out, False, "--out", ["report.md"]) == []
    assert not out.exists()  # checking creates nothing
    out.mkdir()
    (out / "unrelated.txt").write_text("x")
    assert check_output_dir(out, False, "--out", ["report.md"]) == []
    (out / "report.md").write_text("old")
    with pytest.raises(PathrlError, match=r"already holds a previous run \(report.md\)"):
        check_output_dir(out, False, "--out", ["report.md"])
    assert check_output_dir(out, True, "--out", ["report.md"]) == [out / "report.md"]
    with pytest.raises(PathrlError, match="is a file"):
        check_output_dir(out / "unrelated.txt", True, "--out")


def test_schema_draw_on_a_read_only_filesystem_is_one_line(tmp_path, monkeypatch) -> None:
    import errno
    import tempfile

    def read_only(*_args, **_kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    result = runner.invoke(app, ["schema", "draw", "--out", str(tmp_path / "g.png")])
    assert isinstance(result.exception, PathrlError)
    assert str(result.exception) == f"cannot write {tmp_path / 'g.png'}: Read-only file system"
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_keeps_the_mode_of_the_file_it_replaces(tmp_path) -> None:
    target = tmp_path / "shared.json"
    target.write_text("old")
    target.chmod(0o640)
    atomic_write_text(target, "new")
    assert target.read_text() == "new" and target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["shared.json"]  # no temp file left
