"""A whole local stack in child processes: ENS emulator, local Kubernetes API, and the operator.

Used by ``demo``, the end-to-end and fault tests, and the benchmarks: each part is the real
command a user would run, so killing the operator with SIGKILL is a real crash.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx

DEFAULT_KEY_ID = "testid"
DEFAULT_KEY_SECRET = "testsecret"  # noqa: S105 - the emulator's well-known local test key

_LISTENING = re.compile(r"listening on (http://\S+)")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_crds_dir() -> Path | None:
    """The repository's generated ``crds/`` directory, looked up from the source tree or the cwd."""
    for base in (Path(__file__).resolve().parents[3], Path.cwd()):
        candidate = base / "crds"
        if candidate.is_dir() and any(candidate.glob("*.yaml")):
            return candidate
    return None


class ChildProcess:
    """One subcommand of ``ens-image-operator`` in a child process, its output teed to a log file."""

    def __init__(self, name: str, args: Sequence[str], log_path: Path, env: Mapping[str, str]) -> None:
        self.name = name
        self.log_path = log_path
        self.url: str | None = None
        self._ready = threading.Event()
        self._log = log_path.open("a", encoding="utf-8")
        self.process = subprocess.Popen(  # noqa: S603 - our own console script, fixed argv
            [sys.executable, "-m", "ens_image_operator.cli", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**env, "PYTHONUNBUFFERED": "1"},
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._pump, name=f"{name}-log", daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._log.write(line)
            self._log.flush()
            if self.url is None and (match := _LISTENING.search(line)):
                self.url = match.group(1).rstrip("/")
                self._ready.set()
        self._ready.set()  # the process ended: wake anyone waiting for its URL

    def wait_url(self, timeout: float) -> str:
        """Wait until the child printed its 'listening on URL' line; fail with its log otherwise."""
        self._ready.wait(timeout)
        if self.url is None:
            self.terminate()
            raise RuntimeError(f"{self.name} did not start; its output:\n{self.tail()}")
        return self.url

    def tail(self, lines: int = 40) -> str:
        """The last lines of the child's output, for error messages."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: a crash, no cleanup on the child's side."""
        if self.alive:
            self.process.kill()
        self._finish()

    def terminate(self, timeout: float = 15.0) -> None:
        """SIGTERM and wait for a clean exit; SIGKILL if it does not come."""
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._finish()

    def _finish(self) -> None:
        self.process.wait()
        self._reader.join(timeout=5)
        self._log.close()


class LocalStack:
    """ENS emulator + local Kubernetes API (+ the operator, on demand), all on loopback."""

    def __init__(
        self,
        workdir: Path,
        *,
        step_seconds: float = 1.0,
        fast_poll_interval: float = 1.0,
        state_file: Path | None = None,
        crds: Path | None = None,
        operator_env: Mapping[str, str] | None = None,
        start_timeout: float = 60.0,
        emulator_keys: Mapping[str, str] | None = None,
        kubeconfig: Path | None = None,
    ) -> None:
        self.workdir = workdir
        self.step_seconds = step_seconds
        self.fast_poll_interval = fast_poll_interval
        self.state_file = state_file
        self.crds = crds or find_crds_dir()
        self.operator_env = dict(operator_env or {})
        self.start_timeout = start_timeout
        # Further access keys the emulator accepts besides the default one (id -> secret).
        self.emulator_keys = dict(emulator_keys or {})
        # 0 picks a free port; a restart reuses the port, so the operator's endpoint stays valid.
        self.emulator_port = 0
        # A kubeconfig of a Kubernetes API that is already running: then no sandbox is started, and
        # the caller has installed the CRDs there.
        self.external_api = kubeconfig is not None
        self.kubeconfig = kubeconfig or workdir / "kubeconfig"
        self.emulator: ChildProcess | None = None
        self.sandbox: ChildProcess | None = None
        self.operator: ChildProcess | None = None
        self.health_port = 0
        self.metrics_port = 0
        self._env = {k: v for k, v in os.environ.items() if not k.startswith(("ENS_OPERATOR_", "ALIBABA_"))}

    # ---- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self.start_emulator()
            if not self.external_api:
                self.start_sandbox()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop every child: the operator first, so it does not see its APIs vanish."""
        for child in (self.operator, self.sandbox, self.emulator):
            if child is not None:
                child.terminate(timeout=10)

    def start_emulator(self) -> str:
        args = [
            "emulator",
            "--host", "127.0.0.1",
            "--port", str(self.emulator_port),
            "--access-key-id", DEFAULT_KEY_ID,
            "--access-key-secret", DEFAULT_KEY_SECRET,
            "--step-seconds", str(self.step_seconds),
        ]  # fmt: skip
        for key_id, secret in self.emulator_keys.items():
            args += ["--access-key-id", key_id, "--access-key-secret", secret]
        if self.state_file is not None:
            args += ["--state", str(self.state_file)]
        self.emulator = ChildProcess("emulator", args, self.workdir / "emulator.log", self._env)
        return self.emulator.wait_url(self.start_timeout)

    def restart_emulator(self) -> str:
        """Stop the emulator and start it again on the same port (same state file, if any)."""
        if self.emulator is not None:
            if self.emulator.url is not None:
                self.emulator_port = int(self.emulator.url.rsplit(":", 1)[1])
            self.emulator.terminate()
        return self.start_emulator()

    def start_sandbox(self) -> str:
        args = ["sandbox", "--host", "127.0.0.1", "--port", "0", "--kubeconfig", str(self.kubeconfig)]
        if self.crds is not None:
            args += ["--crds", str(self.crds)]
        self.sandbox = ChildProcess("sandbox", args, self.workdir / "sandbox.log", self._env)
        return self.sandbox.wait_url(self.start_timeout)

    @property
    def emulator_url(self) -> str:
        assert self.emulator is not None and self.emulator.url is not None
        return self.emulator.url

    @property
    def admin_url(self) -> str:
        return f"{self.emulator_url}/_emulator"

    @property
    def operator_log(self) -> Path:
        return self.workdir / "operator.log"

    def operator_environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment the operator runs with: our endpoints, the emulator's key, fast polls."""
        return {
            **self._env,
            "KUBECONFIG": str(self.kubeconfig),
            "ENS_OPERATOR_ENDPOINT": self.emulator_url,
            "ENS_OPERATOR_STS_ENDPOINT": self.emulator_url,
            "ENS_OPERATOR_FAST_POLL_INTERVAL": str(self.fast_poll_interval),
            "ENS_OPERATOR_METRICS_PORT": str(self.metrics_port),
            "ENS_OPERATOR_HEALTH_PORT": str(self.health_port),
            "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_KEY_ID,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_KEY_SECRET,
            **self.operator_env,
            **(extra or {}),
        }

    def start_operator(
        self, extra_args: Sequence[str] = (), env: Mapping[str, str] | None = None, wait: bool = True
    ) -> ChildProcess:
        """Start ``ens-image-operator run`` against this stack; wait until its health endpoint answers."""
        if self.operator is not None and self.operator.alive:
            raise RuntimeError("the operator is already running")
        self.health_port, self.metrics_port = free_port(), free_port()
        self.operator = ChildProcess(
            "operator",
            ["run", "--all-namespaces", *extra_args],
            self.operator_log,
            self.operator_environment(env),
        )
        if wait:
            self.wait_operator_ready()
        return self.operator

    def wait_operator_ready(self, timeout: float | None = None) -> None:
        """Poll the operator's liveness endpoint until it answers 200."""
        assert self.operator is not None
        deadline = time.monotonic() + (timeout or self.start_timeout)
        url = f"http://127.0.0.1:{self.health_port}/healthz"
        while time.monotonic() < deadline:
            if not self.operator.alive:
                raise RuntimeError(f"the operator exited; its output:\n{self.operator.tail()}")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the operator did not become live; its output:\n{self.operator.tail()}")

    def kill_operator(self) -> None:
        """SIGKILL the operator: a crash at whatever moment it is in."""
        if self.operator is not None:
            self.operator.kill()

    def stop_operator(self) -> None:
        """SIGTERM the operator and wait for its clean exit."""
        if self.operator is not None:
            self.operator.terminate()

    # ---- the emulator's admin API ------------------------------------------------------------

    def admin(self, method: str, path: str, json: object | None = None) -> object:
        """Call the emulator's admin API (``/_emulator/<path>``) and return its JSON answer."""
        response = httpx.request(method, f"{self.admin_url}/{path.lstrip('/')}", json=json, timeout=10)
        response.raise_for_status()
        return response.json() if response.content else None
