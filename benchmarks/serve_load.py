"""Load test of `pathrl serve`: warm one-question /route latency, then throughput under load.

Starts the real server (`python -m pathrl.cli serve`, a subprocess on 127.0.0.1 and a free
port, so the clients do not share its interpreter) and:

1. sends `--warm` requests (not measured), then `--n-latency` sequential one-question /route
   requests on one keep-alive connection: latency p50 / p90 / p99;
2. runs `--clients` concurrent clients (threads, one keep-alive connection each, one question
   per request) for `--seconds`: questions/s, errors, latency under load, and the server's
   batching as the router saw it;
3. samples the server's resident memory (psutil) before and after the load, and its peak.

Prints one JSON object, with the targets it reports against (never asserted): p50 <= 30 ms,
p99 <= 100 ms, >= 100 questions/s with 16 clients, 0 errors, memory flat.

    python benchmarks/serve_load.py --model runs/demo/scorer/ppo/model
    python benchmarks/serve_load.py --model runs/demo/scorer/ppo/model --seconds 20

Questions come from benchmarks/realistic_demo.jsonl (the demo schema; pass --questions for
another JSONL with a "question" field, and --schema/--db for another schema).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from itertools import cycle
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).parent
TARGETS = {"p50_ms": 30.0, "p99_ms": 100.0, "questions_per_s": 100.0, "errors": 0,
           "memory_growth_mb": 50.0}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, type=Path, help="Router directory.")
    parser.add_argument("--schema", type=Path, help="Schema file (default: the demo).")
    parser.add_argument("--db", help="Database URL (with --schema).")
    parser.add_argument("--seconds", type=float, default=60.0, help="Length of the load phase.")
    parser.add_argument("--clients", type=int, default=16, help="Concurrent clients.")
    parser.add_argument("--warm", type=int, default=20, help="Unmeasured warm-up requests.")
    parser.add_argument("--n-latency", type=int, default=200,
                        help="Sequential requests timed for latency.")
    parser.add_argument("--batch-window-ms", type=float, default=5.0,
                        help="The server's batching window.")
    parser.add_argument("--questions", type=Path, default=HERE / "realistic_demo.jsonl",
                        help="JSONL file with a 'question' field per line.")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0 or args.n_latency < 1 or args.warm < 0:
        parser.error("--clients, --seconds and --n-latency must be positive, --warm >= 0")
    if not (args.model / "router.json").is_file():
        parser.error(f"{args.model} is not a saved router (no router.json)")
    return args


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1e3 for s in seconds]
    return {"p50_ms": round(_percentile(ms, 50), 2), "p90_ms": round(_percentile(ms, 90), 2),
            "p99_ms": round(_percentile(ms, 99), 2), "mean_ms": round(statistics.fmean(ms), 2),
            "max_ms": round(max(ms), 2), "n": len(ms)}


class Client:
    """One keep-alive HTTP connection posting one-question /route requests."""

    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def route(self, question: str) -> int:
        body = json.dumps({"question": question})
        self.connection.request("POST", "/route", body=body,
                                headers={"Content-Type": "application/json"})
        response = self.connection.getresponse()
        response.read()
        return response.status

    def close(self) -> None:
        self.connection.close()


def _start_server(args: argparse.Namespace, port: int) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "pathrl.cli", "serve", "--model", str(args.model),
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
               "--batch-window-ms", str(args.batch_window_ms)]
    if args.schema is not None:
        command += ["--schema", str(args.schema)]
    if args.db is not None:
        command += ["--db", args.db]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def _get_json(port: int, path: str) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def _wait_healthy(server: subprocess.Popen[str], port: int, timeout_s: float = 300) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        if server.poll() is not None:
            raise SystemExit(f"the server exited: {server.stderr.read() if server.stderr else ''}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return time.perf_counter() - start
        except OSError:
            time.sleep(0.25)
    raise SystemExit(f"the server did not answer /health within {timeout_s:.0f} s")


@dataclass
class LoadResult:
    questions: int = 0
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, ok: bool, seconds: float, kind: str = "") -> None:
        with self.lock:
            if ok:
                self.questions += 1
                self.latencies.append(seconds)
            else:
                self.errors += 1
                self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1


def _client_loop(port: int, questions: list[str], offset: int, deadline: float,
                 result: LoadResult) -> None:
    client = Client(port)
    source = cycle(questions[offset:] + questions[:offset])
    try:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                status = client.route(next(source))
                result.record(status == 200, time.perf_counter() - start, f"http {status}")
            except (OSError, http.client.HTTPException) as exc:
                result.record(False, 0.0, type(exc).__name__)
                client.close()
                client = Client(port)
    finally:
        client.close()


def _load(port: int, questions: list[str], clients: int, seconds: float,
          server: psutil.Process) -> tuple[LoadResult, float, list[float]]:
    result = LoadResult()
    deadline = time.perf_counter() + seconds
    threads = [threading.Thread(target=_client_loop, daemon=True,
                                args=(port, questions, i * 7 % len(questions), deadline,
                                      result))
               for i in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    rss_samples = []
    while any(t.is_alive() for t in threads):
        rss_samples.append(server.memory_info().rss)
        time.sleep(1.0)
    for thread in threads:
        thread.join()
    return result, time.perf_counter() - start, rss_samples


def run(args: argparse.Namespace) -> dict[str, Any]:
    questions = [json.loads(line)["question"] for line in args.questions.read_text().splitlines()
                 if line.strip()]
    port = _free_port()
    server = _start_server(args, port)
    try:
        startup_s = _wait_healthy(server, port)
        process = psutil.Process(server.pid)
        client = Client(port)
        source = cycle(questions)
        for _ in range(args.warm):
            client.route(next(source))
        rss_warm = process.memory_info().rss
        latencies, errors = [], 0
        for _ in range(args.n_latency):
            start = time.perf_counter()
            status = client.route(next(source))
            latencies.append(time.perf_counter() - start)
            errors += status != 200
        client.close()
        rss_before_load = process.memory_info().rss
        cpu_before = process.cpu_times()
        health_before = _get_json(port, "/health")
        load, wall, rss_samples = _load(port, questions, args.clients, args.seconds, process)
        cpu_after = process.cpu_times()
        rss_end = process.memory_info().rss
        health = _get_json(port, "/health")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    mb = 1 / 2**20
    sequential = _summary_ms(latencies)
    under_load = _summary_ms(load.latencies) if load.latencies else {}
    questions_per_s = load.questions / wall
    growth = (rss_end - rss_before_load) * mb
    calls = health["router_calls"] - health_before["router_calls"]
    routed = health["questions_routed"] - health_before["questions_routed"]
    report = {
        "benchmark": "serve_load",
        "model": str(args.model),
        "config": {"seconds": args.seconds, "clients": args.clients, "warm": args.warm,
                   "n_latency": args.n_latency, "batch_window_ms": args.batch_window_ms,
                   "questions": len(questions)},
        "server_startup_s": round(startup_s, 2),
        "latency_sequential": {**sequential, "errors": errors},
        "throughput": {"questions_per_s": round(questions_per_s, 1),
                       "questions": load.questions, "errors": load.errors,
                       "error_kinds": load.error_kinds, "wall_s": round(wall, 2),
                       "latency_under_load": under_load,
                       "router_calls": calls,
                       "mean_batch": round(routed / max(calls, 1), 2),
                       "largest_batch": health["largest_batch"],
                       "server_cpu_s": round((cpu_after.user + cpu_after.system)
                                             - (cpu_before.user + cpu_before.system), 2)},
        "memory": {"rss_after_warm_mb": round(rss_warm * mb, 1),
                   "rss_before_load_mb": round(rss_before_load * mb, 1),
                   "rss_end_mb": round(rss_end * mb, 1),
                   "rss_peak_mb": round(max([rss_end, *rss_samples]) * mb, 1),
                   "growth_mb": round(growth, 1)},
        "targets": TARGETS,
        "meets": {"p50": sequential["p50_ms"] <= TARGETS["p50_ms"],
                  "p99": sequential["p99_ms"] <= TARGETS["p99_ms"],
                  "throughput": questions_per_s >= TARGETS["questions_per_s"],
                  "errors": load.errors + errors == TARGETS["errors"],
                  "memory_flat": growth <= TARGETS["memory_growth_mb"]},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average": [round(x, 2) for x in os.getloadavg()]},
    }
    return report


def main(argv: list[str] | None = None) -> None:
    print(json.dumps(run(_parse(argv)), indent=2))


if __name__ == "__main__":
    main()
