"""The operator's image, run as the chart runs it: UID 65532, read-only root, /tmp the only writable place.

The image is the repository's Dockerfile built on a Debian python base (see ``imagekit.py``). The
operator in it reaches the local Kubernetes API and the ENS emulator over loopback (the host network
is shared) and finds its kubeconfig on a read-only volume.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from imagekit import CHART_USER, BuiltImage, Pod, StartPod, import_until_ready

from ens_image_kit.stack import LocalStack

# A cold run installs the tools, debootstraps the base and builds the image first.
pytestmark = pytest.mark.timeout(1200)

KUBECONFIG_DIR = "/mnt"


@pytest.fixture
def pod(start_pod: StartPod, local_apis: LocalStack, tmp_path: Path) -> Pod:
    """The operator from the image, reaching the local Kubernetes API through a mounted kubeconfig."""
    volume = tmp_path / "kubeconfig"
    volume.mkdir()
    shutil.copyfile(local_apis.kubeconfig, volume / "config")
    return start_pod({"KUBECONFIG": f"{KUBECONFIG_DIR}/config"}, {volume: KUBECONFIG_DIR})


def test_the_image_runs_as_uid_65532_which_has_no_passwd_entry(
    operator_image: BuiltImage, rootfs: Path
) -> None:
    assert operator_image.config["User"] == CHART_USER
    uids = {line.split(":")[2] for line in (rootfs / "etc/passwd").read_text().splitlines() if line}
    assert "65532" not in uids


def test_the_operator_runs_as_65532_with_a_read_only_root_and_a_writable_tmp(pod: Pod) -> None:
    pod.wait_live()
    proc = Path(f"/proc/{pod.process.process.pid}")
    uids = next(line for line in (proc / "status").read_text().splitlines() if line.startswith("Uid:"))
    assert uids.split()[1:] == ["65532"] * 4
    # mountinfo: mount point (field 5) and its options (field 6), as the process sees them.
    mounts = {fields[4]: fields[5].split(",") for fields in map(str.split, (proc / "mountinfo").open())}
    assert "ro" in mounts["/"]
    writable = {point for point, options in mounts.items() if "rw" in options}
    assert {point for point in writable if not point.startswith(("/proc", "/dev"))} == {"/tmp"}


def test_the_operator_in_the_image_answers_healthz(pod: Pod) -> None:
    assert pod.wait_live() == 200


def test_an_import_reaches_ready_through_the_operator_in_the_image(pod: Pod, local_apis: LocalStack) -> None:
    pod.wait_live()
    assert import_until_ready(local_apis.kubeconfig).startswith("m-")


def test_sigterm_stops_the_operator_in_the_image_within_10_s_with_exit_0(pod: Pod) -> None:
    pod.wait_live()
    code = pod.process.terminate(timeout=10)
    assert code == 0, f"exit code {code} (None: still running after 10 s):\n{pod.process.log()}"
