"""Who sent a request, and did they sign it: both Alibaba signature styles, STS tokens, replay checks."""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ens_image_kit.emulator.errors import ApiError, missing_parameter
from ens_image_kit.emulator.signing import (
    parse_v3_authorization,
    rpc_signature,
    rpc_string_to_sign,
    v3_signature,
    v3_string_to_sign,
)
from ens_image_kit.emulator.state import TIMESTAMP_TOLERANCE, EmulatorState

_MISMATCH = "Specified signature is not matched with our calculation. server string to sign is:"


@dataclass(frozen=True)
class IncomingRequest:
    """What the verifier needs of an HTTP request; query and form values already url-decoded."""

    method: str
    path: str
    query: Sequence[tuple[str, str]]
    form: Sequence[tuple[str, str]]
    headers: Mapping[str, Sequence[str]]  # lower-case name -> every value sent
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of a header, if sent."""
        values = self.headers.get(name)
        return values[0] if values else None


def authenticate(request: IncomingRequest, state: EmulatorState) -> str:
    """Check the signature; returns the access key id or raises the error Alibaba would."""
    authorization = request.header("authorization")
    if authorization is not None:
        return _check_v3(request, authorization, state)
    params = dict(request.query) | dict(request.form)
    if "Signature" in params:
        return _check_rpc(request, params, state)
    raise ApiError("MissingParameter", "The request is not signed: no Authorization header, no Signature.")


def _secret(state: EmulatorState, key_id: str) -> str:
    if key_id in state.keys:
        return state.keys[key_id]
    if key_id in state.sts:
        return state.sts[key_id].secret
    raise ApiError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", status=404)


def _check_timestamp(value: str | None, name: str, now: float) -> None:
    if not value:
        raise missing_parameter(name)
    try:
        stamp = calendar.timegm(time.strptime(value, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        raise ApiError("InvalidTimeStamp.Format", f"{name} must look like 2025-01-01T00:00:00Z.") from None
    if abs(now - stamp) > TIMESTAMP_TOLERANCE:
        raise ApiError(
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired: it must be within 15 minutes of the server.",
        )


def _check_token(state: EmulatorState, key_id: str, token: str | None, now: float) -> None:
    cred = state.sts.get(key_id)
    if cred is None:
        return  # a long-term key needs no token
    if token is None or not hmac.compare_digest(token.encode(), cred.token.encode()):
        raise ApiError(
            "InvalidSecurityToken.MismatchWithAccessKey", "The security token does not match the access key."
        )
    if cred.expires_at is not None and now >= cred.expires_at:
        raise ApiError("InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")


def _check_nonce(state: EmulatorState, key_id: str, nonce: str, now: float) -> None:
    if not state.remember_nonce(key_id, nonce, now):
        raise ApiError("SignatureNonceUsed", "Specified signature nonce was used already.")


def _check_v3(request: IncomingRequest, authorization: str, state: EmulatorState) -> str:
    parsed = parse_v3_authorization(authorization)
    if parsed is None:
        raise ApiError("IncompleteSignature", "The Authorization header is not ACS3-HMAC-SHA256.")
    secret = _secret(state, parsed.access_key_id)
    now = state.now()
    _check_timestamp(request.header("x-acs-date"), "x-acs-date", now)
    nonce = request.header("x-acs-signature-nonce")
    if not nonce:
        raise missing_parameter("x-acs-signature-nonce")
    # Alibaba requires host and every x-acs-* header to be covered by the signature.
    must_sign = {"host"} | {name for name in request.headers if name.startswith("x-acs-")}
    unsigned = sorted(must_sign - set(parsed.signed_headers))
    if unsigned:
        raise ApiError("IncompleteSignature", f"These headers must be signed: {', '.join(unsigned)}.")
    body_hash = hashlib.sha256(request.body).hexdigest()
    sent_hash = request.header("x-acs-content-sha256")
    if sent_hash is not None and sent_hash != body_hash:
        raise ApiError("SignatureDoesNotMatch", "x-acs-content-sha256 is not the SHA-256 of the body.")
    string_to_sign = v3_string_to_sign(
        request.method, request.path, request.query, request.headers, parsed.signed_headers, body_hash
    )
    expected = v3_signature(secret, string_to_sign)
    if not hmac.compare_digest(expected, parsed.signature):
        raise ApiError("SignatureDoesNotMatch", _MISMATCH + string_to_sign)
    _check_nonce(state, parsed.access_key_id, nonce, now)
    _check_token(state, parsed.access_key_id, request.header("x-acs-security-token"), now)
    return parsed.access_key_id


def _check_rpc(request: IncomingRequest, params: Mapping[str, str], state: EmulatorState) -> str:
    key_id = params.get("AccessKeyId")
    if not key_id:
        raise missing_parameter("AccessKeyId")
    secret = _secret(state, key_id)
    now = state.now()
    _check_timestamp(params.get("Timestamp"), "Timestamp", now)
    nonce = params.get("SignatureNonce")
    if not nonce:
        raise missing_parameter("SignatureNonce")
    if params.get("SignatureMethod", "HMAC-SHA1") != "HMAC-SHA1":
        raise ApiError("IncompleteSignature", "Only SignatureMethod HMAC-SHA1 is supported.")
    string_to_sign = rpc_string_to_sign(request.method, [*request.query, *request.form])
    expected = rpc_signature(secret, string_to_sign)
    if not hmac.compare_digest(expected.encode(), params["Signature"].encode()):
        raise ApiError("SignatureDoesNotMatch", _MISMATCH + string_to_sign)
    _check_nonce(state, key_id, nonce, now)
    _check_token(state, key_id, params.get("SecurityToken"), now)
    return key_id
