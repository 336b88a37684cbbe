"""STS AssumeRoleWithOIDC: anonymous, issues temporary keys the ENS API then accepts."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from ens_image_kit.emulator.actions import iso_time
from ens_image_kit.emulator.errors import invalid_parameter
from ens_image_kit.emulator.state import EmulatorState
from ens_image_kit.emulator.validation import required

STS_VERSION = "2015-04-01"
MIN_DURATION, MAX_DURATION, DEFAULT_DURATION = 900, 43200, 3600


def assume_role_with_oidc(state: EmulatorState, params: Mapping[str, str]) -> dict[str, Any]:
    """Trade any non-empty OIDC token for a temporary key of the requested lifetime."""
    role_arn = required(params, "RoleArn")
    required(params, "OIDCProviderArn")
    required(params, "OIDCToken")
    try:
        duration = int(params.get("DurationSeconds") or DEFAULT_DURATION)
    except ValueError:
        raise invalid_parameter("DurationSeconds", "it must be an integer.") from None
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise invalid_parameter("DurationSeconds", f"between {MIN_DURATION} and {MAX_DURATION}.")
    session = params.get("RoleSessionName") or "session"
    key_id, cred = state.issue_sts(duration)
    role = role_arn.rsplit("/", 1)[-1]
    return {
        "Credentials": {
            "AccessKeyId": key_id,
            "AccessKeySecret": cred.secret,
            "SecurityToken": cred.token,
            "Expiration": iso_time(cred.expires_at or 0.0),
        },
        "AssumedRoleUser": {
            "AssumedRoleId": f"3{zlib.crc32(role.encode()):017d}:{session}",
            "Arn": f"{role_arn.replace(':role/', ':assumed-role/')}/{session}",
        },
        "OIDCTokenInfo": {"Issuer": "", "Subject": "", "ClientIds": ""},
    }
