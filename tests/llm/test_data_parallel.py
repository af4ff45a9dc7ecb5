"""Two data-parallel processes launched by `accelerate launch` (gloo on the CPU) train like one
process on the same global batch: same losses, same final weights, within float tolerance."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from llm_fixtures import tiny_lm_dir  # noqa: F401

# Relative tolerance on losses and weights: the gradients of the two processes are summed in
# another order than one process adds its micro-batches (float32).
TOLERANCE = 1e-5

SCRIPT = '''
import sys, torch
from pathrl.llm.models import load_policy
from pathrl.llm.sft import LLMSFTConfig, LLMSFTTrainer, SFTExample
model_dir, out = sys.argv[1], sys.argv[2]
train = [SFTExample([{"role": "user", "content": f"What is {a} plus {b}?"}], str(a + b))
         for a, b in [(1, 2), (3, 4), (5, 6), (7, 8), (2, 9), (4, 4), (6, 1), (8, 3)]]
torch.manual_seed(0)
model, tokenizer = load_policy(model_dir, device="cpu")
config = LLMSFTConfig(learning_rate=1e-2, batch_size=2, gradient_accumulation_steps=2,
                      max_steps=4, warmup_ratio=0.0, lr_scheduler="constant", eval_every=0,
                      seed=3)
trainer = LLMSFTTrainer(model, tokenizer, config, train, [], out)
trainer.fit()
parallel = trainer.parallel
rank, world = (parallel.rank, parallel.world_size) if parallel else (0, 1)
open(f"{out}/rank{rank}_of_{world}", "w").close()
if trainer.is_main_process:
    torch.save(model.state_dict(), f"{out}/weights.pt")
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _losses(out: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_two_processes_match_one_on_the_same_global_batch(tiny_lm_dir, tmp_path):  # noqa: F811
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    assert accelerate is not None, "accelerate's launcher is installed with the package"
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    one, two = tmp_path / "one", tmp_path / "two"
    subprocess.run([sys.executable, str(script), str(tiny_lm_dir), str(one)], check=True,
                   env=env, timeout=300)
    launched = subprocess.run(
        # `--multi_gpu` is accelerate's torchrun path; without GPUs the processes join with
        # gloo on the CPU (`--cpu` would run a single process).
        [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no",
         "--main_process_port", str(_free_port()), str(script), str(tiny_lm_dir), str(two)],
        env=env, timeout=300, capture_output=True, text=True)
    assert launched.returncode == 0, launched.stderr[-2000:]
    assert sorted(p.name for p in two.glob("rank*")) == ["rank0_of_2", "rank1_of_2"]
    assert [p.name for p in one.glob("rank*")] == ["rank0_of_1"]
    losses_one, losses_two = _losses(one), _losses(two)
    assert len(losses_one) == len(losses_two) == 4
    assert losses_two == pytest.approx(losses_one, rel=TOLERANCE)
    assert losses_one[-1] < losses_one[0]  # it trained: equal losses are not two no-ops
    weights_one = torch.load(one / "weights.pt")
    weights_two = torch.load(two / "weights.pt")
    for name, value in weights_one.items():
        torch.testing.assert_close(weights_two[name], value, rtol=TOLERANCE, atol=1e-6)
    # only the main process wrote the log: one line per step, no duplicates
    assert len((two / "metrics.jsonl").read_text().splitlines()) == 4
