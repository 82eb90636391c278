"""Cross-checks over rendered Kubernetes manifests. Each returns a list of problems (empty: fine).

Pure functions over parsed YAML documents, so every check can be shown to fail on a broken copy.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import urlparse

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
CRD_KINDS = {"ScaledObject", "TriggerAuthentication", "ServiceMonitor", "PrometheusRule"}

# Environment names the chart may set besides RAGLINE_*: standard ones read by the libraries.
STANDARD_ENV_PREFIXES = ("OTEL_", "OPENAI_", "GRADIO_", "FLOWER_")
STANDARD_ENV = {"REDIS_PASSWORD", "REDISCLI_AUTH", "ANONYMIZED_TELEMETRY", "COLLECTOR_OTLP_ENABLED",
                "HOME", "PYTHONPATH", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
                # SeaweedFS's S3 admin identity (as boto3 reads them too).
                "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}

# HTTP paths served by the third-party images the chart runs (documented by those projects).
THIRD_PARTY_PATHS = {
    "flower": {"/healthcheck", "/metrics"},
    "chroma": {"/api/v2/heartbeat"},
    "jaeger": {"/"},
}


def name(doc: dict) -> str:
    return doc["metadata"]["name"]


def kind_name(doc: dict) -> str:
    return f"{doc['kind']}/{name(doc)}"


def of_kind(docs: Iterable[dict], *kinds: str) -> list[dict]:
    return [d for d in docs if d.get("kind") in kinds]


def workloads(docs: Iterable[dict]) -> dict[str, dict]:
    return {name(d): d for d in of_kind(docs, *WORKLOAD_KINDS)}


def component(doc: dict) -> str:
    return doc["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component", "")


def containers(workload: dict) -> list[dict]:
    spec = workload["spec"]["template"]["spec"]
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def command_of(container: dict) -> list[str]:
    return [str(a) for a in container.get("command", []) + container.get("args", [])]


def env_names(container: dict) -> list[str]:
    return [e["name"] for e in container.get("env", [])]


def matches(selector: dict, labels: dict) -> bool:
    """A label selector ({matchLabels, matchExpressions} or a Service's plain map) against labels."""
    if "matchLabels" in selector or "matchExpressions" in selector:
        plain = selector.get("matchLabels") or {}
        for expr in selector.get("matchExpressions") or []:
            key, op, values = expr["key"], expr["operator"], expr.get("values", [])
            if op == "In" and labels.get(key) not in values:
                return False
            if op == "NotIn" and labels.get(key) in values:
                return False
            if op == "Exists" and key not in labels:
                return False
            if op == "DoesNotExist" and key in labels:
                return False
    else:
        plain = selector
    return all(labels.get(k) == v for k, v in plain.items())


def pods_selected(docs: list[dict], selector: dict) -> list[dict]:
    return [w for w in workloads(docs).values() if matches(selector, w["spec"]["template"]["metadata"]["labels"])]


def container_port(workload: dict, port) -> dict | None:
    """The container port a Service targetPort / probe / policy port refers to (name or number)."""
    for c in containers(workload):
        for p in c.get("ports", []):
            if port == p.get("name") or (isinstance(port, int) and port == p["containerPort"]):
                return p
    return None


def celery_queue(container: dict) -> str | None:
    """The -Q/--queues argument of a `celery ... worker` command (the first queue of a list)."""
    args = command_of(container)
    if len(args) == 3 and args[:2] in (["sh", "-c"], ["/bin/sh", "-c"]):
        args = shlex.split(args[2])
    if "celery" not in [os.path.basename(a) for a in args[:1]] or "worker" not in args:
        return None
    for i, arg in enumerate(args):
        if arg in ("-Q", "--queues") and i + 1 < len(args):
            return args[i + 1].split(",")[0]
        if arg.startswith("--queues="):
            return arg.split("=", 1)[1].split(",")[0]
        if arg.startswith("-Q") and len(arg) > 2:
            return arg[2:].split(",")[0]
    return None


def celery_app_module(container: dict) -> str | None:
    args = command_of(container)
    for i, arg in enumerate(args):
        if arg in ("-A", "--app") and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--app="):
            return arg.split("=", 1)[1]
    return None


# --- KEDA ---------------------------------------------------------------------------------------

def check_scaledobjects(docs: list[dict]) -> list[str]:
    """Every ScaledObject targets an existing Deployment whose worker consumes the trigger's list."""
    problems = []
    deployments = {name(d): d for d in of_kind(docs, "Deployment")}
    for so in of_kind(docs, "ScaledObject"):
        ref = so["spec"]["scaleTargetRef"]
        target = deployments.get(ref["name"])
        if ref.get("kind", "Deployment") != "Deployment" or target is None:
            problems.append(f"{kind_name(so)} targets missing Deployment {ref['name']!r}")
            continue
        queues = {q for c in containers(target) if (q := celery_queue(c))}
        if not queues:
            problems.append(f"{kind_name(so)} targets {ref['name']}, which runs no `celery worker -Q`")
        for trig in so["spec"]["triggers"]:
            if trig["type"] != "redis":
                continue
            meta = trig["metadata"]
            if meta.get("listName") not in queues:
                problems.append(f"{kind_name(so)} watches list {meta.get('listName')!r} but "
                                f"{ref['name']} consumes {sorted(queues)}")
            for key in ("listLength", "activationListLength", "databaseIndex"):
                if key in meta and not isinstance(meta[key], str):
                    problems.append(f"{kind_name(so)} trigger metadata {key} must be a string")
        if "replicas" in target["spec"]:
            problems.append(f"Deployment {ref['name']} sets replicas although KEDA scales it")
    for d in deployments.values():
        if any(celery_queue(c) for c in containers(d)) and not any(
                so["spec"]["scaleTargetRef"]["name"] == name(d) for so in of_kind(docs, "ScaledObject")):
            if "replicas" not in d["spec"]:
                problems.append(f"worker Deployment {name(d)} has neither a ScaledObject nor replicas")
    return problems


def check_worker_queues(docs: list[dict], known_queues: Iterable[str]) -> list[str]:
    """Worker Deployments consume queues the application routes tasks to."""
    problems = []
    for w in workloads(docs).values():
        for c in containers(w):
            q = celery_queue(c)
            if q is not None and q not in set(known_queues):
                problems.append(f"{kind_name(w)} consumes queue {q!r}, not one of {sorted(known_queues)}")
    return problems


# --- selectors and ports ------------------------------------------------------------------------

def check_services(docs: list[dict]) -> list[str]:
    """Services select existing pods, and each targetPort exists in those pods."""
    problems = []
    for svc in of_kind(docs, "Service"):
        selector = svc["spec"].get("selector")
        if not selector:
            problems.append(f"{kind_name(svc)} has no selector")
            continue
        pods = pods_selected(docs, selector)
        if not pods:
            problems.append(f"{kind_name(svc)} selects no pod ({selector})")
        for port in svc["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            for w in pods:
                if container_port(w, target) is None:
                    problems.append(f"{kind_name(svc)} port {port.get('name')} targets {target!r}, "
                                    f"which {kind_name(w)} does not expose")
    return problems


def service_port(svc: dict, backend_port: dict) -> dict | None:
    for p in svc["spec"]["ports"]:
        if backend_port.get("name") and backend_port["name"] == p.get("name"):
            return p
        if backend_port.get("number") and backend_port["number"] == p["port"]:
            return p
    return None


def ingress_routes(docs: list[dict]) -> dict[tuple[str, str], str]:
    """(host, path) -> name of the Service it routes to, over every Ingress."""
    return {(r.get("host", ""), p.get("path", "/")): p["backend"]["service"]["name"]
            for ing in of_kind(docs, "Ingress") for r in ing["spec"].get("rules", [])
            for p in r.get("http", {}).get("paths", [])}


def check_ingresses(docs: list[dict]) -> list[str]:
    """Every Ingress backend is an existing Service port reaching a container of the Ingress's own
    component (its app.kubernetes.io/component label: the api's Ingress reaches the api, the UI's the UI)."""
    problems = []
    services = {name(s): s for s in of_kind(docs, "Service")}
    for ing in of_kind(docs, "Ingress"):
        want = ing["metadata"].get("labels", {}).get("app.kubernetes.io/component")
        backends = [p["backend"]["service"] for r in ing["spec"].get("rules", [])
                    for p in r.get("http", {}).get("paths", [])]
        if not backends:
            problems.append(f"{kind_name(ing)} has no backend")
        if not want:
            problems.append(f"{kind_name(ing)} has no app.kubernetes.io/component label")
        for b in backends:
            svc = services.get(b["name"])
            if svc is None:
                problems.append(f"{kind_name(ing)} routes to missing Service {b['name']}")
                continue
            port = service_port(svc, b["port"])
            if port is None:
                problems.append(f"{kind_name(ing)} routes to port {b['port']} that {kind_name(svc)} lacks")
                continue
            pods = pods_selected(docs, svc["spec"]["selector"])
            if not any(component(w) == want and container_port(w, port.get("targetPort", port["port"]))
                       for w in pods):
                problems.append(f"{kind_name(ing)} reaches no {want} container port through {kind_name(svc)}")
    return problems


def check_selecting_objects(docs: list[dict]) -> list[str]:
    """PodDisruptionBudgets, NetworkPolicies and ServiceMonitors select something that exists."""
    problems = []
    for pdb in of_kind(docs, "PodDisruptionBudget"):
        if not pods_selected(docs, pdb["spec"]["selector"]):
            problems.append(f"{kind_name(pdb)} selects no pod")
    for np in of_kind(docs, "NetworkPolicy"):
        if not pods_selected(docs, np["spec"]["podSelector"]):
            problems.append(f"{kind_name(np)} selects no pod")
    services = of_kind(docs, "Service")
    for sm in of_kind(docs, "ServiceMonitor"):
        selected = [s for s in services if matches(sm["spec"]["selector"], s["metadata"].get("labels", {}))]
        if not selected:
            problems.append(f"{kind_name(sm)} selects no Service")
        for ep in sm["spec"]["endpoints"]:
            for s in selected:
                if ep.get("port") not in [p.get("name") for p in s["spec"]["ports"]]:
                    problems.append(f"{kind_name(sm)} scrapes port {ep.get('port')!r}, "
                                    f"which {kind_name(s)} does not name")
    return problems


def _service_host(url: str) -> str | None:
    host = urlparse(url).hostname
    return host.split(".")[0] if host else None


def _policy_admits(np: dict, client_labels: dict, target: dict, port_number: int,
                   direction: str = "ingress") -> bool:
    """Whether a rule of `np` lets the pod labelled `client_labels` (ingress: the client; egress:
    the destination) talk to `target`'s port (both pods of this namespace)."""
    for rule in np["spec"].get(direction, []):
        ports = rule.get("ports")
        if ports and not any(
                (p.get("port") == port_number) or (container_port(target, p.get("port")) or {}).get(
                    "containerPort") == port_number for p in ports):
            continue
        peers = rule.get("from" if direction == "ingress" else "to")
        if not peers:
            return True
        for peer in peers:
            if "namespaceSelector" in peer and peer["namespaceSelector"] == {} and "podSelector" not in peer:
                return True  # any pod of any namespace
            if "podSelector" in peer and "namespaceSelector" not in peer and matches(peer["podSelector"], client_labels):
                return True
    return False


def _governs(np: dict, labels: dict, direction: str) -> bool:
    types = np["spec"].get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in np["spec"] else []))
    return direction in types and matches(np["spec"]["podSelector"], labels)


