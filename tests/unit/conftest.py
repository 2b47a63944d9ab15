"""Unit-test hooks: the carrier-identification accuracy line in the terminal summary."""

from __future__ import annotations

import pytest


def carrier_accuracy() -> tuple[int, int, int, int]:
    """(cases, correct, wrong carrier, missed) over the table of tests/unit/carrier_cases.py."""
    from kanglu.domain.carriers import DEFAULT_REGISTRY
    from tests.unit.carrier_cases import CASES

    correct = wrong = missed = 0
    for case in CASES:
        carrier = DEFAULT_REGISTRY.identify(case.shipping, case.tracking_code, case.mappings)
        got = carrier.code if carrier else None
        if got == case.expected:
            correct += 1
        elif got is None:
            missed += 1
        else:
            wrong += 1
    return len(CASES), correct, wrong, missed


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # Computed here rather than gathered from the test results, so that it also holds under
    # pytest-xdist, whose controller process runs no test.
    total, correct, wrong, missed = carrier_accuracy()
    terminalreporter.write_line(
        f"carrier identification: {correct}/{total} correct, {wrong} wrong carrier, {missed} missed"
    )
