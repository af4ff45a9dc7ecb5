"""Procedural schemas with data, to train a router on many schemas and test it at scale.

    from pathrl.synth import generate_schema, generate_erp_schema, populate_sqlite
    schema = generate_schema("hospital", n_tables=8, seed=3, naming="camel")
    populate_sqlite(schema, "hospital.sqlite", seed=3)

The names are imported lazily so that `pathrl --help` does not load Faker or SQLAlchemy.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "DOMAINS": "pathrl.synth.domains",
    "NAMING_STYLES": "pathrl.synth.generate",
    "generate_schema": "pathrl.synth.generate",
    "generate_erp_schema": "pathrl.synth.generate",
    "generate_rows": "pathrl.synth.populate",
    "populate_sqlite": "pathrl.synth.populate",
    "PopulateResult": "pathrl.synth.populate",
    "plan_schema_set": "pathrl.synth.corpus",
    "write_schema_set": "pathrl.synth.corpus",
    "write_erp_set": "pathrl.synth.corpus",
    "measure_erp": "pathrl.synth.corpus",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'pathrl.synth' has no attribute '{name}'")
    return getattr(import_module(_EXPORTS[name]), name)
