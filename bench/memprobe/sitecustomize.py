"""What holds the operator's memory: ``PYTHONPATH=bench/memprobe python -m bench p6 --n 5000``.

Python imports this module at start-up in every process whose path has this folder. In the
operator (``ens_image_operator.cli run``) it starts tracemalloc and writes the 15 largest
allocation sites, three frames each, every 10 s to ``ENS_MEMPROBE_DIR`` (default: the working
directory) as ``memprobe-<pid>.txt``. tracemalloc slows the operator down several times over: read
the sites, not the times.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path

PERIOD = 10.0
TOP = 15
MIB = 2**20


def _site(frame: tracemalloc.Frame) -> str:
    return f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno}"


def _dump(out: Path) -> None:
    while True:
        time.sleep(PERIOD)
        stats = tracemalloc.take_snapshot().statistics("traceback")
        total = sum(stat.size for stat in stats)
        peak = tracemalloc.get_traced_memory()[1]
        lines = [f"=== t={time.monotonic():.1f} traced={total / MIB:.1f} MiB peak={peak / MIB:.1f} MiB"]
        for stat in stats[:TOP]:
            sites = " <- ".join(_site(frame) for frame in stat.traceback)
            lines.append(f"{stat.size / MIB:7.2f} MiB {stat.count:7d} blocks  {sites}")
        with out.open("a", encoding="utf-8") as file:
            file.write("\n".join(lines) + "\n")


def _is_operator(argv: list[str]) -> bool:
    return "run" in argv and any("ens_image_operator.cli" in arg for arg in argv)


if _is_operator(list(getattr(sys, "orig_argv", []))):
    tracemalloc.start(3)
    folder = Path(os.environ.get("ENS_MEMPROBE_DIR", "."))
    target = folder / f"memprobe-{os.getpid()}.txt"
    threading.Thread(target=_dump, args=(target,), name="memprobe", daemon=True).start()
