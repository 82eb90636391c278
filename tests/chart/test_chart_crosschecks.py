"""Cross-checks over the rendered chart: objects refer to each other correctly.

Each check runs on every ci/*-values.yaml, and once on a deliberately broken copy to show it fails.
"""

from __future__ import annotations

import copy

import pytest

from tests.chart import chartchecks as cc
from tests.chart.support import CI_VALUES

# The image each component must run (see services/*/Dockerfile): the API image has no ML
# libraries, so a worker on it could not embed; the default worker and Flower use a worker image.
EXPECTED_IMAGES = {
    "api": {"ragline-api"},
    # ingestWorker.gpu.enabled: the same Dockerfile built with a CUDA torch wheel (docs/deploy.md).
    "ingest-worker": {"ragline-ingest-worker", "ragline-ingest-worker-cuda"},
    "query-worker": {"ragline-query-worker"},
    "default-worker": {"ragline-query-worker", "ragline-ingest-worker"},
    "flower": {"ragline-query-worker", "ragline-ingest-worker"},
    "ui": {"ragline-ui"},
    "redis": {"redis"},
    "chroma": {"chroma"},
    "jaeger": {"all-in-one"},
    "seaweedfs": {"seaweedfs"},
}

CHECKS = {
    "scaledobjects": cc.check_scaledobjects,
    "services": cc.check_services,
    "ingresses": cc.check_ingresses,
    "selecting-objects": cc.check_selecting_objects,
    "network-reachability": cc.check_network_reachability,
    "images": lambda docs: cc.check_images(docs, EXPECTED_IMAGES),
    "security": cc.check_security,
    "flower-auth": cc.check_flower_auth,
    "ingress-body-size": cc.check_ingress_body_size,
}


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_cross_check(rendered, values, check):
    assert CHECKS[check](rendered[values.name]) == []


# Switches the ci/ files leave at their defaults: every cross-check must hold for each of them too.
TOGGLES = [
    ("flower.enabled=false",),
    ("networkPolicy.enabled=false",),
    ("api.ingress.enabled=false",),
    ("ingestWorker.enabled=false", "queryWorker.enabled=false"),
    ("dataVolume.existingClaim=ragline-shared",),
    ("blobStore.filesystem.existingClaim=ragline-blobs",),
    ("blobStore.type=s3", "blobStore.s3.endpointUrl=http://minio.storage:9000", "blobStore.s3.existingSecret=s3-keys"),
    ("auth.enabled=true", "auth.apiKeys[0].key=key-one-0123456789", "auth.apiKeys[0].tenant=acme"),
    ("jaeger.enabled=true", "redis.enabled=false", "redis.external.host=redis.internal"),
    ("fullnameOverride=ragline-production-europe-west-cluster-01",),
    ("keda.enabled=false", "worker.pdb.enabled=false", "api.pdb.enabled=false"),
    ("config.task_time_limit_seconds=7200", "tracing.otlpEndpoint=http://otel.monitoring:4318"),
    ("ui.enabled=false",),
    ("ui.replicas=2", "ui.pdb.enabled=true", "api.ingress.host=rag.example.com", "ui.ingress.path=/app"),
    ("flower.ingress.enabled=true", "flower.ingress.host=flower.example.com",
     "flower.basicAuth.existingSecret=flower-users"),
]


@pytest.mark.parametrize("sets", TOGGLES, ids=lambda s: ",".join(s))
def test_cross_checks_hold_for_toggles(helm, sets):
    docs = helm.render((), sets)
    problems = [p for check in CHECKS.values() for p in check(docs)]
    assert problems == []


def find(docs, kind, suffix):
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(suffix))


def worker_container(deployment):
    return deployment["spec"]["template"]["spec"]["containers"][0]


def test_every_worker_kind_is_scaled_on_its_own_queue(default_docs):
    pairs = {}
    for so in cc.of_kind(default_docs, "ScaledObject"):
        target = find(default_docs, "Deployment", so["spec"]["scaleTargetRef"]["name"])
        pairs[cc.component(target)] = so["spec"]["triggers"][0]["metadata"]["listName"]
    assert pairs == {"ingest-worker": "ingest", "query-worker": "query", "default-worker": "default"}


# --- negative cases -----------------------------------------------------------------------------

def test_scaledobject_on_the_wrong_list_is_caught(default_docs):
    docs = copy.deepcopy(default_docs)
    so = find(docs, "ScaledObject", "-ingest-worker")
    so["spec"]["triggers"][0]["metadata"]["listName"] = "query"
    assert any("watches list 'query'" in p for p in cc.check_scaledobjects(docs))


