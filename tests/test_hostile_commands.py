"""Every command that reads a file or writes output, fed the files users really hand it.

A table: for each command and each file it reads (a schema, a dataset, a router directory, a
log, a config, a model) the hostile variants: binary, empty, truncated, wrong types, missing;
for each output it writes, a target nobody can write into. Each case runs `pathrl.cli.main`
(the console script's code) and checks what a user sees: exit code 2, exactly one line on
stderr (`error: ...` naming the problem), no traceback, and nothing written or changed.
tests/test_hostile_inputs.py holds the earlier, hand-picked cases; this file the grid.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pathrl.cli import main

BINARY = b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x01" * 64
# sysfs refuses new files and directories to everyone, root included (chmod does not stop
# root, and CI may run as root): a real "cannot write here" from the kernel.
READ_ONLY = Path("/sys/kernel/pathrl-hostile")
LLM_ENDPOINT = ["--llm-base-url", "http://127.0.0.1:9/v1", "--llm-model", "m"]  # never called


@dataclass(frozen=True)
class Library:
    """Valid inputs, built once; cases copy and spoil what they need into their own folder."""

    root: Path
    schema: Path  # the demo schema as YAML
    db: str  # its SQLite database
    data: Path  # a small dataset for the demo schema
    router: Path  # a saved (untrained) path scorer on the demo schema
    backbone: str  # the tiny random BERT it is built on
    run: Path  # a run directory with metrics.jsonl


@pytest.fixture(scope="module")
def lib(tmp_path_factory, tiny_router_dir, tiny_backbone) -> Library:
    from pathrl.data.example import Example, write_dataset
    from pathrl.db import open_database
    from pathrl.demo import demo_schema
    from pathrl.paths import PathVocab

    root = tmp_path_factory.mktemp("hostile-lib")
    schema = demo_schema()
    schema.save(root / "demo.yaml")
    open_database(schema, "sqlite", str(root / "demo.db"), create=True, demo_seed=7).close()
    vocab = PathVocab.from_schema(schema)
    examples = [Example(id=f"e{i}", question=f"list the {p.target} of {p.anchor} {i}",
                        language="en", anchor=p.anchor, target=p.target, via=p.via,
                        path_id=p.id, hops=p.n_hops, wording="precise", style="plain",
                        category="list", priority="P0", entity="", filter={})
                for i, p in enumerate(vocab.paths[:12])]
    write_dataset({"train": examples, "val": examples[:4], "test": examples[:4],
                   "heldout": []}, root / "data")
    run = root / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("".join(
        json.dumps({"step": i, "reward_mean": 0.1 * i, "approx_kl": 0.01}) + "\n"
        for i in range(30)))
    return Library(root, root / "demo.yaml", f"sqlite:///{root / 'demo.db'}", root / "data",
                   Path(tiny_router_dir), tiny_backbone, run)


# -- spoiling a valid file --------------------------------------------------------------------
def _spoil(path: Path, kind: str, wrong: str | bytes) -> None:
    """Write the `kind` variant of the valid file at `path` (which must exist)."""
    if kind == "binary":
        path.write_bytes(BINARY)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "wrong types":
        path.write_bytes(wrong.encode() if isinstance(wrong, str) else wrong)
    elif kind == "missing":
        path.unlink()
    else:
        raise AssertionError(kind)


def _copy(source: Path, target: Path) -> Path:
    """A copy of a file or a folder tree (folders: big files linked, not copied)."""
    if source.is_file():
        shutil.copyfile(source, target)
        return target
    target.mkdir()
    for entry in source.iterdir():
        if entry.is_dir():
            _copy(entry, target / entry.name)
        elif entry.stat().st_size > 100_000:
            (target / entry.name).symlink_to(entry)
        else:
            shutil.copyfile(entry, target / entry.name)
    return target


def _materialise(path: Path) -> None:
    """Replace a linked file by a real copy (before spoiling it)."""
    if path.is_symlink():
        real = path.resolve()
        path.unlink()
        shutil.copyfile(real, path)


KINDS = ("binary", "empty", "truncated", "wrong types", "missing")
Build = Callable[[Library, Path], list[str]]


@dataclass(frozen=True)
class Case:
    build: Build  # (library, work folder) -> argv after "pathrl"
    expected: str  # in the one stderr line


CASES: dict[str, Case] = {}
OPEN: dict[str, str] = {}  # case -> the known bug it still shows (xfail, strict)


def _add(name: str, build: Build, expected: str) -> None:
    assert name not in CASES, name
    CASES[name] = Case(build, expected)


# -- 1. the schema file: every command that takes --schema ------------------------------------
SCHEMA_COMMANDS: dict[str, Callable[[Library, Path, str], list[str]]] = {
    "route": lambda lib, w, s: ["route", "list the contracts", "--model", str(lib.router),
                                "--schema", s, "--db", lib.db],
    "eval": lambda lib, w, s: ["eval", "--data", str(lib.data), "--sft", str(lib.router),
                               "--baseline", "lexical", "--out", str(w / "eval"),
                               "--schema", s, "--db", lib.db],
    "query": lambda lib, w, s: ["query", "--anchor", "project", "--target", "contract",
                                "--schema", s, "--db", lib.db],
    "generate": lambda lib, w, s: ["generate", "list the contracts", "--model",
                                   str(lib.router), "--schema", s, "--db", lib.db,
                                   *LLM_ENDPOINT],
    "ab": lambda lib, w, s: ["ab", "--model", str(lib.router), "--out", str(w / "ab.json"),
                             "--data", str(lib.data), "--schema", s, "--db", lib.db,
                             *LLM_ENDPOINT],
    "serve": lambda lib, w, s: ["serve", "--model", str(lib.router), "--schema", s, "--db",
                                lib.db],
    "mcp": lambda lib, w, s: ["mcp", "--model", str(lib.router), "--schema", s, "--db",
                              lib.db],
    "schema show": lambda lib, w, s: ["schema", "show", "--schema", s],
    "schema paths": lambda lib, w, s: ["schema", "paths", "--schema", s],
    "schema draw": lambda lib, w, s: ["schema", "draw", "--schema", s, "--out",
                                      str(w / "g.png")],
    "schema check": lambda lib, w, s: ["schema", "check", "--schema", s, "--db", lib.db],
    "data build": lambda lib, w, s: ["data", "build", "--schema", s, "--db", lib.db, "--out",
                                     str(w / "data")],
    "train sft": lambda lib, w, s: ["train", "sft", "--data", str(lib.data), "--out",
                                    str(w / "sft"), "--backbone", lib.backbone, "--schema", s,
                                    "--db", lib.db],
    "train ppo": lambda lib, w, s: ["train", "ppo", "--data", str(lib.data), "--sft",
                                    str(lib.router), "--out", str(w / "ppo"), "--schema", s,
                                    "--db", lib.db],
}
SCHEMA_WRONG_TYPES = "name: s\ntables:\n  project:\n    key: [id]\n    fields: {id: str}\n"


def _schema_case(command: str, kind: str) -> Build:
    def build(lib: Library, work: Path) -> list[str]:
        path = _copy(lib.schema, work / "schema.yaml")
        _spoil(path, kind, SCHEMA_WRONG_TYPES)
        return SCHEMA_COMMANDS[command](lib, work, str(path))
    return build


SCHEMA_EXPECTED = {"binary": "not a text file", "empty": "schema.yaml", "truncated":
                   "is invalid", "wrong types": "key must be a string", "missing": "schema.yaml"}
for _command in SCHEMA_COMMANDS:
    for _kind in KINDS:
        _add(f"{_command}: --schema {_kind}", _schema_case(_command, _kind),
             SCHEMA_EXPECTED[_kind])


# -- 2. the dataset directory -----------------------------------------------------------------
DATA_COMMANDS: dict[str, Callable[[Library, Path, str], list[str]]] = {
    "eval": lambda lib, w, d: ["eval", "--data", d, "--sft", str(lib.router), "--baseline",
                               "lexical", "--out", str(w / "eval")],
    "ab": lambda lib, w, d: ["ab", "--model", str(lib.router), "--out", str(w / "ab.json"),
                             "--data", d, *LLM_ENDPOINT],
    "train sft": lambda lib, w, d: ["train", "sft", "--data", d, "--out", str(w / "sft"),
                                    "--backbone", lib.backbone],
    "train ppo": lambda lib, w, d: ["train", "ppo", "--data", d, "--sft", str(lib.router),
                                    "--out", str(w / "ppo")],
    "data stats": lambda lib, w, d: ["data", "stats", d, "--no-charts"],
}
DATA_WRONG_TYPES = json.dumps({"id": "e0", "question": 5, "language": "en", "anchor": "project",
                               "target": "contract", "via": "contract"}) + "\n"


SPLIT_READ = {"ab": "test"}


def _cut_split(lib: Library, work: Path) -> Path:
    """The dataset with train.jsonl's last 3 lines gone: every line still parses."""
    data = _copy(lib.data, work / "data")
    lines = (data / "train.jsonl").read_text().splitlines(keepends=True)
    (data / "train.jsonl").write_text("".join(lines[:-3]))
    return data  # the split a command reads first (others: train)