def check_network_reachability(docs: list[dict]) -> list[str]:
    """Each pod can reach the in-chart Services its environment points at, through the policies on
    the target (ingress) and on the client itself (egress)."""
    problems = []
    services = {name(s): s for s in of_kind(docs, "Service")}
    policies = of_kind(docs, "NetworkPolicy")
    for w in workloads(docs).values():
        labels = w["spec"]["template"]["metadata"]["labels"]
        for c in containers(w):
            for e in c.get("env", []):
                value = e.get("value") or ""
                if not re.match(r"^[a-z]+s?://", value):
                    continue
                svc = services.get(_service_host(value) or "")
                if svc is None:
                    continue
                port_number = urlparse(value.replace("$(", "").replace(")", "")).port
                svc_port = next((p for p in svc["spec"]["ports"] if p["port"] == port_number), None)
                if svc_port is None:
                    problems.append(f"{kind_name(w)} {e['name']} uses port {port_number}, "
                                    f"which {kind_name(svc)} does not serve")
                    continue
                for target in pods_selected(docs, svc["spec"]["selector"]):
                    cport = container_port(target, svc_port.get("targetPort", svc_port["port"]))
                    if cport is None:
                        continue
                    target_labels = target["spec"]["template"]["metadata"]["labels"]
                    inbound = [np for np in policies if _governs(np, target_labels, "Ingress")]
                    if inbound and not any(_policy_admits(np, labels, target, cport["containerPort"])
                                           for np in inbound):
                        problems.append(f"NetworkPolicy blocks {kind_name(w)} -> {kind_name(target)} "
                                        f"port {cport['containerPort']} ({e['name']})")
                    outbound = [np for np in policies if _governs(np, labels, "Egress")]
                    if outbound and not any(_policy_admits(np, target_labels, target, cport["containerPort"],
                                                           "egress") for np in outbound):
                        problems.append(f"egress NetworkPolicy blocks {kind_name(w)} -> {kind_name(target)} "
                                        f"port {cport['containerPort']} ({e['name']})")
    return problems


