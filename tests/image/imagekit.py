"""The operator's image, built from the repository's Dockerfile without a daemon and run as a pod would.

buildah (vfs storage, chroot isolation) builds the Dockerfile on a Debian bookworm python base made
by debootstrap, which stands in for ``python:3.11-slim``. Both images live in a buildah store under
``$HOME/.cache/ens-image-operator/image/``, tagged with a hash of their inputs: a rerun whose
inputs did not change builds nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ens-image-operator" / "image"

SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-pip", "python3-venv")
# The build machine's CA bundle: pip inside the build reaches the package registry through it.
# It goes into the test base only; the Dockerfile never sees it.
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# Bump when the recipe of the base changes, so cached bases are not reused.
BASE_RECIPE = "1"

BASE_NAME = "localhost/ens-image-operator-test-base"
IMAGE_NAME = "localhost/ens-image-operator"
TEST_TAG_PREFIX = "test-"
# What the Dockerfile copies from the build context (the .dockerignore keeps the rest out).
IMAGE_INPUTS = ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md", "operator/ens_image_operator")
IGNORED_PARTS = ("__pycache__", ".egg-info", ".pyc")

CHART_USER = "65532:65532"  # the chart's podSecurityContext: runAsUser / runAsGroup

TOOLS = ("buildah", "debootstrap", "unshare", "chroot", "mount")
HOW_TO_ENABLE = (
    "image test needs root with buildah and debootstrap: run as root on Debian (installed on demand) "
    "or `apt-get install buildah debootstrap`"
)


class ImageError(RuntimeError):
    """A step of building or running the image failed; the message holds the tool's output."""


def _run(args: Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None) -> str:
    try:
        result = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise ImageError(f"{shlex.join(args)} did not finish in {timeout:.0f}s") from exc
    if result.returncode != 0:
        output = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        raise ImageError(f"{shlex.join(args)} failed ({result.returncode}):\n{output}")
    return result.stdout.strip()


# ---- the tools ---------------------------------------------------------------------------------


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def ensure_tools() -> str | None:
    """Install buildah and debootstrap from Debian's packages if missing: None when ready, else why not."""
    if os.geteuid() != 0:
        return "not root"
    if not missing_tools():
        return None
    if not Path("/etc/debian_version").exists() or shutil.which("apt-get") is None:
        return f"missing {', '.join(missing_tools())} and this is not Debian"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", "update"], timeout=600, env=env)
    _run(["apt-get", "install", "-y", "buildah", "debootstrap"], timeout=900, env=env)
    if missing := missing_tools():
        return f"still missing after apt-get install: {', '.join(missing)}"
    return None


@contextlib.contextmanager
def cache_lock() -> Iterator[None]:
    """One build at a time in the shared cache (parallel test runs wait for each other)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / "lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Buildah:
    """buildah on its own store in the cache directory, vfs driver (works inside containers too)."""

    def __init__(self, cache: Path = CACHE) -> None:
        self.global_args = [
            "--root", str(cache / "storage"),
            "--runroot", str(cache / "run"),
            "--storage-driver", "vfs",
        ]  # fmt: skip

    def __call__(self, *args: str, timeout: float = 120) -> str:
        return _run(["buildah", *self.global_args, *args], timeout=timeout)

    def exists(self, kind: str, ref: str) -> bool:
        try:
            self("inspect", "--type", kind, ref)
        except ImageError:
            return False
        return True

    def inspect_image(self, ref: str) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self("inspect", "--type", "image", ref))
        return body

    def image_size(self, ref: str) -> str:
        """The image's size as ``buildah images`` reports it (uncompressed layers, e.g. "387 MB")."""
        for entry in json.loads(self("images", "--json")):
            if ref in (entry.get("names") or []):
                return str(entry["size"])
        raise ImageError(f"{ref} is not in the store")

    def image_id(self, ref: str) -> str:
        return self("inspect", "--type", "image", "--format", "{{.FromImageID}}", ref)


# ---- the images --------------------------------------------------------------------------------


