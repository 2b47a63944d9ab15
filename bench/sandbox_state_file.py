"""What the sandbox's state file and simulated activity cost: save, no-change check, load, the time
an account's lock is held for its snapshot, and one activity tick, for a demo-sized account, a big
one and many small untouched ones. Baseline measured in the same run: writing and fsyncing the same
bytes, the floor any save pays.

    python bench/sandbox_state_file.py

Writes bench/results/sandbox_state_file.json.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kanglu.sandbox import SandboxClock, SandboxServer

RESULTS = Path(__file__).resolve().parent / "results" / "sandbox_state_file.json"
START = 1_795_000_400


def best_ms(action: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return round(min(times) * 1000, 2)


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
        "save_after_a_change_ms": best_ms(changed_save),
        "save_without_change_ms": best_ms(server.state_file.save),
        "snapshot_under_account_lock_ms": best_ms(lambda: (dataset.touch(dataset.orders[0], START),
                                                           account.snapshot())),
        "file_mb": round(path.stat().st_size / 1e6, 3),
        "activity_tick_ms": round(statistics.median(
            [best_ms(server.activity.tick, 1) for _ in range(50)]), 3),
    }
    data = path.read_bytes()

    def raw_write() -> None:
        with open(directory / "raw", "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())

    figures["baseline_write_same_bytes_ms"] = best_ms(raw_write)
    figures["load_ms"] = best_ms(lambda: SandboxServer(state_file=path), 3)
    return figures


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        figures = {
            "demo_200_orders": scenario(Path(directory), "demo", 200, 1),
            "big_5000_orders": scenario(Path(directory), "big", 5000, 1),
            "2000_accounts_of_50_untouched": scenario(Path(directory), "many", 50, 2000),
        }
    for name, values in figures.items():
        print(name, json.dumps(values))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({
        "benchmark": "sandbox_state_file",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average": os.getloadavg()},
        "figures": figures,
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
