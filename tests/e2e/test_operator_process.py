"""The operator process: metrics, liveness, and a clean exit on SIGTERM."""

from __future__ import annotations

import re
import time

import httpx

from cluster import Cluster, ens_image, oss, unique
from ens_image_kit.stack import LocalStack


def _metrics(stack: LocalStack) -> str:
    return httpx.get(f"http://127.0.0.1:{stack.metrics_port}/metrics", timeout=5).text


def _ready_images(text: str) -> float:
    found = re.search(r'^ens_operator_resources\{kind="EnsImage",ready="True"\} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_liveness_endpoint_answers(stack: LocalStack, cluster: Cluster) -> None:
    assert httpx.get(f"http://127.0.0.1:{stack.health_port}/healthz", timeout=5).status_code == 200


def test_metrics_count_ens_calls_and_resources_by_ready_status(stack: LocalStack, cluster: Cluster) -> None:
    name = unique("metrics")
    cluster.apply(ens_image(name, source=oss("web.qcow2")))
    cluster.wait_condition("ensimage", name, "Ready")
    text = _metrics(stack)
    assert 'ens_operator_ens_calls_total{action="ImportImage",code="OK"}' in text
    assert 'ens_operator_ens_call_duration_seconds_count{action="DescribeSelfImages"}' in text
    deadline = time.monotonic() + 30
    while _ready_images(_metrics(stack)) < 1:
        assert time.monotonic() < deadline, "the resource gauge never counted a Ready EnsImage"
        time.sleep(0.5)


def test_sigterm_stops_the_operator_cleanly(stack: LocalStack, cluster: Cluster) -> None:
    assert stack.operator is not None
    started = time.monotonic()
    stack.stop_operator()
    assert stack.operator.process.returncode == 0
    assert time.monotonic() - started < 10
    stack.start_operator()