def _data_case(command: str, kind: str) -> Build:
    def build(lib: Library, work: Path) -> list[str]:
        data = _copy(lib.data, work / "data")
        if kind == "missing":
            shutil.rmtree(data)
        else:
            _spoil(data / f"{SPLIT_READ.get(command, 'train')}.jsonl", kind, DATA_WRONG_TYPES)
        return DATA_COMMANDS[command](lib, work, str(data))
    return build


DATA_EXPECTED = {"binary": "not a text file", "empty": ".jsonl", "truncated": ".jsonl:",
                 "wrong types": ".jsonl:1", "missing": "data"}
for _command in DATA_COMMANDS:
    for _kind in KINDS:
        _add(f"{_command}: --data {_kind}", _data_case(_command, _kind), DATA_EXPECTED[_kind])
_add("data stats: --data cut at a line boundary",
     lambda lib, w: ["data", "stats", str(_cut_split(lib, w)), "--no-charts"],
     "manifest.json says 12")


# -- 3. the router directory ------------------------------------------------------------------
ROUTER_COMMANDS: dict[str, Callable[[Library, Path, str], list[str]]] = {
    "route": lambda lib, w, m: ["route", "list the contracts", "--model", m, "--no-execute"],
    "generate": lambda lib, w, m: ["generate", "list the contracts", "--model", m,
                                   *LLM_ENDPOINT],
    "ab": lambda lib, w, m: ["ab", "--model", m, "--out", str(w / "ab.json"), "--data",
                             str(lib.data), *LLM_ENDPOINT],
    "serve": lambda lib, w, m: ["serve", "--model", m],
    "mcp": lambda lib, w, m: ["mcp", "--model", m],
    "eval": lambda lib, w, m: ["eval", "--data", str(lib.data), "--sft", m, "--baseline",
                               "lexical", "--out", str(w / "eval")],
    "train ppo": lambda lib, w, m: ["train", "ppo", "--data", str(lib.data), "--sft", m,
                                    "--out", str(w / "ppo")],
    "train sft --init": lambda lib, w, m: ["train", "sft", "--data", str(lib.data), "--init",
                                           m, "--out", str(w / "sft")],
}
ROUTER_KINDS = (*KINDS, "wrong kind", "truncated weights")


