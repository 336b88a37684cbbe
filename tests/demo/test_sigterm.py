"""`make demo` and `make bench` ended by SIGTERM (a CI timeout, `kill`) leave no child process behind."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
COMMANDS = {
    "demo": [sys.executable, "-m", "ens_image_operator.cli", "demo", "--keep", "--timeout", "120"],
    "bench": [sys.executable, "-m", "bench", "p1", "--n", "5"],
}


def _children_once_up(
    process: subprocess.Popen[bytes], count: int, timeout: float = 60.0
) -> list[psutil.Process]:
    """The command's child processes once ``count`` of them run (emulator, local API, operator)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the command ended before its stack was up"
        children = psutil.Process(process.pid).children(recursive=True)
        if len(children) >= count:
            return children
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} child processes after {timeout}s")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_sigterm_stops_every_child_process(name: str, tmp_path: Path) -> None:
    process = subprocess.Popen(COMMANDS[name], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: list[psutil.Process] = []
    try:
        children = _children_once_up(process, count=3)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        _, alive = psutil.wait_procs(children, timeout=30)
        assert alive == [], f"left running after SIGTERM: {[child.cmdline() for child in alive]}"
    finally:
        for leftover in [process, *children]:  # a failed run must not leave its stack running
            with contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess):
                leftover.kill()