def _digest(parts: Sequence[bytes]) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(len(part).to_bytes(8, "big"))
        sha.update(part)
    return sha.hexdigest()[:16]


def base_key() -> str:
    recipe = f"{BASE_RECIPE} {SUITE} minbase {','.join(BASE_PACKAGES)}".encode()
    return _digest([recipe, CA_BUNDLE.read_bytes()])


def source_files() -> list[Path]:
    """The files of the build context that the Dockerfile uses, in a stable order."""
    files: list[Path] = []
    for name in IMAGE_INPUTS:
        path = REPO / name
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        files += [
            candidate
            for candidate in candidates
            if candidate.is_file() and not any(part in str(candidate) for part in IGNORED_PARTS)
        ]
    return files


def image_key(base_id: str) -> str:
    parts = [base_id.encode()]
    for path in source_files():
        parts += [str(path.relative_to(REPO)).encode(), path.read_bytes()]
    return _digest(parts)


def _finish_base_rootfs(rootfs: Path) -> None:
    """Make the debootstrap root look like python:3.11-slim: a `python`, no apt caches, an empty /dev."""
    (rootfs / "usr/bin/python").symlink_to("python3")
    bundle = rootfs / "etc/ssl/certs/ca-certificates.crt"
    bundle.parent.mkdir(parents=True, exist_ok=True)
    bundle.unlink(missing_ok=True)
    shutil.copyfile(CA_BUNDLE, bundle)
    for directory in ("var/cache/apt/archives", "var/lib/apt/lists", "dev", "var/log"):
        for entry in (rootfs / directory).iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


def build_base(buildah: Buildah) -> str:
    """The Debian python base image, made by debootstrap into a scratch container and committed."""
    ref = f"{BASE_NAME}:{base_key()}"
    if buildah.exists("image", ref):
        return ref
    container = buildah("from", "scratch")
    try:
        rootfs = Path(buildah("mount", container))
        _run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}",
                SUITE,
                str(rootfs),
            ],
            timeout=1200,
        )
        _finish_base_rootfs(rootfs)
        buildah(
            "config",
            "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--env", "LANG=C.UTF-8",
            # Debian's pip refuses to install into the system python without it (PEP 668).
            "--env", "PIP_BREAK_SYSTEM_PACKAGES=1",
            "--cmd", "python3",
            container,
        )  # fmt: skip
        buildah("commit", "--quiet", container, ref, timeout=600)
    finally:
        with contextlib.suppress(ImageError):
            buildah("rm", container)
    return ref


@dataclass
class BuiltImage:
    """The operator's image in the cache's store, with what it took to get it."""

    ref: str
    base_ref: str
    built: bool
    seconds: float
    config: dict[str, Any] = field(default_factory=dict)


def build_image(buildah: Buildah) -> BuiltImage:
    """The repository's Dockerfile built on the test base: reused when base and sources are unchanged."""
    started = time.monotonic()
    with cache_lock():
        base_ref = build_base(buildah)
        ref = f"{IMAGE_NAME}:{TEST_TAG_PREFIX}{image_key(buildah.image_id(base_ref))}"
        built = not buildah.exists("image", ref)
        if built:
            buildah(
                "bud",
                "--isolation", "chroot",
                "--pull-never",
                "--build-arg", f"PYTHON_IMAGE={base_ref}",
                "--file", str(REPO / "Dockerfile"),
                "--tag", ref,
                str(REPO),
                timeout=1200,
            )  # fmt: skip
            _forget_other_builds(buildah, keep=ref)
    config = buildah.inspect_image(ref)["OCIv1"]["config"]
    return BuiltImage(ref, base_ref, built, time.monotonic() - started, config)


