"""Every benchmark in bench/ still runs, end to end, with the smallest arguments it accepts.

The benchmarks are run by hand, so they rot unnoticed: bench/bench_tiny_calls.py crashed for a
while after a product signature change and nobody saw it until someone wanted its figures.
This runs each script exactly as a person would (`python bench/NAME.py ...` from the
repository root, as a script, so its `from sql_bench_data import ...` of its siblings works),
on SQLite only (no PostgreSQL URL in its environment), with KANGLU_BENCH_RESULTS_DIR pointing
at a temporary folder so the committed figures in bench/results/ are never overwritten.

It asserts that each script exits 0 and writes a JSON result with the expected shape. The
figures themselves are never asserted: at these sizes, on a shared machine, they mean nothing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
COMMITTED = BENCH / "results"
TIMEOUT_SECONDS = 300  # a hung script fails instead of blocking the suite; not a figure

Check = Callable[[dict[str, Any]], None]


def _tiny_calls(result: dict[str, Any]) -> None:
    assert result["parameters"]["orders"] == 300
    assert result["listing_first"]["first_import"]["imported"] > 0
    plan = result["smallest_plan_simulated"]
    assert plan["plan"] == {"per_minute": 30, "per_second": 4}
    assert plan["listing_first"]["imported"] > 0 and plan["naive"]["simulated_seconds"] > 0
    late = result["quiet_poll_late_in_a_busy_day"]["by_update_filter_meaning"]
    assert set(late) == {"since_day", "since_day, time refused", "day_only", "day_only, time refused", "since_moment"}


def _import_sql(result: dict[str, Any]) -> None:
    assert result["sqlite"]["bulk"]["orders"] == 300
    assert result["sqlite"]["row_by_row"]["orders"] == 30
    assert result["postgresql"].startswith("skipped")  # no PostgreSQL URL reached the script


def _order_queries(result: dict[str, Any]) -> None:
    assert 0 < result["sqlite"]["orders"] <= 2000  # a few of the generated orders are ignored
    assert "median_ms" in result["sqlite"]["first_page"]
    assert result["postgresql"].startswith("skipped")


def _carriers(result: dict[str, Any]) -> None:
    assert result["seconds_per_figure"] == 0.2
    assert result["figures"]["cases"] > 0


def _sandbox_throughput(result: dict[str, Any]) -> None:
    http = result["figures"]["http"]
    assert set(http) == {"latency_0ms", "latency_50ms"}
    assert http["latency_0ms"]["concurrent"]["requests"] == 20  # 4 threads x 5 requests


def _sandbox_state_file(result: dict[str, Any]) -> None:
    assert set(result["figures"]) == {"demo_200_orders", "big_500_orders", "100_accounts_of_50_untouched"}


def _worker(result: dict[str, Any]) -> None:
    sqlite = result["sqlite"]
    assert sqlite["first_import"]["orders_stored"] > 0
    (passes,) = sqlite["series"].values()  # one latency
    assert [(p["concurrency"], p["processes"], p["kind"]) for p in passes] == [
        (1, 1, "quiet"), (4, 1, "quiet"), (4, 1, "mixed")]  # no multi-process pass
    assert all(len(p["runs"]) == 1 and "median" in p["polls_per_s"] for p in passes)
    assert sqlite["duplicate_polls"] == 0
    assert result["postgresql"].startswith("skipped")


def _freshness(result: dict[str, Any]) -> None:
    sqlite = result["sqlite"]
    assert sqlite["orders_created"] >= 1
    assert sqlite["orders_arrived"] >= 1
    assert result["postgresql"].startswith("skipped")


def _web(result: dict[str, Any]) -> None:
    sqlite = result["sqlite"]
    assert sqlite["orders"] > 0
    current = sqlite["current"]
    assert set(current) == {"api", "html"}
    assert set(current["api"]) == {"list_page_1", "list_random_page", "order_detail", "search_name", "search_number"}
    assert all(case["clients_2"]["errors"] == 0 for surface in current.values() for case in surface.values())
    assert result["postgresql"].startswith("skipped")


# name -> (smallest arguments, a check of the result's shape)
CASES: dict[str, tuple[list[str], Check]] = {
    "bench_tiny_calls": (["--orders", "300", "--day-changes", "200"], _tiny_calls),
    "bench_import_sql": (["--orders", "300", "--baseline-orders", "30", "--runs", "1"], _import_sql),
    "bench_order_queries_sql": (["--orders", "2000"], _order_queries),
    "bench_carriers": (["--seconds", "0.2"], _carriers),
    "sandbox_throughput": (["--requests", "20", "--threads", "4", "--accounts", "20", "--build-accounts", "100"],
                           _sandbox_throughput),
    "sandbox_state_file": (["--big-orders", "500", "--accounts", "100"], _sandbox_state_file),
    "bench_worker": (["--connections", "10", "--concurrency", "1", "4", "--latency-ms", "0",
                      "--processes", "--max-seconds", "3", "--runs", "1", "--mixed-share", "0.5"], _worker),
    "bench_web": (["--quick"], _web),
    "bench_freshness": (["--connections", "5", "--interval", "2", "--seconds", "2", "--rate", "2"], _freshness),
}


def _run_all_scripts() -> list[str]:
    """The benchmarks bench/run_all.py runs (it decides what a benchmark is, not this file)."""
    spec = importlib.util.spec_from_file_location("bench_run_all", BENCH / "run_all.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return sorted(path.stem for path in module.SCRIPTS)


def _committed_figures() -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in COMMITTED.glob("*.json")}


def test_every_benchmark_has_a_smoke_run() -> None:
    assert _run_all_scripts() == sorted(CASES), "add the new benchmark to CASES with its smallest arguments"


@pytest.mark.parametrize("name", list(CASES))
def test_benchmark_runs_and_writes_its_result(name: str, tmp_path: Path) -> None:
    arguments, check = CASES[name]
    # No KANGLU_* setting of the developer's shell leaks in: above all no PostgreSQL URL, so every
    # script stays on SQLite (and quick).
    env = {key: value for key, value in os.environ.items() if not key.startswith("KANGLU_")}
    env["KANGLU_BENCH_RESULTS_DIR"] = str(tmp_path)
    committed = _committed_figures()

    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, str(BENCH / f"{name}.py"), *arguments],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
    )
    seconds = time.monotonic() - started
    print(f"{name} {' '.join(arguments)}: exit {completed.returncode} in {seconds:.1f} s")

    output = f"stdout:\n{completed.stdout[-4000:]}\nstderr:\n{completed.stderr[-4000:]}"
    assert completed.returncode == 0, output
    written = tmp_path / f"{name}.json"
    assert written.is_file(), output
    assert f"written {written.resolve()}" in completed.stdout
    result = json.loads(written.read_text(encoding="utf-8"))
    assert result["benchmark"] == name
    check(result)
    assert _committed_figures() == committed, "a smoke run touched bench/results/"
