"""P7 Kubernetes requests per object: what the operator asks the API server for import, adopt, export, delete.

Counted at the server: the local Kubernetes API counts and logs every request it serves
(``/_sandbox/requests``, see ``ens_image_kit.sandbox.request_counts``), with the client's
User-Agent, whether it sent credentials, the verb, the resource and, for writes, the JSON body. The
operator (its own client and kopf's) sends the kubeconfig's token; this benchmark's own requests
(creating, listing, deleting) send none and are left out. So kopf's own writes (finalizers, its
last-handled-configuration annotation, its progress annotations) are in, which the operator's
``ens_operator_kube_writes_total`` metric does not see.

One stack, the operator at its defaults except the fast-poll interval; the scenarios run one after
another, each on N fresh objects, in a window that ends a few seconds after the last object is done:

- import: N EnsImages with an OSS source, creation → Ready;
- adopt: N EnsImages with ``spec.imageId`` of an image seeded in the emulator → Ready;
- export: N EnsImageExports of the imported (Ready) images, by ``imageRef`` → Ready;
- delete: the N imported EnsImages deleted (policy Delete: DeleteImage) → gone;
- delete-retain: the N adopted EnsImages deleted (policy Retain) → gone.

A request is the object's when it names the object (the object itself, its ``/status``), an object
it references (the export's EnsImage), or it posts an event about it; everything else the operator
sent in the window (lists, watches, Secrets) is shown apart, as totals. Writes are told apart by
their bodies: finalizer, kopf's annotations, the intent (a status patch conditional on a
resourceVersion), status patches by the condition they set True, events by reason.
Goal: an import ≤ 4 writes (finalizer, intent, id, Ready) and no read of what a watch delivered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from bench.common import (
    GROUP,
    OPERATOR_USER,
    VERSION,
    BenchStack,
    Emulator,
    Kube,
    add_kube_argument,
    ens_image,
    figure,
    is_ready,
    local_stack,
    oss_source,
    result_name,
    run,
    sandbox_url,
    save,
    save_plot,
    seed_images,
    show,
)

REQUESTS = "/_sandbox/requests"
IMPORT_WRITES_GOAL = 4
KINDS = {"ensimages": "EnsImage", "ensimageexports": "EnsImageExport"}
VERBS = {"get": "GET", "list": "LIST", "watch": "WATCH", "create": "POST", "update": "PUT",
         "patch": "PATCH", "delete": "DELETE", "deletecollection": "DELETE (collection)"}  # fmt: skip
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
LOG_LIMIT = 200_000


def export_body(name: str, image: str) -> dict[str, Any]:
    spec = {"imageRef": {"name": image}, "ossBucket": "exports", "ossRegionId": "cn-beijing"}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "EnsImageExport",
        "metadata": {"name": name},
        "spec": spec,
    }


# ---- reading the sandbox's request log -------------------------------------------------------


class Requests:
    """The sandbox's request counter: start its log, read what came after a sequence number."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)

    def start(self) -> None:
        self.http.post(REQUESTS, json={"log": True, "bodies": True, "limit": LOG_LIMIT}).raise_for_status()

    def mark(self) -> int:
        response = self.http.get(REQUESTS)
        response.raise_for_status()
        return int(response.json()["total"])

    def since(self, seq: int) -> list[dict[str, Any]]:
        response = self.http.get(REQUESTS, params={"since": str(seq)})
        response.raise_for_status()
        log: list[dict[str, Any]] = response.json()["log"]
        return log


