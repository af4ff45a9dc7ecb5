"""Configs from YAML plus `--set key=value` overrides, typed by the dataclass fields (LLM trainers,
saved router configs).

    config = load_config(DPOConfig, "dpo.yaml", ["beta=0.2", "lora.r=8", "data.langs=en"])
    text = dump_config(config)            # the YAML a run writes beside its outputs

Any config dataclass works. Values are converted to the field's declared type (int, float,
bool, str, Literal choices, list/tuple, Optional, nested dataclasses); nested fields take
dotted keys (`lora.r`), and an Optional nested section that is off (`lora: null`) is switched
on by setting one of its keys. `none`/`null` sets an Optional field to None. An unknown key is
an error that lists the valid keys at that level; a bad value names the key and the type
wanted. Every error is a one-line `PathrlError`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pathrl.errors import PathrlError

T = TypeVar("T")

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NONE = {"none", "null", "~"}


def field_types(cls: type) -> dict[str, Any]:
    """Field name -> resolved type annotation of a config dataclass."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _dataclass_in(annotation: Any) -> type | None:
    """The dataclass an annotation is (or is Optional of), else None."""
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if _is_union(annotation) and len(args) == 1:
        return _dataclass_in(args[0])
    return None


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _bad(key: str, value: Any, wanted: str) -> PathrlError:
    return PathrlError(f"config key '{key}': {value!r} is not {wanted}")


def coerce(value: Any, annotation: Any, key: str) -> Any:
    """`value` (from YAML, or a `--set` string) as an instance of `annotation`."""
    if annotation is Any:
        return value
    nested = _dataclass_in(annotation)
    origin = typing.get_origin(annotation)
    if _is_union(annotation):
        args = typing.get_args(annotation)
        if type(None) in args and (value is None or (
                isinstance(value, str) and value.strip().lower() in _NONE)):
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:  # Optional[X]: X's own error is the clearest
            return coerce(value, options[0], key)
        for option in options:
            with contextlib.suppress(PathrlError):
                return coerce(value, option, key)
        raise _bad(key, value, " or ".join(_type_name(o) for o in options))
    if nested is not None:
        if isinstance(value, nested):
            return value
        if not isinstance(value, Mapping):
            raise _bad(key, value, f"a section of {nested.__name__} fields")
        return config_from_dict(nested, value, prefix=f"{key}.")
    if origin is typing.Literal:
        choices = typing.get_args(annotation)
        for choice in choices:
            try:
                if coerce(value, type(choice), key) == choice:
                    return choice
            except PathrlError:
                continue
        raise PathrlError(f"config key '{key}': {value!r} is not one of "
                          f"{', '.join(map(str, choices))}")
    if origin in (list, tuple, Sequence, typing.Sequence):
        return _coerce_sequence(value, annotation, key)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise _bad(key, value, "a boolean (true/false)")
    if annotation is int:
        if isinstance(value, bool):
            raise _bad(key, value, "an integer")
        if isinstance(value, int):
            return value
        number = _number(value, key, "an integer")
        if not float(number).is_integer():
            raise _bad(key, value, "an integer")
        return int(number)
    if annotation is float:
        if isinstance(value, bool):
            raise _bad(key, value, "a number")
        return float(_number(value, key, "a number"))
    if annotation is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise _bad(key, value, "a string")
    if isinstance(annotation, type) and isinstance(value, annotation):
        return value
    raise PathrlError(f"config key '{key}': fields of type {_type_name(annotation)} cannot be "
                      "set from a config file")


def _number(value: Any, key: str, wanted: str) -> float | int:
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            pass
    raise _bad(key, value, wanted)