# --- images, probes, environment ----------------------------------------------------------------

def image_repo(image: str) -> str:
    """The last path part of an image reference, without tag or digest: ragline-api."""
    base = image.split("@", 1)[0]
    last = base.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def check_images(docs: list[dict], expected: dict[str, set[str]]) -> list[str]:
    """Each component runs one of the images built for it (expected: component -> image repos)."""
    problems = []
    for w in workloads(docs).values():
        comp = component(w)
        if comp not in expected:
            continue
        for c in containers(w):
            repo = image_repo(c["image"])
            if repo not in expected[comp]:
                problems.append(f"{kind_name(w)} container {c['name']} runs {c['image']}, "
                                f"expected one of {sorted(expected[comp])}")
    return problems


def check_probe_paths(docs: list[dict], app_paths: dict[str, set[str]]) -> list[str]:
    """HTTP probes ask for paths the process in that container serves (app_paths: component ->
    GET paths of ragline's own apps, e.g. api and ui; third-party images from THIRD_PARTY_PATHS)."""
    problems = []
    known = {**THIRD_PARTY_PATHS, **app_paths}
    for w in workloads(docs).values():
        comp = component(w)
        served = known.get(comp)
        for c in containers(w):
            for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
                probe = c.get(probe_name) or {}
                http = probe.get("httpGet")
                if not http:
                    continue
                if served is None:
                    problems.append(f"{kind_name(w)} {probe_name}: no known paths for component {comp!r}")
                elif http.get("path", "/") not in served:
                    problems.append(f"{kind_name(w)} {probe_name} GET {http.get('path')} is not served "
                                    f"(known: {sorted(served)})")
                if container_port(w, http["port"]) is None:
                    problems.append(f"{kind_name(w)} {probe_name} port {http['port']!r} is not a container port")
            for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
                tcp = (c.get(probe_name) or {}).get("tcpSocket")
                if tcp and container_port(w, tcp["port"]) is None:
                    problems.append(f"{kind_name(w)} {probe_name} port {tcp['port']!r} is not a container port")
    return problems


