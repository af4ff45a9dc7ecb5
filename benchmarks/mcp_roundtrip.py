"""`pathrl mcp` round-trip latency over stdio with the MCP SDK's own client. Prints JSON.

Starts `pathrl mcp --model DIR` as a subprocess (what an agent client does), times the
start-up (spawn to initialised session), warms up, then times `--n` `route_question` calls
end to end (client -> JSON-RPC over pipes -> router -> back) and reports p50 / p99 / mean in
milliseconds. Target (reported, not asserted): p50 <= 100 ms warm.

    .venv/bin/python benchmarks/mcp_roundtrip.py --model runs/demo/scorer/ppo/model --n 100
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

TARGET_MS = 100.0
QUESTIONS = (
    "How many contracts does each supplier have?",
    "Show the change records of the contracts of project Riyadh Railway",
    "list all suppliers in Germany",
    "payments of contract HT-2022-001",
    "项目Riyadh Railway的合同",
    "which employees inspected construction work",
    "invoices of the payments of project Dhaka Bridge",
    "milestones of project Belgrade Airport Terminal",
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def measure(model: Path, n: int, warmup: int, top_k: int) -> dict:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "pathrl.cli", "mcp", "--model", str(model)],
        env={**os.environ, "HF_HUB_OFFLINE": "1"})
    start = time.perf_counter()
    async with Client(params, mode="legacy") as client:
        startup_s = time.perf_counter() - start
        first = time.perf_counter()
        await client.call_tool("route_question", {"question": QUESTIONS[0], "top_k": top_k})
        first_call_ms = (time.perf_counter() - first) * 1e3
        for i in range(warmup):
            await client.call_tool("route_question",
                                   {"question": QUESTIONS[i % len(QUESTIONS)], "top_k": top_k})
        timings = []
        for i in range(n):
            t0 = time.perf_counter()
            result = await client.call_tool(
                "route_question", {"question": QUESTIONS[i % len(QUESTIONS)], "top_k": top_k})
            timings.append((time.perf_counter() - t0) * 1e3)
            if result.is_error:
                raise SystemExit(f"route_question failed: {result.content[0].text}")
    p50 = statistics.median(timings)
    return {"model": str(model), "transport": "stdio", "tool": "route_question",
            "top_k": top_k, "n": n, "warmup": warmup,
            "startup_s": round(startup_s, 2), "first_call_ms": round(first_call_ms, 1),
            "p50_ms": round(p50, 2), "p99_ms": round(percentile(timings, 0.99), 2),
            "mean_ms": round(statistics.fmean(timings), 2),
            "min_ms": round(min(timings), 2), "max_ms": round(max(timings), 2),
            "target_p50_ms": TARGET_MS, "meets_target": p50 <= TARGET_MS,
            "cpu_count": os.cpu_count()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="Router directory.")
    parser.add_argument("--n", type=int, default=100, help="Timed round trips.")
    parser.add_argument("--warmup", type=int, default=10, help="Untimed calls first.")
    parser.add_argument("--top-k", type=int, default=3)
    args = parser.parse_args()
    if not (args.model / "router.json").is_file():
        parser.error(f"{args.model} is not a saved router (no router.json)")
    if args.n < 1 or args.warmup < 0:
        parser.error("--n must be >= 1 and --warmup >= 0")
    print(json.dumps(anyio.run(measure, args.model, args.n, args.warmup, args.top_k),
                     indent=2))


if __name__ == "__main__":
    main()
