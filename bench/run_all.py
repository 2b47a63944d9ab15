"""Run every benchmark in this folder, one after the other, and say which failed.

    python bench/run_all.py [--only NAME ...]

Each script prints its figures and writes bench/results/NAME.json (or, when
KANGLU_BENCH_RESULTS_DIR is set, that folder's NAME.json: see bench/results_data.py); see
bench/README.md.
PostgreSQL benchmarks run when KANGLU_BENCH_POSTGRES_URL (or KANGLU_TEST_POSTGRES_URL) is set.
Every bench/*.py runs (bench_worker and bench_freshness included, each ~1.5 min on SQLite alone,
~3 min with PostgreSQL); *_data.py files are helpers, not benchmarks.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = sorted(p for p in HERE.glob("*.py") if p.name not in {"run_all.py"} and not p.name.endswith("_data.py"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="script names (without .py) to run")
    args = parser.parse_args()
    chosen = [p for p in SCRIPTS if not args.only or p.stem in args.only]
    failed = []
    for script in chosen:
        print(f"\n=== {script.stem} ===", flush=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(script)], cwd=HERE.parent)
        print(f"=== {script.stem}: exit {result.returncode} in {time.monotonic() - started:.0f} s ===", flush=True)
        if result.returncode != 0:
            failed.append(script.stem)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
