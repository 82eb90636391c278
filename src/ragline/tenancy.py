"""Tenants own collections. Internally a collection is named `{tenant}__{collection}` everywhere
(Redis keys, Chroma collections, job records), so no lookup can reach another tenant's data."""

from __future__ import annotations

# Tenants have no underscore, so the first "__" always separates tenant from collection.
TENANT_PATTERN = r"^[a-z0-9][a-z0-9-]{0,31}$"
SEPARATOR = "__"
# Without API keys everyone is this one tenant.
DEFAULT_TENANT = "public"


def scope(tenant: str, collection: str) -> str:
    return f"{tenant}{SEPARATOR}{collection}"


def unscope(scoped: str) -> tuple[str, str]:
    """Split an internal name into (tenant, collection).

    >>> unscope("acme__q3__reports")
    ('acme', 'q3__reports')
    """
    tenant, _, collection = scoped.partition(SEPARATOR)
    return tenant, collection


def belongs(scoped: str, tenant: str) -> bool:
    return unscope(scoped)[0] == tenant


def display(scoped: str) -> str:
    """The name the tenant knows the collection by."""
    return unscope(scoped)[1]
