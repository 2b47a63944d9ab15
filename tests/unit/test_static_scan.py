"""bandit over src: no medium or high finding (`make test` runs it too)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def test_bandit_finds_nothing_of_medium_or_high_severity() -> None:
    bandit = shutil.which("bandit") or str(Path(sys.executable).with_name("bandit"))
    if not Path(bandit).exists():
        pytest.skip("bandit is not installed (pip install -e '.[dev]')")
    done = subprocess.run([bandit, "-q", "-r", str(SRC), "--severity-level", "medium", "-f", "txt"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
