"""The Kubernetes API semantics: CRUD, status subresource, admission, finalizers, list and watch.

Independent of the HTTP layer: ``KubernetesApi.handle()`` takes a parsed ``ApiRequest`` and
returns a ``Reply`` (JSON or a watch stream), so its rules are testable without sockets.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from ens_image_kit.sandbox import discovery, events, openapi, patches, protobuf, tables
from ens_image_kit.sandbox.admission import admit
from ens_image_kit.sandbox.errors import (
    ApiError,
    already_exists,
    bad_request,
    conflict,
    invalid,
    method_not_allowed,
    not_found,
)
from ens_image_kit.sandbox.metadata import validate_metadata
from ens_image_kit.sandbox.registry import BUILTINS, Registry, ResourceType, from_crd
from ens_image_kit.sandbox.schema import Cause, Json
from ens_image_kit.sandbox.selectors import SelectorError, field_selector, label_selector
from ens_image_kit.sandbox.store import HistoryGone, Store
from ens_image_kit.sandbox.watching import event_stream

CRD_KEY = ("apiextensions.k8s.io", "v1", "customresourcedefinitions")
NAMESPACES = ("", "v1", "namespaces")
SECRETS = ("", "v1", "secrets")
CORE_EVENTS = ("", "v1", "events")
OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
EVENTS_V1 = ("events.k8s.io", "v1", "events")
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the API server's generateName alphabet
_SYSTEM_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def split_namespace(rest: list[str]) -> tuple[str | None, list[str]]:
    """``(namespace, the path after it)`` of an API path's segments after the group version.

    ``namespaces/X/status`` and ``namespaces/X/finalize`` are the namespace's own subresources.
    """
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
    ):
        return rest[1], rest[2:]
    return None, rest


@dataclass
class ApiRequest:
    """What the API layer needs from an HTTP request."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return ""


@dataclass
class Reply:
    """A JSON reply, or a stream of JSON lines for watches."""

    code: int = 200
    body: Json | None = None
    stream: AsyncIterator[bytes] | None = None
    warnings: list[str] = field(default_factory=list)
    content_type: str = "application/json"


@dataclass
class Target:
    """A parsed resource path: type, namespace, name and subresource."""

    rtype: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


def _name_error(name: str, *, label: bool) -> str | None:
    pattern = _DNS_LABEL if label else _DNS_SUBDOMAIN
    limit = 63 if label else 253
    if len(name) > limit or not pattern.match(name):
        kind = "RFC 1123 label" if label else "RFC 1123 subdomain"
        return (
            f"Invalid value: {json.dumps(name)}: a lowercase {kind} must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character"
        )
    return None


