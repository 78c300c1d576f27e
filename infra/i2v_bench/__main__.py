"""`make bench`: run the benchmarks, write bench-results/ and print the table.

    python -m i2v_bench                       # everything (a few minutes on 2 cores)
    python -m i2v_bench --quick               # smoke run: smaller everything, written to bench-results/quick/
    python -m i2v_bench --only polling,store  # some sections; the others are kept from results.json
    python -m i2v_bench --quick --only backlog
    python -m i2v_bench --only backlog,long_queue  # the backlog simulation and the local long-queue runs
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SECTIONS = ("polling", "store", "cold_start", "throughput", "backlog", "long_queue")
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "bench-results"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _sections(value: str) -> list[str]:
    names = [name.strip().replace("-", "_") for name in value.split(",") if name.strip()]
    unknown = sorted(set(names) - set(SECTIONS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown section(s) {', '.join(unknown) or '(none)'}; "
                                         f"choose from {', '.join(SECTIONS)}")
    return names


def run_section(name: str, quick: bool, polling_meta: dict, results: dict[str, Any]) -> object:
    started = time.monotonic()
    _log(f"[{name}] running{' (quick)' if quick else ''} ...")
    if name == "polling":
        from i2v_bench import polling

        result = polling.run(quick=quick)
        polling_meta.update(result["meta"])
        rows = result["rows"]
        for row in rows:
            row.update({"jobs": result["meta"]["jobs_per_strategy"], "seed": result["meta"]["seed"],
                        "mix": result["meta"]["mix"]})
        value: object = rows
    elif name == "store":
        from i2v_bench import store_memory

        value = store_memory.run(quick=quick, progress=_log)["rows"]
    elif name == "cold_start":
        from i2v_bench import cold_start

        value = cold_start.run(quick=quick, progress=_log)["rows"]
    elif name == "backlog":
        from i2v_bench import backlog

        adaptive = next((r for r in results.get("polling") or [] if r.get("strategy") == "adaptive"), None)
        value = backlog.run(quick=quick, adaptive=adaptive, progress=_log)["rows"]
    elif name == "long_queue":
        from i2v_bench import long_queue

        value = long_queue.run(quick=quick, progress=_log)
    else:
        from i2v_bench import throughput

        shown = {"done": -1}

        def progress(done: int, total: int, in_flight: int) -> None:
            if sys.stderr.isatty():
                print(f"\r  notifications {done}/{total}  provider in flight {in_flight:2d}", end="",
                      file=sys.stderr, flush=True)
            elif done != shown["done"] and (done % 10 == 0 or done == total):
                _log(f"  notifications {done}/{total}  provider in flight {in_flight}")
            shown["done"] = done

        value = throughput.run(quick=quick, progress=progress)
        if sys.stderr.isatty():
            print(file=sys.stderr)
    _log(f"[{name}] done in {time.monotonic() - started:.1f} s")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m i2v_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fast smoke mode (small sizes, fewer jobs and runs)")
    parser.add_argument("--only", type=_sections, default=list(SECTIONS), metavar="SECTIONS",
                        help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--out", type=Path, default=None,
                        help="output directory (default bench-results/, or bench-results/quick/ with --quick)")
    args = parser.parse_args(argv)
    out: Path = args.out or (DEFAULT_OUT / "quick" if args.quick else DEFAULT_OUT)
    out.mkdir(parents=True, exist_ok=True)

    from i2v_bench import report

    results: dict = {}
    previous = out / "results.json"
    if previous.exists() and set(args.only) != set(SECTIONS):
        results = json.loads(previous.read_text(encoding="utf-8"))  # keep the sections not run now
    started = time.monotonic()
    polling_meta: dict = {}
    for name in SECTIONS:
        if name in args.only:
            results[name] = run_section(name, args.quick, polling_meta, results)
    wall = time.monotonic() - started

    report.write_json(results, out / "results.json")
    plotted = "polling" in args.only and report.plot_polling(results["polling"], out / report.PLOT_NAME)
    plotted_backlog = "backlog" in args.only and report.plot_backlog(results["backlog"], out / report.BACKLOG_PLOT_NAME)
    context = {"date": datetime.now(UTC).strftime("%Y-%m-%d"), "wall": f"{wall / 60:.1f} min"
               + ("" if set(args.only) == set(SECTIONS) else f" for {', '.join(args.only)}"),
               "machine": f"{platform.machine()} Linux, {_cpus()} cores, Python {platform.python_version()}",
               "polling_meta": polling_meta}
    (out / "README-performance.md").write_text(report.markdown(results, context), encoding="utf-8")
    print(report.console(results))
    print(f"\nwrote {out / 'results.json'}" + (f", {out / report.PLOT_NAME}" if plotted else "")
          + (f", {out / report.BACKLOG_PLOT_NAME}" if plotted_backlog else "")
          + f", {out / 'README-performance.md'}  ({wall:.0f} s)")
    return 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


if __name__ == "__main__":
    sys.exit(main())
