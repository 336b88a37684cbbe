"""The operator's one settings object: environment variables ``ENS_OPERATOR_*``, flags override.

Every field maps one to one onto a Helm value (see the README's configuration table).
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_ENDPOINT = "https://ens.aliyuncs.com"
DEFAULT_STS_ENDPOINT = "https://sts.aliyuncs.com"


def parse_rate_limits(text: str) -> dict[str, float]:
    """``{"Action": rate}`` (JSON) or ``Action=rate,Action=calls/seconds`` as a dict of calls/s."""
    text = text.strip()
    if text.startswith("{"):
        parsed = json.loads(text)
        if not isinstance(parsed, dict):
            raise ValueError("rate_limits must be a JSON object of action names to rates")
        return {str(action): float(rate) for action, rate in parsed.items()}
    rates: dict[str, float] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        action, equals, rate = part.partition("=")
        if not equals or not action.strip():
            raise ValueError(f"rate_limits entry {part!r} is not Action=rate")
        calls, slash, seconds = rate.partition("/")
        if slash and not float(seconds) > 0:
            raise ValueError(f"rate_limits entry {part!r} needs a positive number of seconds")
        rates[action.strip()] = float(calls) / float(seconds) if slash else float(calls)
    return rates


class Settings(BaseSettings):
    """Configuration of the operator and of its ENS client."""

    model_config = SettingsConfigDict(env_prefix="ENS_OPERATOR_", extra="ignore", frozen=True)

    # --- the cloud side -------------------------------------------------------------------
    endpoint: str = Field(DEFAULT_ENDPOINT, description="ENS OpenAPI endpoint URL.")
    sts_endpoint: str = Field(
        DEFAULT_STS_ENDPOINT, description="STS endpoint used for RRSA (AssumeRoleWithOIDC)."
    )
    qps: float = Field(
        10.0, gt=0, description="ENS calls/s of each action without its own rate, per credentials scope."
    )
    rate_limits: Annotated[dict[str, float], NoDecode] = Field(
        default={},
        description="Per-action ENS rates (calls/s) over the documented defaults, per credentials "
        'scope: JSON {"ImportImage": 5} or ImportImage=5,DeleteImage=1/60 (calls/seconds).',
    )
    request_timeout: float = Field(10.0, gt=0, description="Timeout of one ENS HTTP request (s).")
    max_attempts: int = Field(5, ge=1, description="Attempts per ENS call, first try included.")
    retry_deadline: float = Field(60.0, gt=0, description="Total time budget of one ENS call (s).")

    # --- reconciliation -------------------------------------------------------------------
    fast_poll_interval: float = Field(
        5.0, gt=0, description="Poll interval while an import, export or delete is in flight (s)."
    )
    slow_poll_interval: float = Field(600.0, gt=0, description="Drift-check interval of stable objects (s).")
    import_timeout: float = Field(
        7200.0, gt=0, description="How long an import may stay in progress before Stalled (s)."
    )
    export_timeout: float = Field(
        7200.0, gt=0, description="How long an export may stay in progress before Stalled (s)."
    )
    delete_wait_timeout: float = Field(
        1800.0,
        gt=0,
        description="How long deleting an EnsImage waits for its running exports (s).",
    )
    listing_lag: float = Field(
        120.0,
        gt=0,
        description="Longest time a new image may stay invisible to DescribeSelfImages listings and "
        "lookups (s): no absence is trusted, and no import repeated, inside this window.",
    )
    default_secret_name: str = Field(
        "ens-credentials",
        description="Secret looked up in an object's namespace when it has no credentialsRef.",
    )
    adoption_namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Namespaces whose EnsImages may adopt images with the operator's own credentials "
        "(comma-separated); empty means every namespace.",
    )
    namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Namespaces to watch (comma-separated); empty means all namespaces.",
    )

    # --- process --------------------------------------------------------------------------
    metrics_port: int = Field(8080, ge=0, le=65535, description="Prometheus metrics port (0: off).")
    health_port: int = Field(8081, ge=0, le=65535, description="Liveness/readiness port (0: off).")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    log_format: Literal["text", "json"] = Field("text", description="Log line format.")
    peering: str = Field(
        "",
        description="kopf peering name; empty runs standalone (one replica).",
    )
    priority: int = Field(
        0, description="kopf peering priority; each replica needs a distinct one (0: derived)."
    )
    peering_lifetime: int = Field(
        60,
        ge=10,
        description="How long a replica's peering record lives without renewal (s): the failover time "
        "after a replica dies without saying goodbye.",
    )

    @field_validator("rate_limits", mode="before")
    @classmethod
    def _parse_rate_limits(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_rate_limits(value)
        return value

    @field_validator("rate_limits")
    @classmethod
    def _positive_rates(cls, value: dict[str, float]) -> dict[str, float]:
        for action, rate in value.items():
            if not action or not rate > 0:
                raise ValueError(f"the rate of {action or 'an unnamed action'} must be positive")
        return value

    @field_validator("namespaces", "adoption_namespaces", mode="before")
    @classmethod
    def _split_namespaces(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