def _forget_other_builds(buildah: Buildah, keep: str) -> None:
    """Remove earlier test builds (and their run containers) so the cache holds one image."""
    for line in buildah("containers", "--format", "{{.ContainerName}} {{.ImageName}}").splitlines():
        name, _, image = line.partition(" ")
        if image.startswith(f"{IMAGE_NAME}:{TEST_TAG_PREFIX}") and image != keep:
            with contextlib.suppress(ImageError):
                buildah("rm", name)
    for ref in buildah("images", "--format", "{{.Name}}:{{.Tag}}").splitlines():
        if ref.startswith(f"{IMAGE_NAME}:{TEST_TAG_PREFIX}") and ref != keep:
            with contextlib.suppress(ImageError):
                buildah("rmi", ref)


def image_rootfs(buildah: Buildah, image: BuiltImage) -> Path:
    """The image's files, unpacked once into a container that is kept (it is only ever mounted read-only)."""
    name = "ens-image-operator-test-" + image.ref.rsplit(TEST_TAG_PREFIX, 1)[1]
    with cache_lock():
        if not buildah.exists("container", name):
            buildah("from", "--pull-never", "--name", name, image.ref, timeout=600)
        return Path(buildah("mount", name))


# ---- running it as a pod -------------------------------------------------------------------------

# Inside a private mount (and hostname) namespace: the image's files bound read-only at a fresh
# root, a tmpfs on /tmp (the chart's emptyDir), /proc, a minimal /dev, the volumes bound read-only;
# then chroot as the given user with exactly the given environment. Each step `exec`s the next, so
# the process the caller holds is the operator itself: signals reach it and its exit code is ours.
_POD_SCRIPT = """
set -eu
rootfs=$1 root=$2 hostname=$3
shift 3
hostname "$hostname"
mount --bind "$rootfs" "$root"
mount -o remount,bind,ro "$root"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$root/tmp"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t tmpfs -o nosuid,mode=755 tmpfs "$root/dev"
for device in null zero full random urandom tty; do
  : > "$root/dev/$device"
  mount --bind "/dev/$device" "$root/dev/$device"
done
while [ "$1" != "--" ]; do
  mount --bind -o ro "$1" "$root$2"
  shift 2
done
shift
exec env -i "$@"
"""


_HOST_ENV = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}


def _pod_argv(
    rootfs: Path,
    root: Path,
    hostname: str,
    volume_args: Sequence[str],
    environment: Mapping[str, str],
    user: str,
    command: Sequence[str],
) -> list[str]:
    """The host command that runs ``command`` inside the image as ``_POD_SCRIPT`` sets it up."""
    return [
        "unshare", "--mount", "--uts", "--propagation", "private", "--",
        "sh", "-c", _POD_SCRIPT, "pod", str(rootfs), str(root), hostname, *volume_args, "--",
        *(f"{key}={value}" for key, value in environment.items()),
        "chroot", f"--userspec={user}", str(root), *command,
    ]  # fmt: skip


