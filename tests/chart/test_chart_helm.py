"""helm lint --strict and helm template, for every ci/*-values.yaml (real helm binary)."""

from __future__ import annotations

import pytest
import yaml

from tests.chart.support import CHART, CI_VALUES, KUBE_VERSION


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_lint_strict(helm, values):
    proc = helm("lint", "--strict", str(CHART), "-f", str(values), "--kube-version", KUBE_VERSION)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_template_renders_named_objects(helm, values):
    docs = helm.render((values,))
    assert docs
    seen = set()
    for doc in docs:
        key = (doc["apiVersion"], doc["kind"], doc["metadata"]["name"])
        assert key not in seen, f"rendered twice: {key}"
        seen.add(key)
        assert len(doc["metadata"]["name"]) <= 63, key


def test_each_values_file_shows_its_feature(rendered):
    kinds = {f: {d["kind"] for d in docs} for f, docs in rendered.items()}
    assert "ScaledObject" in kinds["default-values.yaml"]
    assert "ScaledObject" not in kinds["keda-off-values.yaml"]
    assert not {"StatefulSet"} & kinds["external-values.yaml"]
    assert "TriggerAuthentication" in kinds["external-values.yaml"]
    assert {"ServiceMonitor", "PrometheusRule", "ConfigMap"} <= kinds["observability-values.yaml"]
    jaeger = [d for d in rendered["observability-values.yaml"] if d["metadata"]["name"].endswith("-jaeger")]
    assert {d["kind"] for d in jaeger} >= {"Deployment", "Service"}
    exposed = {(d["kind"], d["metadata"]["name"]) for d in rendered["exposed-values.yaml"]}
    assert {("Ingress", "rag-ui"), ("Ingress", "rag-flower"), ("PodDisruptionBudget", "rag-ui")} <= exposed


def test_monitoring_objects_need_the_api(helm):
    """Without monitoring.coreos.com/v1 in the cluster, no ServiceMonitor/PrometheusRule renders."""
    proc = helm("template", "rag", str(CHART), "--kube-version", KUBE_VERSION,
                "--api-versions", "keda.sh/v1alpha1")
    assert proc.returncode == 0, proc.stderr
    kinds = {d["kind"] for d in yaml.safe_load_all(proc.stdout) if d}
    assert not kinds & {"ServiceMonitor", "PrometheusRule"}
    assert "ConfigMap" in kinds  # dashboards need no CRD


# --- negative: lint and template refuse broken values --------------------------------------------

@pytest.mark.parametrize("bad_set, message", [
    ("ingestWorker.autoscaling.listLength=5", "listLength: Invalid type. Expected: string"),
    ("config.chunck_size=500", "Additional property chunck_size is not allowed"),
    ("defaultWorker.image=api", "defaultWorker.image must be one of"),
])
def test_lint_rejects_values_the_schema_forbids(helm, bad_set, message):
    proc = helm("lint", "--strict", str(CHART), "--set", bad_set)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr


def test_template_requires_external_endpoints(helm):
    proc = helm("template", "rag", str(CHART), "--set", "redis.enabled=false")
    assert proc.returncode != 0
    assert "redis.external.host is required" in proc.stderr
    proc = helm("template", "rag", str(CHART), "--set", "chroma.enabled=false")
    assert proc.returncode != 0
    assert "chroma.external.url is required" in proc.stderr


def test_lint_strict_catches_a_broken_template(helm, tmp_path):
    import shutil
    broken = tmp_path / "rag"
    shutil.copytree(CHART, broken)
    (broken / "templates" / "broken.yaml").write_text("kind: ConfigMap\nmetadata:\n  name: {{ .Values.nope.deeper }}\n")
    proc = helm("lint", "--strict", str(broken))
    assert proc.returncode != 0
    assert "nil pointer" in proc.stdout + proc.stderr


def test_template_refuses_a_grace_period_below_the_task_limit(helm):
    proc = helm("template", "rag", str(CHART), "--set", "worker.terminationGracePeriodSeconds=100")
    assert proc.returncode != 0
    assert "must exceed config.task_time_limit_seconds" in proc.stderr


FLOWER_INGRESS = ("flower.ingress.enabled=true", "flower.ingress.host=flower.example.com")