def settings_env_names(settings_cls) -> set[str]:
    """Every environment name ragline.config.Settings reads (env_prefix + field, and aliases)."""
    prefix = settings_cls.model_config.get("env_prefix", "")
    names = set()
    for field_name, field in settings_cls.model_fields.items():
        names.add(f"{prefix}{field_name}".upper())
        alias = field.validation_alias
        choices = getattr(alias, "choices", None) or ([alias] if isinstance(alias, str) else [])
        names.update(str(a).upper() for a in choices)
    return names


def ragline_env(docs: list[dict]) -> Iterator[tuple[dict, dict, str]]:
    for w in workloads(docs).values():
        for c in containers(w):
            for n in env_names(c):
                yield w, c, n


def command_env_names(typer_app, command: str) -> set[str]:
    """Environment names the options of one command of a typer app read (their `envvar`)."""
    import typer.main

    names = set()
    for param in typer.main.get_command(typer_app).commands[command].params:
        envvar = getattr(param, "envvar", None)
        names.update([envvar] if isinstance(envvar, str) else (envvar or []))
    return names


def check_env_names(docs: list[dict], known: set[str], by_component: dict[str, set[str]] | None = None) -> list[str]:
    """Every RAGLINE_* variable is read by the process: Settings (`known`), plus, for a component in
    `by_component`, the names its own entry point reads; other names are standard ones."""
    problems = []
    for w, c, n in ragline_env(docs):
        if n.startswith("RAGLINE_"):
            if n not in known | (by_component or {}).get(component(w), set()):
                problems.append(f"{kind_name(w)} container {c['name']} sets {n}, which its process does not read")
        elif not (n.startswith(STANDARD_ENV_PREFIXES) or n in STANDARD_ENV):
            problems.append(f"{kind_name(w)} container {c['name']} sets unexpected variable {n}")
    return problems


