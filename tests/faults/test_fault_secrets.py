"""Secrets: canary credentials flow through every path, and appear in no log, event, status or metric.

The default Secret holds a canary key the emulator accepts; a second Secret holds the canary id
with a wrong secret and a canary token (the failing path, whose errors get reported). The operator
logs at DEBUG, a share of calls is throttled, and an adoption fails, so every reporting path runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from faultkit import Kube, condition, converge, ens_image, is_ready, make_stack, oss, record, wait_until

NAMESPACE = "secrets"
CANARY_ID = f"LTAIcanary{uuid.uuid4().hex[:12]}"
CANARY_SECRET = f"canary-secret-{uuid.uuid4().hex}"
WRONG_SECRET = f"canary-wrong-{uuid.uuid4().hex}"
CANARY_TOKEN = f"canary-token-{uuid.uuid4().hex}"
SECRETS = (CANARY_SECRET, WRONG_SECRET, CANARY_TOKEN)


@dataclass
class Collected:
    """Every text a user or an attacker could read, by where it came from."""

    texts: dict[str, str] = field(default_factory=dict)
    key_ids_seen_by_ens: set[str] = field(default_factory=set)
    broken_message: str = ""


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collected]:
    stack = make_stack(
        tmp_path_factory.mktemp("secrets"),
        env={"ENS_OPERATOR_LOG_LEVEL": "DEBUG"},
        emulator_keys={CANARY_ID: CANARY_SECRET},
    )
    result = Collected()
    try:
        stack.start_operator()
        kube = Kube(stack, NAMESPACE)
        kube.post_secret("ens-credentials", {"accessKeyId": CANARY_ID, "accessKeySecret": CANARY_SECRET})
        kube.post_secret(
            "broken",
            {"accessKeyId": CANARY_ID, "accessKeySecret": WRONG_SECRET, "securityToken": CANARY_TOKEN},
        )
        stack.admin("POST", "faults", {"action": "DescribeSelfImages", "rate": 0.3, "retryAfterMs": 200})
        good = ["canary-a", "canary-b"]
        for name in good:
            assert kube.create(ens_image(name, source=oss(f"{name}.qcow2"))).status_code == 201
        broken = ens_image("canary-broken", source=oss("broken.qcow2"), credentialsRef={"name": "broken"})
        assert kube.create(broken).status_code == 201
        assert kube.create(ens_image("canary-adopt", imageId="m-doesnotexist")).status_code == 201
        converge(kube, [("EnsImage", name) for name in good], [], timeout=60)

        def reported(name: str) -> bool:
            body = next((i for i in kube.items("EnsImage") if i["metadata"]["name"] == name), {})
            return bool(condition(body, "Ready").get("message")) and not is_ready(body)

        wait_until(lambda: reported("canary-broken") and reported("canary-adopt"), 30, lambda: "no report")
        stack.admin("DELETE", "faults")
        items = kube.items("EnsImage")
        broken_body = next(i for i in items if i["metadata"]["name"] == "canary-broken")
        result.broken_message = str(condition(broken_body, "Ready").get("message"))
        result.texts["statuses"] = str([item.get("status") for item in items])
        result.texts["events"] = kube.text(f"/api/v1/namespaces/{NAMESPACE}/events")
        result.texts["metrics"] = httpx.get(f"http://127.0.0.1:{stack.metrics_port}/metrics", timeout=10).text
        log = stack.admin("GET", "calls/log")
        assert isinstance(log, list)
        result.key_ids_seen_by_ens = {str(entry.get("accessKeyId")) for entry in log}
        result.texts["emulator call log"] = str(log)
        stack.stop_operator()
        for name in ("operator", "emulator", "sandbox"):
            result.texts[f"{name} log"] = (stack.workdir / f"{name}.log").read_text(errors="replace")
        record("secrets", scanned={where: len(text) for where, text in result.texts.items()})
        yield result
    finally:
        stack.close()


def test_the_canary_key_was_used_against_ens(collected: Collected) -> None:
    assert CANARY_ID in collected.key_ids_seen_by_ens


def test_the_wrong_canary_secret_was_reported_as_a_failure(collected: Collected) -> None:
    assert collected.broken_message


def test_every_collected_text_was_gathered(collected: Collected) -> None:
    assert all(collected.texts.values()), [where for where, text in collected.texts.items() if not text]


@pytest.mark.parametrize("secret", SECRETS, ids=["secret", "wrong-secret", "token"])
def test_no_log_event_status_or_metric_contains_a_canary(collected: Collected, secret: str) -> None:
    leaked = [where for where, text in collected.texts.items() if secret in text]
    assert leaked == []