def _spec_part(obj: Json) -> Json:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class KubernetesApi:
    """The resource model and request handling of the local Kubernetes API."""

    def __init__(
        self, *, watch_poll_seconds: float = 2.0, history: int = 10_000, bookmark_seconds: float = 60.0
    ) -> None:
        self.bookmark_seconds = bookmark_seconds
        self.registry = Registry()
        self.store = Store(history=history)
        self.watch_poll_seconds = watch_poll_seconds
        self.closing = False
        for rtype in BUILTINS:
            self.registry.add(rtype)
        self.store.mirror(CORE_EVENTS, EVENTS_V1, events.core_to_events_v1, events.events_v1_to_core)
        for name in INITIAL_NAMESPACES:
            self._seed_namespace(name)

    # ------------------------------------------------------------------ setup and inspection

    def _seed_namespace(self, name: str) -> None:
        ns = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "uid": str(uuid.uuid4()), "creationTimestamp": now_rfc3339(),
                         "labels": {"kubernetes.io/metadata.name": name}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }  # fmt: skip
        self.store.write(NAMESPACES, ns, "ADDED")

    def install_crd(self, crd: Json) -> None:
        """Serve the kinds of a CRD and keep the CRD itself listable."""
        if not self._serve_crd_types(crd):
            return
        stored = copy.deepcopy(crd)
        meta = stored.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", now_rfc3339())
        meta.setdefault("generation", 1)
        # What the API server's naming and establishing controllers write.
        since = meta["creationTimestamp"]
        stored.setdefault("status", {})["conditions"] = [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": since},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": since},
        ]  # fmt: skip
        names = dict(crd["spec"]["names"])
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", f"{names['kind']}List")
        stored["status"]["acceptedNames"] = names
        stored["status"]["storedVersions"] = [
            version["name"] for version in crd["spec"].get("versions", []) if version.get("storage")
        ]
        self.store.write(CRD_KEY, stored, "ADDED")

    def _serve_crd_types(self, crd: Json) -> bool:
        types = from_crd(crd)
        if not types:
            return False
        self.registry.remove_group_plural(types[0].group, types[0].plural)
        for rtype in types:
            self.registry.add(rtype)
        return True

    def clear(self) -> None:
        """Forget every object except CRDs; recreate the initial namespaces."""
        self.store.clear(keep={CRD_KEY})
        for name in INITIAL_NAMESPACES:
            self._seed_namespace(name)

    def objects(self, plural: str, namespace: str | None = None, group: str | None = None) -> list[Json]:
        """Stored objects of a resource type, for assertions (copies)."""
        result: list[Json] = []
        for rtype in self.registry:
            if rtype.plural == plural and (group is None or rtype.group == group):
                result += copy.deepcopy(self.store.items(rtype.key, namespace))
                break
        return result

    # ------------------------------------------------------------------ routing

    async def handle(self, request: ApiRequest) -> Reply:
        """Answer one request; API errors become ``Status`` replies."""
        try:
            return await self._route(request)
        except ApiError as error:
            return Reply(code=error.code, body=error.status())

    async def _route(self, request: ApiRequest) -> Reply:
        path = request.path.rstrip("/") or "/"
        parts = [p for p in path.split("/") if p]
        if path in ("/healthz", "/readyz", "/livez"):
            return Reply(body=None, stream=_once(b"ok"), content_type="text/plain")
        if path == "/version":
            return Reply(body=discovery.VERSION_INFO)
        if path == "/":
            return Reply(body={"paths": ["/api", "/api/v1", "/apis", "/openapi/v3", "/version"]})
        if parts[0] == "openapi":
            return self._openapi(parts, request)
        if parts[0] == "api":
            if len(parts) == 1:
                return Reply(body=discovery.api_versions())
            if len(parts) == 2:
                return self._discovered(discovery.api_resource_list(self.registry, "", parts[1]))
            return await self._resource(request, "", parts[1], parts[2:])
        if parts[0] == "apis":
            if len(parts) == 1:
                return Reply(body=discovery.api_group_list(self.registry))
            if len(parts) == 2:
                return self._discovered(discovery.api_group(self.registry, parts[1]))
            if len(parts) == 3:
                return self._discovered(discovery.api_resource_list(self.registry, parts[1], parts[2]))
            return await self._resource(request, parts[1], parts[2], parts[3:])
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _discovered(self, document: Json | None) -> Reply:
        if document is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return Reply(body=document)

    def _openapi(self, parts: list[str], request: ApiRequest) -> Reply:
        if parts[1:] == ["v2"]:
            # An empty document: clients (helm, older kubectl) then skip client-side validation
            # of every kind instead of failing; the server validates (see /openapi/v3).
            if "protobuf" in request.header("Accept"):
                return Reply(stream=_once(b""), content_type=OPENAPI_V2_PROTOBUF)
            return Reply(
                body={"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": {}}
            )
        if parts[1:] == ["v3"]:
            return Reply(body=openapi.index(self.registry))
        if len(parts) > 2 and parts[1] == "v3":
            document = openapi.document(self.registry, "/".join(parts[2:]))
            if document is not None:
                return Reply(body=document)
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _target(self, group: str, version: str, rest: list[str]) -> Target:
        namespace, rest = split_namespace(rest)
        plural = rest[0]
        rtype = self.registry.get(group, version, plural)
        if rtype is None or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if namespace is not None and not rtype.namespaced:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        if subresource is not None and not (
            (subresource == "status" and (rtype.status_subresource or rtype.key == NAMESPACES))
            or (subresource == "finalize" and rtype.key == NAMESPACES)
        ):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if name is not None and rtype.namespaced and namespace is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return Target(rtype, namespace, name, subresource)

    async def _resource(self, request: ApiRequest, group: str, version: str, rest: list[str]) -> Reply:
        target = self._target(group, version, rest)
        method = request.method.upper()
        watching = request.query.get("watch") in ("true", "1")
        if target.name is None:
            if method == "GET" and watching:
                return self._watch(request, target)
            if method == "GET":
                return self._list(request, target)
            if method == "POST":
                return self._create(request, target)
            if method == "DELETE":
                return self._delete_collection(request, target)
            raise method_not_allowed()
        if method == "GET":
            return self._get(request, target)
        if method == "PUT":
            return self._replace(request, target)
        if method == "PATCH":
            return self._patch(request, target)
        if method == "DELETE":
            return self._delete(request, target)
        raise method_not_allowed()

    # ------------------------------------------------------------------ reading

    def _wants_table(self, request: ApiRequest) -> bool:
        accept = request.header("Accept")
        return "as=Table" in accept

    def _existing(self, target: Target) -> Json:
        assert target.name is not None
        obj = self.store.get(target.rtype.key, target.namespace or "", target.name)
        if obj is None:
            raise not_found(target.rtype, target.name)
        return obj

    def _get(self, request: ApiRequest, target: Target) -> Reply:
        obj = self._existing(target)
        if self._wants_table(request):
            full = request.query.get("includeObject") == "Object"
            rv = obj["metadata"]["resourceVersion"]
            return Reply(body=tables.render_table(target.rtype, [obj], rv, full=full))
        return Reply(body=obj)

    def _filters(self, request: ApiRequest, rtype: ResourceType) -> Callable[[Json], bool]:
        try:
            by_label = label_selector(request.query.get("labelSelector"))
            by_field = field_selector(request.query.get("fieldSelector"), _field_support(rtype))
        except SelectorError as error:
            raise bad_request(str(error)) from error
        return lambda obj: by_label(obj) and by_field(obj)

    def _list(self, request: ApiRequest, target: Target) -> Reply:
        matches = self._filters(request, target.rtype)
        items = [obj for obj in self.store.items(target.rtype.key, target.namespace) if matches(obj)]
        rv = str(self.store.revision)
        items, metadata = _page(items, request.query, rv)
        if self._wants_table(request):
            full = request.query.get("includeObject") == "Object"
            table = tables.render_table(target.rtype, items, rv, full=full)
            table["metadata"] = metadata
            return Reply(body=table)
        body = {
            "kind": f"{target.rtype.kind}List",
            "apiVersion": target.rtype.api_version,
            "metadata": metadata,
            "items": items,
        }
        return Reply(body=body)

    def _watch(self, request: ApiRequest, target: Target) -> Reply:
        matches = self._filters(request, target.rtype)
        raw_rv = request.query.get("resourceVersion", "")
        since: int | None = None
        if raw_rv not in ("", "0"):
            try:
                since = int(raw_rv)
            except ValueError as error:
                raise bad_request(f"invalid resource version: {raw_rv}") from error
        timeout = float(request.query.get("timeoutSeconds") or 0) or None
        namespace = target.namespace
        table = self._wants_table(request)
        try:
            watcher, backlog = self.store.subscribe(target.rtype.key, since)
        except HistoryGone:
            message = f"too old resource version: {raw_rv} ({self.store.revision})"
            gone = ApiError(410, "Expired", message).status()
            return Reply(stream=_once(json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n"))

        def wanted(obj: Json) -> bool:
            in_namespace = namespace is None or obj["metadata"].get("namespace") == namespace
            return in_namespace and matches(obj)

        def render(obj: Json) -> Json:
            if not table:
                return obj
            rv = obj["metadata"]["resourceVersion"]
            return tables.render_table(target.rtype, [obj], rv, full=False)

        def bookmark() -> Json:
            meta = {"resourceVersion": str(self.store.revision)}
            return {"kind": target.rtype.kind, "apiVersion": target.rtype.api_version, "metadata": meta}

        stream = event_stream(
            self.store,
            watcher,
            backlog,
            wanted=wanted,
            render=render,
            lasts=timeout,
            poll_seconds=self.watch_poll_seconds,
            closing=lambda: self.closing,
            bookmark=bookmark if request.query.get("allowWatchBookmarks") in ("true", "1") else None,
            bookmark_seconds=self.bookmark_seconds,
        )
        return Reply(stream=stream)

    # ------------------------------------------------------------------ writing

    def _body(self, request: ApiRequest) -> Any:
        content_type = request.header("Content-Type").split(";")[0].strip()
        if "protobuf" in content_type:
            try:
                return protobuf.decode(request.body)
            except protobuf.UnsupportedProtobuf as error:
                accepted = "application/json, application/yaml"
                message = (
                    f"the body of the request was in an unknown format - accepted media types: {accepted}"
                )
                raise ApiError(415, "UnsupportedMediaType", message) from error
        try:
            if content_type in (patches.APPLY, "application/yaml"):
                return yaml.safe_load(request.body or b"{}")
            return json.loads(request.body or b"{}")
        except (ValueError, yaml.YAMLError) as error:
            raise bad_request(f"the body of the request was in an unknown format: {error}") from error

    def _dry_run(self, request: ApiRequest) -> bool:
        return request.query.get("dryRun") == "All"

    def _check_namespace(self, rtype: ResourceType, namespace: str | None) -> None:
        if not rtype.namespaced or namespace is None:
            return
        ns = self.store.get(NAMESPACES, "", namespace)
        if ns is None:
            raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found',
                           {"name": namespace, "kind": "namespaces"})  # fmt: skip
        if ns["metadata"].get("deletionTimestamp"):
            message = (
                f"{rtype.plural} is forbidden: unable to create new content in namespace {namespace} "
                "because it is being terminated"
            )
            raise ApiError(403, "Forbidden", message)

    def _apply(self, request: ApiRequest, target: Target) -> Reply:
        """Server-side apply without field ownership: create, or merge the applied fields in."""
        assert target.name is not None
        document = self._body(request)
        if not isinstance(document, dict):
            raise bad_request("an apply patch must be an object")
        meta = document.setdefault("metadata", {})
        if meta.get("name", target.name) != target.name:
            raise bad_request("the name of the object does not match the name on the URL")
        meta["name"] = target.name
        old = self.store.get(target.rtype.key, target.namespace or "", target.name)
        if old is None:
            if target.subresource is not None:
                raise not_found(target.rtype, target.name)
            return self._create(request, Target(target.rtype, target.namespace, None, None), document)
        applied = patches.merge_patch(copy.deepcopy(old), _without_nulls(document))
        rv = (applied.get("metadata") or {}).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise conflict(target.rtype, target.name)
        return self._update(request, target, old, applied)

    def _create(self, request: ApiRequest, target: Target, body: Any = None) -> Reply:
        rtype = target.rtype
        body = self._body(request) if body is None else body
        if not isinstance(body, dict):
            raise bad_request("the body of the request must be an object")
        obj = copy.deepcopy(body)
        obj["apiVersion"] = obj.get("apiVersion") or rtype.api_version
        obj["kind"] = obj.get("kind") or rtype.kind
        if obj["kind"] != rtype.kind or obj["apiVersion"] != rtype.api_version:
            raise bad_request(
                f"the API version in the data ({obj['apiVersion']}) does not match the expected API version "
                f"({rtype.api_version})"
                if obj["apiVersion"] != rtype.api_version
                else f"{obj['kind']} is not suitable for {rtype.plural}"
            )
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if rtype.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and target.namespace and body_ns != target.namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            namespace = target.namespace or body_ns
            if not namespace:
                raise bad_request("the namespace of the object is required")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + "".join(
                    secrets.choice(_NAME_ALPHABET) for _ in range(5)
                )
            else:
                cause = Cause(
                    "FieldValueRequired", "Required value: name or generateName is required", "metadata.name"
                )
                raise invalid(rtype, "", [cause])
        name = meta["name"]
        name_problem = _name_error(name, label=rtype.key == NAMESPACES)
        if name_problem:
            raise invalid(rtype, name, [Cause("FieldValueInvalid", name_problem, "metadata.name")])
        if meta_causes := validate_metadata(meta):
            raise invalid(rtype, name, meta_causes)
        if meta.get("resourceVersion"):
            raise bad_request("resourceVersion should not be set on objects to be created")
        for system in _SYSTEM_META:
            meta.pop(system, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        if rtype.generation:
            meta["generation"] = 1
        if rtype.status_subresource:
            obj.pop("status", None)
        if rtype.key == NAMESPACES:
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        if rtype.key == SECRETS:
            _normalize_secret(obj)
        warnings = admit(rtype, obj, None, subresource=None, validation=_field_validation(request))
        self._check_namespace(rtype, meta.get("namespace"))
        if self.store.get(rtype.key, meta.get("namespace", ""), name) is not None:
            raise already_exists(rtype, name)
        if self._dry_run(request):
            return Reply(code=201, body=obj, warnings=warnings)
        if rtype.key == CRD_KEY:
            self.install_crd(obj)
            return Reply(code=201, body=self.store.get(CRD_KEY, "", name), warnings=warnings)
        stored = self.store.write(rtype.key, obj, "ADDED")
        return Reply(code=201, body=stored, warnings=warnings)

    def _replace(self, request: ApiRequest, target: Target) -> Reply:
        old = self._existing(target)
        body = self._body(request)
        if not isinstance(body, dict):
            raise bad_request("the body of the request must be an object")
        assert target.name is not None
        meta = body.get("metadata") or {}
        if meta.get("name") and meta["name"] != target.name:
            raise bad_request("the name of the object does not match the name on the URL")
        rv = meta.get("resourceVersion")
        if not rv and target.rtype.custom:
            cause = Cause("FieldValueInvalid", "Invalid value: 0: must be specified for an update",
                          "metadata.resourceVersion")  # fmt: skip
            raise invalid(target.rtype, target.name, [cause])
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise conflict(target.rtype, target.name)
        return self._update(request, target, old, copy.deepcopy(body))

    def _patch(self, request: ApiRequest, target: Target) -> Reply:
        content_type = request.header("Content-Type").split(";")[0].strip()
        if content_type == patches.APPLY:
            return self._apply(request, target)
        old = self._existing(target)
        assert target.name is not None
        document = self._body(request)
        base = copy.deepcopy(old)
        if content_type == patches.JSON_PATCH:
            if not isinstance(document, list):
                raise bad_request("a JSON patch must be a list of operations")
            try:
                new = patches.json_patch(base, document)
            except patches.PatchTestFailed as error:
                message = f"the server rejected our request due to an error in our request: {error}"
                raise ApiError(422, "Invalid", message) from error
            except patches.PatchInvalid as error:
                message = f"the server rejected our request due to an error in our request: {error}"
                raise ApiError(422, "Invalid", message) from error
        elif content_type == patches.MERGE or (content_type == patches.STRATEGIC and not target.rtype.custom):
            # Strategic merge on the built-in kinds served here equals a merge patch: none of
            # their fields used by clients carries a patch strategy other than replace.
            if not isinstance(document, dict):
                raise bad_request("a merge patch must be an object")
            new = patches.merge_patch(base, document)
        elif content_type == patches.STRATEGIC:
            accepted = f"{patches.JSON_PATCH}, {patches.MERGE}, {patches.APPLY}"
            message = (
                f"the body of the request was in an unknown format - accepted media types include: {accepted}"
            )
            raise ApiError(415, "UnsupportedMediaType", message)
        else:
            raise ApiError(
                415, "UnsupportedMediaType", f"the media type {content_type!r} is not supported here"
            )
        if not isinstance(new, dict):
            raise bad_request("the patched object is not an object")
        rv = (new.get("metadata") or {}).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise conflict(target.rtype, target.name)
        return self._update(request, target, old, new)

    def _update(self, request: ApiRequest, target: Target, old: Json, new: Json) -> Reply:
        rtype = target.rtype
        assert target.name is not None
        old_meta = old["metadata"]
        if target.subresource == "status":
            result = copy.deepcopy(old)
            if "status" in new:
                result["status"] = new["status"]
            else:
                result.pop("status", None)
        else:
            result = new
            meta = result.setdefault("metadata", {})
            if not isinstance(meta, dict):
                raise bad_request("metadata must be an object")
            if meta.get("namespace") and meta["namespace"] != old_meta.get("namespace"):
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            if meta.get("uid") and meta["uid"] != old_meta["uid"]:
                why = (
                    f"Precondition failed: UID in precondition: {meta['uid']}, "
                    f"UID in object meta: {old_meta['uid']}"
                )
                raise conflict(rtype, target.name, why)
            meta["name"] = old_meta["name"]
            if "namespace" in old_meta:
                meta["namespace"] = old_meta["namespace"]
            for system in _SYSTEM_META:  # system-owned: kept from the stored object whatever the body says
                if system in old_meta:
                    meta[system] = old_meta[system]
                else:
                    meta.pop(system, None)
            result["apiVersion"], result["kind"] = old["apiVersion"], old["kind"]
            if rtype.status_subresource:
                if "status" in old:
                    result["status"] = old["status"]
                else:
                    result.pop("status", None)
            if old_meta.get("deletionTimestamp"):
                added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
                if added:
                    shown = "[]string{" + ", ".join(json.dumps(f) for f in sorted(added)) + "}"
                    message = (
                        "Forbidden: no new finalizers can be added if the object is being deleted, "
                        f"found new finalizers {shown}"
                    )
                    raise invalid(
                        rtype, target.name, [Cause("FieldValueForbidden", message, "metadata.finalizers")]
                    )
            if meta_causes := validate_metadata(meta):
                raise invalid(rtype, target.name, meta_causes)
        if rtype.key == SECRETS:
            _normalize_secret(result)
        warnings = admit(
            rtype, result, old, subresource=target.subresource, validation=_field_validation(request)
        )
        if rtype.generation and _spec_part(result) != _spec_part(old):
            result["metadata"]["generation"] = int(old_meta.get("generation", 1)) + 1
        comparable_old = {**old, "metadata": {k: v for k, v in old_meta.items() if k != "resourceVersion"}}
        comparable_new = {
            **result,
            "metadata": {k: v for k, v in result["metadata"].items() if k != "resourceVersion"},
        }
        if comparable_new == comparable_old:
            return Reply(body=old, warnings=warnings)  # a no-op write changes nothing, not even the version
        if self._dry_run(request):
            return Reply(body=result, warnings=warnings)
        result["metadata"]["resourceVersion"] = old_meta["resourceVersion"]
        if result["metadata"].get("deletionTimestamp") and not result["metadata"].get("finalizers"):
            return Reply(body=self._finally_remove(rtype, result), warnings=warnings)
        stored = self.store.write(rtype.key, result, "MODIFIED")
        if rtype.key == CRD_KEY:
            self._serve_crd_types(stored)  # an updated CRD changes what its kinds accept at once
        return Reply(body=stored, warnings=warnings)

    # ------------------------------------------------------------------ deletion

    def _delete(self, request: ApiRequest, target: Target) -> Reply:
        old = self._existing(target)
        assert target.name is not None
        options = self._body(request) if request.body else {}
        preconditions = (options or {}).get("preconditions") or {}
        meta = old["metadata"]
        if (
            preconditions.get("resourceVersion")
            and preconditions["resourceVersion"] != meta["resourceVersion"]
        ):
            why = (
                f"Precondition failed: ResourceVersion in precondition: {preconditions['resourceVersion']}, "
                f"ResourceVersion in object meta: {meta['resourceVersion']}"
            )
            raise conflict(target.rtype, target.name, why)
        if preconditions.get("uid") and preconditions["uid"] != meta["uid"]:
            why = (
                f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                f"UID in object meta: {meta['uid']}"
            )
            raise conflict(target.rtype, target.name, why)
        if self._dry_run(request):
            return Reply(body=old)
        return Reply(body=self.delete_object(target.rtype, old))

    def delete_object(self, rtype: ResourceType, old: Json) -> Json:
        """Delete as the API server does: mark while finalizers remain, remove otherwise."""
        meta = old["metadata"]
        if meta.get("deletionTimestamp"):
            return old
        if rtype.key == NAMESPACES:
            return self._delete_namespace(old)
        if meta.get("finalizers"):
            marked = copy.deepcopy(old)
            marked["metadata"]["deletionTimestamp"] = now_rfc3339()
            marked["metadata"]["deletionGracePeriodSeconds"] = 0
            if rtype.generation:
                marked["metadata"]["generation"] = int(meta.get("generation", 1)) + 1
            return self.store.write(rtype.key, marked, "MODIFIED")
        return self._finally_remove(rtype, old)

    def _finally_remove(self, rtype: ResourceType, obj: Json) -> Json:
        final = self.store.remove(rtype.key, obj)
        namespace = obj["metadata"].get("namespace")
        if namespace:
            self._finish_namespace_if_empty(namespace)
        if rtype.key == CRD_KEY:
            for served in from_crd(obj):
                self.registry.remove_group_plural(served.group, served.plural)
        return final

    def _delete_namespace(self, ns: Json) -> Json:
        name = ns["metadata"]["name"]
        marked = copy.deepcopy(ns)
        marked["metadata"]["deletionTimestamp"] = now_rfc3339()
        marked["metadata"]["deletionGracePeriodSeconds"] = 0
        marked["status"] = {"phase": "Terminating"}
        stored = self.store.write(NAMESPACES, marked, "MODIFIED")
        for rtype in self.registry:
            if rtype.namespaced:
                for obj in self.store.items(rtype.key, name):
                    self.delete_object(rtype, obj)
        self._finish_namespace_if_empty(name)
        return stored

    def _finish_namespace_if_empty(self, namespace: str) -> None:
        ns = self.store.get(NAMESPACES, "", namespace)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        if self.store.namespace_is_empty(namespace):
            self.store.remove(NAMESPACES, ns)

    def _delete_collection(self, request: ApiRequest, target: Target) -> Reply:
        matches = self._filters(request, target.rtype)
        items = [obj for obj in self.store.items(target.rtype.key, target.namespace) if matches(obj)]
        deleted = [] if self._dry_run(request) else [self.delete_object(target.rtype, obj) for obj in items]
        body = {
            "kind": f"{target.rtype.kind}List",
            "apiVersion": target.rtype.api_version,
            "metadata": {"resourceVersion": str(self.store.revision)},
            "items": deleted or items,
        }
        return Reply(body=body)

    # ------------------------------------------------------------------ admission


def _object_key(obj: Json) -> list[str]:
    return [obj["metadata"].get("namespace", ""), obj["metadata"]["name"]]


def _page(items: list[Json], query: dict[str, str], rv: str) -> tuple[list[Json], Json]:
    """Apply ``limit``/``continue``; the token holds where the next page starts (items are sorted)
    and the first page's resourceVersion, which every page reports, as a real API server's pages
    do: a client watching from it then sees what changed while it paged. (The items of later pages
    are the current ones, not a snapshot; a watch from that version delivers any change twice at
    most, never not at all.)"""
    token = query.get("continue")
    if token:
        try:
            state = json.loads(base64.urlsafe_b64decode(token.encode()))
            start, rv = state["start"], str(state.get("rv", rv))
        except (ValueError, KeyError, TypeError) as error:
            raise bad_request("continue key is not valid") from error
        items = [obj for obj in items if _object_key(obj) >= start]
    metadata: Json = {"resourceVersion": rv}
    try:
        limit = int(query.get("limit") or 0)
    except ValueError as error:
        raise bad_request("limit must be an integer") from error
    if 0 < limit < len(items):
        following = _object_key(items[limit])
        state = {"start": following, "rv": rv}
        metadata["continue"] = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
        metadata["remainingItemCount"] = len(items) - limit
        items = items[:limit]
    return items, metadata


def _field_validation(request: ApiRequest) -> str:
    return request.query.get("fieldValidation", "Warn")


def _without_nulls(value: Any) -> Any:
    # In an apply configuration null means "no opinion", not "delete" as in a merge patch.
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def _normalize_secret(secret: Json) -> None:
    """As the API server: ``stringData`` is folded into base64 ``data``; the type defaults to Opaque."""
    for key, value in (secret.pop("stringData", None) or {}).items():
        secret.setdefault("data", {})[key] = base64.b64encode(str(value).encode()).decode()
    if not secret.get("type"):
        secret["type"] = "Opaque"


def _field_support(rtype: ResourceType) -> Callable[[str], bool]:
    def allowed(name: str) -> bool:
        if name in ("metadata.name", "metadata.namespace"):
            return True
        if rtype.kind == "Event":
            prefixes = ("involvedObject.", "regarding.", "source", "reason", "type", "reportingController",
                        "reportingComponent", "deprecatedSource")  # fmt: skip
            return name.startswith(prefixes)
        if rtype.key == NAMESPACES:
            return name == "status.phase"
        if rtype.kind == "Secret":
            return name == "type"
        return False

    return allowed


async def _once(chunk: bytes) -> AsyncIterator[bytes]:
    yield chunk