def test_worker_consuming_another_queue_is_caught(default_docs):
    docs = copy.deepcopy(default_docs)
    cmd = worker_container(find(docs, "Deployment", "-query-worker"))["command"]
    cmd[cmd.index("-Q") + 1] = "queries"
    assert any("consumes ['queries']" in p for p in cc.check_scaledobjects(docs))


def test_scaledobject_with_missing_target_is_caught(default_docs):
    docs = copy.deepcopy(default_docs)
    find(docs, "ScaledObject", "-default-worker")["spec"]["scaleTargetRef"]["name"] = "rag-defualt-worker"
    assert any("missing Deployment" in p for p in cc.check_scaledobjects(docs))


def test_numeric_list_length_is_caught_by_the_cross_check_too(default_docs):
    docs = copy.deepcopy(default_docs)
    find(docs, "ScaledObject", "-ingest-worker")["spec"]["triggers"][0]["metadata"]["listLength"] = 5
    assert any("listLength must be a string" in p for p in cc.check_scaledobjects(docs))


def test_service_selecting_nothing_is_caught(default_docs):
    docs = copy.deepcopy(default_docs)
    find(docs, "Service", "-api")["spec"]["selector"]["app.kubernetes.io/component"] = "apii"
    assert any("selects no pod" in p for p in cc.check_services(docs))


def test_service_target_port_missing_is_caught(default_docs):
    docs = copy.deepcopy(default_docs)
    find(docs, "Service", "-flower")["spec"]["ports"][0]["targetPort"] = 5556
    assert any("does not expose" in p for p in cc.check_services(docs))


def test_ingress_pointing_at_a_wrong_port_is_caught(default_docs):
    docs = copy.deepcopy(default_docs)
    find(docs, "Ingress", "-api")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] = {"number": 80}
    assert any("routes to port" in p for p in cc.check_ingresses(docs))


def test_ingress_pointing_at_another_service_is_caught(default_docs):
    docs = copy.deepcopy(default_docs)
    backend = find(docs, "Ingress", "-api")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    backend["name"], backend["port"] = "rag-flower", {"name": "http"}
    assert any("reaches no api container port through Service/rag-flower" in p for p in cc.check_ingresses(docs))


