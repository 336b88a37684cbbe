"""The two Alibaba Cloud request signatures, written from the published algorithm.

The emulator judges clients with this code, so it deliberately shares nothing with the
operator's own signer: a bug copied into both would otherwise go unnoticed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

V3_ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


def percent_encode(text: str) -> str:
    """RFC 3986 encoding as Alibaba signs it: only ``A-Za-z0-9-_.~`` stay literal."""
    return quote(text, safe="~", encoding="utf-8")


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """Sorted ``key=value`` pairs, both percent-encoded, joined by ``&``."""
    pairs = sorted((percent_encode(key), percent_encode(value)) for key, value in params)
    return "&".join(f"{key}={value}" for key, value in pairs)


@dataclass(frozen=True)
class V3Authorization:
    """The parts of an ``Authorization: ACS3-HMAC-SHA256 ...`` header."""

    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_v3_authorization(value: str) -> V3Authorization | None:
    """Split the header into its three fields; ``None`` when it is not a V3 header."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != V3_ALGORITHM:
        return None
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, field_value = part.strip().partition("=")
        if sep:
            fields[name] = field_value
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        return None
    signed = tuple(name for name in fields["SignedHeaders"].split(";") if name)
    return V3Authorization(fields["Credential"], signed, fields["Signature"])


def v3_string_to_sign(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, Sequence[str]],
    signed_headers: Sequence[str],
    body_sha256: str,
) -> str:
    """The ACS3 string to sign; ``headers`` maps lower-case names to every value sent."""
    canonical_headers = ""
    for name in signed_headers:
        values = sorted(value.strip() for value in headers.get(name, ()))
        canonical_headers += f"{name}:{','.join(values)}\n"
    canonical_request = "\n".join(
        [method.upper(), path or "/", canonical_query(query), canonical_headers, ";".join(signed_headers)]
    )
    canonical_request += "\n" + body_sha256
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return f"{V3_ALGORITHM}\n{digest}"


def v3_signature(secret: str, string_to_sign: str) -> str:
    """Hex HMAC-SHA256 of the string to sign, keyed by the bare secret."""
    return hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def rpc_string_to_sign(method: str, params: Iterable[tuple[str, str]]) -> str:
    """``METHOD&%2F&<encoded canonical query>`` over every parameter but ``Signature``."""
    kept = [(key, value) for key, value in params if key != "Signature"]
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(kept))}"


def rpc_signature(secret: str, string_to_sign: str) -> str:
    """Base64 HMAC-SHA1 keyed by ``secret + '&'``."""
    mac = hmac.new(f"{secret}&".encode(), string_to_sign.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")
