"""KEDA's `redis` scaler and the replica count it leads to, evaluated against a real Redis.

KEDA cannot run here (no Kubernetes), so this does what it would do with a rendered ScaledObject,
following kedacore/keda pkg/scalers/redis_scaler.go (KEDA 2.x):

- metadata: `listName` (required), `listLength` (target per replica, default 5), `activationListLength`
  (default 0), `databaseIndex` (default 0), `address` (host:port), `enableTLS`; the password from the
  TriggerAuthentication's `password` parameter (a secretTargetRef) when `authenticationRef` is set.
- the length: a Lua script that reads the key's TYPE and answers with ZCARD, SCARD, LLEN or HLEN
  (LLEN for a missing key, i.e. 0).
- activity: `length > activationListLength`.
- the HPA KEDA creates targets an AverageValue of `listLength` per replica: ceil(length / listLength).

The replica count (keda/pkg/scaling/executor/scale_scaledobjects.go and the HPA): when no trigger is
active, KEDA scales the target to `minReplicaCount` (default 0; after `cooldownPeriod`); when one is,
the HPA's count is the largest of the triggers' counts, kept between max(minReplicaCount, 1) and
`maxReplicaCount` (default 100).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import redis

from tests.images.podrunner import Manifests, ref_value

# Verbatim in behaviour to the script in redis_scaler.go.
LENGTH_SCRIPT = """
local listName = KEYS[1]
local listType = redis.call('type', listName).ok
local cmd = {zset = 'zcard', set = 'scard', list = 'llen', hash = 'hlen', none = 'llen'}
return redis.call(cmd[listType], listName)
"""


@dataclass(frozen=True)
class RedisTrigger:
    host: str
    port: int
    list_name: str
    list_length: int
    activation_list_length: int
    database: int
    password: str | None


@dataclass(frozen=True)
class Decision:
    lengths: dict[str, int]  # list name -> length read
    active: bool
    replicas: int


def redis_triggers(manifests: Manifests, scaled_object: dict) -> list[RedisTrigger]:
    triggers = []
    for trig in scaled_object["spec"]["triggers"]:
        if trig["type"] != "redis":
            raise AssertionError(f"trigger type {trig['type']} is not evaluated here")
        meta = trig["metadata"]
        if str(meta.get("enableTLS", "false")).lower() == "true":
            raise AssertionError("TLS Redis triggers are not evaluated here")
        password = None
        if "authenticationRef" in trig:
            auth = manifests.get("TriggerAuthentication", trig["authenticationRef"]["name"])
            assert auth is not None, f"TriggerAuthentication {trig['authenticationRef']['name']} is not rendered"
            for target in auth["spec"].get("secretTargetRef", []):
                if target["parameter"] == "password":
                    password = ref_value(manifests, "Secret", target, "TriggerAuthentication")
        host, _, port = meta["address"].rpartition(":")
        triggers.append(RedisTrigger(
            host=host, port=int(port), list_name=meta["listName"],
            list_length=int(meta.get("listLength", "5")),
            activation_list_length=int(meta.get("activationListLength", "0")),
            database=int(meta.get("databaseIndex", "0")), password=password,
        ))
    return triggers


def list_length(client: redis.Redis, name: str) -> int:
    return int(client.eval(LENGTH_SCRIPT, 1, name))


def evaluate(manifests: Manifests, scaled_object: dict, resolve: Callable[[str], list[str]]) -> Decision:
    """The replica count KEDA (and the HPA it drives) would ask for now. `resolve` turns the trigger's
    host into addresses reachable from here (the cluster DNS the KEDA operator would use)."""
    spec = scaled_object["spec"]
    low, high = int(spec.get("minReplicaCount", 0)), int(spec.get("maxReplicaCount", 100))
    lengths, wanted, active = {}, [], False
    for trig in redis_triggers(manifests, scaled_object):
        addresses = resolve(trig.host)
        assert addresses, f"the trigger's Redis host {trig.host!r} resolves to no running pod"
        client = redis.Redis(host=addresses[0], port=trig.port, db=trig.database, password=trig.password,
                             socket_timeout=5, socket_connect_timeout=5)
        try:
            length = list_length(client, trig.list_name)
        finally:
            client.close()
        lengths[trig.list_name] = length
        active = active or length > trig.activation_list_length
        wanted.append(math.ceil(length / trig.list_length))
    return Decision(lengths, active, replicas(active, wanted, low, high))


def replicas(active: bool, wanted: list[int], low: int, high: int) -> int:
    """KEDA's count: minReplicaCount while no trigger is active, else the HPA's (the largest trigger's
    count, at least max(minReplicaCount, 1) and at most maxReplicaCount)."""
    if not active:
        return low
    return min(max(max(wanted), low, 1), high)
