"""How the operator reaches the Kubernetes API: service account in a pod, else the kubeconfig.

kopf's own minimal logins cover the service account and plain kubeconfigs (tokens, client
certificates). Only kubeconfigs whose user runs an exec plugin or an auth provider need the official
client library, which costs about 35 MiB of memory just to import; it is loaded only then.
"""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path
from typing import Any

import yaml

SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


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

    info = kopf.login_with_service_account(settings=settings)
    if info is None and sys.modules.get("kubernetes", False) is not None:
        info = kopf.login_via_client(settings=settings, logger=logger)
    if info is None:
        info = kopf.login_with_kubeconfig(settings=settings)
    if info is None:
        raise kopf.LoginError("no service account and no kubeconfig: cannot reach Kubernetes")
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
