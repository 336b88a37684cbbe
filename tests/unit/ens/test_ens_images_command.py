"""``ens-image-operator images`` prints the catalogue, or one clear line and exit 1 on failure."""

from __future__ import annotations

import json
import socket

import pytest

from ens_image_operator import cli
from ens_image_operator.commands.images import render_json, render_table
from ens_image_operator.ens.models import ImageInfo

CREDENTIAL_VARS = [
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
    "ALIBABA_CLOUD_ROLE_ARN",
    "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
    "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
]
IMAGES = [
    ImageInfo(image_id="ubuntu_22", os_name="Ubuntu 22.04", os_type="linux", image_size=20),
    ImageInfo(image_id="win_2019", os_name="Windows Server 2019", os_type="windows", image_size=40),
]


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_missing_credentials_exit_1_with_one_line_naming_the_variables(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["images", "--endpoint", "http://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in err
    assert "Traceback" not in err


def test_unreachable_endpoint_exit_1_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret")
    endpoint = f"http://127.0.0.1:{closed_port()}"
    assert cli.main(["images", "--endpoint", endpoint, "--timeout", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot reach ENS at {endpoint}")
    assert err.count("\n") == 1


def test_json_output_uses_api_field_names() -> None:
    rows = json.loads(render_json(IMAGES))
    assert [(row["ImageId"], row["OSType"], row["ImageSize"]) for row in rows] == [
        ("ubuntu_22", "linux", 20),
        ("win_2019", "windows", 40),
    ]


def test_table_lists_every_image(capsys: pytest.CaptureFixture[str]) -> None:
    render_table(IMAGES)
    out = capsys.readouterr().out
    assert "ubuntu_22" in out
    assert "Windows Server 2019" in out


def test_an_endpoint_that_is_not_http_is_named_in_the_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret")
    assert cli.main(["images", "--endpoint", "ftp://ens.example.test"]) == 1
    assert (
        capsys.readouterr().err == "error: the endpoint must be an http(s) URL, not ftp://ens.example.test\n"
    )
