"""The operator names itself in kopf's peering without asking the passwd database.

In the image the process runs as UID 65532 with no passwd entry and no USER/LOGNAME: kopf's default
identity (``getpass.getuser()``) raises there and the operator died at start-up.
"""

from __future__ import annotations

import getpass
from typing import Any

import pytest

from ens_image_operator.controllers import operator
from ens_image_operator.settings import Settings


def _no_user(*_: Any) -> str:
    raise KeyError("getpwuid(): uid not found: 65532")


def test_the_pod_name_is_the_identity_where_the_chart_provides_it() -> None:
    assert operator.peering_identity({"POD_NAME": "ens-image-operator-7f9c-abcde"}) == (
        "ens-image-operator-7f9c-abcde"
    )


def test_without_a_pod_name_the_identity_is_host_and_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(getpass, "getuser", _no_user)
    monkeypatch.setattr(operator.socket, "gethostname", lambda: "node-1")
    monkeypatch.setattr(operator.os, "getpid", lambda: 42)
    assert operator.peering_identity({}) == "node-1/42"


async def test_kopf_is_given_the_identity_so_it_never_looks_up_the_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(getpass, "getuser", _no_user)
    monkeypatch.setenv("POD_NAME", "replica-a")
    seen: dict[str, Any] = {}

    async def fake_operator(**kwargs: Any) -> None:
        seen.update(kwargs)

    async def api_answers(info: Any) -> None:
        return None

    monkeypatch.setattr(operator.kopf, "operator", fake_operator)
    monkeypatch.setattr(operator.connection, "login", lambda settings, logger: object())
    monkeypatch.setattr(operator, "wait_for_api", api_answers)
    await operator.run_operator(Settings(peering="ens-image-operator", metrics_port=0), priority=7)
    assert seen["identity"] == "replica-a"