def _coerce_sequence(value: Any, annotation: Any, key: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    item_type = args[0] if args else Any
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import yaml

            try:
                value = yaml.safe_load(text)
            except yaml.YAMLError:
                raise _bad(key, value, "a list") from None
        else:
            value = [part.strip() for part in text.split(",") if part.strip()]
    if not isinstance(value, (list, tuple)):
        raise _bad(key, value, "a list")
    items = [coerce(item, item_type, f"{key}[{i}]") for i, item in enumerate(value)]
    return tuple(items) if origin is tuple else items


def valid_keys(cls: type, prefix: str = "") -> list[str]:
    """Every settable key of a config dataclass, nested sections as dotted keys."""
    keys = []
    for name, annotation in field_types(cls).items():
        nested = _dataclass_in(annotation)
        if nested is not None:
            keys += valid_keys(nested, f"{prefix}{name}.")
            if nested is not annotation:  # Optional section: it can be switched off
                keys.append(f"{prefix}{name}")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def _unknown(key: str, cls: type, prefix: str) -> PathrlError:
    return PathrlError(f"unknown config key '{key}' (valid: {', '.join(valid_keys(cls, prefix))})")


def config_from_dict(cls: type[T], data: Mapping[str, Any], prefix: str = "") -> T:
    """Build `cls` from a mapping (missing keys keep their defaults; nested mappings build
    nested sections). The dataclass's own checks (`__post_init__`) run as usual."""
    if not isinstance(data, Mapping):
        raise PathrlError(f"config{' section ' + prefix.rstrip('.') if prefix else ''} must be "
                          f"a mapping of keys to values, got {type(data).__name__}")
    types_ = field_types(cls)
    kwargs = {}
    for key, value in data.items():
        if key not in types_:
            raise _unknown(f"{prefix}{key}", cls, prefix)
        kwargs[key] = coerce(value, types_[key], f"{prefix}{key}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise PathrlError(f"cannot build {cls.__name__}: {exc}") from None


def config_to_dict(config: Any) -> dict[str, Any]:
    """Plain nested dict of a config (tuples as lists), ready for YAML or JSON."""
    def plain(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(dataclasses.asdict(config))


def dump_config(config: Any) -> str:
    import yaml

    return yaml.safe_dump(config_to_dict(config), sort_keys=False, allow_unicode=True)


def parse_override(text: str) -> tuple[str, str]:
    """'key=value' -> (key, value); the value may contain '='."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise PathrlError(f"--set expects key=value, got '{text}'")
    return key.strip(), value


def _set_dotted(raw: dict[str, Any], cls: type, key: str, value: str) -> None:
    """Put `value` at dotted `key` of the raw mapping, checking each part against `cls`."""
    parts = key.split(".")
    node, node_cls, prefix = raw, cls, ""
    for depth, part in enumerate(parts):
        types_ = field_types(node_cls)
        if part not in types_:
            raise _unknown(f"{prefix}{part}", node_cls, prefix)
        if depth == len(parts) - 1:
            node[part] = value
            return
        nested = _dataclass_in(types_[part])
        if nested is None:
            raise PathrlError(f"config key '{prefix}{part}' is a value, not a section: "
                              f"'{key}' cannot be set")
        child = node.get(part)
        if not isinstance(child, dict):  # None (a section switched off) or not given
            child = {}
            node[part] = child
        node, node_cls, prefix = child, nested, f"{prefix}{part}."


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise PathrlError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PathrlError(f"cannot parse {path}{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PathrlError(f"cannot read {path}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PathrlError(f"{path} must hold a mapping of config keys, got "
                          f"{type(data).__name__}")
    return data


def load_config(cls: type[T], path: str | Path | None = None,
                overrides: Sequence[str] = ()) -> T:
    """`cls` from the YAML file at `path` (optional), then `overrides` ('key=value', dotted
    keys for nested sections) applied in order."""
    raw = _deep_copy(read_yaml_mapping(path)) if path is not None else {}
    for text in overrides:
        key, value = parse_override(text)
        _set_dotted(raw, cls, key, value)
    return config_from_dict(cls, raw)


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data


class ConfigChecks:
    """Collects what is wrong with a config so that one error lists every problem.

        checks = ConfigChecks(self)
        checks.at_least(1, "batch_size", "epochs")
        checks.require(self.lr > 0, f"lr must be > 0, got {self.lr}")
        checks.raise_if_any("bad GRPO config")

    The checks every trainer repeats (counts, the learning-rate schedule, sampling) live here,
    worded the same for every config."""

    def __init__(self, config: Any):
        self.config = config
        self.problems: list[str] = []

    def require(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)

    def at_least(self, minimum: int, *names: str) -> None:
        for name in names:
            value = getattr(self.config, name)
            self.require(value >= minimum, f"{name} must be >= {minimum}, got {value}")

    def schedule(self, schedulers: Sequence[str]) -> None:
        """`learning_rate` > 0, `lr_scheduler` one of `schedulers`, `warmup_ratio` in [0, 1),
        and `keep_best` only with `eval_every`."""
        c = self.config
        self.require(c.learning_rate > 0, f"learning_rate must be > 0, got {c.learning_rate}")
        self.require(c.lr_scheduler in schedulers, f"unknown lr_scheduler '{c.lr_scheduler}' "
                     f"(known: {', '.join(schedulers)})")
        self.require(0 <= c.warmup_ratio < 1,
                     f"warmup_ratio must be in [0, 1), got {c.warmup_ratio}")
        self.require(not (c.keep_best and not c.eval_every), "keep_best needs eval_every > 0")

    def sampling(self) -> None:
        """`temperature` > 0 and `top_p` in (0, 1]."""
        c = self.config
        self.require(c.temperature > 0,
                     f"temperature must be > 0 (sampling), got {c.temperature}")
        self.require(0 < c.top_p <= 1, f"top_p must be in (0, 1], got {c.top_p}")

    def raise_if_any(self, title: str | None = None) -> None:
        """One `PathrlError` with every problem (`title: a; b`), or nothing."""
        if self.problems:
            text = "; ".join(self.problems)
            raise PathrlError(f"{title}: {text}" if title else text)
