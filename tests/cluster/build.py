"""Build kube-apiserver, kube-controller-manager, etcd (and kubectl) from their Go modules.

kubectl is built only when no kubectl within one minor of the server is installed.

The wrapper modules live beside this file: ``k8s/`` (k8s.io/kubernetes with every staging module
replaced by its published version) and ``etcd/`` (go.etcd.io/etcd/server/v3). Their go.mod and
go.sum are for the default Kubernetes version; another version (``ENS_K8S_VERSION``) gets a
wrapper generated from the same go.mod in the cache, resolved with ``go mod tidy``.

The binaries are cached per version under ``$HOME/.cache/ens-image-operator/k8s/<version>/`` and
are not built again while they are there.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
K8S_WRAPPER = HERE / "k8s"
ETCD_WRAPPER = HERE / "etcd"

DEFAULT_VERSION = "1.34.4"
VERSION_VARIABLE = "ENS_K8S_VERSION"
# The k8s.io/kubernetes tags the module proxy serves.
SERVED_VERSIONS = ("1.34.0", "1.34.2", "1.34.3", "1.34.4", "1.35.4", "1.36.1", "1.36.3", "1.37.2")
# Staging modules that exist from 1.36 on, besides those the default wrapper replaces.
STAGING_SINCE_1_36 = ("k8s.io/cri-streaming", "k8s.io/streaming")

Progress = Callable[[str], None]


class BuildError(RuntimeError):
    """The control plane's binaries cannot be had: Go is missing or a build failed (one line)."""


@dataclass(frozen=True)
class Binaries:
    """The executables of one Kubernetes version."""

    version: str
    kube_apiserver: Path
    kube_controller_manager: Path
    etcd: Path
    kubectl: Path


def wanted_version() -> str:
    """The Kubernetes version under test: ``ENS_K8S_VERSION`` or the default."""
    version = os.environ.get(VERSION_VARIABLE, "").strip().removeprefix("v") or DEFAULT_VERSION
    if version not in SERVED_VERSIONS:
        raise BuildError(
            f"{VERSION_VARIABLE}={version} is not a k8s.io/kubernetes version the module proxy serves; "
            f"choose one of {', '.join(SERVED_VERSIONS)}"
        )
    return version


def cache_dir(version: str) -> Path:
    return Path.home() / ".cache" / "ens-image-operator" / "k8s" / version


def minor_of(version: str) -> int:
    return int(version.split(".")[1])


def go_available() -> bool:
    return shutil.which("go") is not None


def cached(version: str) -> Binaries | None:
    """The binaries of ``version`` if they are all there already (no build, no Go needed)."""
    where = cache_dir(version)
    kubectl = find_kubectl(version) or where / "kubectl"
    found = _binaries(version, kubectl)
    paths = (found.kube_apiserver, found.kube_controller_manager, found.etcd, kubectl)
    if all(path.is_file() and os.access(path, os.X_OK) for path in paths):
        return found
    return None


def _binaries(version: str, kubectl: Path) -> Binaries:
    where = cache_dir(version)
    return Binaries(
        version, where / "kube-apiserver", where / "kube-controller-manager", where / "etcd", kubectl
    )


def ensure_binaries(version: str, progress: Progress = print) -> Binaries:
    """The binaries of ``version``: from the cache, or built now (minutes when the Go caches are cold)."""
    found = cached(version)
    if found is not None:
        return found
    if not go_available():
        raise BuildError(
            f"Go is not installed: it is needed once to build kube-apiserver, kube-controller-manager "
            f"and etcd for Kubernetes v{version} (install Go >= 1.26 and put `go` on PATH)"
        )
    where = cache_dir(version)
    where.mkdir(parents=True, exist_ok=True)
    with locked(where / ".lock"):
        kubectl = find_kubectl(version)
        targets = [
            ("kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"),
            ("kube-controller-manager", "k8s.io/kubernetes/cmd/kube-controller-manager"),
            ("etcd", "go.etcd.io/etcd/server/v3"),
        ]
        if kubectl is None:
            targets.append(("kubectl", "k8s.io/kubernetes/cmd/kubectl"))
        missing = [name for name, _ in targets if not (where / name).is_file()]
        if missing:
            progress(
                f"building {', '.join(missing)} for Kubernetes v{version} into {where} "
                f"(a few minutes with cold Go caches; once per version)"
            )
        log = where / "build.log"
        for name, package in targets:
            if name in missing:
                module = ETCD_WRAPPER if name == "etcd" else _k8s_wrapper(version, where, log)
                go_build(module, package, where / name, version, log)
        return _binaries(version, kubectl or where / "kubectl")


