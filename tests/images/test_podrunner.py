"""The pod check's own parts, without Docker: the kubelet's translation rules (podrunner.py) on small
pod specs, and KEDA's redis scaler (keda.py) against a real redis-server on a free port."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import redis_server
from tests.images import keda
from tests.images.podrunner import Manifests, Pod, PodRunner, PodSpecError, expand, quantity

NS = "ns"


def secret(name: str, **data: str) -> dict:
    return {"kind": "Secret", "metadata": {"name": name}, "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def deployment(name: str, container: dict, pod: dict | None = None, labels: dict | None = None) -> dict:
    return {"kind": "Deployment", "metadata": {"name": name},
            "spec": {"template": {"metadata": {"labels": labels or {"app": name}},
                                  "spec": {"containers": [container], **(pod or {})}}}}


def service(name: str, selector: dict, port: int, target: str | int, headless: bool = False) -> dict:
    spec = {"selector": selector, "ports": [{"name": "http", "port": port, "targetPort": target}]}
    if headless:
        spec["clusterIP"] = "None"
    return {"kind": "Service", "metadata": {"name": name}, "spec": spec}


def runner_for(*docs: dict, tmp_path: Path) -> PodRunner:
    return PodRunner(Manifests(docs, NS), tmp_path)


def pod_of(runner: PodRunner, name: str) -> Pod:
    w = runner.m.workload(name)
    return Pod(name=f"{name}-0", workload=w, ip="172.30.0.20", labels=w["spec"]["template"]["metadata"]["labels"],
               spec=w["spec"]["template"]["spec"])


@pytest.mark.parametrize(("text", "number"), [("500m", 0.5), ("2", 2), (1, 1), ("1536Mi", 1536 * 2**20), ("3Gi", 3 * 2**30),
                                              ("512M", 512e6), ("1e3", 1000), ("100k", 1e5)])
def test_quantities(text: str | int, number: float) -> None:
    assert quantity(text) == number


def test_a_malformed_quantity_is_refused() -> None:
    with pytest.raises(PodSpecError):
        quantity("2 cores")


@pytest.mark.parametrize(("text", "result"), [
    ("redis://:$(PW)@h:6379/0", "redis://:s3cret@h:6379/0"),
    ("$(MISSING)", "$(MISSING)"),
    ("$$(PW)", "$(PW)"),
    ("a$$b", "a$b"),
    ("$(PW", "$(PW"),
    ("--basic-auth=$(PW)", "--basic-auth=s3cret"),
])
def test_expansion_follows_the_kubelet(text: str, result: str) -> None:
    assert expand(text, {"PW": "s3cret"}) == result


def test_env_is_built_in_order_from_values_secrets_and_fields(tmp_path: Path) -> None:
    container = {"name": "app", "image": "x", "env": [
        {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
        {"name": "URL", "value": "redis://:$(PW)@redis:6379/0"},
        {"name": "EARLY", "value": "$(LATER)"},
        {"name": "LATER", "value": "late"},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
    ], "envFrom": [{"secretRef": {"name": "creds"}, "prefix": "CREDS_"}], "resources": {"limits": {"memory": "512Mi"}},
        "ports": [{"name": "http", "containerPort": 80}]}
    runner = runner_for(deployment("app", container), secret("creds", password="s3cret"),
                        service("app-svc", {"app": "app"}, 80, 80), tmp_path=tmp_path)
    env = runner.container_env(pod_of(runner, "app"), container)
    assert env["URL"] == "redis://:s3cret@redis:6379/0"
    assert env["EARLY"] == "$(LATER)"  # only variables defined before are expanded
    assert (env["POD"], env["IP"], env["MEM"], env["CREDS_password"]) == ("app-0", "172.30.0.20", "512", "s3cret")
    # The kubelet's Service link variables (with a stand-in ClusterIP).
    assert env["APP_SVC_SERVICE_PORT"] == "80" and env["APP_SVC_PORT"].startswith("tcp://10.96.")


def test_a_missing_secret_stops_the_pod_like_the_kubelet(tmp_path: Path) -> None:
    container = {"name": "app", "image": "x", "env": [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k"}}}]}
    runner = runner_for(deployment("app", container), tmp_path=tmp_path)
    with pytest.raises(PodSpecError, match="CreateContainerConfigError"):
        runner.container_env(pod_of(runner, "app"), container)
    optional = {**container, "env": [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": True}}}]}
    assert "K" not in runner.container_env(pod_of(runner, "app"), optional)


def test_security_context_becomes_engine_options(tmp_path: Path) -> None:
    container = {"name": "app", "image": "x", "securityContext": {
        "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}
    pod = {"securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001}}
    runner = runner_for(deployment("app", container, pod), tmp_path=tmp_path)
    args = runner.security_args(pod_of(runner, "app"), container, image_user="")
    assert args == ["--user", "10001:10001", "--group-add", "10001", "--read-only",
                    "--security-opt", "no-new-privileges", "--cap-drop", "ALL"]


@pytest.mark.parametrize(("pod_sc", "image_user", "message"), [
    ({"runAsNonRoot": True}, "app", "not numeric"),
    ({"runAsNonRoot": True}, "", "as root"),
    ({"runAsNonRoot": True, "runAsUser": 0}, "10001", "as root"),
])
def test_run_as_non_root_is_verified_against_the_image(tmp_path: Path, pod_sc: dict, image_user: str, message: str) -> None:
    container = {"name": "app", "image": "x"}
    runner = runner_for(deployment("app", container, {"securityContext": pod_sc}), tmp_path=tmp_path)
    with pytest.raises(PodSpecError, match=message):
        runner.security_args(pod_of(runner, "app"), container, image_user=image_user)


def test_resources_become_cgroup_limits() -> None:
    args = PodRunner.resource_args({"resources": {"requests": {"cpu": "250m", "memory": "256Mi"},
                                                  "limits": {"cpu": "1", "memory": "512Mi"}}})
    assert args == ["--memory", str(512 * 2**20), "--memory-swap", str(512 * 2**20),
                    "--memory-reservation", str(256 * 2**20), "--cpus", "1", "--cpu-shares", "256"]


def test_service_names_resolve_to_the_pods_they_select(tmp_path: Path) -> None:
    container = {"name": "db", "image": "x", "ports": [{"name": "redis", "containerPort": 6379}]}
    sts = {**deployment("db", container), "kind": "StatefulSet"}
    sts["spec"]["serviceName"] = "db-headless"
    runner = runner_for(sts, service("db", {"app": "db"}, 6379, "redis"),
                        service("db-headless", {"app": "db"}, 6379, "redis", headless=True),
                        service("other", {"app": "other"}, 80, 80), tmp_path=tmp_path)
    names = runner.dns_names(pod_of(runner, "db"))
    assert "db" in names and f"db.{NS}.svc.cluster.local" in names
    assert f"db-0.db-headless.{NS}.svc.cluster.local" in names
    assert not any(n.startswith("other") for n in names)


def test_a_service_port_the_network_cannot_remap_is_refused(tmp_path: Path) -> None:
    container = {"name": "api", "image": "x", "ports": [{"name": "http", "containerPort": 8000}]}
    with pytest.raises(PodSpecError, match="cannot remap"):
        runner_for(deployment("api", container), service("api", {"app": "api"}, 80, "http"), tmp_path=tmp_path)
    with pytest.raises(PodSpecError, match="does not expose"):
        runner_for(deployment("api", container), service("api", {"app": "api"}, 8000, "metrics"), tmp_path=tmp_path)


# --- KEDA's redis scaler against a real Redis ------------------------------------------------------

@pytest.fixture(scope="module")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with redis_server(tmp_path_factory.mktemp("redis"), password="pw") as port:
        yield port


def scaled_object(list_length: str = "2", activation: str = "0", low: int = 0, high: int = 4) -> dict:
    return {"kind": "ScaledObject", "metadata": {"name": "so"}, "spec": {
        "minReplicaCount": low, "maxReplicaCount": high,
        "triggers": [{"type": "redis", "authenticationRef": {"name": "auth"}, "metadata": {
            "address": "redis-svc:6379", "listName": "ingest", "listLength": list_length,
            "activationListLength": activation, "databaseIndex": "3"}}]}}


def evaluate(port: int, so: dict):
    auth = {"kind": "TriggerAuthentication", "metadata": {"name": "auth"},
            "spec": {"secretTargetRef": [{"parameter": "password", "name": "redis", "key": "redis-password"}]}}
    manifests = Manifests([so, auth, secret("redis", **{"redis-password": "pw"})], NS)
    # The scaler is given the service's port; the test Redis listens elsewhere on loopback.
    so = {**so, "spec": {**so["spec"], "triggers": [{**t, "metadata": {**t["metadata"], "address": f"redis-svc:{port}"}}
                                                   for t in so["spec"]["triggers"]]}}
    return keda.evaluate(manifests, so, lambda host: ["127.0.0.1"] if host == "redis-svc" else [])


@pytest.mark.parametrize(("queued", "so", "active", "replicas"), [
    (0, scaled_object(), False, 0),                       # nothing queued: minReplicaCount
    (1, scaled_object(), True, 1),                        # woken from zero
    (5, scaled_object(), True, 3),                        # ceil(5 / 2)
    (50, scaled_object(), True, 4),                       # capped at maxReplicaCount
    (3, scaled_object(activation="3"), False, 0),         # not above activationListLength
    (4, scaled_object(activation="3"), True, 2),
    (0, scaled_object(low=1), False, 1),
    (1, scaled_object(list_length="5", low=2), True, 2),  # never below minReplicaCount
])
def test_redis_scaler_replicas(redis_port: int, queued: int, so: dict, active: bool, replicas: int) -> None:
    client = redis.Redis(port=redis_port, password="pw", db=3)
    client.delete("ingest")
    if queued:
        client.rpush("ingest", *range(queued))
    try:
        decision = evaluate(redis_port, so)
    finally:
        client.delete("ingest")
        client.close()
    assert (decision.lengths, decision.active, decision.replicas) == ({"ingest": queued}, active, replicas)


def test_redis_scaler_reads_other_key_types_and_the_right_database(redis_port: int) -> None:
    client = redis.Redis(port=redis_port, password="pw", db=3)
    try:
        client.zadd("ingest", {"a": 1, "b": 2, "c": 3})
        assert evaluate(redis_port, scaled_object()).lengths == {"ingest": 3}
        client.delete("ingest")
        redis.Redis(port=redis_port, password="pw", db=0).rpush("ingest", 1, 2)  # another database
        assert evaluate(redis_port, scaled_object()).lengths == {"ingest": 0}
    finally:
        client.delete("ingest")
        redis.Redis(port=redis_port, password="pw", db=0).delete("ingest")
        client.close()
