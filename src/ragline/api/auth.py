"""Bearer API keys, each bound to a tenant, and per-key rate limits."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from starlette.requests import Request

from ragline.config import Settings
from ragline.errors import ErrorCode, RaglineError
from ragline.tenancy import DEFAULT_TENANT


@dataclass(frozen=True)
class Principal:
    tenant: str
    # A hash prefix of the key: safe to log and to name rate-limit counters; the key itself never is.
    key_id: str


def authenticate(request: Request, settings: Settings) -> Principal:
    """Who is calling. Without configured keys everyone is the default tenant."""
    tenants = settings.api_key_tenants
    if not tenants:
        client = request.client.host if request.client else "unknown"
        return Principal(tenant=DEFAULT_TENANT, key_id=f"ip-{client}")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise RaglineError(ErrorCode.UNAUTHORIZED, "send an API key: Authorization: Bearer <key>")
    presented = token.strip().encode()
    tenant = None
    # Compare with every key, in constant time each, so timing tells nothing about near misses.
    for key, key_tenant in tenants.items():
        if hmac.compare_digest(key.encode(), presented):
            tenant = key_tenant
    if tenant is None:
        raise RaglineError(ErrorCode.UNAUTHORIZED, "the API key is not valid")
    return Principal(tenant=tenant, key_id=hashlib.sha256(presented).hexdigest()[:16])
