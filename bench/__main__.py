"""Run the benchmarks of docs/performance.md: ``python -m bench [p1|p1b|p2|p3|p4|p5|p6|p7|p8|all] [flags]``.

Without a name every benchmark runs with its defaults (or ``--quick``); with a name, the flags that
follow are that benchmark's own (``python -m bench p1 --n 10,100,1000``).
"""

from __future__ import annotations

import importlib
import signal
import sys
import time

BENCHMARKS = {
    "p1": "bench.p1_poll",
    "p1b": "bench.p1b_big_account",
    "p2": "bench.p2_lag",
    "p3": "bench.p3_create",
    "p4": "bench.p4_memory",
    "p5": "bench.p5_client",
    "p6": "bench.p6_cold_start",
    "p7": "bench.p7_kube_requests",
    "p8": "bench.p8_idle",
}


def main(argv: list[str]) -> int:
    # SIGTERM stops a benchmark as Ctrl-C does: its stack's context closes every child process.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        print("benchmarks: " + ", ".join(f"{name} ({module})" for name, module in BENCHMARKS.items()))
        return 0
    if argv and argv[0] in BENCHMARKS:
        module = importlib.import_module(BENCHMARKS[argv[0]])
        code: int = module.main(argv[1:])
        return code
    names = list(BENCHMARKS)
    if argv and argv[0] == "all":
        argv = argv[1:]
    quick = ["--quick"] if "--quick" in argv else []
    failed = []
    for name in names:
        started = time.monotonic()
        print(f"== {name} ==", flush=True)
        module = importlib.import_module(BENCHMARKS[name])
        try:
            if module.main(quick) != 0:
                failed.append(name)
        except Exception as error:  # one broken benchmark must not hide the others' figures
            print(f"{name} failed: {error!r}", flush=True)
            failed.append(name)
        print(f"== {name} took {time.monotonic() - started:.0f} s ==", flush=True)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
