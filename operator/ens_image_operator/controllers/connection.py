"""How the operator reaches the Kubernetes API: service account in a pod, else the kubeconfig.

kopf's own minimal logins cover the service account and plain kubeconfigs (tokens, client
certificates). Only kubeconfigs whose user runs an exec plugin or an auth provider need the official
client library, which costs about 35 MiB of memory just to import; it is loaded only then.
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
SERVICE_ACCOUNT_TOKEN = SERVICE_ACCOUNT / "token"


class ConnectionProblem(Exception):
    """The Kubernetes API cannot be used as configured; ``str()`` is one line naming the cause."""


def in_cluster(settings: Any, environ: Mapping[str, str] = os.environ) -> Any:
    """The pod's service account, at the address Kubernetes gives every pod (as client-go does)."""
    import kopf

    if not SERVICE_ACCOUNT_TOKEN.exists():
        return None
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT")
    if host and port:
        server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    else:
        server = "https://kubernetes.default.svc"
    namespace = SERVICE_ACCOUNT / "namespace"
    ca = SERVICE_ACCOUNT / "ca.crt"
    return kopf.ConnectionInfo(
        server=server,
        ca_path=str(ca) if ca.exists() else None,
        token=SERVICE_ACCOUNT_TOKEN.read_text(encoding="utf-8").strip() or None,
        default_namespace=namespace.read_text(encoding="utf-8").strip() if namespace.exists() else None,
        trust_env=settings.networking.trust_env,
    )


def describe() -> str:
    """Where the connection settings come from, for messages: the service account or kubeconfig."""
    if SERVICE_ACCOUNT_TOKEN.exists():
        return "the pod's service account"
    paths = _kubeconfig_paths()
    context = None
    for path in paths:
        try:
            context = context or (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(
                "current-context"
            )
        except (OSError, yaml.YAMLError, AttributeError):
            continue
    where = "kubeconfig " + os.pathsep.join(str(path) for path in paths)
    return f"{where}, context {context}" if context else where


def _check_kubeconfig() -> None:
    """Fail with one line for a kubeconfig that cannot work, before kopf tries (and retries) it."""
    source = "KUBECONFIG" if os.environ.get("KUBECONFIG") else "the default path"
    paths = _kubeconfig_paths()
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise ConnectionProblem(
            f"kubeconfig {', '.join(missing)} does not exist (from {source}); "
            "set KUBECONFIG to a kubeconfig file, or run in a pod with a service account"
        )
    for path in paths:
        try:
            yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise ConnectionProblem(f"kubeconfig {path} cannot be read: {type(error).__name__}") from None


def _kubeconfig_paths() -> list[Path]:
    raw = os.environ.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())
    return [Path(part).expanduser() for part in raw.split(os.pathsep) if part.strip()]


def needs_client_library() -> bool:
    """Whether the current kubeconfig user needs the official client (exec plugin, auth provider)."""
    if SERVICE_ACCOUNT_TOKEN.exists():
        return False
    users: dict[str, Any] = {}
    context_name = None
    contexts: dict[str, Any] = {}
    for path in _kubeconfig_paths():
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        context_name = context_name or config.get("current-context")
        for item in config.get("contexts") or []:
            contexts.setdefault(item.get("name"), item.get("context") or {})
        for item in config.get("users") or []:
            users.setdefault(item.get("name"), item.get("user") or {})
    user = users.get(str((contexts.get(str(context_name)) or {}).get("user")), {})
    return bool(user.get("exec") or user.get("auth-provider"))


def skip_client_library_unless_needed() -> None:
    """Keep kopf from importing the official client when its own logins suffice (saves memory)."""
    if "kubernetes" not in sys.modules and not needs_client_library():
        # A None entry makes `import kubernetes` raise ImportError; kopf then runs without it.
        sys.modules["kubernetes"] = None  # type: ignore[assignment]


def login(settings: Any, logger: Any) -> Any:
    """A kopf ConnectionInfo: service account, else the client library if loaded, else kubeconfig."""
    import kopf

    info = in_cluster(settings)
    if info is not None:
        return info
    _check_kubeconfig()
    try:
        if sys.modules.get("kubernetes", False) is not None:
            info = kopf.login_via_client(settings=settings, logger=logger)
        if info is None:
            info = kopf.login_with_kubeconfig(settings=settings)
    except (KeyError, kopf.LoginError) as error:
        raise ConnectionProblem(f"{describe()}: no usable context, cluster or user ({error})") from None
    if info is None:
        raise ConnectionProblem(
            "no service account and no kubeconfig (~/.kube/config or KUBECONFIG): cannot reach Kubernetes"
        )
    return info


def decode_data(value: str | bytes | None) -> bytes | None:
    """A kubeconfig ``*-data`` field (base64) as raw bytes."""
    if value is None:
        return None
    raw = value.encode() if isinstance(value, str) else value
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError:
        return raw  # already PEM