class AuditRequests:
    """The same log read from a real API server's audit log (JSON lines, one event per request
    stage; the policy of ``tests/cluster/controlplane.py`` keeps the bodies of writes). A request
    is the operator's when it logged in as the operator's own client certificate."""

    def __init__(self, path: Path, operator_user: str) -> None:
        self.path = path
        self.user = operator_user
        self.entries: list[dict[str, Any]] = []
        self.by_id: dict[str, dict[str, Any]] = {}
        self.offset = 0

    def start(self) -> None:
        self._read()

    def mark(self) -> int:
        self._read()
        return len(self.entries)

    def since(self, seq: int) -> list[dict[str, Any]]:
        self._read()
        return self.entries[seq:]

    def _read(self) -> None:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            data = log.read()
        complete = data.rfind(b"\n") + 1  # a line being written is read next time
        self.offset += complete
        for line in data[:complete].splitlines():
            event = json.loads(line)
            code = (event.get("responseStatus") or {}).get("code")
            known = self.by_id.get(event["auditID"])
            if known is not None:  # a watch's ResponseStarted, then its ResponseComplete
                known["code"] = code or known["code"]
                continue
            ref = event.get("objectRef") or {}
            resource = str(ref.get("resource") or "other")
            if ref.get("apiGroup"):
                resource += "." + ref["apiGroup"]
            if ref.get("subresource"):
                resource += "/" + ref["subresource"]
            entry = {
                "client": str(event.get("userAgent") or ""),
                "authenticated": (event.get("user") or {}).get("username") == self.user,
                "verb": event["verb"],
                "resource": resource,
                "namespace": ref.get("namespace"),
                "name": ref.get("name"),
                "code": code,
                "body": event.get("requestObject"),
            }
            self.by_id[event["auditID"]] = entry
            self.entries.append(entry)


def base_plural(resource: str) -> str:
    """``ensimages`` of ``ensimages.ens.image-operator.io/status``."""
    return resource.split("/", 1)[0].split(".", 1)[0]


def condition_label(status: Mapping[str, Any]) -> str | None:
    """``Ready Available``: the condition a status patch sets True (Stalled, Ready, then Reconciling)."""
    conditions = {c.get("type"): c for c in status.get("conditions") or () if isinstance(c, Mapping)}
    for kind in ("Stalled", "Ready", "Reconciling"):
        cond = conditions.get(kind)
        if cond is not None and cond.get("status") == "True":
            return f"{kind} {cond.get('reason')}"
    return None


def json_patch_label(ops: Sequence[Any]) -> str:
    """kopf's JSON patches (finalizers): what their operations do, the resourceVersion test aside."""
    parts = []
    for op in ops:
        if not isinstance(op, Mapping) or op.get("op") == "test":
            continue
        path, kind = str(op.get("path")), str(op.get("op"))
        if path.startswith("/metadata/finalizers"):
            parts.append("finalizer added" if kind == "add" else "finalizer removed")
        else:
            parts.append(f"{kind} {path}")
    return "object: " + (" + ".join(parts) or "empty JSON patch")


def write_label(entry: Mapping[str, Any]) -> str:
    """What a write did, from its verb, resource and body."""
    verb, resource = entry["verb"], entry["resource"]
    plural = base_plural(resource)
    if verb == "patch" and isinstance(entry.get("body"), list):
        return json_patch_label(entry["body"])
    body = entry.get("body") if isinstance(entry.get("body"), Mapping) else {}
    assert isinstance(body, Mapping)
    if plural == "events":
        return f"event {body.get('reason')}"
    if resource.endswith("/status") and verb == "patch":
        status = body.get("status") or {}
        if (body.get("metadata") or {}).get("resourceVersion"):
            return "status: intent (conditional on resourceVersion)"
        label = condition_label(status)
        fields = sorted(key for key in status if key not in ("conditions", "observedGeneration"))
        if label is not None:
            if status.get("imageStatus"):
                label += f" (imageStatus {status['imageStatus']})"
            # The write right after ImportImage/ExportImage carries the id (and no fields observed in
            # a listing, such as the size): say so.
            created = "imageId" in status and not {"imageSize", "creationTime", "completedAt"} & set(status)
            carries = " + imageId" if created and not label.startswith("Ready") else ""
            return f"status: {label}{carries}"
        return f"status: {', '.join(fields) or 'empty'}"
    if verb == "patch" and plural in KINDS:
        metadata = body.get("metadata") or {}
        parts = []
        if "finalizers" in metadata:
            finalizers = metadata.get("finalizers") or []
            parts.append(
                "finalizer added" if any(GROUP in str(f) for f in finalizers) else "finalizer removed"
            )
        for key in metadata.get("annotations") or {}:
            if key.endswith("last-handled-configuration"):
                parts.append("kopf last-handled-configuration")
            elif key.startswith(GROUP) or "kopf" in key:
                parts.append("kopf progress annotation")
            else:
                parts.append(f"annotation {key}")
        if "status" in body:
            parts.append("status via the object")
        if not parts:
            parts.append(f"other ({', '.join(sorted(body)) or 'empty'})")
        return "object: " + " + ".join(sorted(set(parts)))
    return f"{VERBS.get(verb, verb)} {resource}"


