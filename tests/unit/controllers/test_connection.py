"""The official client library is loaded only for kubeconfigs that need it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ens_image_operator.controllers import connection


def _kubeconfig(tmp_path: Path, user: dict[str, object]) -> Path:
    path = tmp_path / "config"
    path.write_text(
        yaml.safe_dump(
            {
                "current-context": "c",
                "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
                "clusters": [{"name": "k", "cluster": {"server": "https://k"}}],
                "users": [{"name": "u", "user": user}],
            }
        )
    )
    return path


def test_a_token_kubeconfig_does_not_need_the_client_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(_kubeconfig(tmp_path, {"token": "t"})))
    assert not connection.needs_client_library()


def test_an_exec_plugin_kubeconfig_needs_the_client_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = {"exec": {"command": "aws", "apiVersion": "client.authentication.k8s.io/v1beta1"}}
    monkeypatch.setenv("KUBECONFIG", str(_kubeconfig(tmp_path, user)))
    assert connection.needs_client_library()


def test_kubeconfig_data_fields_are_decoded_from_base64() -> None:
    assert connection.decode_data("LS0tLS1CRUdJTg==") == b"-----BEGIN"