def test_ui_is_routed_at_ui_on_the_api_host(helm):
    docs = helm.render((), ("api.ingress.host=rag.example.com",))
    routes = cc.ingress_routes(docs)
    assert routes == {("rag.example.com", "/"): "rag-api", ("rag.example.com", "/ui"): "rag-ui"}
    ui = find(docs, "Deployment", "-ui")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in ui["env"]}
    assert env["RAGLINE_UI_ROOT_PATH"] == "/ui" and env["RAGLINE_API_URL"] == "http://rag-api:8000"
    assert env["RAGLINE_MAX_UPLOAD_BYTES"] == "52428800"
    annotations = find(docs, "Ingress", "-ui")["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"


def test_ui_ingress_on_the_api_service_is_caught(default_docs):
    docs = copy.deepcopy(default_docs)
    backend = find(docs, "Ingress", "-ui")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    backend["name"] = "rag-api"
    assert any("Ingress/rag-ui reaches no ui container port through Service/rag-api" in p
               for p in cc.check_ingresses(docs))


def test_ui_session_affinity_follows_replicas(helm, default_docs):
    assert "sessionAffinity" not in find(default_docs, "Service", "-ui")["spec"]
    docs = helm.render((), ("ui.replicas=2",))
    assert find(docs, "Service", "-ui")["spec"]["sessionAffinity"] == "ClientIP"


def test_pdb_and_policy_selecting_nothing_are_caught(default_docs):
    docs = copy.deepcopy(default_docs)
    find(docs, "PodDisruptionBudget", "-api")["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] = "other"
    find(docs, "NetworkPolicy", "-redis")["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] = "cache"
    problems = cc.check_selecting_objects(docs)
    assert any("PodDisruptionBudget" in p for p in problems) and any("NetworkPolicy" in p for p in problems)


def test_servicemonitor_on_an_unnamed_port_is_caught(rendered):
    docs = copy.deepcopy(rendered["observability-values.yaml"])
    find(docs, "ServiceMonitor", "-ingest-worker")["spec"]["endpoints"][0]["port"] = "http-metrics"
    assert any("scrapes port 'http-metrics'" in p for p in cc.check_selecting_objects(docs))


def test_network_policy_locking_out_a_client_is_caught(default_docs):
    docs = copy.deepcopy(default_docs)
    peer = find(docs, "NetworkPolicy", "-chroma")["spec"]["ingress"][0]["from"][0]
    peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] = "api"  # workers locked out
    problems = cc.check_network_reachability(docs)
    assert any("query-worker -> StatefulSet/rag-chroma" in p for p in problems), problems


def test_ui_egress_policy_locking_out_the_api_is_caught(default_docs):
    docs = copy.deepcopy(default_docs)
    find(docs, "NetworkPolicy", "-ui")["spec"]["egress"][0]["ports"][0]["port"] = 8080
    problems = cc.check_network_reachability(docs)
    assert any("egress NetworkPolicy blocks Deployment/rag-ui -> Deployment/rag-api port 8000" in p
               for p in problems), problems


def test_api_policy_locking_out_the_ui_is_caught(helm):
    # With Prometheus confined to its namespace, only the release-pods peer admits the UI.
    docs = copy.deepcopy(helm.render((), ("networkPolicy.metricsNamespaceLabels.name=monitoring",)))
    assert cc.check_network_reachability(docs) == []
    peer = find(docs, "NetworkPolicy", "-api")["spec"]["ingress"][0]["from"][0]
    peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] = "query-worker"
    problems = cc.check_network_reachability(docs)
    assert any("blocks Deployment/rag-ui -> Deployment/rag-api port 8000" in p for p in problems), problems


def test_ui_service_selecting_nothing_is_caught(default_docs):
    docs = copy.deepcopy(default_docs)
    find(docs, "Service", "-ui")["spec"]["selector"]["app.kubernetes.io/component"] = "web"
    assert any("Service/rag-ui selects no pod" in p for p in cc.check_services(docs))


def test_wrong_image_is_caught(default_docs):
    docs = copy.deepcopy(default_docs)
    worker_container(find(docs, "Deployment", "-query-worker"))["image"] = "ragline-api:0.1.0"
    assert any("runs ragline-api:0.1.0" in p for p in cc.check_images(docs, EXPECTED_IMAGES))
    docs = copy.deepcopy(default_docs)
    worker_container(find(docs, "Deployment", "-ui"))["image"] = "ragline-query-worker:0.1.0"
    assert any("rag-ui container ui runs ragline-query-worker" in p for p in cc.check_images(docs, EXPECTED_IMAGES))


def test_security_regressions_are_caught(default_docs):
    docs = copy.deepcopy(default_docs)
    c = worker_container(find(docs, "Deployment", "-api"))
    c["securityContext"]["readOnlyRootFilesystem"] = False
    del c["resources"]["limits"]
    problems = cc.check_security(docs)
    assert any("readOnlyRootFilesystem" in p for p in problems)
    assert any("no memory limits" in p for p in problems)


def test_flower_without_auth_is_caught(default_docs):
    docs = copy.deepcopy(default_docs)
    flower = worker_container(find(docs, "Deployment", "-flower"))
    flower["command"] = [a for a in flower["command"] if not a.startswith("--basic-auth")]
    assert any("runs Flower without --basic-auth" in p for p in cc.check_flower_auth(docs))
    docs = copy.deepcopy(default_docs)
    flower = worker_container(find(docs, "Deployment", "-flower"))
    flower["command"] = [a if not a.startswith("--basic-auth") else "--basic-auth=admin:hunter2" for a in flower["command"]]
    assert any("is not taken from an environment variable" in p for p in cc.check_flower_auth(docs))
    docs = copy.deepcopy(default_docs)
    env = worker_container(find(docs, "Deployment", "-flower"))["env"]
    next(e for e in env if e["name"] == "FLOWER_BASIC_AUTH").update(value="admin:hunter2", valueFrom=None)
    assert any("FLOWER_BASIC_AUTH does not come from a Secret" in p for p in cc.check_flower_auth(docs))


def test_ingress_body_size_below_the_upload_limit_is_caught(default_docs, helm):
    docs = copy.deepcopy(default_docs)
    find(docs, "Ingress", "-ui")["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"] = "50m"
    problems = cc.check_ingress_body_size(docs)
    assert any("Ingress/rag-ui proxy-body-size 50m does not exceed Deployment/rag-ui" in p for p in problems), problems
    docs = helm.render((), ("config.max_upload_bytes=104857600",))
    problems = cc.check_ingress_body_size(docs)
    assert any("Ingress/rag-api" in p for p in problems) and any("Ingress/rag-ui" in p for p in problems), problems