def run_in_image(
    rootfs: Path, config: Mapping[str, Any], command: Sequence[str], workdir: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """One command (not the entrypoint) inside the image, as the chart's user with the image's ENV."""
    root = workdir / "root"
    root.mkdir(parents=True, exist_ok=True)
    environment = {**image_environment(config), "HOSTNAME": "image-check"}
    return subprocess.run(
        _pod_argv(rootfs, root, "image-check", (), environment, CHART_USER, command),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_HOST_ENV,
    )


def image_environment(config: Mapping[str, Any]) -> dict[str, str]:
    """The environment the image itself declares (ENV lines of the Dockerfile and of its base)."""
    return dict(item.split("=", 1) for item in config.get("Env") or [])


def resolve_inside(rootfs: Path, path: str) -> PurePosixPath:
    """``path`` with every symlink resolved within ``rootfs`` (as if chrooted), not on the host."""
    pending = list(PurePosixPath(path).parts[1:])
    resolved = PurePosixPath("/")
    for _ in range(256):  # bounds symlink loops
        if not pending:
            return resolved
        part = pending.pop(0)
        if part in (".", ".."):
            resolved = resolved.parent if part == ".." else resolved
            continue
        on_host = rootfs / (resolved / part).relative_to("/")
        if on_host.is_symlink():
            link = PurePosixPath(os.readlink(on_host))
            pending = [*link.parts[1:], *pending] if link.is_absolute() else [*link.parts, *pending]
            resolved = PurePosixPath("/") if link.is_absolute() else resolved
        else:
            resolved = resolved / part
    raise ImageError(f"too many symlinks in {path} inside {rootfs}")


class PodProcess:
    """The image's entrypoint, started the way a kubelet would start the chart's container."""

    def __init__(
        self,
        rootfs: Path,
        config: Mapping[str, Any],
        *,
        user: str,
        args: Sequence[str],
        env: Mapping[str, str],
        volumes: Mapping[Path, str],
        workdir: Path,
        hostname: str,
    ) -> None:
        self.log_path = workdir / "pod.log"
        root = workdir / "root"
        root.mkdir(parents=True, exist_ok=True)
        command = [*(config.get("Entrypoint") or []), *args]
        environment = {**image_environment(config), "HOSTNAME": hostname, **env}
        volume_args: list[str] = []
        for host, target in volumes.items():
            # As a runtime does: the image's symlinks (/var/run -> /run) resolved inside the image,
            # and a missing mount point created in the container's own layer.
            inside = resolve_inside(rootfs, target)
            (rootfs / inside.relative_to("/")).mkdir(parents=True, exist_ok=True)
            volume_args += [str(host), str(inside)]
        self._log = self.log_path.open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            _pod_argv(rootfs, root, hostname, volume_args, environment, user, command),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=_HOST_ENV,
        )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_live(self, health_url: str, timeout: float = 60.0) -> int:
        """Poll the health endpoint until it answers; its status code. Raises with the log if it exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise ImageError(f"the operator exited with {self.process.returncode}:\n{self.log()}")
            try:
                return httpx.get(health_url, timeout=1.0).status_code
            except httpx.HTTPError:
                time.sleep(0.2)
        raise ImageError(f"{health_url} did not answer within {timeout:.0f} s:\n{self.log()}")

    def log(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def terminate(self, timeout: float) -> int | None:
        """SIGTERM; the exit code, or None if it did not exit within ``timeout`` (then it is killed)."""
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None
        finally:
            self._log.close()


@dataclass
class Pod:
    """The operator started from the image, and the address of its health endpoint."""

    process: PodProcess
    health_url: str

    def wait_live(self, timeout: float = 60.0) -> int:
        """Poll /healthz until it answers; its status code. Fails with the log if the operator exits."""
        try:
            return self.process.wait_live(self.health_url, timeout)
        except ImageError as error:
            pytest.fail(str(error), pytrace=False)


StartPod = Callable[[Mapping[str, str], Mapping[Path, str]], Pod]


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None, binary: str = "kubectl") -> str:
    """Run kubectl against ``kubeconfig``; its output. Fails the test on a non-zero exit."""
    result = subprocess.run(
        [binary, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        timeout=90,
    )
    assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr.strip()}"
    return result.stdout


def import_until_ready(kubeconfig: Path, binary: str = "kubectl") -> str:
    """Import an image in a new namespace and wait (60 s) until it is Ready; its ENS image id."""
    namespace, name = f"image-{uuid.uuid4().hex[:8]}", f"img-{uuid.uuid4().hex[:6]}"
    manifest = {
        "apiVersion": "ens.image-operator.io/v1alpha1",
        "kind": "EnsImage",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"source": {"oss": {"bucket": "images", "object": "web.qcow2", "region": "cn-beijing"}}},
    }
    kubectl(kubeconfig, "create", "namespace", namespace, binary=binary)
    kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump(manifest), binary=binary)
    ready = ("wait", "--for=condition=Ready", f"ensimage/{name}", "--timeout=60s")
    kubectl(kubeconfig, "-n", namespace, *ready, binary=binary)
    get = ("get", "ensimage", name, "-o", "jsonpath={.status.imageId}")
    return kubectl(kubeconfig, "-n", namespace, *get, binary=binary)
