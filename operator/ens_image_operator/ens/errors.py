"""Errors of the ENS API, sorted by what a caller should do about them.

``Throttled`` and ``Transient`` are worth retrying; ``NotFound``, ``Invalid``, ``Denied`` and
``Conflict`` are not (until something changes). :func:`classify` maps an HTTP answer to one of them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class EnsError(Exception):
    """An ENS API call that did not succeed."""

    retryable: bool = False

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        request_id: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
        maybe_applied: bool = False,
    ) -> None:
        self.code = code
        self.message = message
        self.request_id = request_id
        self.http_status = http_status
        self.retry_after = retry_after
        # True when the request may have reached ENS and taken effect before the failure (a lost
        # connection or a read timeout): repeating a non-idempotent call could then do it twice.
        self.maybe_applied = maybe_applied
        super().__init__(str(self))

    def __str__(self) -> str:
        status = f", HTTP {self.http_status}" if self.http_status is not None else ""
        # One line, whatever the server sent: the text ends up in log lines and in conditions.
        message = " ".join(self.message.split())
        text = f"{self.code}: {message}" if message else self.code
        return f"{text} (RequestId: {self.request_id or '-'}{status})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, request_id={self.request_id!r})"


class Throttled(EnsError):
    """Flow control: slow down and try again."""

    retryable = True


class Transient(EnsError):
    """Server-side or network trouble that usually passes (5xx, timeouts, connection errors)."""

    retryable = True


class NotFound(EnsError):
    """The resource named in the request does not exist."""


class Invalid(EnsError):
    """The request itself is wrong; repeating it will not help."""


class Denied(EnsError):
    """Authentication or authorisation failed."""


class CredentialsError(Denied):
    """No usable credentials: nothing was sent to ENS."""


class Conflict(EnsError):
    """The resource is in a state that does not allow the operation right now."""


_DENIED_PREFIXES = (
    "NoPermission",
    "Forbidden",
    "InvalidAccessKeyId",
    "InvalidAccessKeySecret",
    "SignatureDoesNotMatch",
    "SignatureNonceUsed",
    "InvalidSecurityToken",
    "InvalidTimeStamp",
    "IncompleteSignature",
    "InvalidCredentials",
    "AccessDenied",
    "NotAuthorized",
    "Unauthorized",
)
_INVALID_PREFIXES = (
    "InvalidParameter",
    "InvalidParam",
    "MissingParameter",
    "MissingParam",
    "OssPrefix.Malformed",
    "ImageNotSupported",
    "InvalidImageName",
    "InvalidAction",
    "UnsupportedOperation",
    "InvalidVersion",
)
_CONFLICT_PREFIXES = ("IncorrectImageStatus", "OperationDenied", "IdempotentParameterMismatch")
_TRANSIENT_CODES = {"ServiceUnavailable", "InternalError", "UnknownError", "ServiceTimeout"}


def _kind(code: str, http_status: int) -> type[EnsError]:
    if code.startswith("Throttling") or code in {"RequestLimitExceeded", "TooManyRequests"}:
        return Throttled
    if code in _TRANSIENT_CODES:
        return Transient
    if code.startswith(_DENIED_PREFIXES):
        return Denied
    if code == "NotFound" or code.endswith(".NotFound") or code.endswith("NotFound"):
        return NotFound
    if code.startswith(_INVALID_PREFIXES):
        return Invalid
    if code.startswith(_CONFLICT_PREFIXES):
        return Conflict
    if http_status == 429:
        return Throttled
    if http_status >= 500:
        return Transient
    if http_status in (401, 403):
        return Denied
    if http_status == 404:
        return NotFound
    if http_status == 409:
        return Conflict
    return Invalid if 400 <= http_status < 500 else EnsError


def _parse_body(body: bytes | str | Mapping[str, Any] | None) -> Mapping[str, Any]:
    if body is None:
        return {}
    if isinstance(body, Mapping):
        return body
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _retry_after(headers: Mapping[str, str]) -> float | None:
    lowered = {name.lower(): value for name, value in headers.items()}
    raw = lowered.get("x-acs-retry-after")
    if raw is not None:  # milliseconds, as the SDK reads it
        try:
            millis = int(raw)
        except ValueError:
            return None
        return millis / 1000.0 if millis > 0 else None
    raw = lowered.get("retry-after")
    if raw is not None:  # plain HTTP: seconds
        try:
            seconds = float(raw)
        except ValueError:
            return None
        return seconds if seconds > 0 else None
    return None


def classify(
    http_status: int,
    body: bytes | str | Mapping[str, Any] | None,
    headers: Mapping[str, str] | None = None,
) -> EnsError:
    """Turn an unsuccessful HTTP answer of ENS (or STS) into the matching :class:`EnsError`."""
    data = _parse_body(body)
    code = str(data.get("Code") or data.get("code") or f"HTTP{http_status}")
    message = str(data.get("Message") or data.get("message") or "")
    request_id = data.get("RequestId") or data.get("requestId")
    retry_after = _retry_after(headers or {})
    kind = _kind(code, http_status)
    if retry_after is not None and kind is not Transient and http_status >= 400:
        # The SDK treats any error carrying x-acs-retry-after as throttling.
        kind = Throttled
    return kind(
        code,
        message,
        request_id=str(request_id) if request_id is not None else None,
        http_status=http_status,
        retry_after=retry_after,
    )
