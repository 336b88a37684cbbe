"""Connection and login errors as a user meets them: one clear line and an exit, or patient retries.

Before, a missing kubeconfig printed a traceback and the process hung in kopf's login retries; a
wrong CA or an expired token looked the same from outside.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import certifi
import httpx
import yaml
from tests.cluster.controlplane import ControlPlane

from ens_image_kit.stack import ChildProcess, free_port

EXIT_WITHIN = 30.0


def _operator(tmp_path: Path, kubeconfig: Path | str, health_port: int = 0) -> ChildProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENS_OPERATOR_", "KUBECONFIG"))}
    env.update(
        {
            "KUBECONFIG": str(kubeconfig),
            "ENS_OPERATOR_ENDPOINT": "http://127.0.0.1:9",
            "ENS_OPERATOR_METRICS_PORT": "0",
            "ENS_OPERATOR_HEALTH_PORT": str(health_port),
            "ALIBABA_CLOUD_ACCESS_KEY_ID": "id",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "secret",
        }
    )
    return ChildProcess("operator", ["run", "--all-namespaces"], tmp_path / "operator.log", env)


def _exit_line(process: ChildProcess) -> tuple[int, str]:
    """The exit code and the last line the process printed; fail if it is still running."""
    try:
        code = process.process.wait(EXIT_WITHIN)
    except Exception:
        process.kill()
        raise AssertionError(f"the operator did not exit; its output:\n{process.tail()}") from None
    process.kill()  # collects the log reader
    lines = process.tail().splitlines()
    return code, lines[-1] if lines else ""


def _variant(plane: ControlPlane, tmp_path: Path, change: Any) -> Path:
    config = yaml.safe_load(plane.kubeconfig.read_text())
    change(config)
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_kubeconfig_that_does_not_exist_is_named_and_the_operator_exits(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "config"
    code, line = _exit_line(_operator(tmp_path, missing))
    assert code == 1
    assert line == (
        f"ens-image-operator: kubeconfig {missing} does not exist (from KUBECONFIG); set KUBECONFIG "
        "to a kubeconfig file, or run in a pod with a service account"
    )


def test_a_ca_that_does_not_match_the_server_is_named_and_the_operator_exits(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    def wrong_ca(config: dict[str, Any]) -> None:
        cluster = config["clusters"][0]["cluster"]
        cluster.pop("certificate-authority-data", None)
        cluster["certificate-authority"] = certifi.where()

    code, line = _exit_line(_operator(tmp_path, _variant(control_plane, tmp_path, wrong_ca)))
    assert code == 1
    assert "TLS to https://127.0.0.1:" in line and "certificate-authority does not match" in line


def test_a_wrong_token_is_reported_as_401_and_the_operator_exits(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    def wrong_token(config: dict[str, Any]) -> None:
        config["users"][0]["user"] = {"token": "expired-or-wrong"}

    code, line = _exit_line(_operator(tmp_path, _variant(control_plane, tmp_path, wrong_token)))
    assert code == 1
    assert "rejected the credentials (401 Unauthorized)" in line and "context" in line


def test_a_server_that_is_down_is_retried_and_the_operator_carries_on_when_it_returns(
    tmp_path: Path,
) -> None:
    port, health = free_port(), free_port()
    kubeconfig = tmp_path / "kubeconfig"
    env = dict(os.environ)
    operator = _operator(tmp_path, kubeconfig, health_port=health)
    sandbox: ChildProcess | None = None
    try:
        # The kubeconfig exists, but nothing listens on its port yet.
        kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "current-context": "local",
                    "contexts": [{"name": "local", "context": {"cluster": "local", "user": "local"}}],
                    "clusters": [{"name": "local", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                    "users": [{"name": "local", "user": {"token": "sandbox"}}],
                }
            )
        )
        deadline = time.monotonic() + EXIT_WITHIN
        while operator.tail().count("cannot reach the Kubernetes API") < 2:
            assert operator.alive, f"the operator gave up on a server that may come back:\n{operator.tail()}"
            assert time.monotonic() < deadline, f"no retry lines:\n{operator.tail()}"
            time.sleep(0.2)
        assert "attempt 1, next in 1 s" in operator.tail()
        crds = Path(__file__).resolve().parents[2] / "crds"
        args = ["sandbox", "--host", "127.0.0.1", "--port", str(port), "--crds", str(crds)]
        args += ["--kubeconfig", str(tmp_path / "sandbox-kubeconfig")]
        sandbox = ChildProcess("sandbox", args, tmp_path / "sandbox.log", env)
        sandbox.wait_url(60)
        deadline = time.monotonic() + 60
        while True:
            assert operator.alive, operator.tail()
            try:
                if httpx.get(f"http://127.0.0.1:{health}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"the operator did not carry on:\n{operator.tail()}"
            time.sleep(0.2)
        assert "the Kubernetes API answers again" in operator.tail(200)
    finally:
        operator.terminate(timeout=10)
        if sandbox is not None:
            sandbox.terminate(timeout=10)
