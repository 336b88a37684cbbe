"""``ens-image-operator emulator``: announces its address, serves the API, keeps state in --state."""

from __future__ import annotations

import re
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from alibabacloud_ens20171110 import models as ens
from alibabacloud_ens20171110.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import Config

from ens_image_operator import cli

DEFAULT_KEY = ("testid", "testsecret")
READY = re.compile(r"ENS emulator listening on (http://127\.0\.0\.1:(\d+))")


@contextmanager
def _emulator(*args: str) -> Iterator[str]:
    """Start the subcommand on a free port; yields its URL once it has announced it."""
    command = [sys.executable, "-m", "ens_image_operator.cli", "emulator", "--port", "0", *args]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            with selectors.DefaultSelector() as selector:
                selector.register(process.stdout, selectors.EVENT_READ)
                deadline = time.monotonic() + 30
                line = ""
                while not line and time.monotonic() < deadline:
                    if selector.select(timeout=deadline - time.monotonic()):
                        line = process.stdout.readline()
            ready = READY.search(line)
            assert ready, f"no announcement, got {line!r}"
            yield ready.group(1)
        finally:
            process.terminate()
            assert process.wait(timeout=10) == 0


def _client(url: str, key: tuple[str, str] = DEFAULT_KEY) -> Client:
    endpoint = url.removeprefix("http://")
    return Client(Config(access_key_id=key[0], access_key_secret=key[1], endpoint=endpoint, protocol="http"))


def _import(url: str, name: str) -> str:
    request = ens.ImportImageRequest(
        architecture="x86_64",
        compute_type="ens_vm",
        image_format="qcow2",
        image_name=name,
        ostype="linux",
        disk_device_mapping=[ens.ImportImageRequestDiskDeviceMapping(ossbucket="b", ossobject="d.qcow2")],
    )
    image_id: str = _client(url).import_image(request).body.image_id
    return image_id


def test_port_zero_announces_the_real_port_and_serves() -> None:
    with _emulator() as url:
        assert not url.endswith(":0")
        assert httpx.get(f"{url}/_emulator/health").json() == {"ok": True}


def test_state_survives_a_restart_of_the_process(tmp_path: Path) -> None:
    state = str(tmp_path / "ens.db")
    with _emulator("--state", state) as url:
        image_id = _import(url, "persisted")
    with _emulator("--state", state) as url:
        body = _client(url).describe_self_images(ens.DescribeSelfImagesRequest(image_id=image_id)).body
    assert [i.image_name for i in body.images.image] == ["persisted"]


def test_configured_keys_replace_the_default_one() -> None:
    with _emulator("--access-key-id", "ops", "--access-key-secret", "s3cret") as url:
        assert _client(url, ("ops", "s3cret")).describe_image_infos(ens.DescribeImageInfosRequest()).body
        with pytest.raises(ClientException) as raised:
            _client(url).describe_image_infos(ens.DescribeImageInfosRequest())
    assert raised.value.code == "InvalidAccessKeyId.NotFound"


def test_a_configured_sts_key_is_accepted_with_its_token() -> None:
    with _emulator("--sts-key", "STS.fixed", "sts-secret", "sts-token") as url:
        config = Config(
            access_key_id="STS.fixed",
            access_key_secret="sts-secret",
            security_token="sts-token",
            endpoint=url.removeprefix("http://"),
            protocol="http",
        )
        assert Client(config).describe_image_infos(ens.DescribeImageInfosRequest()).body.images.image


def test_unpaired_key_flags_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["emulator", "--access-key-id", "lonely"]) == 2
    assert "pairs" in capsys.readouterr().out
