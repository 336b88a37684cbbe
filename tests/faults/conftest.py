"""The fault suite prints what its scenarios measured, so a run reports its own figures."""

from __future__ import annotations

import json

import pytest
from faultkit import FIGURES, LARGE


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section(f"fault suite figures ({'large' if LARGE else 'small'} scale)")
    for scenario, figures in FIGURES.items():
        terminalreporter.write_line(f"{scenario}: {json.dumps(figures, sort_keys=True)}")
