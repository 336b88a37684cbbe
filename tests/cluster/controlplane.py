"""A real Kubernetes control plane on loopback: etcd, kube-apiserver and kube-controller-manager.

TLS everywhere the API server is reached; the admin is a client certificate in ``system:masters``;
authorization is RBAC; service-account tokens come from the TokenRequest API.
kube-controller-manager runs two controllers only: the namespace controller (deleting a namespace
deletes what is in it, as the suites expect) and the serviceaccount controller (every namespace
gets its ``default`` ServiceAccount). Nothing else runs: no garbage collection of owned objects,
no Deployment -> ReplicaSet -> Pod, no scheduler, no kubelet, so Pods never run.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path
from types import TracebackType

import httpx
import yaml

from .build import Binaries, Progress, cached, ensure_binaries, go_available, wanted_version
from .pki import write_pki

START_TIMEOUT = 60.0
CONTROLLERS = ("namespace-controller", "serviceaccount-controller")
# With ``audit=True``: every request once it is answered, the bodies of writes (never of Secrets).
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "Metadata", "resources": [{"group": "", "resources": ["secrets"]}]},
        {"level": "Request", "verbs": ["create", "update", "patch", "delete", "deletecollection"]},
        {"level": "Metadata"},
    ],
}


class StartError(RuntimeError):
    """The control plane did not come up; the message carries the last lines of both logs."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ControlPlane:
    """etcd + kube-apiserver of one version in ``workdir``; a context manager."""

    def __init__(
        self, binaries: Binaries, workdir: Path, start_timeout: float = START_TIMEOUT, *, audit: bool = False
    ) -> None:
        self.binaries = binaries
        self.workdir = workdir
        self.start_timeout = start_timeout
        self.pki = workdir / "pki"
        self.kubeconfig = workdir / "kubeconfig"  # the admin's
        # The audit log (JSON lines, see AUDIT_POLICY) when started with ``audit=True``.
        self.audit_log = workdir / "audit.log" if audit else None
        self.kubectl_dir = workdir / "bin"  # holds `kubectl`: the in-skew client, for PATH
        self.etcd_port = 0
        self.port = 0
        self.startup_seconds = 0.0
        self._processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def kubectl(self) -> Path:
        return self.kubectl_dir / "kubectl"

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        began = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        write_pki(self.pki)
        self.kubectl_dir.mkdir(exist_ok=True)
        if not self.kubectl.exists():
            self.kubectl.symlink_to(self.binaries.kubectl)
        try:
            self._start_etcd()
            self._start_apiserver()
            self._wait_ready(began + self.start_timeout)
            self.startup_seconds = time.monotonic() - began
            self._write_kubeconfig("admin", self.kubeconfig)
            self._start_controller_manager()
        except BaseException:
            self.stop()
            raise

    def pids(self) -> dict[str, int]:
        """The running children by name (etcd, kube-apiserver, kube-controller-manager)."""
        return {name: process.pid for name, process in self._processes.items() if process.poll() is None}

    def stop(self) -> None:
        """Controllers, API server, then etcd; each gets SIGTERM, then SIGKILL after 15 s."""
        for name in ("kube-controller-manager", "kube-apiserver", "etcd"):
            process = self._processes.pop(name, None)
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.workdir / "etcd-data", ignore_errors=True)

    # ---- children -------------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str]) -> None:
        log = (self.workdir / f"{name}.log").open("ab")
        try:
            self._processes[name] = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
            )
        finally:
            log.close()

    def _start_etcd(self) -> None:
        self.etcd_port, peer = free_port(), free_port()
        client, peer_url = f"http://127.0.0.1:{self.etcd_port}", f"http://127.0.0.1:{peer}"
        self._spawn(
            "etcd",
            [
                str(self.binaries.etcd),
                f"--data-dir={self.workdir / 'etcd-data'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )

    def _start_apiserver(self) -> None:
        self.port = free_port()
        pki = self.pki
        audit: list[str] = []
        if self.audit_log is not None:
            policy = self.workdir / "audit-policy.yaml"
            policy.write_text(yaml.safe_dump(AUDIT_POLICY, sort_keys=False), encoding="utf-8")
            audit = [f"--audit-policy-file={policy}", f"--audit-log-path={self.audit_log}",
                     "--audit-log-format=json", "--audit-log-maxsize=0"]  # fmt: skip
        self._spawn(
            "kube-apiserver",
            [
                str(self.binaries.kube_apiserver),
                f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.port}",
                f"--cert-dir={pki}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--service-account-issuer=https://127.0.0.1:{self.port}",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--authorization-mode=RBAC",
                # From 1.37 the endpoint reconciler refuses a loopback advertise address; nothing
                # here needs the `kubernetes` Service's endpoints.
                "--endpoint-reconciler-type=none",
                "--allow-privileged=true",
                # It only matters for Pods, which never run here, and wants a `default` SA nobody creates.
                "--disable-admission-plugins=ServiceAccount",
                *audit,
            ],
        )

    def _start_controller_manager(self) -> None:
        self._spawn(
            "kube-controller-manager",
            [
                str(self.binaries.kube_controller_manager),
                f"--kubeconfig={self.kubeconfig}",
                f"--controllers={','.join(CONTROLLERS)}",
                "--leader-elect=false",
                "--use-service-account-credentials=false",
                "--bind-address=127.0.0.1",
                "--secure-port=0",
            ],
        )

    def _wait_ready(self, deadline: float) -> None:
        context = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        context.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
        last = "no answer yet"
        while time.monotonic() < deadline:
            for name, process in self._processes.items():
                if process.poll() is not None:
                    raise StartError(
                        f"{name} exited with {process.returncode} during start-up\n{self.logs()}"
                    )
            try:
                answer = httpx.get(f"{self.server}/readyz", verify=context, timeout=2.0)
                if answer.status_code == 200:
                    return
                last = f"/readyz answered {answer.status_code}"
            except httpx.HTTPError as error:
                last = f"{type(error).__name__}: {error}"
            time.sleep(0.25)
        raise StartError(
            f"kube-apiserver was not ready within {self.start_timeout:.0f} s ({last})\n{self.logs()}"
        )

    def logs(self, lines: int = 15) -> str:
        """The last lines of each log, for error messages."""
        parts = []
        for name in ("etcd", "kube-apiserver", "kube-controller-manager"):
            path = self.workdir / f"{name}.log"
            if name not in self._processes and not path.exists():
                continue
            text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
            tail = "\n".join(text.splitlines()[-lines:]) or "(empty)"
            parts.append(f"--- last lines of {path} ---\n{tail}")
        return "\n".join(parts)

    def client_kubeconfig(self, user: str) -> Path:
        """A kubeconfig that logs in as one of the client identities of ``pki.CLIENTS``."""
        path = self.workdir / f"{user}.kubeconfig"
        if not path.exists():
            self._write_kubeconfig(user, path)
        return path

    def _write_kubeconfig(self, user: str, path: Path) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "ens-test",
                    "cluster": {"server": self.server, "certificate-authority": str(self.pki / "ca.crt")},
                }
            ],
            "users": [
                {
                    "name": user,
                    "user": {
                        "client-certificate": str(self.pki / f"{user}.crt"),
                        "client-key": str(self.pki / f"{user}.key"),
                    },
                }
            ],
            "contexts": [{"name": "ens-test", "context": {"cluster": "ens-test", "user": user}}],
            "current-context": "ens-test",
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        path.chmod(0o600)


def unavailable_reason() -> str | None:
    """Why the real control plane cannot be had on this machine (no Go, nothing cached), or None."""
    version = wanted_version()
    if go_available() or cached(version) is not None:
        return None
    return (
        f"no real kube-apiserver: Go is not installed and nothing is cached for Kubernetes v{version}; "
        f"install Go >= 1.26 to build it once (CI=true makes this a failure)"
    )


def start_control_plane(workdir: Path, progress: Progress = print, *, audit: bool = False) -> ControlPlane:
    """Build (if needed) and start the control plane of ``ENS_K8S_VERSION``; the caller stops it."""
    binaries = ensure_binaries(wanted_version(), progress)
    plane = ControlPlane(binaries, workdir, audit=audit)
    plane.start()
    return plane
