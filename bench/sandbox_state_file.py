"""What the sandbox's state file and simulated activity cost: save, no-change check, load, the time
an account's lock is held for its snapshot, and one activity tick, for a demo-sized account, a big
one and many small untouched ones. Baseline measured in the same run: writing and fsyncing the same
bytes, the floor any save pays.

    python bench/sandbox_state_file.py [--big-orders 5000] [--accounts 2000]

--big-orders is the size of the big account, --accounts the number of small untouched ones.
Small values (e.g. `--big-orders 500 --accounts 100`) only check that the script runs: the
smoke test, tests/bench/test_benchmarks_run.py, uses them.

Writes bench/results/sandbox_state_file.json (or $KANGLU_BENCH_RESULTS_DIR/sandbox_state_file.json).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from results_data import write_results

from kanglu.sandbox import SandboxClock, SandboxServer

START = 1_795_000_400


def median_ms(action: Callable[[], object], runs: int = 5) -> float:
    """The median of `runs` timings (not the best: on a shared machine it flatters)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 2)


def scenario(directory: Path, name: str, orders: int, accounts: int) -> dict[str, float]:
    path = directory / f"{name}.json"
    server = SandboxServer(default_account=False, clock=SandboxClock(start=START), state_file=path)
    account = server.create_account(orders=orders)
    for _ in range(accounts - 1):
        server.create_account(orders=orders)  # left ungenerated: saved as their recipe
    account.settings.simulate = True
    dataset = account.dataset
    dataset.orders  # generated, as after the first poll

    def changed_save() -> None:
        dataset.touch(dataset.orders[0], START + time.perf_counter())
        server.state_file.save()

    figures = {
        "save_after_a_change_ms": median_ms(changed_save),
        "save_without_change_ms": median_ms(server.state_file.save),
        "snapshot_under_account_lock_ms": median_ms(lambda: (dataset.touch(dataset.orders[0], START),
                                                           account.snapshot())),
        "file_mb": round(path.stat().st_size / 1e6, 3),
        "activity_tick_ms": round(statistics.median(
            [median_ms(server.activity.tick, 1) for _ in range(50)]), 3),
    }
    data = path.read_bytes()

    def raw_write() -> None:
        with open(directory / "raw", "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())

    figures["baseline_write_same_bytes_ms"] = median_ms(raw_write)
    figures["load_ms"] = median_ms(lambda: SandboxServer(state_file=path), 3)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-orders", type=int, default=5_000, help="orders of the big account")
    parser.add_argument("--accounts", type=int, default=2_000, help="small untouched accounts (50 orders each)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        figures = {
            "demo_200_orders": scenario(Path(directory), "demo", 200, 1),
            f"big_{args.big_orders}_orders": scenario(Path(directory), "big", args.big_orders, 1),
            f"{args.accounts}_accounts_of_50_untouched": scenario(Path(directory), "many", 50, args.accounts),
        }
    for name, values in figures.items():
        print(name, json.dumps(values))
    write_results("sandbox_state_file", {
        "benchmark": "sandbox_state_file",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average": os.getloadavg()},
        "figures": figures,
    })


if __name__ == "__main__":
    main()