def _router_case(command: str, kind: str) -> Build:
    def build(lib: Library, work: Path) -> list[str]:
        model = _copy(lib.router, work / "model")
        if kind == "missing":
            shutil.rmtree(model)
        elif kind == "truncated weights":
            weights = model / "heads.safetensors"
            _materialise(weights)
            _spoil(weights, "truncated", "")
        else:
            meta = json.loads((model / "router.json").read_text())
            spoilt = ({**meta, "kind": 5} if kind == "wrong kind" else
                      {**meta, "config": {**meta["config"], "max_length": "long"}})
            _spoil(model / "router.json", "wrong types" if kind == "wrong kind" else kind,
                   json.dumps(spoilt))
        return ROUTER_COMMANDS[command](lib, work, str(model))
    return build


ROUTER_EXPECTED = {"binary": "router.json", "empty": "router.json", "truncated": "router.json",
                   "wrong types": "max_length", "missing": "model", "wrong kind": "5",
                   "truncated weights": "heads.safetensors"}
for _command in ROUTER_COMMANDS:
    for _kind in ROUTER_KINDS:
        _add(f"{_command}: router {_kind}", _router_case(_command, _kind),
             ROUTER_EXPECTED[_kind])


# -- 4. one-of-a-kind inputs: logs, configs, reward files, models, import sources -------------
def _file_case(make: Callable[[Library, Path], Path], kind: str, wrong: str | bytes,
               argv: Callable[[Library, Path, str], list[str]]) -> Build:
    def build(lib: Library, work: Path) -> list[str]:
        path = make(lib, work)
        _spoil(path, kind, wrong)
        return argv(lib, work, str(path))
    return build