def find_kubectl(version: str) -> Path | None:
    """An installed kubectl within one minor of ``version``, or one built before into the cache."""
    minor = minor_of(version)
    candidates: list[Path] = [cache_dir(version) / "kubectl"]
    on_path = shutil.which("kubectl")
    if on_path:
        real = Path(on_path).resolve()
        # Google Cloud SDK installs versioned copies (kubectl.1.33, ...) beside its kubectl.
        candidates += [real.parent / f"kubectl.1.{m}" for m in (minor, minor - 1, minor + 1)]
        candidates.append(real)
    for candidate in candidates:
        if (
            candidate.is_file()
            and os.access(candidate, os.X_OK)
            and _client_minor(candidate)
            in {
                minor - 1,
                minor,
                minor + 1,
            }
        ):
            return candidate
    return None


def _client_minor(kubectl: Path) -> int | None:
    try:
        done = subprocess.run(
            [str(kubectl), "version", "--client", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        minor = json.loads(done.stdout)["clientVersion"]["minor"]
    except (OSError, subprocess.SubprocessError, ValueError, KeyError):
        return None
    digits = re.match(r"\d+", str(minor))
    return int(digits.group()) if digits else None


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """One build per cache directory at a time, across processes."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _k8s_wrapper(version: str, where: Path, log: Path) -> Path:
    """The k8s wrapper module for ``version``: the committed one, or one generated from it."""
    if version == DEFAULT_VERSION:
        return K8S_WRAPPER
    module = where / "wrapper"
    wanted = wrapper_go_mod(version)
    stamp = module / "go.mod.generated"  # what go.mod was before `go mod tidy` filled it in
    if (module / "go.sum").is_file() and stamp.is_file() and stamp.read_text(encoding="utf-8") == wanted:
        return module
    module.mkdir(parents=True, exist_ok=True)
    (module / "go.sum").unlink(missing_ok=True)
    (module / "go.mod").write_text(wanted, encoding="utf-8")
    _run(["go", "mod", "tidy"], module, log, f"resolving the k8s.io/kubernetes v{version} modules")
    stamp.write_text(wanted, encoding="utf-8")
    return module


def wrapper_go_mod(version: str) -> str:
    """The committed wrapper go.mod rewritten for another Kubernetes version."""
    template = (K8S_WRAPPER / "go.mod").read_text(encoding="utf-8")
    module = re.search(r"^module (\S+)$", template, re.MULTILINE)
    tools = re.search(r"^tool \((.*?)^\)", template, re.MULTILINE | re.DOTALL)
    staging = re.findall(r"^replace (k8s\.io/\S+) =>", template, re.MULTILINE)
    if module is None or tools is None or not staging:
        raise BuildError(f"{K8S_WRAPPER / 'go.mod'} lost its module, tool or replace lines")
    minor = minor_of(version)
    go_minor = {34: 24, 35: 25}.get(minor, 26)
    if minor >= 36:
        staging += [name for name in STAGING_SINCE_1_36 if name not in staging]
    replaces = "".join(f"\t{name} => {name} v0.{version.partition('.')[2]}\n" for name in sorted(staging))
    return (
        f"module {module.group(1)}\n\ngo 1.{go_minor}.0\n\ngodebug default=go1.{go_minor}\n\n"
        f"tool ({tools.group(1)})\n\nrequire k8s.io/kubernetes v{version}\n\nreplace (\n{replaces})\n"
    )


def go_build(
    module: Path, package: str, output: Path, version: str, log: Path, stamps: Sequence[str] = ()
) -> None:
    """``go build`` one package of a wrapper module into ``output`` (``stamps``: extra ``-X`` flags)."""
    major, minor, _ = version.split(".")
    flags = ["-s", "-w", *(f"-X {stamp}" for stamp in stamps)]
    if package.startswith("k8s.io/"):
        # What `make` in k/k stamps in, so `--version` and the server's /version tell the truth.
        for var in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
            flags += [
                f"-X {var}.gitVersion=v{version}",
                f"-X {var}.gitMajor={major}",
                f"-X {var}.gitMinor={minor}",
            ]
    partial = output.with_name(output.name + ".partial")
    command = ["go", "build", "-trimpath", "-tags", "grpcnotrace", "-ldflags", " ".join(flags)]
    _run([*command, "-o", str(partial), package], module, log, f"building {output.name} v{version}")
    partial.replace(output)


def go_env() -> dict[str, str]:
    """The environment every Go command here runs in: no cgo, and only the versions go.sum pins."""
    return {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly"}


def _run(command: list[str], cwd: Path, log: Path, what: str) -> None:
    env = go_env()
    if command[:3] == ["go", "mod", "tidy"]:
        env.pop("GOFLAGS")
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ (cd {cwd} && {' '.join(command)})\n")
        out.flush()
        done = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        text = log.read_text(encoding="utf-8", errors="replace")
        # The last unindented line is the error itself; the indented ones are hints (`go get ...`).
        lines = [line for line in text.splitlines() if line.strip() and not line[0].isspace()]
        last = lines[-1] if lines else "no output"
        raise BuildError(f"{what} failed (exit {done.returncode}): {last} (full log: {log})")
