"""The Tiltfile, executed for real by a Starlark interpreter (starlark-pyo3) with recording stubs of
Tilt's builtins, then matched against the chart it deploys (rendered with the same helm arguments)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
import yaml

from tests.chart import chartchecks as cc
from tests.chart.support import ROOT, require_module

TILTFILE = ROOT / "Tiltfile"


@dataclass
class Step:
    kind: str
    args: tuple
    kwargs: dict


@dataclass
class Tilt:
    """What a Tiltfile asked Tilt to do."""

    builds: list[dict] = field(default_factory=list)
    helm_calls: list[dict] = field(default_factory=list)
    yaml_applied: list = field(default_factory=list)
    resources: dict[str, dict] = field(default_factory=dict)
    local_resources: dict[str, dict] = field(default_factory=dict)
    contexts: list[str] = field(default_factory=list)


def execute(source: str) -> Tilt:
    sl = require_module("starlark")
    tilt = Tilt()
    module = sl.Module()

    def opaque(kind):
        return lambda *a, **k: sl.OpaquePythonObject(Step(kind, a, k))

    def docker_build(ref, context, **kw):
        tilt.builds.append({"ref": ref, "context": context, **kw})

    def helm(chart, **kw):
        tilt.helm_calls.append({"chart": chart, **kw})
        return f"<helm {len(tilt.helm_calls) - 1}>"

    def k8s_yaml(y, **kw):
        tilt.yaml_applied.append(y)

    def k8s_resource(workload="", **kw):
        if workload in tilt.resources:
            raise ValueError(f"k8s_resource {workload!r} declared twice")
        tilt.resources[workload] = kw

    def local_resource(name, **kw):
        tilt.local_resources[name] = kw

    def port_forward(local_port, container_port=None, name=None, **kw):
        return sl.OpaquePythonObject(Step("port_forward", (local_port, container_port or local_port), {"name": name}))

    builtins = {
        "docker_build": docker_build, "helm": helm, "k8s_yaml": k8s_yaml, "k8s_resource": k8s_resource,
        "local_resource": local_resource, "port_forward": port_forward,
        "allow_k8s_contexts": lambda ctx: tilt.contexts.append(ctx),
        "sync": opaque("sync"), "run": opaque("run"), "fall_back_on": opaque("fall_back_on"),
        "restart_container": opaque("restart_container"),
    }
    for name, fn in builtins.items():
        module.add_callable(name, fn)
    module["TRIGGER_MODE_MANUAL"] = "manual"
    module["TRIGGER_MODE_AUTO"] = "auto"
    ast = sl.parse("Tiltfile", source, sl.Dialect.extended())
    globals_ = sl.Globals.extended_by([sl.LibraryExtension.Print, sl.LibraryExtension.StructType])
    sl.eval(module, ast, globals_)
    return tilt


def unwrap(obj):
    """A stub's Step, whether the interpreter hands back the opaque wrapper or the object."""
    return getattr(obj, "value", obj)


def steps(build: dict, kind: str) -> list[Step]:
    return [unwrap(s) for s in build.get("live_update", []) if unwrap(s).kind == kind]