def read_label(entry: Mapping[str, Any], own: bool) -> str:
    verb, resource = VERBS.get(entry["verb"], entry["verb"]), entry["resource"]
    kind = KINDS.get(base_plural(resource))
    if kind is not None and entry.get("name"):
        whose = "" if own else " (referenced)"
        return f"{verb} {kind}{whose}{'/status' if resource.endswith('/status') else ''}"
    return f"{verb} {resource}"


class Scenario:
    """One scenario's objects and the objects they reference, for attributing requests."""

    def __init__(self, name: str, kind: str, namespace: str, objects: Sequence[str],
                 referenced: Mapping[str, str] | None = None) -> None:  # fmt: skip
        self.name = name
        self.kind = kind
        self.namespace = namespace
        self.objects = list(objects)
        self.plural = {v: k for k, v in KINDS.items()}[kind]
        # (plural, name) of a referenced object -> the scenario's object referencing it
        self.referenced = {("ensimages", image): obj for obj, image in (referenced or {}).items()}

    def owner(self, entry: Mapping[str, Any]) -> tuple[str | None, bool]:
        """The scenario's object a request is about (None: not one object's), and whether it is its own."""
        if entry.get("namespace") != self.namespace:
            return None, False
        plural, name = base_plural(entry["resource"]), entry.get("name")
        if plural == self.plural and name in self.objects:
            return str(name), True
        if (plural, name) in self.referenced:
            return self.referenced[(plural, str(name))], False
        if plural == "events" and entry["verb"] == "create":
            body = entry.get("body") or {}
            involved = body.get("involvedObject") or {} if isinstance(body, Mapping) else {}
            if involved.get("kind") == self.kind and involved.get("name") in self.objects:
                return str(involved["name"]), True
        return None, False