def _metrics(lib: Library, work: Path) -> Path:
    run = _copy(lib.run, work / "run")
    return run / "metrics.jsonl"


def _doctor_config(lib: Library, work: Path) -> Path:
    path = work / "doctor.yaml"
    path.write_text("window: 20\nkl_high: 0.1\n")
    return path


def _reward(lib: Library, work: Path) -> Path:
    path = work / "reward.json"
    path.write_text(json.dumps({"w_distance": 100.0, "replace_reward": True}))
    return path


def _warmup_model(lib: Library, work: Path) -> Path:
    import zipfile

    path = work / "model.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data", json.dumps({"policy_class": "x"}) * 50)
    return path


def _tables_json(lib: Library, work: Path) -> Path:
    path = work / "tables.json"
    path.write_text(json.dumps([{
        "db_id": "shop", "table_names_original": ["customer", "orders"],
        "table_names": ["customer", "orders"],
        "column_names_original": [[-1, "*"], [0, "id"], [0, "name"], [1, "id"],
                                  [1, "customer_id"]],
        "column_names": [[-1, "*"], [0, "id"], [0, "name"], [1, "id"], [1, "customer id"]],
        "column_types": ["text", "text", "text", "text", "text"],
        "primary_keys": [1, 3], "foreign_keys": [[4, 1]]}]))
    return path


def _llm_config(lib: Library, work: Path) -> Path:
    path = work / "llm.yaml"
    path.write_text("seed: 3\n")
    return path


WARMUP = ["warmup", "lunarlander", "train", "--timesteps", "256", "--no-progress"]
ONE_OFFS: dict[str, tuple[Callable[[Library, Path], Path], str | bytes,
                          Callable[[Library, Path, str], list[str]], dict[str, str]]] = {
    "doctor: log": (_metrics, json.dumps({"step": "one", "reward_mean": "high"}) + "\n",
                    lambda lib, w, p: ["doctor", p],
                    {"binary": "metrics.jsonl", "empty": "metrics.jsonl",
                     "wrong types": "metrics.jsonl", "missing": "metrics.jsonl"}),
    "doctor: --config": (_doctor_config, "window: [20]\n",
                         lambda lib, w, p: ["doctor", str(lib.run), "--config", p],
                         {"binary": "not a text file", "truncated": "doctor.yaml",
                          "wrong types": "window must be an integer",
                          "missing": "doctor.yaml"}),
    "warmup train: --reward": (_reward, json.dumps({"w_distance": [1]}),
                               lambda lib, w, p: [*WARMUP, "--out", str(w / "out"),
                                                  "--reward", p],
                               {"empty": "reward.json", "truncated": "reward.json",
                                "wrong types": "w_distance must be a number",
                                "missing": "reward.json"}),
    "warmup compare: --rewards": (_reward, json.dumps({"w_distance": [1]}),
                                  lambda lib, w, p: ["warmup", "lunarlander", "compare",
                                                     "--timesteps", "256", "--algos", "ppo",
                                                     "--no-progress", "--out", str(w / "out"),
                                                     "--rewards", p],
                                  {"binary": "reward.json", "empty": "reward.json",
                                   "truncated": "reward.json",
                                   "wrong types": "w_distance must be a number",
                                   "missing": "reward.json"}),
    "warmup gif: model": (_warmup_model, b"PK\x03\x04 not a zip",
                          lambda lib, w, p: ["warmup", "lunarlander", "gif", p, "--algo",
                                             "ppo", "--out", str(w / "episode.gif")],
                          {kind: "model.zip" for kind in KINDS}),
    "schema import: tables.json": (_tables_json, json.dumps([{"db_id": 5}]),
                                   lambda lib, w, p: ["schema", "import", p, "--out",
                                                      str(w / "imported.yaml")],
                                   {kind: "tables.json" for kind in KINDS}),
    **{f"llm {command}: --config": (
        _llm_config, "seed: [3]\n",
        lambda lib, w, p, command=command: ["llm", command, "--config", p, "--out",
                                            str(w / "llm")],
        {"binary": "llm.yaml", "truncated": "llm.yaml", "wrong types": "seed",
         "missing": "llm.yaml"}) for command in ("sft", "rm", "dpo", "eval", "grpo", "ppo")},
}
for _name, (_make, _wrong, _argv, _expected) in ONE_OFFS.items():
    for _kind, _text in _expected.items():
        _add(f"{_name} {_kind}", _file_case(_make, _kind, _wrong, _argv), _text)