def tilt_problems(tilt: Tilt, helm) -> list[str]:
    """What would break `tilt up`: missing files, resources not in the chart, wrong ports."""
    problems = []
    if len(tilt.helm_calls) != 1 or tilt.yaml_applied != ["<helm 0>"]:
        return [f"expected one k8s_yaml(helm(...)), got {tilt.helm_calls} / {tilt.yaml_applied}"]
    call = tilt.helm_calls[0]
    if (ROOT / call["chart"]).resolve() != (ROOT / "charts" / "rag").resolve():
        problems.append(f"helm() renders {call['chart']}, not charts/rag")
    values = tuple(ROOT / v for v in call.get("values", []))
    for v in values:
        if not v.exists():
            problems.append(f"helm() values file {v} is missing")
    if problems:
        return problems
    helm_args = helm.template_args(values, tuple(call.get("set", [])))
    proc = helm(*[a.replace("rag", call.get("name", "rag"), 1) if i == 1 else a for i, a in enumerate(helm_args)])
    if proc.returncode != 0:
        return [f"the Tiltfile's chart does not render: {proc.stderr}"]
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    loads = cc.workloads(docs)
    images = {cc.image_repo(c["image"]) for w in loads.values() for c in cc.containers(w)}

    for b in tilt.builds:
        dockerfile = ROOT / b.get("dockerfile", "Dockerfile")
        if not dockerfile.exists():
            problems.append(f"docker_build {b['ref']}: {dockerfile} is missing")
            continue
        if b["ref"] not in images:
            problems.append(f"docker_build {b['ref']} builds an image no workload of the chart runs")
        text = dockerfile.read_text()
        for arg in b.get("build_args", {}):
            if not re.search(rf"^ARG {arg}\b", text, re.M):
                problems.append(f"docker_build {b['ref']}: build arg {arg} is not an ARG of {dockerfile.name}")
        for s in steps(b, "sync"):
            local, remote = s.args
            if not (ROOT / local).exists():
                problems.append(f"docker_build {b['ref']}: sync source {local} is missing")
            site = re.search(r"/opt/venv/lib/(python3\.\d+)/site-packages", remote)
            py = re.search(r"^FROM python:(3\.\d+)", text, re.M)
            if site and py and site.group(1) != f"python{py.group(1)}":
                problems.append(f"docker_build {b['ref']}: syncs into {site.group(1)} but the image has {py.group(1)}")
        if b.get("live_update") and not steps(b, "sync"):
            problems.append(f"docker_build {b['ref']} has a live_update without a sync")
    built = {b["ref"] for b in tilt.builds}
    for repo in images:
        if repo.startswith("ragline-") and repo not in built:
            problems.append(f"the chart runs {repo}, which no docker_build builds")

    for res, kw in tilt.resources.items():
        workload = loads.get(res)
        if workload is None:
            problems.append(f"k8s_resource {res!r} is not a workload of the chart ({sorted(loads)})")
            continue
        for dep in kw.get("resource_deps", []):
            if dep not in tilt.resources and dep not in tilt.local_resources:
                problems.append(f"k8s_resource {res!r} depends on unknown resource {dep!r}")
        for pf in kw.get("port_forwards", []):
            pf = unwrap(pf)
            port = pf.args[1] if isinstance(pf, Step) else int(str(pf).split(":")[-1])
            if cc.container_port(workload, port) is None:
                problems.append(f"k8s_resource {res!r} forwards port {port}, which {res} does not expose")
    for name in loads:
        if name not in tilt.resources:
            problems.append(f"workload {name} has no k8s_resource (no labels, no deps)")
    for name, kw in tilt.local_resources.items():
        for dep in kw.get("deps", []):
            if not (ROOT / dep).exists():
                problems.append(f"local_resource {name}: dep {dep} is missing")
    return problems


@pytest.fixture(scope="module")
def tilt() -> Tilt:
    return execute(TILTFILE.read_text())


def test_tiltfile_runs_and_matches_the_chart(tilt, helm):
    assert tilt_problems(tilt, helm) == []


def test_tiltfile_shape(tilt):
    assert len(tilt.builds) == 4
    # Every image but the UI's (no reload in that process) takes file syncs.
    assert [b["ref"] for b in tilt.builds if not b.get("live_update")] == ["ragline-ui"]
    forwards = {}
    for res, kw in tilt.resources.items():
        for pf in kw.get("port_forwards", []):
            forwards[unwrap(pf).args[1]] = res
    assert forwards == {8000: "rag-api", 5555: "rag-flower", 16686: "rag-jaeger", 7860: "rag-ui"}
    assert any("pytest" in kw.get("cmd", "") for kw in tilt.local_resources.values())
    assert tilt.contexts == ["kind-ragline"]


# --- negative cases -----------------------------------------------------------------------------

def test_a_resource_missing_from_the_chart_is_caught(helm):
    source = TILTFILE.read_text().replace("k8s_resource('rag-redis'", "k8s_resource('rag-redis-master'")
    problems = tilt_problems(execute(source), helm)
    assert any("'rag-redis-master' is not a workload" in p for p in problems), problems


def test_a_port_forward_to_a_wrong_port_is_caught(helm):
    source = TILTFILE.read_text().replace("port_forward(5555, 5555", "port_forward(5555, 5556")
    problems = tilt_problems(execute(source), helm)
    assert any("forwards port 5556" in p for p in problems), problems


def test_a_missing_ui_build_is_caught(helm):
    source = TILTFILE.read_text().replace("'ragline-ui',\n    '.',\n    dockerfile='services/ui/Dockerfile'",
                                          "'ragline-web',\n    '.',\n    dockerfile='services/ui/Dockerfile'")
    problems = tilt_problems(execute(source), helm)
    assert any("the chart runs ragline-ui, which no docker_build builds" in p for p in problems), problems
    assert any("docker_build ragline-web builds an image no workload" in p for p in problems), problems


def test_a_wrong_dockerfile_and_sync_path_are_caught(helm):
    source = TILTFILE.read_text().replace("services/api/Dockerfile", "services/api/Dockerfile.dev")
    source = source.replace("python3.11/site-packages", "python3.12/site-packages")
    problems = tilt_problems(execute(source), helm)
    assert any("Dockerfile.dev is missing" in p for p in problems), problems
    assert any("syncs into python3.12" in p for p in problems), problems


def test_an_undefined_builtin_is_caught():
    sl = require_module("starlark")
    with pytest.raises(sl.StarlarkError, match="docker_biuld"):
        execute(TILTFILE.read_text().replace("docker_build(\n    'ragline-api'", "docker_biuld(\n    'ragline-api'"))
