"""Where the chart keeps originals: a ReadWriteMany volume every api and worker pod mounts, or an S3 bucket
(any endpoint, or the chart's own SeaweedFS); and a Redis that refuses writes rather than evict."""

from __future__ import annotations

import base64

from tests.chart.support import ROOT, RELEASE

APP_DEPLOYMENTS = ("-api", "-ingest-worker", "-query-worker", "-default-worker")


def find(docs: list[dict], kind: str, name: str) -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def app_pods(docs: list[dict]) -> list[dict]:
    return [d["spec"]["template"]["spec"] for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith(APP_DEPLOYMENTS)]


def env_of(pod: dict) -> dict[str, object]:
    """Name -> value, or the (Secret, key) it comes from."""
    env = {}
    for item in pod["containers"][0]["env"]:
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        env[item["name"]] = (ref["name"], ref["key"]) if ref else item.get("value")
    return env


def test_default_blob_store_is_a_kept_read_write_many_claim_on_every_app_pod(default_docs):
    claim = find(default_docs, "PersistentVolumeClaim", f"{RELEASE}-blobs")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    pods = app_pods(default_docs)
    assert len(pods) == len(APP_DEPLOYMENTS)
    for pod in pods:
        volume = next(v for v in pod["volumes"] if v["name"] == "blobs")
        assert volume["persistentVolumeClaim"]["claimName"] == f"{RELEASE}-blobs"
        mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "blobs")
        assert env_of(pod)["RAGLINE_BLOB_STORE"] == "filesystem"
        assert env_of(pod)["RAGLINE_BLOB_DIR"] == mount["mountPath"] == "/blobs"


def test_an_existing_claim_replaces_the_charts(helm):
    docs = helm.render((), ("blobStore.filesystem.existingClaim=nfs-blobs",))
    assert not [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    for pod in app_pods(docs):
        assert {"name": "blobs", "persistentVolumeClaim": {"claimName": "nfs-blobs"}} in pod["volumes"]


def test_an_external_bucket_takes_its_keys_from_the_operators_secret(rendered):
    docs = rendered["external-values.yaml"]
    assert not [d for d in docs if d["kind"] == "PersistentVolumeClaim" or "seaweedfs" in d["metadata"]["name"]]
    for pod in app_pods(docs):
        env = env_of(pod)
        assert "RAGLINE_S3_ENDPOINT_URL" not in env  # AWS S3 itself
        assert (env["RAGLINE_BLOB_STORE"], env["RAGLINE_S3_BUCKET"], env["RAGLINE_S3_PREFIX"]) == ("s3", "acme-ragline", "prod/")
        assert (env["RAGLINE_S3_REGION"], env["RAGLINE_S3_ADDRESSING_STYLE"]) == ("eu-west-1", "virtual")
        assert env["RAGLINE_S3_ACCESS_KEY_ID"] == ("ragline-s3", "id")
        assert env["RAGLINE_S3_SECRET_ACCESS_KEY"] == ("ragline-s3", "secret")
        assert "blobs" not in {v["name"] for v in pod["volumes"]}


def test_without_a_secret_boto3_finds_the_credentials_itself(helm):
    docs = helm.render((), ("blobStore.type=s3",))
    for pod in app_pods(docs):
        assert not {"RAGLINE_S3_ACCESS_KEY_ID", "RAGLINE_S3_SECRET_ACCESS_KEY"} & set(env_of(pod))


def test_in_cluster_seaweedfs_serves_the_bucket_with_generated_keys(rendered):
    docs = rendered["seaweedfs-values.yaml"]
    name = f"{RELEASE}-seaweedfs"
    server = find(docs, "StatefulSet", name)
    container = server["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][:2] == ["weed", "server"]
    assert "-s3.port=8333" in container["command"]
    assert server["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "50Gi"
    service = find(docs, "Service", name)
    assert service["spec"]["ports"][0]["port"] == 8333
    secret = find(docs, "Secret", name)
    keys = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    assert len(keys["access-key-id"]) == 20 and len(keys["secret-access-key"]) == 40
    # The store's admin identity and its clients' keys are the same Secret's.
    server_env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert server_env["AWS_ACCESS_KEY_ID"] == {"name": name, "key": "access-key-id"}
    for pod in app_pods(docs):
        env = env_of(pod)
        assert env["RAGLINE_S3_ENDPOINT_URL"] == f"http://{name}:8333"
        assert (env["RAGLINE_S3_BUCKET"], env["RAGLINE_S3_ADDRESSING_STYLE"], env["RAGLINE_S3_REGION"]) == ("ragline", "path", "us-east-1")
        assert env["RAGLINE_S3_ACCESS_KEY_ID"] == (name, "access-key-id")
        assert env["RAGLINE_S3_SECRET_ACCESS_KEY"] == (name, "secret-access-key")
    policy = find(docs, "NetworkPolicy", name)
    assert policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == RELEASE


def test_seaweedfs_beside_another_store_is_refused(helm):
    for sets in (("seaweedfs.enabled=true",), ("seaweedfs.enabled=true", "blobStore.type=s3", "blobStore.s3.endpointUrl=http://minio:9000")):
        proc = helm(*helm.template_args((), sets))
        assert proc.returncode != 0
        assert "seaweedfs.enabled needs blobStore.type=s3" in proc.stderr


def test_schema_refuses_unknown_backends_and_sizes(helm):
    for sets, message in ((("blobStore.type=gcs",), "blobStore.type"), (("redis.maxmemory=lots",), "redis.maxmemory")):
        proc = helm("lint", "--strict", str(ROOT / "charts" / "rag"), *[arg for s in sets for arg in ("--set", s)])
        assert proc.returncode != 0
        assert message in proc.stdout + proc.stderr


def test_redis_never_evicts(default_docs, helm):
    command = find(default_docs, "StatefulSet", f"{RELEASE}-redis")["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--maxmemory") + 1] == "700mb"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    docs = helm.render((), ("redis.maxmemory=",))
    command = find(docs, "StatefulSet", f"{RELEASE}-redis")["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "--maxmemory" not in command
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