def attribute(scenario: Scenario, log: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per-object means of the operator's writes and reads, by what they were; the rest as totals."""
    n = len(scenario.objects)
    writes: Counter[str] = Counter()
    events = 0
    reads: Counter[str] = Counter()
    other: Counter[str] = Counter()
    by_client: Counter[str] = Counter()
    per_object_writes: dict[str, int] = defaultdict(int)
    per_object_reads: dict[str, int] = defaultdict(int)
    failed: Counter[str] = Counter()
    for entry in log:
        if not entry["authenticated"]:
            continue  # the benchmark's own requests
        client = "kopf" if str(entry["client"]).startswith("kopf/") else "operator's client"
        owner, own = scenario.owner(entry)
        is_write = entry["verb"] in WRITE_VERBS
        if owner is None:
            label = write_label(entry) if is_write else read_label(entry, own=False)
            other[f"{'write' if is_write else 'read'}: {label}"] += 1
            continue
        by_client[f"{client} {'writes' if is_write else 'reads'}"] += 1
        code = entry.get("code")
        if is_write:
            label = write_label(entry)
            writes[f"{label} [{client}]"] += 1
            per_object_writes[owner] += 1
            events += base_plural(entry["resource"]) == "events"
        else:
            label = read_label(entry, own)
            reads[f"{label} [{client}]"] += 1
            per_object_reads[owner] += 1
        if isinstance(code, int) and code >= 400:
            failed[f"{label} -> {code}"] += 1
    counts_w = [per_object_writes.get(name, 0) for name in scenario.objects]
    counts_r = [per_object_reads.get(name, 0) for name in scenario.objects]
    return {
        "n": n,
        "writes_per_object": round(sum(counts_w) / n, 2),
        "object_writes_per_object": round((sum(counts_w) - events) / n, 2),
        "events_per_object": round(events / n, 2),
        "reads_per_object": round(sum(counts_r) / n, 2),
        "writes_min_max": [min(counts_w), max(counts_w)],
        "reads_min_max": [min(counts_r), max(counts_r)],
        "writes_by_kind_per_object": {k: round(v / n, 2) for k, v in writes.most_common()},
        "reads_by_kind_per_object": {k: round(v / n, 2) for k, v in reads.most_common()},
        "by_client_per_object": {k: round(v / n, 2) for k, v in sorted(by_client.items())},
        "failed_requests": dict(failed),
        "other_requests_in_window": dict(other.most_common()),
        "other_requests_total": sum(other.values()),
    }


# ---- the scenarios -----------------------------------------------------------------------------


async def until(kube: Kube, kind: str, namespace: str, done: Any, within: float, what: str) -> float:
    """Seconds until ``done(items)`` holds (listing every 0.25 s); TimeoutError after ``within``."""
    start = time.monotonic()
    await kube.wait_until(kind, namespace, done, within=within, what=what, every=0.25)
    return time.monotonic() - start


def all_ready(count: int) -> Any:
    return lambda items: len(items) >= count and all(is_ready(item) for item in items)


def none_left(items: list[dict[str, Any]]) -> bool:
    return not items


async def measure(stack: BenchStack, args: argparse.Namespace) -> list[dict[str, Any]]:
    n = args.n
    kube = stack.kube()
    requests: Requests | AuditRequests
    if stack.plane is None:
        requests = Requests(sandbox_url(stack))
    else:
        assert stack.plane.audit_log is not None, "a real API server started without its audit log"
        requests = AuditRequests(stack.plane.audit_log, OPERATOR_USER)
    ids = await seed_images(stack, n, "p7-seed")
    for namespace in ("p7-import", "p7-adopt"):
        await kube.namespace(namespace)
    await asyncio.sleep(args.settle)  # the operator's start-up requests are over
    requests.start()
    imports = [f"imp-{i:04d}" for i in range(n)]
    adopts = [f"adopt-{i:04d}" for i in range(n)]
    exports = [f"exp-{i:04d}" for i in range(n)]
    plans: list[tuple[Scenario, Any, Any, str]] = [
        (
            Scenario("import", "EnsImage", "p7-import", imports),
            lambda: kube.create_many(
                "p7-import", [ens_image(name, source=oss_source(f"{name}.qcow2")) for name in imports]
            ),
            ("EnsImage", "p7-import", all_ready(n)),
            "creation → Ready",
        ),
        (
            Scenario("adopt", "EnsImage", "p7-adopt", adopts),
            lambda: kube.create_many(
                "p7-adopt",
                [ens_image(name, imageId=image_id) for name, image_id in zip(adopts, ids, strict=True)],
            ),
            ("EnsImage", "p7-adopt", all_ready(n)),
            "creation → Ready",
        ),
        (
            Scenario(
                "export", "EnsImageExport", "p7-import", exports, dict(zip(exports, imports, strict=True))
            ),
            lambda: kube.create_many(
                "p7-import", [export_body(name, image) for name, image in zip(exports, imports, strict=True)]
            ),
            ("EnsImageExport", "p7-import", all_ready(n)),
            "creation → Ready (image Ready)",
        ),
        (
            Scenario("delete", "EnsImage", "p7-import", imports),
            lambda: kube.delete_many("EnsImage", "p7-import", imports),
            ("EnsImage", "p7-import", none_left),
            "deletion → gone (policy Delete)",
        ),
        (
            Scenario("delete-retain", "EnsImage", "p7-adopt", adopts),
            lambda: kube.delete_many("EnsImage", "p7-adopt", adopts),
            ("EnsImage", "p7-adopt", none_left),
            "deletion → gone (policy Retain)",
        ),
    ]
    results = []
    emulator = Emulator(stack.admin_url)
    for scenario, act, (kind, namespace, done), what in plans:
        if args.only and scenario.name not in args.only:
            continue
        mark = requests.mark()
        emulator.delete("/calls")
        started = time.monotonic()
        await act()
        took = await until(kube, kind, namespace, done, args.within, f"{scenario.name}: {what}")
        await asyncio.sleep(args.settle)  # the last events and writes of the window
        log = requests.since(mark)
        figures = attribute(scenario, log)
        figures.update(
            scenario=scenario.name,
            what=what,
            done_s=round(time.monotonic() - started - args.settle, 2),
            until_done_s=round(took, 2),
            ens_calls={name: sum(codes.values()) for name, codes in emulator.calls().items()},
        )
        results.append(figures)
        print(
            f"{scenario.name}: {figures['writes_per_object']} writes, {figures['reads_per_object']} reads "
            f"per object, done in {figures['done_s']} s",
            flush=True,
        )
    return results


def plot(results: Sequence[Mapping[str, Any]], n: int, name: str, kube: str) -> None:
    """Stacked writes per object by what they are, reads as crosses, the import goal as a line."""
    fig, axes = figure()
    names = [r["scenario"] for r in results]
    bottoms = [0.0] * len(results)
    groups = ("finalizer", "kopf", "intent", "status", "event")
    for group in (*groups, "other"):
        heights = []
        for r in results:
            total = 0.0
            for label, mean in r["writes_by_kind_per_object"].items():
                match = next((g for g in groups if g in label), "other")
                total += mean if match == group else 0.0
            heights.append(total)
        axes.bar(names, heights, bottom=bottoms, label=f"writes: {group}")
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    reads = [r["reads_per_object"] for r in results]
    axes.scatter(names, reads, color="k", marker="x", label="reads", zorder=3)
    axes.axhline(IMPORT_WRITES_GOAL, color="k", linestyle="--", label="import goal: 4 writes to the object")
    axes.set_ylim(0, max(bottoms, default=0.0) * 1.6 + 1)
    axes.set_ylabel("requests per object")
    axes.set_title(f"P7 ({kube} API): the operator's Kubernetes requests per object (N = {n})")
    axes.legend(fontsize=7, ncol=2, loc="upper left")
    save_plot(fig, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.p7_kube_requests", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--n", type=int, default=20, help="objects per scenario")
    parser.add_argument("--fast-poll", type=float, default=1.0, help="operator fast-poll interval (s)")
    parser.add_argument(
        "--step", type=float, default=0.0,
        help="emulator seconds per image status (0: Available at once; each status observed costs a write)",
    )  # fmt: skip
    parser.add_argument(
        "--settle", type=float, default=3.0, help="quiet seconds before and after each window"
    )
    parser.add_argument("--within", type=float, default=120.0, help="longest wait per scenario (s)")
    parser.add_argument(
        "--only", type=lambda s: s.split(","), default=None, help="scenarios to run (comma list)"
    )
    parser.add_argument("--name", default=None, help="results file name (default p7_kube_requests[_real])")
    parser.add_argument("--note", default="", help="a note kept in the JSON (e.g. which code ran)")
    parser.add_argument("--quick", action="store_true", help="N = 5")
    add_kube_argument(parser)
    args = parser.parse_args(argv)
    args.name = args.name or result_name("p7_kube_requests", args.kube)
    if args.quick:
        args.n = 5

    real = args.kube != "sandbox"
    with local_stack(step_seconds=args.step, fast_poll=args.fast_poll, kube=args.kube, audit=real) as stack:
        results = run(measure(stack, args))

    show(
        f"P7 the operator's Kubernetes requests per object, N = {args.n} per scenario "
        f"(counted at the {args.kube} API)",
        ["scenario", "writes", "to the object", "events", "writes min-max", "reads", "reads min-max",
         "other requests", "done (s)"],
        [
            [r["scenario"], r["writes_per_object"], r["object_writes_per_object"], r["events_per_object"],
             "-".join(map(str, r["writes_min_max"])), r["reads_per_object"],
             "-".join(map(str, r["reads_min_max"])), r["other_requests_total"], r["done_s"]]
            for r in results
        ],
    )  # fmt: skip
    rows = []
    for r in results:
        for label, mean in r["writes_by_kind_per_object"].items():
            rows.append([r["scenario"], "write", label, mean])
        for label, mean in r["reads_by_kind_per_object"].items():
            rows.append([r["scenario"], "read", label, mean])
        for label, total in r["other_requests_in_window"].items():
            rows.append([r["scenario"], "not one object's", label, f"{total} in all"])
    show("P7 what the requests were (per object unless said)", ["scenario", "", "request", "count"], rows)

    plot(results, args.n, args.name, args.kube)
    imports = next((r for r in results if r["scenario"] == "import"), None)
    save(
        args.name,
        {
            "n": args.n,
            "kube": args.kube,
            "fast_poll_s": args.fast_poll,
            "step_s": args.step,
            "note": args.note,
            "results": results,
            "import_writes_goal": IMPORT_WRITES_GOAL,
            # The goal names four writes to the object (finalizer, intent, id, Ready); events are
            # counted beside them. And no read of what a watch delivered: no GET of the object.
            "goal_met": imports is not None
            and imports["object_writes_per_object"] <= IMPORT_WRITES_GOAL
            and not any(label.startswith("GET") for label in imports["reads_by_kind_per_object"]),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
