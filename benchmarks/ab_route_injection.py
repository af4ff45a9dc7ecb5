"""The route-injection A/B of docs/method.md §1.4 on a labelled split. Prints JSON.

For each question: (a) an LLM writes the query from the schema alone, (b) the same LLM also
gets the route the router chose (join keys hop by hop) and the entity, (c) pathrl's own
generator answers. Per column: execution success rate, empty-result rate, rows equal to the
labelled route's rows (rules: docs/generate.md), overall and on the questions with joins.

    .venv/bin/python benchmarks/ab_route_injection.py --model runs/demo/scorer/ppo/model \
        --data runs/demo/data --split test --limit 30 --out runs/ab/smollm2.json

The LLM defaults to the packaged SmolLM2-135M-Instruct (offline, greedy); --llm-base-url /
--llm-model use an OpenAI-compatible endpoint instead. `pathrl ab` runs the same thing with a
Rich table; this script adds the timings and prints the summary as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from pathrl.errors import PathrlError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="Router directory.")
    parser.add_argument("--data", type=Path, default=Path("runs/demo/data"))
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=None, help="The split's first N.")
    parser.add_argument("--backend", default="sqlite", help="sqlite | mongo (demo data).")
    parser.add_argument("--llm-local", default=None, help="smollm2 (default) or a HF dir.")
    parser.add_argument("--llm-base-url", default=None)
    parser.add_argument("--llm-model", default=None)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--few-shot", type=int, default=1, help="Worked examples: 0 or 1.")
    parser.add_argument("--out", type=Path, default=None, help="Also write the full report.")
    parser.add_argument("--force", action="store_true", help="Overwrite --out.")
    args = parser.parse_args(argv)

    from pathrl.data import load_split
    from pathrl.generate.ab import run_ab
    from pathrl.generate.backends import make_llm
    from pathrl.generate.runner import RoutedGenerator
    from pathrl.io import atomic_write_text, check_output_file
    from pathrl.service import open_service

    try:
        if args.out is not None:
            check_output_file(args.out, args.force, "--out")
        start = time.perf_counter()
        service = open_service(args.model, backend=args.backend)
        llm = make_llm(base_url=args.llm_base_url, model=args.llm_model, local=args.llm_local,
                       max_new_tokens=args.max_new_tokens)
        examples = load_split(args.data / f"{args.split}.jsonl", service.vocab)
        examples = examples[:args.limit] if args.limit else examples
        generator = RoutedGenerator(service, llm, few_shot=args.few_shot, max_rows=1000)
        report = run_ab(generator, examples,
                        progress=lambda done, total: print(f"{done}/{total} prompts",
                                                           file=sys.stderr, flush=True))
    except PathrlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report.meta.update({"router": str(args.model), "data": str(args.data),
                        "split": args.split, "limit": args.limit,
                        "wall_s": round(time.perf_counter() - start, 1)})
    full = report.to_dict()
    if args.out is not None:
        atomic_write_text(args.out, json.dumps(full, ensure_ascii=False, indent=2,
                                               default=str))
    brief = {key: full[key] for key in ("meta", "summary", "joins_only", "by_hops",
                                        "router_exact_match")}
    brief["seconds_per_prompt"] = round(report.meta["llm_seconds"] / (2 * len(examples)), 2)
    print(json.dumps(brief, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