# -- 5. outputs nobody can write --------------------------------------------------------------
RO = str(READ_ONLY)
READ_ONLY_OUTPUTS: dict[str, Build] = {
    "eval --out": lambda lib, w: ["eval", "--data", str(lib.data), "--sft", str(lib.router),
                                  "--baseline", "lexical", "--out", RO],
    "demo --out": lambda lib, w: ["demo", "--out", RO],
    "ab --out": lambda lib, w: ["ab", "--model", str(lib.router), "--data", str(lib.data),
                                "--out", f"{RO}/ab.json", *LLM_ENDPOINT],
    "schema draw --out": lambda lib, w: ["schema", "draw", "--out", f"{RO}/g.png"],
    "schema import --out": lambda lib, w: ["schema", "import", str(_tables_json(lib, w)),
                                           "--out", f"{RO}/s.yaml"],
    "db init --db": lambda lib, w: ["db", "init", "--db", f"sqlite:///{RO}/demo.db"],
    "data build --out": lambda lib, w: ["data", "build", "--out", RO],
    "data stats --charts": lambda lib, w: ["data", "stats", str(lib.data), "--charts", RO],
    "train sft --out": lambda lib, w: ["train", "sft", "--data", str(lib.data), "--out", RO,
                                       "--backbone", lib.backbone, "--epochs", "1"],
    "train ppo --out": lambda lib, w: ["train", "ppo", "--data", str(lib.data), "--sft",
                                       str(lib.router), "--out", RO, "--updates", "1"],
    "doctor --out": lambda lib, w: ["doctor", str(lib.run), "--out", RO],
    "doctor --markdown": lambda lib, w: ["doctor", str(lib.run), "--markdown", f"{RO}/r.md"],
    "warmup train --out": lambda lib, w: [*WARMUP, "--out", RO],
    "warmup compare --out": lambda lib, w: ["warmup", "lunarlander", "compare",
                                            "--timesteps", "256", "--algos", "ppo",
                                            "--no-progress", "--out", RO],
    "warmup gif --out": lambda lib, w: ["warmup", "lunarlander", "gif",
                                        str(_warmup_model(lib, w)), "--algo", "ppo", "--out",
                                        f"{RO}/e.gif"],
    "synth schemas --out": lambda lib, w: ["synth", "schemas", "--out", RO, "--count", "1"],
    "synth erp --out": lambda lib, w: ["synth", "erp", "--out", RO, "--tables", "20"],
    **{f"llm {command} --out": (lambda lib, w, command=command: [
        "llm", command, "--config", str(_llm_config(lib, w)), "--out", RO])
       for command in ("sft", "rm", "dpo", "grpo", "ppo")},
}
for _name, _build in READ_ONLY_OUTPUTS.items():
    _add(f"{_name} read-only", _build, RO)


