"""Importing pathrl changes nothing in the process; the `pathrl` command makes its settings.

The import probe runs in a fresh interpreter: it first runs every module-level third-party
import statement pathrl's modules hold (their own side effects are theirs, not pathrl's), takes
a snapshot of the process state, imports every module of the package, and reports what changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pathrl
from pathrl.environment import COMMAND_ENVIRONMENT, prepare_command_environment

PACKAGE_DIR = Path(pathrl.__file__).parent

PROBE = r"""
import ast, importlib, json, logging, os, pkgutil, signal, sys, warnings
from pathlib import Path

package_dir = Path(sys.argv[1])

def third_party_statements():
    # Module-level imports only (an import inside a function runs when it is called).
    for path in sorted(package_dir.rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            top = {name.split(".")[0] for name in names}
            if top & (set(sys.stdlib_module_names) | {"pathrl", "__future__"}):
                continue
            yield ast.unparse(node)

for statement in sorted(set(third_party_statements())):
    exec(statement, {})
import gymnasium, matplotlib, torch  # the state below reads them

def loggers():
    known = logging.Logger.manager.loggerDict.items()
    return {name: [lg.level, len(lg.handlers), lg.disabled, lg.propagate]
            for name, lg in [("", logging.root), *known] if isinstance(lg, logging.Logger)}

def state():
    return {
        "environ": dict(os.environ),
        "matplotlib_backend": repr(matplotlib.get_backend(auto_select=False)),
        "matplotlib_rcParams": {k: repr(v) for k, v in matplotlib.rcParams.copy().items()},
        "warnings_filters": [repr(f) for f in warnings.filters],
        "logging_disable": logging.root.manager.disable,
        "torch_threads": torch.get_num_threads(),
        "sigint_handler": repr(signal.getsignal(signal.SIGINT)),
        "excepthook": repr(sys.excepthook),
        "sys_path": list(sys.path),
    }

before, loggers_before, gym_before = state(), loggers(), set(gymnasium.registry)
modules = ["pathrl"] + sorted(m.name for m in pkgutil.walk_packages([str(package_dir)],
                                                                   "pathrl."))
for name in modules:
    importlib.import_module(name)
after, loggers_after = state(), loggers()
changed = {}
for key in before:
    if isinstance(before[key], dict):
        diff = {k: [before[key].get(k), after[key].get(k)]
                for k in set(before[key]) | set(after[key])
                if before[key].get(k) != after[key].get(k)}
    else:
        diff = [before[key], after[key]] if before[key] != after[key] else None
    if diff:
        changed[key] = diff
# A logger pathrl creates (getLogger) is no change; configuring one (level, handler) is.
configured = {name: cfg for name, cfg in loggers_after.items()
              if loggers_before.get(name, [0, 0, False, True]) != cfg}
print(json.dumps({"modules": modules, "changed": changed, "loggers": configured,
                  "new_gymnasium_ids": sorted(set(gymnasium.registry) - gym_before)}))
"""


def _clean_environment() -> dict[str, str]:
    """This process's environment without what the command (and the test suite's conftest)
    set, and with no matplotlib backend chosen: a probe that finds one set caught pathrl."""
    env = {k: v for k, v in os.environ.items() if k not in COMMAND_ENVIRONMENT}
    env.pop("MPLBACKEND", None)
    return env


def _run_probe(code: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=300, env=_clean_environment())
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_importing_every_module_changes_no_process_state() -> None:
    report = _run_probe(PROBE, str(PACKAGE_DIR))
    modules = set(report["modules"])
    assert {"pathrl", "pathrl.cli", "pathrl.environment", "pathrl.backbones", "pathrl.plots",
            "pathrl.doctor", "pathrl.doctor.report", "pathrl.router.scorer",
            "pathrl.router.env", "pathrl.data.charts", "pathrl.warmup.report", "pathrl.serve",
            "pathrl.mcp_server", "pathrl.generate", "pathrl.rl.trainer"} <= modules
    assert len(modules) > 80  # every module, not a sample
    assert report["changed"] == {}
    assert report["loggers"] == {}
    # The one registration at import (documented): Gymnasium's namespaced convention.
    assert report["new_gymnasium_ids"] == ["pathrl/Router-v0"]


def test_the_command_module_loads_no_torch_so_main_comes_first() -> None:
    """`pathrl.cli.main` sets OMP_WAIT_POLICY and the Hub flags; they only work if nothing
    loaded torch, transformers or huggingface_hub before main runs."""
    report = _run_probe(
        "import json, os, sys; before = dict(os.environ); import pathrl.cli; "
        "heavy = ('torch', 'transformers', 'huggingface_hub', 'matplotlib'); "
        "print(json.dumps({'loaded': [m for m in heavy if m in sys.modules], "
        "'environ_changed': dict(os.environ) != before}))")
    assert report == {"loaded": [], "environ_changed": False}


def test_prepare_command_environment_sets_only_what_the_user_did_not() -> None:
    environ = {"OMP_WAIT_POLICY": "ACTIVE", "HOME": "/home/me"}
    added = prepare_command_environment(environ)
    assert environ["OMP_WAIT_POLICY"] == "ACTIVE"  # the user's choice wins
    assert "OMP_WAIT_POLICY" not in added
    assert added == {k: v for k, v in COMMAND_ENVIRONMENT.items() if k != "OMP_WAIT_POLICY"}
    assert environ == {**COMMAND_ENVIRONMENT, "OMP_WAIT_POLICY": "ACTIVE", "HOME": "/home/me"}
    assert prepare_command_environment(environ) == {}  # idempotent
    assert COMMAND_ENVIRONMENT["OMP_WAIT_POLICY"] == "PASSIVE"
    assert COMMAND_ENVIRONMENT["HF_HUB_OFFLINE"] == "1"


def test_main_prepares_the_environment_before_running_a_command(monkeypatch) -> None:
    from pathrl.cli import main

    for name in COMMAND_ENVIRONMENT:
        monkeypatch.setenv(name, "")  # records the value to put back after the test
        monkeypatch.delenv(name)
    monkeypatch.setenv("TRANSFORMERS_VERBOSITY", "info")
    monkeypatch.setattr(sys, "argv", ["pathrl", "--help"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 0
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["TRANSFORMERS_VERBOSITY"] == "info"


def test_loading_a_model_puts_back_the_callers_transformers_logging() -> None:
    from transformers.utils import logging as hf_logging

    from pathrl.backbones import load_tokenizer, resolve_backbone

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    try:
        hf_logging.set_verbosity_info()
        tokenizer = load_tokenizer(resolve_backbone("minilm"))
        assert tokenizer.pad_token is not None
        assert hf_logging.get_verbosity() == hf_logging.INFO  # not left at "error"
        assert hf_logging.is_progress_bar_enabled() == bars
    finally:
        hf_logging.set_verbosity(verbosity)


def test_plotting_leaves_the_callers_matplotlib_alone(tmp_path) -> None:
    import matplotlib

    from pathrl.demo import demo_schema
    from pathrl.plots import draw_schema, training_curves
    from pathrl.warmup.report import plot_learning_curves

    backend = matplotlib.get_backend(auto_select=False)
    rc = matplotlib.rcParams.copy()
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps({"step": i, "reward_mean": -0.1 * i}) + "\n"
                           for i in range(4)))
    written = [draw_schema(demo_schema(), tmp_path / "schema.png"),
               training_curves(log, tmp_path / "curves.png"),
               plot_learning_curves({}, tmp_path / "warmup.png")]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in written)
    assert matplotlib.get_backend(auto_select=False) == backend
    assert dict(matplotlib.rcParams.copy()) == dict(rc)
