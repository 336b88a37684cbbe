"""``python -m tests.cluster [WORKDIR]``: start a real control plane and keep it up until Ctrl-C.

Test tooling (kept out of the product package): ``build.py`` builds kube-apiserver,
kube-controller-manager and etcd from the Go wrapper modules in ``k8s/`` and ``etcd/``;
``controlplane.py`` runs them on loopback; the suites use it through ``tests/conftest.py``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
from pathlib import Path

from .build import BuildError, wanted_version
from .controlplane import StartError, start_control_plane


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.cluster",
        description="Build (once) and start etcd, kube-apiserver and kube-controller-manager on loopback; "
        "print an admin kubeconfig path; run until Ctrl-C. ENS_K8S_VERSION picks the version.",
    )
    parser.add_argument("workdir", nargs="?", type=Path, help="where logs, keys and the kubeconfig go")
    args = parser.parse_args(argv)
    workdir: Path = args.workdir or Path(tempfile.mkdtemp(prefix="ens-k8s-"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        plane = start_control_plane(workdir.resolve(), progress)
    except (BuildError, StartError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        print(f"Kubernetes v{wanted_version()} ready at {plane.server} in {plane.startup_seconds:.1f} s")
        print(f"logs in {plane.workdir}; kubectl in skew: {plane.binaries.kubectl}")
        print(f"export KUBECONFIG={plane.kubeconfig}")
        print("Ctrl-C stops it.", flush=True)
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        plane.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
