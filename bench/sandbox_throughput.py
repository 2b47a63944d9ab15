"""How much load the Tiny sandbox takes: dataset build times, memory, and requests per second
with and without injected latency, sequential (the baseline) and concurrent, against the
sandbox running in its own process (pages of 50 orders: 200 accounts of 50).

    python bench/sandbox_throughput.py [--requests 600] [--threads 32] [--accounts 200] [--build-accounts 2000]

--accounts is the number of 50-order accounts the HTTP runs spread over, --build-accounts the
number built in memory for the build and memory figures. Small values (e.g. `--requests 20
--threads 4 --accounts 20 --build-accounts 100`) only check that the script runs: the smoke
test, tests/bench/test_benchmarks_run.py, uses them.

Writes bench/results/sandbox_throughput.json (or $KANGLU_BENCH_RESULTS_DIR/sandbox_throughput.json).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from results_data import write_results

from kanglu.sandbox.accounts import SandboxState
from kanglu.sandbox.dataset import Dataset


def build_figures(accounts: int = 2_000) -> dict[str, float]:
    started = time.perf_counter()
    Dataset(1, 10_000, time.time()).orders
    one_big = time.perf_counter() - started
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    state = SandboxState()
    started = time.perf_counter()
    for _ in range(accounts):
        state.create_account(orders=50)
    created = time.perf_counter() - started
    started = time.perf_counter()
    for account in state.all_accounts():
        account.dataset.orders  # what the first poll of each account pays
    generated = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "build_10000_orders_s": round(one_big, 3),
        f"create_{accounts}_accounts_s": round(created, 3),
        "generate_their_50_orders_each_s": round(generated, 3),
        f"rss_growth_{accounts}_accounts_mb": round((rss_after - rss_before) / 1024, 1),
    }


def drive(api_url: str, tokens: list[str], requests: int, threads: int) -> dict[str, float]:
    """`requests` GET /pedidos spread over `threads` clients, round-robin over the accounts."""
    latencies: list[float] = []
    lock = threading.Lock()
    per_thread = requests // threads

    def worker(n: int) -> None:
        mine = []
        with httpx.Client(base_url=api_url, timeout=30) as client:
            for i in range(per_thread):
                token = tokens[(n * per_thread + i) % len(tokens)]
                started = time.perf_counter()
                answer = client.get("/pedidos", params={"limit": 100}, headers={"Authorization": f"Bearer {token}"})
                mine.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.status_code
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "threads": threads,
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1),
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux): a figure the machine's load does not distort."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_figures(requests: int, threads: int, accounts: int = 200) -> dict[str, object]:
    """The sandbox in its own process, as `kanglu sandbox` runs it; `accounts` accounts of 50 orders."""
    process = subprocess.Popen(
        [sys.executable, "-m", "kanglu.sandbox", "--port", "0", "--orders", "0", "--rate-limit", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        creds = json.loads(process.stdout.readline())
        base = creds["api_url"].removesuffix("/public-api/v3")
        with httpx.Client(base_url=f"{base}/_sandbox", timeout=120) as control:
            made = control.post("/accounts", json={"count": accounts, "orders": 50, "seed": 1}).json()["accounts"]
            tokens = [control.post(f"/accounts/{a['account_id']}/tokens").json()["access_token"] for a in made]
            drive(creds["api_url"], tokens, len(tokens), 4)  # warm-up: every account generates its orders
            runs: dict[str, object] = {}
            for latency in (0, 50):
                control.patch("/faults", json={"latency_ms": latency})
                # at least 60 sequential requests, unless fewer were asked for in all
                sequential = drive(creds["api_url"], tokens, min(requests, max(60, requests // 10)), 1)
                cpu_before = _cpu_seconds(process.pid)
                concurrent = drive(creds["api_url"], tokens, requests, threads)
                concurrent["server_cpu_ms_per_request"] = round(
                    (_cpu_seconds(process.pid) - cpu_before) / concurrent["requests"] * 1000, 2)
                runs[f"latency_{latency}ms"] = {"sequential_baseline": sequential, "concurrent": concurrent}
                print(f"latency {latency} ms: sequential {sequential['requests_per_s']} req/s, "
                      f"{threads} threads {concurrent['requests_per_s']} req/s "
                      f"(p50 {concurrent['p50_ms']} ms, p95 {concurrent['p95_ms']} ms, "
                      f"server CPU {concurrent['server_cpu_ms_per_request']} ms/request)")
        return runs
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        process.stdout.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--accounts", type=int, default=200, help="50-order accounts the HTTP runs spread over")
    parser.add_argument("--build-accounts", type=int, default=2_000,
                        help="50-order accounts built in memory for the build and memory figures")
    args = parser.parse_args()

    figures: dict[str, object] = {"build": build_figures(args.build_accounts)}
    print(json.dumps(figures["build"]))
    figures["http"] = http_figures(args.requests, args.threads, args.accounts)
    result = {
        "benchmark": "sandbox_throughput",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0], "cpus": os.cpu_count(),
                    "load_average": os.getloadavg()},
        "parameters": {"requests": args.requests, "threads": args.threads, "accounts": args.accounts,
                       "build_accounts": args.build_accounts},
        "figures": figures,
    }
    write_results("sandbox_throughput", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