@pytest.mark.parametrize("sets", [(), FLOWER_INGRESS], ids=["port-forward", "ingress"])
def test_flower_without_auth_fails_to_render(helm, sets):
    proc = helm(*helm.template_args(sets=(*sets, "flower.basicAuth.enabled=false")))
    assert proc.returncode != 0
    assert "Flower shows every tenant's tasks" in proc.stderr and "flower.basicAuth.enabled" in proc.stderr


def test_flower_ingress_needs_a_host(helm):
    proc = helm(*helm.template_args(sets=("flower.ingress.enabled=true",)))
    assert proc.returncode != 0 and "flower.ingress.host is required" in proc.stderr


def flower_objects(docs):
    return {d["kind"]: d for d in docs if d["metadata"]["name"].startswith("rag-flower")}


def test_flower_behind_auth_through_its_ingress(helm):
    import base64

    docs = helm.render((), (*FLOWER_INGRESS, "flower.basicAuth.password=s3cret-pass"))
    objs = flower_objects(docs)
    assert objs["Ingress"]["spec"]["rules"][0]["host"] == "flower.example.com"
    secret = objs["Secret"]
    assert base64.b64decode(secret["data"]["basic-auth"]).decode() == "admin:s3cret-pass"
    flower = objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert "--basic-auth=$(FLOWER_BASIC_AUTH)" in flower["command"]
    ref = next(e for e in flower["env"] if e["name"] == "FLOWER_BASIC_AUTH")["valueFrom"]["secretKeyRef"]
    assert ref == {"name": secret["metadata"]["name"], "key": "basic-auth"}
    assert flower["livenessProbe"]["httpGet"]["path"] == "/healthcheck"  # open in Flower, no credentials
    peers = objs["NetworkPolicy"]["spec"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}} in peers


def test_flower_password_is_generated_or_taken_from_an_existing_secret(helm, default_docs):
    import base64

    user, password = base64.b64decode(flower_objects(default_docs)["Secret"]["data"]["basic-auth"]).decode().split(":")
    assert user == "admin" and len(password) == 32
    docs = helm.render((), ("flower.basicAuth.existingSecret=flower-users", "flower.basicAuth.existingSecretKey=auth"))
    assert "Secret" not in flower_objects(docs)
    flower = flower_objects(docs)["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    ref = next(e for e in flower["env"] if e["name"] == "FLOWER_BASIC_AUTH")["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "flower-users", "key": "auth"}
    # Without an Ingress, the policy admits no ingress controller.
    peers = flower_objects(default_docs)["NetworkPolicy"]["spec"]["ingress"][0]["from"]
    assert not any(p.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") == "ingress-nginx"
                   for p in peers)


def render_notes(helm, tmp_path, values, notes_text=None) -> tuple[int, str]:
    """NOTES.txt renders only at install time: render it as a ConfigMap of a copy of the chart."""
    import shutil

    chart = tmp_path / "rag"
    shutil.copytree(CHART, chart)
    notes = notes_text if notes_text is not None else (CHART / "templates" / "NOTES.txt").read_text()
    body = "\n".join("    " + line for line in notes.splitlines())
    (chart / "templates" / "zz-notes.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: |\n{body}\n")
    proc = helm("template", "rag", str(chart), "-f", str(values), "--show-only", "templates/zz-notes.yaml")
    if proc.returncode != 0:
        return proc.returncode, proc.stderr
    return 0, yaml.safe_load(proc.stdout)["data"]["notes"]


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_notes_render(helm, tmp_path, values):
    rc, notes = render_notes(helm, tmp_path, values)
    assert rc == 0, notes
    assert "terminationGracePeriodSeconds=" in notes
    assert "Web UI:\n  http://" in notes and "/ui\n" in notes
    assert "port-forward svc/rag-flower" in notes or "http://flower.example.com/" in notes
    assert "(basic auth: " in notes
    assert "exec deploy/rag-api -- ragline migrate-files" in notes
    where = {"seaweedfs-values.yaml": "bucket ragline on the in-cluster SeaweedFS (rag-seaweedfs:8333)",
             "external-values.yaml": "bucket acme-ragline."}
    assert where.get(values.name, "PersistentVolumeClaim rag-blobs, mounted at /blobs") in notes


def test_broken_notes_are_caught(helm, tmp_path):
    rc, out = render_notes(helm, tmp_path, CI_VALUES[0], "{{ .Values.api.ingres.host | upper }}\n")
    assert rc != 0 and "nil pointer" in out, out