# What a Secret holds is the operator's, not the chart's: stand in a well-formed value per name.
SECRET_PLACEHOLDERS = {
    "RAGLINE_API_KEYS": "placeholder-key-0123456789=tenant",
    "RAGLINE_CACHE_REDIS_URL": "rediss://:placeholder@cache.example.internal:6380/0",
}


def resolved_env(container: dict) -> dict[str, str]:
    """The container's environment as the kubelet builds it: $(VAR) expanded, Secrets as placeholders."""
    env: dict[str, str] = {}
    for e in container.get("env", []):
        if "value" in e:
            value = str(e["value"])
        elif "valueFrom" in e:
            value = SECRET_PLACEHOLDERS.get(e["name"], "secret-placeholder")
        else:
            value = ""
        env[e["name"]] = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), value)
    return env


@contextmanager
def only_env(env: dict[str, str], prefixes: tuple[str, ...] = ("RAGLINE_", "OPENAI_")):
    """os.environ with every variable of the given prefixes replaced by `env`'s."""
    saved = dict(os.environ)
    try:
        for k in list(os.environ):
            if k.startswith(prefixes):
                del os.environ[k]
        os.environ.update({k: v for k, v in env.items() if k.startswith(prefixes)})
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def check_env_parses(docs: list[dict], settings_cls) -> list[str]:
    """Settings accepts the environment of every ragline container (types, ranges, cross-field rules)."""
    problems = []
    for w in workloads(docs).values():
        for c in containers(w):
            env = resolved_env(c)
            if not any(k.startswith("RAGLINE_") for k in env):
                continue
            with only_env(env):
                try:
                    settings_cls()
                except Exception as exc:  # pydantic.ValidationError, with every field at fault
                    problems.append(f"{kind_name(w)} container {c['name']}: Settings rejects its env: {exc}")
    return problems


