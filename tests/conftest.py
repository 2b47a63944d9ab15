"""Suite-wide: the order in which pytest-xdist hands files out.

`make test` runs `--dist loadfile --no-loadscope-reorder`: xdist gives each worker whole files,
in collection order. Its default reorder (files with the most tests first) sent the end-to-end
files, a few tests each but 20-70 s apiece, out last, and the suite waited on their tail. Here
the slow files go first (the longest job first, the classic greedy schedule), and the many
short unit files fill the gaps. A stale list costs balance, never correctness.
"""

from __future__ import annotations

import pytest

# The heaviest files (wall seconds in one run, 7 Dec 2026, 4 workers on 2 cores), longest first.
HEAVIEST = (
    "tests/e2e/worker/test_process_faults.py",
    "tests/e2e/worker/test_tiny_faults.py",
    "tests/e2e/worker/test_token_faults.py",
    "tests/e2e/worker/test_postgres_scale_out.py",
    "tests/e2e/worker/test_permissions.py",
    "tests/bench/test_benchmarks_run.py",
    "tests/unit/test_static_scan.py",  # bandit and mypy, ~20 s of CPU
)
# Then by kind: processes and browsers, then real servers and databases, then in-memory.
FOLDERS = ("tests/e2e/worker/", "tests/e2e/", "tests/bench/", "tests/integration/", "tests/contract/", "tests/")


def _rank(path: str) -> tuple[int, int]:
    if path in HEAVIEST:
        return 0, HEAVIEST.index(path)
    return 1, next(i for i, folder in enumerate(FOLDERS) if path.startswith(folder))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A stable sort: within a rank, files and their tests keep their collection order.
    items.sort(key=lambda item: _rank(item.nodeid.split("::", 1)[0]))
