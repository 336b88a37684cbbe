"""Assemble and run the operator: registry, runtime, kopf in-process."""

from __future__ import annotations

import itertools
import logging
import os
import socket
from collections.abc import Mapping

import kopf

from ens_image_operator.controllers import connection
from ens_image_operator.controllers.cluster import KubeCluster
from ens_image_operator.controllers.handlers import register
from ens_image_operator.controllers.kube import Connection, KubeApi
from ens_image_operator.controllers.ownership import Claims
from ens_image_operator.controllers.peering import PeeringGate, peering_paths
from ens_image_operator.controllers.preflight import wait_for_api
from ens_image_operator.controllers.runtime import Runtime
from ens_image_operator.credentials_scope import CredentialScopes
from ens_image_operator.ens.client import EnsClient
from ens_image_operator.ens.credentials import CredentialsProvider, default_chain
from ens_image_operator.ens.ratelimit import DOCUMENTED_RATES, RateLimiter
from ens_image_operator.metrics import record_call, record_rate, serve
from ens_image_operator.reconcile.catalog import CatalogDriver
from ens_image_operator.reconcile.export import ExportDriver
from ens_image_operator.reconcile.image import ImageDriver
from ens_image_operator.reconcile.loop import Reconciler
from ens_image_operator.reconcile.timing import Backoffs, Intervals
from ens_image_operator.settings import Settings

log = logging.getLogger(__name__)


def build_runtime(settings: Settings, kube: KubeApi, gate: PeeringGate | None = None) -> Runtime:
    """The process-wide state: one set of per-action rate limiters per credentials scope."""
    operator_credentials = default_chain(settings.sts_endpoint)
    rates = {**DOCUMENTED_RATES, **settings.rate_limits}
    # A scope's two clients (retrying and once) get the same provider object: key on it, keeping it
    # alive like the scope does. Metrics name scopes "operator" or "secret-<n>", never by key id.
    limiters: dict[int, tuple[CredentialsProvider, RateLimiter]] = {}
    secrets = itertools.count(1)

    def limiter_for(credentials: CredentialsProvider) -> RateLimiter:
        found = limiters.get(id(credentials))
        if found is None:
            scope = "operator" if credentials is operator_credentials else f"secret-{next(secrets)}"
            found = (credentials, RateLimiter(settings.qps, rates=rates, scope=scope, on_rate=record_rate))
            limiters[id(credentials)] = found
        return found[1]

    def make_client(credentials: CredentialsProvider, retrying: bool) -> EnsClient:
        return EnsClient(
            credentials,
            endpoint=settings.endpoint,
            limiter=limiter_for(credentials),
            timeout=settings.request_timeout,
            max_attempts=settings.max_attempts if retrying else 1,
            retry_deadline=settings.retry_deadline,
            on_call=record_call,
        )

    intervals = Intervals(fast=settings.fast_poll_interval, slow=settings.slow_poll_interval)
    scopes = CredentialScopes(
        kube.read_secret,
        make_client,
        operator_credentials,
        default_secret_name=settings.default_secret_name,
        # Just under one poll period: every pass of a scheduler cycle shares one listing.
        snapshot_max_age=settings.fast_poll_interval * 0.9,
    )
    claims = Claims()
    cluster = KubeCluster(kube, claims, scopes, settings)
    image_driver = ImageDriver(
        intervals,
        import_timeout=settings.import_timeout,
        delete_wait_timeout=settings.delete_wait_timeout,
        listing_lag=settings.listing_lag,
    )
    return Runtime(
        settings=settings,
        kube=kube,
        scopes=scopes,
        images=Reconciler(image_driver, cluster),
        exports=Reconciler(ExportDriver(intervals, export_timeout=settings.export_timeout), cluster),
        catalogs=Reconciler(CatalogDriver(intervals)),
        claims=claims,
        backoffs=Backoffs(base=settings.fast_poll_interval, cap=max(60.0, settings.fast_poll_interval)),
        gate=gate or PeeringGate(),
    )


def peering_identity(environ: Mapping[str, str] = os.environ) -> str:
    """This replica's name in kopf's peering: the pod name where the chart provides it, else host/pid.

    Given explicitly because kopf's own default asks the passwd database for the user name, which a
    container running as an arbitrary UID (65532 in our image) does not have.
    """
    return environ.get("POD_NAME") or environ.get("POD_ID") or f"{socket.gethostname()}/{os.getpid()}"


async def run_operator(settings: Settings, *, priority: int) -> None:
    """Run until SIGTERM/SIGINT: standalone unless settings.peering names a peering object."""
    await wait_for_api(connection.login(kopf.OperatorSettings(), log))
    registry = kopf.OperatorRegistry()
    identity = peering_identity()

    async def runtime_factory(login: kopf.ConnectionInfo) -> Runtime:
        serve(settings.metrics_port)
        kube = KubeApi(Connection.from_login(login))
        gate = None
        if settings.peering:
            paths = peering_paths(settings.peering, settings.namespaces)
            gate = PeeringGate(kube, paths, identity=identity, priority=priority)
        return build_runtime(settings, kube, gate)

    register(registry, settings, runtime_factory)
    liveness = f"http://0.0.0.0:{settings.health_port}/healthz" if settings.health_port else None
    await kopf.operator(
        registry=registry,
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        standalone=not settings.peering,
        peering_name=settings.peering or None,
        priority=priority,
        identity=identity,  # type: ignore[arg-type]  # kopf exports no name for its Identity NewType
        liveness_endpoint=liveness,
        memo=kopf.Memo(),
    )
