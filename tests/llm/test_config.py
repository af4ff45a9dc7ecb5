"""pathrl.config: YAML + --set overrides typed by the dataclass fields, nested sections,
clear one-line errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from pathrl.config import dump_config, load_config, valid_keys
from pathrl.errors import PathrlError
from pathrl.llm.dpo import DPOConfig
from pathrl.llm.models import LoraSettings
from pathrl.llm.sft import LLMSFTConfig


@dataclass
class Inner:
    size: int = 2
    names: list[str] = field(default_factory=lambda: ["a"])


@dataclass
class Outer:
    rate: float = 0.1
    steps: int = 10
    flag: bool = False
    mode: Literal["fast", "slow"] = "fast"
    note: str | None = None
    inner: Inner = field(default_factory=Inner)
    optional: Inner | None = None
    pair: tuple[int, ...] = (1, 2)


def test_yaml_then_overrides_with_type_conversion(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("rate: 1e-4\nsteps: 5\ninner:\n  size: 7\n")  # PyYAML reads 1e-4 as text
    config = load_config(Outer, path, ["flag=yes", "mode=slow", "inner.names=x, y",
                                       "pair=[3, 4]", "note=hello", "steps=2e3"])
    assert config == Outer(rate=1e-4, steps=2000, flag=True, mode="slow", note="hello",
                           inner=Inner(size=7, names=["x", "y"]), pair=(3, 4))
    assert isinstance(config.rate, float)


def test_optional_sections_switch_on_and_off():
    assert load_config(Outer, None, ["optional.size=3"]).optional == Inner(size=3)
    assert load_config(Outer, None, ["note=none"]).note is None
    on = load_config(LLMSFTConfig, None, ["lora.r=8"])
    assert on.lora == LoraSettings(r=8)
    assert load_config(LLMSFTConfig, None, ["lora.r=8", "lora=null"]).lora is None


def test_dump_then_load_round_trips(tmp_path):
    config = load_config(DPOConfig, None, ["beta=0.3", "lora.r=4", "data.langs=en",
                                           "data.n_train=32"])
    path = tmp_path / "config.yaml"
    path.write_text(dump_config(config))
    assert load_config(DPOConfig, path) == config
    assert load_config(DPOConfig, path, ["beta=0.2"]).beta == 0.2


@pytest.mark.parametrize(("overrides", "message"), [
    (["stesp=3"], r"unknown config key 'stesp' \(valid: rate, steps, flag, mode, note, "
                  r"inner.size, inner.names, optional.size, optional.names, optional, pair\)"),
    (["inner.sise=3"], r"unknown config key 'inner.sise' \(valid: inner.size, inner.names\)"),
    (["steps=many"], r"config key 'steps': 'many' is not an integer"),
    (["steps=2.5"], r"config key 'steps': '2.5' is not an integer"),
    (["flag=maybe"], r"config key 'flag': 'maybe' is not a boolean"),
    (["mode=medium"], r"config key 'mode': 'medium' is not one of fast, slow"),
    (["rate.x=1"], r"config key 'rate' is a value, not a section"),
    (["rate"], r"--set expects key=value, got 'rate'"),
    (["inner=3"], r"config key 'inner': '3' is not a section of Inner fields"),
])
def test_bad_overrides_are_one_line_errors(overrides, message):
    with pytest.raises(PathrlError, match=message) as info:
        load_config(Outer, None, overrides)
    assert "\n" not in str(info.value)


def test_bad_files_are_one_line_errors(tmp_path):
    with pytest.raises(PathrlError, match="config file not found"):
        load_config(Outer, tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("rate: [1, 2\n")
    with pytest.raises(PathrlError, match=r"cannot parse .*broken.yaml \(line \d+\)"):
        load_config(Outer, broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(PathrlError, match="must hold a mapping of config keys"):
        load_config(Outer, listing)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("inner:\n  colour: red\n")
    with pytest.raises(PathrlError, match="unknown config key 'inner.colour'"):
        load_config(Outer, unknown)


def test_the_trainer_configs_own_checks_run_after_overrides():
    with pytest.raises(PathrlError, match="batch_size must be >= 1"):
        load_config(LLMSFTConfig, None, ["batch_size=0"])
    with pytest.raises(PathrlError, match="unknown lr_scheduler 'cosin'"):
        load_config(LLMSFTConfig, None, ["lr_scheduler=cosin"])
    keys = valid_keys(DPOConfig)
    assert {"beta", "loss_type", "lora", "lora.r", "data.n_train", "data.langs"} <= set(keys)


def test_one_error_lists_every_problem_of_a_trainer_config():
    from pathrl.llm.grpo import GRPOConfig
    from pathrl.llm.ppo import TokenPPOConfig

    with pytest.raises(PathrlError) as info:
        GRPOConfig(num_generations=0, top_p=1.5, lr_scheduler="cosin")
    message = str(info.value)
    assert message.startswith("bad GRPO config: ")
    for problem in ("num_generations must be >= 1, got 0", "top_p must be in (0, 1], got 1.5",
                    "unknown lr_scheduler 'cosin'"):
        assert problem in message
    with pytest.raises(PathrlError, match=r"bad token PPO config: .*temperature must be > 0.*"
                                          r"keep_best needs eval_every > 0"):
        TokenPPOConfig(temperature=0.0, keep_best=True, eval_every=0)
