"""Reach the Kubernetes API before kopf starts: one clear line for what cannot work, patience for what may.

kopf treats every login failure alike and retries it quietly. A user who mistyped a path, holds an
expired token or points at the wrong CA needs the cause named and the process to exit; a server
that is restarting needs a line per attempt and the operator to carry on once it answers.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

import httpx

from ens_image_operator.controllers.connection import ConnectionProblem, describe
from ens_image_operator.controllers.kube import Connection, KubeApi

log = logging.getLogger(__name__)

RETRY_CAP = 30.0


def _tls_failure(error: BaseException) -> ssl.SSLError | None:
    while error is not None:
        if isinstance(error, ssl.SSLError):
            return error
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return None


async def probe(info: Any) -> None:
    """One GET /version; raises ConnectionProblem (permanent) or httpx.TransportError (transient)."""
    connection = Connection.from_login(info)
    try:
        api = KubeApi(connection)
    except (OSError, ssl.SSLError, ValueError) as error:
        raise ConnectionProblem(f"{describe()}: unusable TLS files: {error}") from None
    where = f"{connection.server} ({describe()})"
    try:
        response = await api.probe()
    except httpx.TransportError as error:
        tls = _tls_failure(error)
        if tls is not None:
            reason = getattr(tls, "verify_message", None) or getattr(tls, "reason", None) or str(tls)
            raise ConnectionProblem(
                f"TLS to {where} failed: {reason}; the kubeconfig's certificate-authority does not "
                "match the server's certificate"
            ) from None
        raise
        if response.status_code == 200:
            log.info("Kubernetes API at %s: %s", connection.server, await api.version())
    finally:
        await api.aclose()
    if response.status_code == 401:
        raise ConnectionProblem(
            f"{where} rejected the credentials (401 Unauthorized): the token or client certificate "
            "is wrong or expired"
        )
    if response.status_code == 403:
        raise ConnectionProblem(f"{where} refused these credentials access to /version (403 Forbidden)")
    if response.status_code >= 500:
        raise httpx.RemoteProtocolError(f"HTTP {response.status_code}")


async def wait_for_api(info: Any, *, attempts: int | None = None) -> None:
    """Probe until the API answers; a line per failed attempt, backing off up to 30 s."""
    attempt = 0
    while True:
        attempt += 1
        try:
            await probe(info)
            if attempt > 1:
                log.info("the Kubernetes API answers again at %s", info.server)
            return
        except httpx.TransportError as error:
            if attempts is not None and attempt >= attempts:
                raise ConnectionProblem(
                    f"cannot reach {info.server} ({describe()}): {type(error).__name__}: {error}"
                ) from None
            delay = min(RETRY_CAP, 2.0 ** (attempt - 1))
            log.warning(
                "cannot reach the Kubernetes API at %s (%s): %s; attempt %d, next in %.0f s",
                info.server,
                describe(),
                f"{type(error).__name__}: {error}" if str(error) else type(error).__name__,
                attempt,
                delay,
            )
            await asyncio.sleep(delay)