# -- 6. a device that does not exist (here: any name, and CUDA / MPS where absent) ----------
DEVICE_COMMANDS: dict[str, Build] = {
    "train sft": lambda lib, w: ["train", "sft", "--data", str(lib.data), "--out",
                                 str(w / "sft"), "--backbone", lib.backbone, "--epochs", "1",
                                 "--schema", str(lib.schema), "--db", lib.db],
    "train ppo": lambda lib, w: ["train", "ppo", "--data", str(lib.data), "--sft",
                                 str(lib.router), "--out", str(w / "ppo"), "--updates", "1",
                                 "--schema", str(lib.schema), "--db", lib.db],
    "route": lambda lib, w: ["route", "list the contracts", "--model", str(lib.router),
                             "--schema", str(lib.schema), "--db", lib.db],
    "demo": lambda lib, w: ["demo", "--out", str(w / "demo")],
}


def _absent_devices() -> dict[str, str]:
    """Device name -> the error's words, for the devices this machine lacks."""
    import torch

    absent = {"gpu0": "unknown device 'gpu0'"}
    if not torch.cuda.is_available():
        absent["cuda"] = "CUDA is not available"
    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_available():
        absent["mps"] = "MPS is not available"
    return absent


for _name, _build in DEVICE_COMMANDS.items():
    for _device, _words in _absent_devices().items():
        _add(f"{_name} --device {_device}",
             lambda lib, w, build=_build, device=_device: [*build(lib, w), "--device", device],
             _words)


# -- the check --------------------------------------------------------------------------------
def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under `root` with its size and mtime (directories by their listing)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            if p.is_file() else (-1, 0) for p in root.rglob("*")}


@pytest.fixture
def no_servers(monkeypatch):
    """A case that wrongly got through would start a server and never return."""
    import uvicorn

    def refuse(*_args, **_kwargs):
        raise AssertionError("a server was started: the mistake was not caught")

    monkeypatch.setattr(uvicorn, "run", refuse)
    monkeypatch.setattr(uvicorn.Server, "serve", refuse)
    from pathrl.mcp_server import server

    monkeypatch.setattr(server, "serve", refuse)


def run_main(args: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["pathrl", *args])
    with pytest.raises(SystemExit) as done:
        main()
    captured = capsys.readouterr()
    return done.value.code, captured.out, captured.err


@pytest.mark.parametrize("case", [
    pytest.param(name, marks=pytest.mark.xfail(reason=OPEN[name], strict=True))
    if name in OPEN else name for name in CASES])
def test_command_on_a_hostile_file_is_one_line_and_writes_nothing(
        case, lib, tmp_path, monkeypatch, capsys, no_servers) -> None:
    if READ_ONLY.exists() or not READ_ONLY.parent.is_dir():
        pytest.skip("no sysfs to write into")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # a command writing to the current directory is caught too
    args = CASES[case].build(lib, work)
    before, library = _snapshot(work), _snapshot(lib.root)
    code, out, err = run_main(args, monkeypatch, capsys)
    lines = err.strip().splitlines()
    assert "Traceback" not in out + err, err
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, err)
    assert CASES[case].expected in lines[0], lines[0]
    assert _snapshot(work) == before
    assert _snapshot(lib.root) == library
    assert not READ_ONLY.exists()


@pytest.mark.parametrize("case", ["schema show: --schema truncated", "data stats: --data binary",
                                  "doctor: --config truncated"])
def test_console_script_prints_the_same_one_line(case, lib, tmp_path) -> None:
    """Through the installed script: nothing else reaches stderr (warnings, progress)."""
    import os
    import subprocess

    script = Path(sys.executable).with_name("pathrl")
    if not script.exists():
        pytest.skip("pathrl console script not installed")
    args = CASES[case].build(lib, tmp_path)
    proc = subprocess.run([str(script), *args], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env={**os.environ, "COLUMNS": "60"})
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and CASES[case].expected in lines[0]
