"""Fixtures shared by the suites: one real Kubernetes control plane for the whole session.

The sandbox and e2e suites run every test twice, once against the local Kubernetes API (target
``sandbox``) and once against a real kube-apiserver and etcd built from their Go modules (target
``real``, see ``tests/cluster/``). The real one is started at most once per session and shared.
Without Go (and nothing cached) the ``real`` variants are skipped, except under ``CI=true``
where that, like any build or start-up failure, fails the run.
"""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Iterator

import pytest
from tests.cluster.build import Binaries, BuildError, ensure_binaries, wanted_version
from tests.cluster.controlplane import ControlPlane, StartError, unavailable_reason
from tests.gotest import announce

from ens_image_kit.stack import find_crds_dir

# What the build before the first test left: binaries, or the reason to skip or fail.
_BINARIES = pytest.StashKey[Binaries | tuple[str, str]]()


def _uses_control_plane(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    targets = {callspec.params.get(name) for name in ("cluster", "stack")} if callspec else set()
    return "control_plane" in getattr(item, "fixturenames", ()) or "real" in targets


def _prepare(config: pytest.Config) -> Binaries | tuple[str, str]:
    """The binaries (built now if missing), or ("skip" | "fail", why)."""
    if _BINARIES not in config.stash:
        try:
            reason = unavailable_reason()
            if reason is not None and os.environ.get("CI") != "true":
                config.stash[_BINARIES] = ("skip", reason)
            else:
                config.stash[_BINARIES] = ensure_binaries(
                    wanted_version(), functools.partial(announce, config)
                )
        except BuildError as error:
            config.stash[_BINARIES] = ("fail", str(error))
    return config.stash[_BINARIES]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the binaries before the first test when a selected test needs them.

    Done here rather than in the fixture so that a cold build (minutes) does not count against
    the per-test timeout.
    """
    if not session.config.option.collectonly and any(_uses_control_plane(item) for item in session.items):
        _prepare(session.config)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip the tests that need the control plane when it cannot be had.

    Raised here rather than in the fixture, so that the summary folds them into one line.
    """
    if _uses_control_plane(item):
        binaries = _prepare(item.config)
        if isinstance(binaries, tuple) and binaries[0] == "skip":
            pytest.skip(binaries[1])


@pytest.fixture(scope="session")
def control_plane(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    """A real kube-apiserver + etcd (``ENS_K8S_VERSION``), built on first use, stopped at the end."""
    binaries = _prepare(request.config)
    if isinstance(binaries, tuple):
        outcome, reason = binaries
        if outcome == "skip":
            pytest.skip(reason)
        pytest.fail(f"the real control plane is not available: {reason}", pytrace=False)
    plane = ControlPlane(binaries, tmp_path_factory.mktemp("control-plane"))
    try:
        plane.start()
    except StartError as error:
        pytest.fail(f"the real control plane did not start: {error}", pytrace=False)
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="module")
def private_control_plane(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    """A control plane of one module's own, the CRDs Established: no other suite's operator acts there."""
    crds = find_crds_dir()
    assert crds is not None, "the crds/ folder is needed to install the CRDs"
    with ControlPlane(control_plane.binaries, tmp_path_factory.mktemp("private-plane")) as own:
        env = {**os.environ, "KUBECONFIG": str(own.kubeconfig)}
        for args in (["apply", "-f", str(crds)], ["wait", "--for=condition=Established", "-f", str(crds)]):
            subprocess.run([str(own.kubectl), *args], check=True, capture_output=True, env=env, timeout=90)
        yield own
