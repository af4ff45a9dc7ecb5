"""Process-wide settings: the `pathrl` command makes them, importing pathrl makes none.

A library must not reconfigure the process that imports it (a notebook, a web server, a test
suite), so every process-wide setting pathrl wants lives here, and `pathrl.cli.main` applies it
first thing, before any command imports torch or transformers (`import pathrl.cli` loads
neither). Each one is a default: a variable the user already set wins.

A program that imports pathrl and wants the same (a benchmark script on a shared machine) calls
`prepare_command_environment()` before it imports torch.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

COMMAND_ENVIRONMENT: dict[str, str] = {
    # OpenMP's default busy-waiting threads thrash when the cores are shared (a 2-core CI
    # machine, a training run beside a test suite): measured here, a MiniLM forward went from
    # 0.23 s to 1.45 s. Passive waiting costs nothing when the cores are free. Read once, when
    # torch loads its OpenMP runtime.
    "OMP_WAIT_POLICY": "PASSIVE",
    # Every model is local (packaged or a directory): never reach for the Hugging Face Hub, fail
    # fast and clearly. Read once, when huggingface_hub is imported.
    "HF_HUB_OFFLINE": "1",
    # Our own progress bars and messages tell the story: no transformers notices, no tqdm bars
    # while loading or saving weights.
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}


def prepare_command_environment(
        environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set each `COMMAND_ENVIRONMENT` default that `environ` (the process environment) does not
    already hold; return the ones set. Effective only before torch and transformers load."""
    target = os.environ if environ is None else environ
    added = {name: value for name, value in COMMAND_ENVIRONMENT.items() if name not in target}
    target.update(added)
    return added
