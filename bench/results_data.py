"""Where every benchmark writes its figures. Not a benchmark itself (run_all.py skips *_data.py).

bench/results/NAME.json by default: the committed figures bench/README.md quotes. When
KANGLU_BENCH_RESULTS_DIR is set, NAME.json goes to that folder instead, so that a smoke run
(tests/bench/test_benchmarks_run.py runs every script with tiny arguments) never overwrites the
committed figures with meaningless ones.

Deliberately free of kanglu and SQLAlchemy imports: the sandbox benchmarks use it too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = ROOT / "bench" / "results"
RESULTS_DIR_VARIABLE = "KANGLU_BENCH_RESULTS_DIR"


def results_dir() -> Path:
    configured = os.environ.get(RESULTS_DIR_VARIABLE)
    return Path(configured) if configured else DEFAULT_RESULTS


def write_results(name: str, result: dict[str, object]) -> Path:
    """Write `result` as NAME.json in the results folder, say where, and return the path."""
    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    out = (folder / f"{name}.json").resolve()
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"written {shown}", flush=True)
    return out


def spread(values: list[float], digits: int = 1) -> dict[str, float | int]:
    """A figure measured several times: its median and its spread (lowest, highest), never
    the best alone: on a shared machine the best run flatters, the median is what to expect."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    def rounded(x: float) -> float | int:
        return round(x) if digits == 0 else round(x, digits)

    return {"median": rounded(median), "min": rounded(ordered[0]), "max": rounded(ordered[-1]), "runs": len(ordered)}


def shown(figure: dict[str, float | int], unit: str = "") -> str:
    """`median (min–max, n runs)` for a line of output."""
    if figure["runs"] == 1:
        return f"{figure['median']}{unit}"
    return f"{figure['median']}{unit} ({figure['min']}–{figure['max']}, {figure['runs']} runs)"
