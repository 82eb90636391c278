"""The chart's pods on real containers with ci/exposed-values.yaml and a password on Redis: every
credential comes from a Secret and must reach the process that needs it.

ci/exposed-values.yaml names Secrets the operator creates before installing (API keys, the UI's key,
Flower's users): the test creates them, as `kubectl create secret` would. Redis auth is the one part of
ci/observability-values.yaml that can run here (that file also runs Jaeger, whose image cannot be had
offline): the password goes to Redis as `--requirepass $(REDIS_PASSWORD)`, to its exec probes as
REDISCLI_AUTH, into every ragline process's RAGLINE_REDIS_URL, and to KEDA through a
TriggerAuthentication. See test_chart_pods.py for how pods are run and what is not covered.
"""

from __future__ import annotations

import base64
import http.client
import secrets
from collections.abc import Iterator

import pytest

from tests.images.chartcluster import ROOT, Cluster, ask, ingest_from_zero, installed, render
from tests.images.podrunner import docker

# A cold image build (the project_images fixture) can take many minutes before the first test.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

API_KEY = f"ops-{secrets.token_hex(12)}"
UI_KEY = f"ui-{secrets.token_hex(12)}"
FLOWER_USER, FLOWER_PASSWORD = "ops", secrets.token_urlsafe(12)
REDIS_PASSWORD = secrets.token_hex(16)


def secret(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "Opaque",
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


# What the operator creates beforehand (the names ci/exposed-values.yaml gives).
OPERATOR_SECRETS = [
    secret("ragline-api-keys", **{"api-keys": f"{API_KEY}=acme,{UI_KEY}=acme"}),
    secret("ragline-ui-key", **{"api-key": UI_KEY}),
    secret("ragline-flower-users", **{"basic-auth": f"{FLOWER_USER}:{FLOWER_PASSWORD}"}),
]


@pytest.fixture(scope="module")
def exposed_cluster(project_images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    manifests = render(project_images, ROOT / "ci" / "exposed-values.yaml",
                       ("redis.auth.enabled=true", f"redis.auth.password={REDIS_PASSWORD}"), OPERATOR_SECRETS)
    with installed(manifests, project_images, tmp_path_factory.mktemp("pods"), "chart-pods-exposed", API_KEY) as cluster:
        yield cluster


def http_status(ip: str, port: int, path: str, headers: dict[str, str] | None = None) -> int:
    conn = http.client.HTTPConnection(ip, port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        return conn.getresponse().status
    finally:
        conn.close()


def test_redis_takes_only_the_password_from_the_secret(exposed_cluster: Cluster) -> None:
    redis = exposed_cluster.pod("redis").containers[0].docker_name
    # The exec probes pass (the fixture waited for them) because REDISCLI_AUTH is set; without it: refused.
    anonymous = docker("exec", redis, "env", "-u", "REDISCLI_AUTH", "redis-cli", "-h", "127.0.0.1", "ping", check=False)
    assert "NOAUTH" in anonymous.stdout + anonymous.stderr, anonymous
    assert docker("exec", redis, "redis-cli", "-h", "127.0.0.1", "ping").stdout.strip() == "PONG"


def test_the_api_wants_a_key_and_the_ui_pods_have_one(exposed_cluster: Cluster) -> None:
    cluster = exposed_cluster
    documents = {"op": "get", "path": "/v1/collections/exposed/documents"}
    [anonymous] = cluster.client.run(documents, api_key="-")
    [wrong] = cluster.client.run(documents, api_key="not-a-key-0123456789")
    [keyed] = cluster.client.run(documents)
    assert (anonymous["status"], wrong["status"]) == (401, 401), (anonymous, wrong)
    assert keyed["status"] in (200, 404), keyed
    ui_pods = cluster.runner.pods_of(cluster.workload("ui"))
    assert len(ui_pods) == 2
    for pod in ui_pods:
        reach = docker("exec", pod.containers[0].docker_name, "python", "-c",
                       "import os, urllib.request as u, urllib.error as e\n"
                       "r = u.Request(os.environ['RAGLINE_API_URL'] + '/v1/collections/exposed/documents',"
                       " headers={'Authorization': 'Bearer ' + os.environ['RAGLINE_API_KEY']})\n"
                       "try: print(u.urlopen(r, timeout=10).status)\n"
                       "except e.HTTPError as x: print(x.code)", check=False)
        assert reach.stdout.strip() in ("200", "404"), (pod.name, reach.stdout, reach.stderr)


def test_flower_wants_the_operators_users(exposed_cluster: Cluster) -> None:
    flower = exposed_cluster.pod("flower")
    port = flower.containers[0].spec["ports"][0]["containerPort"]
    good = base64.b64encode(f"{FLOWER_USER}:{FLOWER_PASSWORD}".encode()).decode()
    bad = base64.b64encode(f"{FLOWER_USER}:wrong".encode()).decode()
    assert http_status(flower.ip, port, "/") == 401
    assert http_status(flower.ip, port, "/", {"Authorization": f"Basic {bad}"}) == 401
    assert http_status(flower.ip, port, "/", {"Authorization": f"Basic {good}"}) == 200
    assert http_status(flower.ip, port, "/healthcheck") == 200


def test_keda_reads_the_queue_with_its_trigger_authentication(exposed_cluster: Cluster) -> None:
    """The trigger's password comes from the TriggerAuthentication's Secret: a wrong one would fail the
    evaluation (NOAUTH), so waking the ingest worker proves KEDA could read the queue."""
    jobs = ingest_from_zero(exposed_cluster, ["exposed-a", "exposed-b"])
    assert {j["collection"] for j in jobs} == {"exposed-a", "exposed-b"}
    ask(exposed_cluster, "exposed-a")