def check_grace_periods(docs: list[dict], default_time_limit: int) -> list[str]:
    """A Celery worker may finish a task that runs up to the hard time limit before being killed."""
    problems = []
    for w in workloads(docs).values():
        for c in containers(w):
            if celery_queue(c) is None:
                continue
            limit = int(resolved_env(c).get("RAGLINE_TASK_TIME_LIMIT_SECONDS", default_time_limit))
            grace = w["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
            if grace <= limit:
                problems.append(f"{kind_name(w)} terminationGracePeriodSeconds {grace} <= task time limit {limit}")
    return problems


def check_security(docs: list[dict]) -> list[str]:
    """Non-root, read-only root with /tmp writable, no capabilities, seccomp, requests and limits, probes."""
    problems = []
    for w in workloads(docs).values():
        pod = w["spec"]["template"]["spec"]
        psc = pod.get("securityContext") or {}
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for c in containers(w):
            where = f"{kind_name(w)} container {c['name']}"
            sc = c.get("securityContext") or {}
            if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
                problems.append(f"{where}: runAsNonRoot is not set")
            if not sc.get("readOnlyRootFilesystem"):
                problems.append(f"{where}: readOnlyRootFilesystem is not true")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation is not false")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                problems.append(f"{where}: capabilities do not drop ALL")
            seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
            if seccomp != "RuntimeDefault":
                problems.append(f"{where}: seccompProfile is not RuntimeDefault")
            tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
            if not tmp or "emptyDir" not in volumes.get(tmp[0]["name"], {}):
                problems.append(f"{where}: no emptyDir at /tmp")
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                if not (res.get(part) or {}).get("memory"):
                    problems.append(f"{where}: no memory {part}")
            if not (res.get("requests") or {}).get("cpu"):
                problems.append(f"{where}: no cpu request")
            for probe in ("livenessProbe", "readinessProbe"):
                if not c.get(probe):
                    problems.append(f"{where}: no {probe}")
    return problems


def check_flower_auth(docs: list[dict]) -> list[str]:
    """Flower asks for credentials: `--basic-auth=$(VAR)` with VAR from a Secret (never a literal in
    the pod spec, which anyone who can read Deployments would see)."""
    problems = []
    for w in workloads(docs).values():
        if component(w) != "flower":
            continue
        for c in containers(w):
            where = f"{kind_name(w)} container {c['name']}"
            auth = [a for a in command_of(c) if a.startswith("--basic-auth")]
            if not auth:
                problems.append(f"{where} runs Flower without --basic-auth")
                continue
            m = re.fullmatch(r"--basic-auth=\$\(([A-Za-z_][A-Za-z0-9_]*)\)", auth[0])
            if not m:
                problems.append(f"{where}: {auth[0].split('=')[0]} is not taken from an environment variable")
                continue
            source = next((e for e in c.get("env", []) if e["name"] == m.group(1)), {})
            if "secretKeyRef" not in (source.get("valueFrom") or {}):
                problems.append(f"{where}: {m.group(1)} does not come from a Secret")
    return problems


def nginx_size(text: str) -> int:
    """An nginx size (client_max_body_size syntax: 64m, 512k, 1g, bytes) in bytes; 0 means no limit."""
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", str(text).strip())
    if not m:
        raise ValueError(f"not an nginx size: {text!r}")
    return int(m.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[m.group(2).lower()]


def check_ingress_body_size(docs: list[dict], uploading: tuple[str, ...] = ("api", "ui")) -> list[str]:
    """An Ingress to a component that takes PDF uploads lets through the largest one it accepts
    (RAGLINE_MAX_UPLOAD_BYTES): the controller would otherwise answer 413 before ragline could say why."""
    problems = []
    for ing in of_kind(docs, "Ingress"):
        want = ing["metadata"].get("labels", {}).get("app.kubernetes.io/component")
        if want not in uploading:
            continue
        raw = (ing["metadata"].get("annotations") or {}).get("nginx.ingress.kubernetes.io/proxy-body-size")
        for w in workloads(docs).values():
            if component(w) != want:
                continue
            for c in containers(w):
                limit = resolved_env(c).get("RAGLINE_MAX_UPLOAD_BYTES")
                if limit is None:
                    continue
                allowed = nginx_size(raw) if raw is not None else 1024**2  # nginx's default: 1m
                if allowed and allowed <= int(limit):
                    problems.append(f"{kind_name(ing)} proxy-body-size {raw or '1m (default)'} does not exceed "
                                    f"{kind_name(w)}'s RAGLINE_MAX_UPLOAD_BYTES {limit}")
    return problems
