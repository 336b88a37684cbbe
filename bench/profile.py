"""A flame graph (SVG) of a running Python process, recorded by py-spy: ``bench/results/<name>.svg``.

In a benchmark::

    with profiled(pid, "p8_idle_flame") as svg:
        ...  # the window to profile; at exit py-spy gets SIGINT and writes the SVG

By hand: ``python -m bench.profile --pid PID --seconds 60 --name NAME`` (Ctrl-C or SIGTERM stops it early).
py-spy attaches with ptrace (root, or ``kernel.yama.ptrace_scope`` 0). By default it pauses the
target for each sample, which costs the target a little CPU; ``nonblocking`` avoids that at the
price of some torn stacks.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from bench.common import RESULTS, ROOT

RATE = 50  # samples per second


def py_spy() -> str:
    """The py-spy next to this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if not found:
        raise RuntimeError("py-spy is not installed: .venv/bin/python -m pip install py-spy")
    return found


@contextmanager
def profiled(
    pid: int,
    name: str,
    *,
    rate: int = RATE,
    subprocesses: bool = True,
    nonblocking: bool = False,
    idle: bool = False,
    native: bool = False,
) -> Iterator[Path]:
    """Record ``pid`` with py-spy while the block runs; the SVG's path is yielded (written at exit)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    output = RESULTS / f"{name}.svg"
    output.unlink(missing_ok=True)
    command = [py_spy(), "record", "--pid", str(pid), "--output", str(output)]
    command += ["--format", "flamegraph", "--rate", str(rate)]
    command += ["--subprocesses"] * subprocesses + ["--nonblocking"] * nonblocking + ["--idle"] * idle
    command += ["--native"] * native  # C frames too: the garbage collector, JSON decoding, regexes…
    with tempfile.TemporaryFile("w+") as log:
        # Its own session: a Ctrl-C at the terminal reaches us, and we stop py-spy once, below.
        recorder = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            time.sleep(0.5)  # py-spy exits at once if it cannot attach: say so rather than later
            if recorder.poll() is not None:
                raise RuntimeError(f"py-spy exited with {recorder.returncode}: {_text(log)}")
            yield output
        finally:
            if recorder.poll() is None:
                recorder.send_signal(signal.SIGINT)  # py-spy writes the flame graph on Ctrl-C
                try:
                    recorder.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    recorder.kill()
                    recorder.wait()
        if not output.exists():
            raise RuntimeError(f"py-spy wrote no flame graph: {_text(log)}")
        scrub(output)


def scrub(svg: Path) -> None:
    """Paths in the graph relative to the checkout: it says where code is, not where it was run."""
    text = svg.read_text(encoding="utf-8")
    svg.write_text(text.replace(f"{ROOT}/", ""), encoding="utf-8")


def _text(log: IO[str]) -> str:
    log.seek(0)
    return log.read().strip()[-2000:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--pid", type=int, required=True, help="the Python process to record")
    parser.add_argument("--seconds", type=float, default=0.0, help="how long; 0: until Ctrl-C")
    parser.add_argument("--name", required=True, help="writes bench/results/<name>.svg")
    parser.add_argument("--rate", type=int, default=RATE, help="samples per second")
    parser.add_argument("--nonblocking", action="store_true", help="do not pause the target per sample")
    parser.add_argument("--idle", action="store_true", help="keep the samples of idle threads too")
    parser.add_argument("--native", action="store_true", help="include native (C) frames")
    args = parser.parse_args(argv)
    # Ctrl-C or a SIGTERM ends the recording (a shell's background job starts with SIGINT ignored).
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)
    options = {"nonblocking": args.nonblocking, "idle": args.idle, "native": args.native}
    with profiled(args.pid, args.name, rate=args.rate, **options) as svg:
        try:
            if args.seconds > 0:
                time.sleep(args.seconds)
            else:
                signal.pause()
        except KeyboardInterrupt:
            pass
    print(svg, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
