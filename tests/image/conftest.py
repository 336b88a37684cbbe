"""Fixtures of the image tests: the image built once per session (cached across runs), the local APIs.

The tests need root, buildah and debootstrap. As root on Debian the two tools are installed from
Debian's packages when missing; elsewhere the tests are skipped, except under ``CI=true`` where
that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from imagekit import (
    CHART_USER,
    HOW_TO_ENABLE,
    Buildah,
    BuiltImage,
    ImageError,
    Pod,
    PodProcess,
    StartPod,
    build_image,
    ensure_tools,
    image_rootfs,
)

from ens_image_kit.stack import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET, LocalStack, free_port

IN_CI = os.environ.get("CI") == "true"
FIGURES: dict[str, str] = {}


@pytest.fixture(scope="session")
def buildah() -> Buildah:
    """buildah on the cache's store, once root, buildah and debootstrap are there."""
    try:
        why_not = ensure_tools()
    except ImageError as error:
        pytest.fail(f"installing buildah and debootstrap failed: {error}", pytrace=False)
    if why_not is not None:
        message = f"{HOW_TO_ENABLE} ({why_not})"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return Buildah()


@pytest.fixture(scope="session")
def operator_image(buildah: Buildah) -> BuiltImage:
    """The repository's Dockerfile built on the Debian test base (a cache hit when nothing changed)."""
    try:
        image = build_image(buildah)
    except ImageError as error:
        pytest.fail(f"building the image failed: {error}", pytrace=False)
    FIGURES["image"] = f"{image.ref} ({buildah.image_size(image.ref)})"
    FIGURES["base"] = f"{image.base_ref} ({buildah.image_size(image.base_ref)})"
    FIGURES["build" if image.built else "cache hit"] = f"{image.seconds:.1f} s"
    return image


@pytest.fixture(scope="session")
def rootfs(buildah: Buildah, operator_image: BuiltImage) -> Path:
    """The image's files, to be mounted read-only as a pod's root."""
    return image_rootfs(buildah, operator_image)


@pytest.fixture(scope="session")
def local_apis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The ENS emulator and the local Kubernetes API (the operator itself runs from the image)."""
    with LocalStack(tmp_path_factory.mktemp("image-apis"), step_seconds=0.5) as stack:
        yield stack


@pytest.fixture
def start_pod(
    operator_image: BuiltImage, rootfs: Path, local_apis: LocalStack, tmp_path: Path
) -> Iterator[StartPod]:
    """Start the image's entrypoint as the chart does: its arguments, UID 65532, the ENS settings.

    The caller adds how the operator reaches Kubernetes (environment and volumes, mounted read-only).
    Every pod started is stopped after the test.
    """
    started: list[PodProcess] = []

    def start(env: Mapping[str, str], volumes: Mapping[Path, str]) -> Pod:
        name = f"ens-image-operator-{uuid.uuid4().hex[:10]}-{uuid.uuid4().hex[:5]}"
        health_port = free_port()
        workdir = tmp_path / name
        workdir.mkdir()
        process = PodProcess(
            rootfs,
            operator_image.config,
            user=CHART_USER,
            args=["--all-namespaces"],
            env={
                "POD_NAME": name,  # the chart sets it from metadata.name
                "ENS_OPERATOR_ENDPOINT": local_apis.emulator_url,
                "ENS_OPERATOR_STS_ENDPOINT": local_apis.emulator_url,
                "ENS_OPERATOR_FAST_POLL_INTERVAL": "0.5",
                "ENS_OPERATOR_METRICS_PORT": str(free_port()),
                "ENS_OPERATOR_HEALTH_PORT": str(health_port),
                "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_KEY_ID,
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_KEY_SECRET,
                **env,
            },
            volumes=volumes,
            workdir=workdir,
            hostname=name,
        )
        started.append(process)
        return Pod(process, f"http://127.0.0.1:{health_port}/healthz")

    yield start
    for process in started:
        process.terminate(timeout=15)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("operator image")
        for name, figure in FIGURES.items():
            terminalreporter.write_line(f"{name}: {figure}")
