"""The embedding and answer caches in a Redis of their own: the chart's (evicting, unpersisted, reached by
this release's pods only), an external one, or none (the caches share the main Redis)."""

from __future__ import annotations

from tests.chart.support import RELEASE
from tests.chart.test_chart_blobs import app_pods, env_of, find

CACHE = f"{RELEASE}-cache-redis"


def argument(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_the_default_cache_redis_evicts_and_keeps_nothing(default_docs):
    deployment = find(default_docs, "Deployment", CACHE)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    command = container["command"]
    assert (argument(command, "--maxmemory"), argument(command, "--maxmemory-policy")) == ("400mb", "allkeys-lru")
    assert (argument(command, "--save"), argument(command, "--appendonly")) == ("", "no")
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    assert not [d for d in default_docs if d["kind"] == "PersistentVolumeClaim" and "cache" in d["metadata"]["name"]]
    assert "volumeClaimTemplates" not in deployment["spec"]
    service = find(default_docs, "Service", CACHE)
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_the_main_redis_still_never_evicts(default_docs):
    command = find(default_docs, "StatefulSet", f"{RELEASE}-redis")["spec"]["template"]["spec"]["containers"][0]["command"]
    assert argument(command, "--maxmemory-policy") == "noeviction"


def test_every_app_pod_is_pointed_at_the_cache_redis(default_docs):
    pods = app_pods(default_docs)
    assert pods
    for pod in pods:
        assert env_of(pod)["RAGLINE_CACHE_REDIS_URL"] == f"redis://{CACHE}:6379/0"


def test_only_this_releases_pods_reach_the_cache_redis(default_docs):
    policy = find(default_docs, "NetworkPolicy", CACHE)
    deployment = find(default_docs, "Deployment", CACHE)
    assert policy["spec"]["podSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": "redis", "protocol": "TCP"}]
    assert [list(source) for source in rule["from"]] == [["podSelector"]], "no namespace (KEDA watches the main Redis only)"
    assert rule["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == RELEASE


def test_with_a_password_the_cache_redis_takes_the_main_ones(helm):
    docs = helm.render((), ("redis.auth.enabled=true", "redis.auth.password=s3cret-password"))
    container = find(docs, "Deployment", CACHE)["spec"]["template"]["spec"]["containers"][0]
    assert argument(container["command"], "--requirepass") == "$(REDIS_PASSWORD)"
    assert {e["name"] for e in container["env"]} == {"REDIS_PASSWORD", "REDISCLI_AUTH"}
    for pod in app_pods(docs):
        names = [e["name"] for e in pod["containers"][0]["env"]]
        # $(REDIS_PASSWORD) expands only if that variable comes first.
        assert names.index("REDIS_PASSWORD") < names.index("RAGLINE_CACHE_REDIS_URL")
        assert env_of(pod)["RAGLINE_CACHE_REDIS_URL"] == f"redis://:$(REDIS_PASSWORD)@{CACHE}:6379/0"


def test_an_external_cache_redis_url_comes_from_the_operators_secret(rendered):
    docs = rendered["external-values.yaml"]
    assert not [d for d in docs if d["metadata"]["name"] == CACHE]
    for pod in app_pods(docs):
        assert env_of(pod)["RAGLINE_CACHE_REDIS_URL"] == ("managed-cache-redis", "url")


def test_an_external_cache_redis_url_given_as_a_value(helm):
    docs = helm.render((), ("cacheRedis.enabled=false", "cacheRedis.external.url=rediss://cache.example.internal:6380/1"))
    for pod in app_pods(docs):
        assert env_of(pod)["RAGLINE_CACHE_REDIS_URL"] == "rediss://cache.example.internal:6380/1"


def test_without_a_cache_redis_the_caches_share_the_main_one(helm):
    docs = helm.render((), ("cacheRedis.enabled=false",))
    assert not [d for d in docs if d["metadata"]["name"] == CACHE]
    for pod in app_pods(docs):
        assert "RAGLINE_CACHE_REDIS_URL" not in env_of(pod)
        assert env_of(pod)["RAGLINE_REDIS_URL"] == f"redis://{RELEASE}-redis:6379/0"
