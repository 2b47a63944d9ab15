"""Static checks over src, run as tests so that `make test` runs them beside the rest of the
suite rather than one after another before it (mypy alone is ~12 s of a cold start):
- bandit: no medium or high finding;
- mypy: 0 errors, strict on the domain and the application ([tool.mypy] in pyproject.toml).
The import-linter contracts run in test_architecture.py."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"


def test_bandit_finds_nothing_of_medium_or_high_severity() -> None:
    bandit = shutil.which("bandit") or str(Path(sys.executable).with_name("bandit"))
    if not Path(bandit).exists():
        pytest.skip("bandit is not installed (pip install -e '.[dev]')")
    done = subprocess.run([bandit, "-q", "-r", str(SRC), "--severity-level", "medium", "-f", "txt"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_mypy_finds_no_error() -> None:
    mypy = Path(sys.executable).with_name("mypy")
    assert mypy.exists(), "mypy is a dev dependency (pip install -e '.[dev]')"
    # From the repository root, so that pyproject.toml's [tool.mypy] (files, strictness) applies.
    done = subprocess.run([str(mypy)], capture_output=True, text=True, timeout=600, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
