"""The resource types the local Kubernetes API serves: built-in kinds plus those of loaded CRDs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Json = dict[str, Any]

_ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    """One served group/version/plural with what the API needs to know about it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status_subresource: bool = False
    custom: bool = False
    generation: bool = False  # whether metadata.generation tracks spec changes
    schema: Json | None = None
    printer_columns: tuple[Json, ...] = ()
    verbs: tuple[str, ...] = _ALL_VERBS

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """``plural.group`` as the API server names it in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def group_kind(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.group, self.version, self.plural)

    def status_schema(self) -> Json | None:
        if self.schema is None:
            return None
        props: Json = self.schema.get("properties", {})
        status: Json | None = props.get("status")
        return status


def _column(name: str, json_path: str, kind: str = "string") -> Json:
    return {"name": name, "type": kind, "jsonPath": json_path}


_AGE = _column("Age", ".metadata.creationTimestamp", "date")
# The columns kubectl shows for these kinds, as far as a JSONPath can express them
# (the object column of events joins kind and name; see tables.py).
_EVENT_COLUMNS = (
    _column("Last Seen", ".lastTimestamp", "date"),
    _column("Type", ".type"),
    _column("Reason", ".reason"),
    {
        "name": "Object",
        "type": "string",
        "jsonPath": ".involvedObject.kind",
        "joinWith": ".involvedObject.name",
    },
    _column("Message", ".message"),
)
_EVENTS_V1_COLUMNS = (
    _column("Last Seen", ".eventTime", "date"),
    _column("Type", ".type"),
    _column("Reason", ".reason"),
    {"name": "Object", "type": "string", "jsonPath": ".regarding.kind", "joinWith": ".regarding.name"},
    _column("Message", ".note"),
)


def _builtin(
    group: str,
    version: str,
    plural: str,
    kind: str,
    namespaced: bool,
    short: tuple[str, ...] = (),
    columns: tuple[Json, ...] = (_AGE,),
    *,
    status: bool = False,
    generation: bool = False,
    categories: tuple[str, ...] = (),
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        kind=kind,
        namespaced=namespaced,
        singular=kind.lower(),
        short_names=short,
        categories=categories,
        printer_columns=columns,
        status_subresource=status,
        generation=generation,
    )


BUILTINS: tuple[ResourceType, ...] = (
    _builtin("", "v1", "namespaces", "Namespace", False, ("ns",), (_column("Status", ".status.phase"), _AGE)),
    _builtin("", "v1", "secrets", "Secret", True, (), (_column("Type", ".type"), _AGE)),
    _builtin("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    _builtin("", "v1", "events", "Event", True, ("ev",), _EVENT_COLUMNS),
    _builtin("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",)),
    _builtin("events.k8s.io", "v1", "events", "Event", True, ("ev",), _EVENTS_V1_COLUMNS),
    _builtin("coordination.k8s.io", "v1", "leases", "Lease", True, (),
             (_column("Holder", ".spec.holderIdentity"), _AGE)),
    _builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
             ("crd", "crds")),
    # Stored only (nothing runs them), so that the project's manifests and chart install here.
    _builtin("", "v1", "services", "Service", True, ("svc",), status=True, categories=("all",)),
    _builtin("apps", "v1", "deployments", "Deployment", True, ("deploy",), status=True, generation=True,
             categories=("all",)),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _builtin("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    _builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    # kopf's own peering kinds, so an operator started with peering finds them
    _builtin("kopf.dev", "v1", "kopfpeerings", "KopfPeering", True),
    _builtin("kopf.dev", "v1", "clusterkopfpeerings", "ClusterKopfPeering", False),
)  # fmt: skip


def from_crd(crd: Json) -> list[ResourceType]:
    """The served versions of one CustomResourceDefinition (apiextensions.k8s.io/v1)."""
    spec = crd["spec"]
    names = spec["names"]
    result: list[ResourceType] = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        result.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                plural=names["plural"],
                kind=names["kind"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                singular=names.get("singular", names["kind"].lower()),
                short_names=tuple(names.get("shortNames", ())),
                categories=tuple(names.get("categories", ())),
                status_subresource="status" in (version.get("subresources") or {}),
                custom=True,
                generation=True,
                schema=schema,
                printer_columns=tuple(version.get("additionalPrinterColumns", ())),
            )
        )
    return result


def read_crds(paths: Iterable[Path]) -> list[Json]:
    """All CustomResourceDefinition documents in the given files or directories (``*.yaml``)."""
    crds: list[Json] = []
    for path in paths:
        files = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path]
        for file in files:
            with file.open(encoding="utf-8") as stream:
                for doc in yaml.safe_load_all(stream):
                    if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                        crds.append(doc)
    return crds


@dataclass
class Registry:
    """Lookup of served resource types by group/version/plural and by kind."""

    types: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)

    def add(self, rtype: ResourceType) -> None:
        self.types[rtype.key] = rtype

    def remove_group_plural(self, group: str, plural: str) -> None:
        for key in [k for k in self.types if k[0] == group and k[2] == plural]:
            del self.types[key]

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self.types.get((group, version, plural))

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self.types.values()))

    def groups(self) -> dict[str, list[str]]:
        """Group name -> served versions, core group excluded."""
        result: dict[str, list[str]] = {}
        for rtype in self:
            if rtype.group:
                versions = result.setdefault(rtype.group, [])
                if rtype.version not in versions:
                    versions.append(rtype.version)
        return result
