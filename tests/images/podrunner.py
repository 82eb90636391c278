"""Run the pods of a rendered Helm chart on a Docker engine, as the kubelet would run them.

No Kubernetes can run here (FACTS.md), but what a pod spec asks of the container runtime can be done
on Docker with the same images. For each Deployment and StatefulSet pod this starts its containers
with the pod spec's image, command and args (`$(VAR)` expanded as the kubelet does), environment
(`value`, `valueFrom` configMapKeyRef / secretKeyRef / fieldRef / resourceFieldRef, `envFrom`, and the
Service link variables the kubelet adds), user and groups (`runAsUser`, `runAsGroup`, `fsGroup`,
`supplementalGroups`; `runAsNonRoot` verified against the image like the kubelet does), read-only
root filesystem, dropped capabilities, no privilege escalation, volumes (emptyDir as tmpfs, PVCs
and volumeClaimTemplates as Docker volumes that start empty and are handed to `fsGroup`,
configMap/secret volumes as read-only files), CPU and memory requests and limits, on one
user-defined network where every Service name (`svc`, `svc.ns`, `svc.ns.svc`,
`svc.ns.svc.cluster.local`, and `pod.headless-svc...` for StatefulSet pods) resolves to the pods it
selects. Init containers run to completion first. Startup, liveness and readiness probes (httpGet,
tcpSocket, exec) run on the kubelet's schedule (initialDelaySeconds, periodSeconds, timeoutSeconds,
successThreshold, failureThreshold) from this machine to the pod's IP, as the kubelet probes from
the node; a startup or liveness probe reaching its failureThreshold, or a container that exits,
is recorded as the restart the kubelet would make, and fails the test.

What it does not do (no Kubernetes here): scheduling (nodeSelector, tolerations, affinity, topology
spread, extended resources such as nvidia.com/gpu), kube-proxy load balancing (Docker's DNS returns
every pod of a Service; a Service port must equal its target container port, which this checks),
Ingress controllers, NetworkPolicy enforcement, PodDisruptionBudgets, KEDA itself (see keda.py for
its Redis scaler, evaluated against the real Redis), the HPA loop, ServiceMonitors, PrometheusRules,
rolling updates, ServiceAccount tokens, image pulls (images must be local).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import ipaddress
import json
import math
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

DOCKER = "/usr/bin/docker"
RUN_LABEL = "io.ragline.podcheck"
CLUSTER_DOMAIN = "cluster.local"
NODE_NAME = "docker-node"
# The kubelet's defaults for fields a probe leaves out (k8s.io/api/core/v1 Probe).
PROBE_DEFAULTS = {"initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 1,
                  "successThreshold": 1, "failureThreshold": 3}


class PodSpecError(AssertionError):
    """The pod spec asks for something the kubelet would refuse (CreateContainerConfigError and the like)."""


def docker(*args: str, timeout: float = 120, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout, input=input)
    if check and proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])} ... failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc


# --- quantities and expansion -------------------------------------------------------------------

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}


def quantity(value: str | int | float) -> float:
    """A Kubernetes resource quantity as a number: "500m" -> 0.5, "1536Mi" -> 1610612736, "1e3" -> 1000."""
    text = str(value).strip()
    m = re.fullmatch(r"([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?", text)
    if not m:
        raise PodSpecError(f"not a resource quantity: {value!r}")
    number, suffix = float(m.group(1)), m.group(2) or ""
    return number * (_BINARY.get(suffix) or _DECIMAL[suffix])


def expand(text: str, env: dict[str, str]) -> str:
    """The kubelet's `$(VAR)` expansion: a defined VAR is replaced, an undefined one is left as it is,
    and `$$` is a literal `$` (k8s.io/kubernetes third_party/forked/golang/expansion)."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2:end]
                    out.append(env[name] if name in env else text[i:end + 1])
                    i = end + 1
                    continue
        out.append(text[i])
        i += 1
    return "".join(out)


# --- the rendered objects ------------------------------------------------------------------------

class Manifests:
    """Rendered documents of one release, plus objects the operator creates beforehand (`extra`:
    e.g. the Secrets an `existingSecret` value names)."""

    def __init__(self, docs: Iterable[dict], namespace: str, extra: Iterable[dict] = ()) -> None:
        self.docs = [d for d in [*docs, *extra] if d]
        self.namespace = namespace

    def of_kind(self, *kinds: str) -> list[dict]:
        return [d for d in self.docs if d.get("kind") in kinds]

    def get(self, kind: str, name: str) -> dict | None:
        return next((d for d in self.of_kind(kind) if d["metadata"]["name"] == name), None)

    def data(self, kind: str, name: str) -> dict[str, str] | None:
        """A ConfigMap's or Secret's keys, decoded."""
        obj = self.get(kind, name)
        if obj is None:
            return None
        values = {k: base64.b64decode(v).decode() if kind == "Secret" else str(v)
                  for k, v in (obj.get("data") or {}).items()}
        values.update({k: str(v) for k, v in (obj.get("stringData") or {}).items()})
        if kind == "ConfigMap":
            values.update({k: base64.b64decode(v).decode() for k, v in (obj.get("binaryData") or {}).items()})
        return values

    def workloads(self) -> list[dict]:
        return self.of_kind("Deployment", "StatefulSet")

    def workload(self, name: str) -> dict:
        found = [w for w in self.workloads() if w["metadata"]["name"] == name]
        if not found:
            raise KeyError(f"no Deployment or StatefulSet named {name}: {[w['metadata']['name'] for w in self.workloads()]}")
        return found[0]

    def services_selecting(self, labels: dict) -> list[dict]:
        return [s for s in self.of_kind("Service")
                if s["spec"].get("selector") and all(labels.get(k) == v for k, v in s["spec"]["selector"].items())]


def ref_value(manifests: Manifests, kind: str, ref: dict, where: str) -> str | None:
    data = manifests.data(kind, ref["name"])
    if data is None or ref["key"] not in data:
        if ref.get("optional"):
            return None
        missing = f"{kind} {ref['name']}" if data is None else f"key {ref['key']!r} of {kind} {ref['name']}"
        raise PodSpecError(f"{where}: {missing} does not exist (the kubelet would stop at CreateContainerConfigError)")
    return data[ref["key"]]


# --- pods ----------------------------------------------------------------------------------------

@dataclass
class ProbeState:
    kind: str  # startup | liveness | readiness
    spec: dict
    successes: int = 0
    failures: int = 0
    ever_passed: bool = False
    passed: bool = False  # as of the last successThreshold / failureThreshold crossing
    next_at: float = 0.0
    last_error: str = ""


@dataclass
class Container:
    pod: Pod
    spec: dict
    docker_name: str
    init: bool = False
    started_at: float = 0.0
    probes: dict[str, ProbeState] = field(default_factory=dict)
    fatal: str | None = None  # what the kubelet would have restarted the container for

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def started(self) -> bool:
        """The startup probe has passed (or there is none): liveness and readiness run from now on."""
        probe = self.probes.get("startup")
        return probe is None or probe.ever_passed

    @property
    def ready(self) -> bool:
        probe = self.probes.get("readiness")
        return self.started and (probe is None or probe.passed)

    @property
    def live(self) -> bool:
        probe = self.probes.get("liveness")
        return self.started and (probe is None or probe.ever_passed)


@dataclass
class Pod:
    name: str
    workload: dict
    ip: str
    labels: dict
    spec: dict
    containers: list[Container] = field(default_factory=list)
    volumes: dict[str, str] = field(default_factory=dict)  # volume name -> the source part of a --mount
    docker_volumes: list[str] = field(default_factory=list)
    holder: str | None = None

    @property
    def kind_name(self) -> str:
        return f"{self.workload['kind']}/{self.workload['metadata']['name']} pod {self.name}"


class PodRunner:
    """Starts pods of `manifests` on one Docker network; `close()` removes everything it made."""

    def __init__(self, manifests: Manifests, workdir: Path, log_dir: Path | None = None) -> None:
        self.m = manifests
        self.ns = manifests.namespace
        self.run_id = f"podcheck-{secrets.token_hex(3)}"
        self.workdir = workdir
        self.log_dir = log_dir
        self.pods: list[Pod] = []
        self.network = self.run_id
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None
        self._ips: Iterable[str] = iter(())
        self._claims: dict[str, str] = {}  # PVC name -> docker volume
        self._cluster_ips = {s["metadata"]["name"]: f"10.96.{1 + i // 250}.{1 + i % 250}"
                             for i, s in enumerate(manifests.of_kind("Service"))}
        self._check_service_ports()

    # -- lifecycle ----------------------------------------------------------------------------------

    def __enter__(self) -> PodRunner:
        # Addresses are handed out here, not by Docker, so a pod's IP (status.podIP) is known before it
        # starts; Docker takes a fixed address only on a network whose subnet was given to it.
        for _ in range(50):
            net = ipaddress.ip_network(f"10.{secrets.randbelow(56) + 200}.{secrets.randbelow(256)}.0/24")
            proc = docker("network", "create", "--label", f"{RUN_LABEL}={self.run_id}", "--subnet", str(net),
                          self.network, check=False)
            if proc.returncode == 0:
                break
            if "overlap" not in proc.stderr:
                raise RuntimeError(f"docker network create failed: {proc.stderr}")
        else:
            raise RuntimeError("no free /24 subnet in 10.200.0.0/13 for the pod network")
        self._ips = (str(ip) for ip in list(net.hosts())[15:])
        self._monitor = threading.Thread(target=self._probe_loop, name="kubelet-probes", daemon=True)
        self._monitor.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._monitor:
            self._monitor.join(timeout=30)
        if self.log_dir:
            self.save_logs(self.log_dir)
        label = f"label={RUN_LABEL}={self.run_id}"
        ids = docker("ps", "-aq", "--filter", label, check=False).stdout.split()
        if ids:
            docker("rm", "-f", "-v", *ids, check=False, timeout=300)
        vols = docker("volume", "ls", "-q", "--filter", label, check=False).stdout.split()
        if vols:
            docker("volume", "rm", "-f", *vols, check=False)
        docker("network", "rm", self.network, check=False)
        shutil.rmtree(self.workdir / self.run_id, ignore_errors=True)

    def leftovers(self) -> dict[str, list[str]]:
        """What of this run still exists on the engine (after close(): nothing)."""
        label = f"label={RUN_LABEL}={self.run_id}"
        return {
            "containers": docker("ps", "-aq", "--filter", label, check=False).stdout.split(),
            "volumes": docker("volume", "ls", "-q", "--filter", label, check=False).stdout.split(),
            "networks": docker("network", "ls", "-q", "--filter", f"name=^{self.network}$", check=False).stdout.split(),
        }

    def save_logs(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for pod in self.pods:
            for c in pod.containers:
                proc = docker("logs", c.docker_name, check=False, timeout=60)
                (folder / f"{pod.name}_{c.name}.log").write_text(proc.stdout + proc.stderr)

    # -- cluster DNS ----------------------------------------------------------------------------------

    def _check_service_ports(self) -> None:
        """Docker's DNS gives a Service name the pods' own addresses: that is faithful only where each
        Service port is the port its target container listens on (as every port of this chart is)."""
        for svc in self.m.of_kind("Service"):
            for w in self.m.workloads():
                labels = w["spec"]["template"]["metadata"].get("labels", {})
                if svc not in self.m.services_selecting(labels):
                    continue
                for port in svc["spec"]["ports"]:
                    target = port.get("targetPort", port["port"])
                    cport = self._container_port(w["spec"]["template"]["spec"], target)
                    if cport is None:
                        raise PodSpecError(f"Service {svc['metadata']['name']} port {port['port']} targets {target!r}, "
                                           f"which {w['metadata']['name']} does not expose")
                    if cport != port["port"]:
                        raise PodSpecError(f"Service {svc['metadata']['name']} maps {port['port']} -> {cport}: "
                                           "the pod check cannot remap ports")

    @staticmethod
    def _container_port(pod_spec: dict, port: str | int) -> int | None:
        for c in pod_spec.get("containers", []):
            for p in c.get("ports", []):
                if port == p.get("name") or port == p["containerPort"]:
                    return p["containerPort"]
        return None

    def dns_names(self, pod: Pod) -> list[str]:
        """The names cluster DNS gives this pod: its Services', and its own under a headless Service."""
        names = []
        for svc in self.m.services_selecting(pod.labels):
            name = svc["metadata"]["name"]
            names += [name, f"{name}.{self.ns}", f"{name}.{self.ns}.svc", f"{name}.{self.ns}.svc.{CLUSTER_DOMAIN}"]
        subdomain = pod.workload["spec"].get("serviceName") if pod.workload["kind"] == "StatefulSet" else None
        if subdomain:
            base = f"{pod.name}.{subdomain}"
            names += [base, f"{base}.{self.ns}", f"{base}.{self.ns}.svc", f"{base}.{self.ns}.svc.{CLUSTER_DOMAIN}"]
        return names

    def resolve(self, host: str) -> list[str]:
        """Pod IPs behind a cluster DNS name, as seen from this machine (for the KEDA evaluation)."""
        with self._lock:
            return [p.ip for p in self.pods if host in self.dns_names(p)]

    def service_env(self) -> dict[str, str]:
        """The Service link variables the kubelet adds (enableServiceLinks, on by default), with stand-in
        ClusterIPs: nothing should use them, but their names can clash with a program's own settings."""
        env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443",
               "KUBERNETES_SERVICE_PORT_HTTPS": "443", "KUBERNETES_PORT": "tcp://10.96.0.1:443",
               "KUBERNETES_PORT_443_TCP": "tcp://10.96.0.1:443", "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
               "KUBERNETES_PORT_443_TCP_PORT": "443", "KUBERNETES_PORT_443_TCP_ADDR": "10.96.0.1"}
        for svc in self.m.of_kind("Service"):
            if svc["spec"].get("clusterIP") == "None":
                continue
            prefix = svc["metadata"]["name"].upper().replace("-", "_")
            ip = self._cluster_ips[svc["metadata"]["name"]]
            ports = svc["spec"]["ports"]
            env[f"{prefix}_SERVICE_HOST"] = ip
            env[f"{prefix}_SERVICE_PORT"] = str(ports[0]["port"])
            for i, p in enumerate(ports):
                proto = p.get("protocol", "TCP")
                url = f"{proto.lower()}://{ip}:{p['port']}"
                if p.get("name"):
                    env[f"{prefix}_SERVICE_PORT_{p['name'].upper().replace('-', '_')}"] = str(p["port"])
                if i == 0:
                    env[f"{prefix}_PORT"] = url
                key = f"{prefix}_PORT_{p['port']}_{proto}"
                env.update({key: url, f"{key}_PROTO": proto.lower(), f"{key}_PORT": str(p["port"]), f"{key}_ADDR": ip})
        return env

    # -- translating a pod spec -----------------------------------------------------------------------

    def container_env(self, pod: Pod, c: dict) -> dict[str, str]:
        where = f"{pod.kind_name} container {c['name']}"
        env: dict[str, str] = self.service_env() if pod.spec.get("enableServiceLinks", True) else {}
        for source in c.get("envFrom", []):
            kind, ref = ("ConfigMap", source["configMapRef"]) if "configMapRef" in source else ("Secret", source["secretRef"])
            data = self.m.data(kind, ref["name"])
            if data is None:
                if ref.get("optional"):
                    continue
                raise PodSpecError(f"{where}: envFrom {kind} {ref['name']} does not exist")
            env.update({source.get("prefix", "") + k: v for k, v in data.items()})
        for e in c.get("env", []):
            if "value" in e:
                env[e["name"]] = expand(str(e["value"]), env)
                continue
            if "valueFrom" not in e:
                env[e["name"]] = ""
                continue
            vf = e["valueFrom"]
            if "secretKeyRef" in vf:
                value = ref_value(self.m, "Secret", vf["secretKeyRef"], f"{where} env {e['name']}")
            elif "configMapKeyRef" in vf:
                value = ref_value(self.m, "ConfigMap", vf["configMapKeyRef"], f"{where} env {e['name']}")
            elif "fieldRef" in vf:
                value = self.field_ref(pod, vf["fieldRef"]["fieldPath"], where)
            elif "resourceFieldRef" in vf:
                value = self.resource_field_ref(pod, c, vf["resourceFieldRef"], where)
            else:
                raise PodSpecError(f"{where}: env {e['name']} has an unknown valueFrom {sorted(vf)}")
            if value is not None:
                env[e["name"]] = value
        return env

    def field_ref(self, pod: Pod, path: str, where: str) -> str:
        meta = pod.workload["spec"]["template"]["metadata"]
        simple = {"metadata.name": pod.name, "metadata.namespace": self.ns,
                  "metadata.uid": hashlib.sha1(pod.name.encode()).hexdigest(), "spec.nodeName": NODE_NAME,
                  "spec.serviceAccountName": pod.spec.get("serviceAccountName", "default"),
                  "status.podIP": pod.ip, "status.podIPs": pod.ip, "status.hostIP": "127.0.0.1"}
        if path in simple:
            return simple[path]
        m = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
        if m:
            return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
        raise PodSpecError(f"{where}: fieldRef {path} is not supported by the pod check")

    @staticmethod
    def resource_field_ref(pod: Pod, c: dict, ref: dict, where: str) -> str:
        part, _, res = ref["resource"].partition(".")
        value = ((c.get("resources") or {}).get(part) or {}).get(res)
        if value is None:
            raise PodSpecError(f"{where}: resourceFieldRef {ref['resource']} has no value (node allocatable is unknown here)")
        return str(math.ceil(quantity(value) / quantity(ref.get("divisor", "1"))))

    def security_args(self, pod: Pod, c: dict, image_user: str) -> list[str]:
        psc = pod.spec.get("securityContext") or {}
        sc = c.get("securityContext") or {}
        where = f"{pod.kind_name} container {c['name']}"

        def pick(key: str):
            return sc.get(key, psc.get(key))

        args = []
        uid, gid = pick("runAsUser"), pick("runAsGroup")
        if uid is not None:
            args += ["--user", f"{uid}:{gid}" if gid is not None else str(uid)]
        elif gid is not None:
            raise PodSpecError(f"{where}: runAsGroup without runAsUser is not supported by the pod check")
        if pick("runAsNonRoot"):
            # The kubelet checks this against the image when runAsUser is unset, and refuses a user name
            # it cannot verify (kuberuntime_container_linux.go verifyRunAsNonRoot).
            effective = str(uid) if uid is not None else (image_user.split(":")[0] or "0")
            if not effective.isdigit():
                raise PodSpecError(f"{where}: runAsNonRoot with image user {image_user!r}, which is not numeric")
            if int(effective) == 0:
                raise PodSpecError(f"{where}: runAsNonRoot but the container would run as root")
        for group in [psc.get("fsGroup"), *psc.get("supplementalGroups", [])]:
            if group is not None:
                args += ["--group-add", str(group)]
        if sc.get("readOnlyRootFilesystem"):
            args.append("--read-only")
        if sc.get("privileged"):
            args.append("--privileged")
        if sc.get("allowPrivilegeEscalation") is False:
            args += ["--security-opt", "no-new-privileges"]
        caps = sc.get("capabilities") or {}
        args += [a for cap in caps.get("drop", []) for a in ("--cap-drop", cap)]
        args += [a for cap in caps.get("add", []) for a in ("--cap-add", cap)]
        seccomp = (pick("seccompProfile") or {}).get("type", "RuntimeDefault")
        if seccomp == "Unconfined":
            args += ["--security-opt", "seccomp=unconfined"]
        elif seccomp != "RuntimeDefault":
            raise PodSpecError(f"{where}: seccompProfile {seccomp} is not supported by the pod check")
        return args

    @staticmethod
    def resource_args(c: dict) -> list[str]:
        res = c.get("resources") or {}
        limits, requests = res.get("limits") or {}, res.get("requests") or {}
        args = []
        if "memory" in limits:
            memory = str(int(quantity(limits["memory"])))
            args += ["--memory", memory, "--memory-swap", memory]  # no swap, as on a kubelet node
        if "memory" in requests:
            args += ["--memory-reservation", str(int(quantity(requests["memory"])))]
        if "cpu" in limits:
            args += ["--cpus", f"{quantity(limits['cpu']):g}"]
        cpu_request = requests.get("cpu", limits.get("cpu"))
        if cpu_request is not None:
            # The kubelet's cpu.shares for a request (milli-CPU * 1024 / 1000, at least 2).
            args += ["--cpu-shares", str(max(2, int(quantity(cpu_request) * 1024)))]
        return args

    def _prepare_volumes(self, pod: Pod) -> None:
        """Docker mounts for each volume of the pod. emptyDir and PVCs start empty (no copy of the
        image's files) and belong to fsGroup with the setgid bit, as the kubelet leaves them."""
        fs_group = (pod.spec.get("securityContext") or {}).get("fsGroup")
        claims = {t["metadata"]["name"]: t for t in pod.workload["spec"].get("volumeClaimTemplates", [])}
        needs_owner = []
        for vol in pod.spec.get("volumes", []):
            name = vol["name"]
            if "emptyDir" in vol:
                size = vol["emptyDir"].get("sizeLimit")
                opts = ["mode=1777"] + ([f"size={int(quantity(size))}"] if size else [])
                if fs_group is not None:
                    opts = [f"mode=2777,gid={fs_group}"] + opts[1:]
                dv = self._volume(f"{pod.name}-{name}", "--opt", "type=tmpfs", "--opt", "device=tmpfs",
                                  "--opt", f"o={','.join(opts)}")
                pod.docker_volumes.append(dv)
                pod.volumes[name] = f"type=volume,src={dv},volume-nocopy=true"
            elif "persistentVolumeClaim" in vol:
                claim = vol["persistentVolumeClaim"]["claimName"]
                dv = self._claim(claim, needs_owner)
                pod.volumes[name] = f"type=volume,src={dv},volume-nocopy=true"
            elif "configMap" in vol or "secret" in vol:
                kind, ref = ("ConfigMap", vol["configMap"]) if "configMap" in vol else ("Secret", vol["secret"])
                obj_name = ref.get("name") or ref.get("secretName")
                data = self.m.data(kind, obj_name)
                if data is None:
                    if ref.get("optional"):
                        data = {}
                    else:
                        raise PodSpecError(f"{pod.kind_name}: volume {name}: {kind} {obj_name} does not exist")
                folder = self.workdir / self.run_id / pod.name / name
                folder.mkdir(parents=True, exist_ok=True)
                items = ref.get("items") or [{"key": k, "path": k} for k in data]
                for item in items:
                    if item["key"] not in data:
                        raise PodSpecError(f"{pod.kind_name}: volume {name}: no key {item['key']} in {kind} {obj_name}")
                    target = folder / item["path"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(data[item["key"]])
                    target.chmod(item.get("mode", ref.get("defaultMode", 0o644)))
                folder.chmod(0o755)
                pod.volumes[name] = f"type=bind,src={folder},readonly=true"
            else:
                raise PodSpecError(f"{pod.kind_name}: volume {name} of type {sorted(set(vol) - {'name'})} "
                                   "is not supported by the pod check")
        for claim_name in claims:
            if claim_name in pod.volumes:
                continue
            dv = self._claim(f"{claim_name}-{pod.name}", needs_owner)
            pod.volumes[claim_name] = f"type=volume,src={dv},volume-nocopy=true"
        if needs_owner and fs_group is not None:
            image = pod.spec["containers"][0]["image"]
            mounts = [a for i, dv in enumerate(needs_owner) for a in ("--mount", f"type=volume,src={dv},dst=/v/{i}")]
            docker("run", "--rm", "--network", "none", "--user", "0", "--label", f"{RUN_LABEL}={self.run_id}",
                   *mounts, "--entrypoint", "sh", image, "-c",
                   f"for d in /v/*; do chgrp {fs_group} $d && chmod 2775 $d; done")

    def _volume(self, name: str, *opts: str) -> str:
        full = f"{self.run_id}-{name}"
        docker("volume", "create", "--label", f"{RUN_LABEL}={self.run_id}", *opts, full)
        return full

    def _claim(self, claim: str, needs_owner: list[str]) -> str:
        """A PersistentVolumeClaim: one Docker volume per claim, shared by every pod that mounts it."""
        if claim not in self._claims:
            self._claims[claim] = self._volume(f"pvc-{claim}")
            needs_owner.append(self._claims[claim])
        return self._claims[claim]

    def _mount_args(self, pod: Pod, c: dict) -> list[str]:
        args = []
        for vm in c.get("volumeMounts", []):
            if vm["name"] not in pod.volumes:
                raise PodSpecError(f"{pod.kind_name} container {c['name']} mounts unknown volume {vm['name']}")
            if vm.get("subPath"):
                raise PodSpecError(f"{pod.kind_name} container {c['name']}: subPath is not supported by the pod check")
            source = pod.volumes[vm["name"]]
            readonly = ",readonly=true" if vm.get("readOnly") and "readonly" not in source else ""
            args += ["--mount", f"{source},dst={vm['mountPath']}{readonly}"]
        return args

    def docker_run_args(self, pod: Pod, container: Container) -> list[str]:
        c = container.spec
        image_config = json.loads(docker("image", "inspect", c["image"]).stdout)[0]["Config"]
        env = self.container_env(pod, c)
        command = [expand(str(a), env) for a in c.get("command") or []]
        args = [expand(str(a), env) for a in c.get("args") or []]
        run = ["run", "-d", "--name", container.docker_name, "--hostname", pod.name[:63],
               "--network", self.network, "--ip", pod.ip, "--pull", "never",
               "--label", f"{RUN_LABEL}={self.run_id}", "--label", f"io.ragline.pod={pod.name}"]
        for alias in self.dns_names(pod):
            run += ["--network-alias", alias]
        run += self.security_args(pod, c, image_config.get("User") or "")
        run += self.resource_args(c)
        run += self._mount_args(pod, c)
        if c.get("workingDir"):
            run += ["--workdir", c["workingDir"]]
        for key, value in env.items():
            run += ["--env", f"{key}={value}"]
        # command replaces the image's ENTRYPOINT (and drops its CMD); args replace its CMD.
        if command:
            run += ["--entrypoint", command[0], c["image"], *command[1:], *args]
        elif args:
            run += [c["image"], *args]
        else:
            run += [c["image"]]
        return run

    # -- starting and stopping ------------------------------------------------------------------------

    def start(self, workload_name: str, replicas: int) -> list[Pod]:
        """Start `replicas` more pods of a Deployment or StatefulSet (StatefulSet pods are numbered)."""
        w = self.m.workload(workload_name)
        template = w["spec"]["template"]
        started = []
        for _ in range(replicas):
            existing = [p for p in self.pods if p.workload is w]
            if w["kind"] == "StatefulSet":
                name = f"{workload_name}-{len(existing)}"
            else:
                template_hash = hashlib.sha1(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
                name = f"{workload_name}-{template_hash}-{secrets.token_hex(3)[:5]}"
            pod = Pod(name=name, workload=w, ip=next(self._ips), labels=dict(template["metadata"].get("labels", {})),
                      spec=template["spec"])
            self._prepare_volumes(pod)
            inits = pod.spec.get("initContainers", [])
            if inits:
                self._hold_volumes(pod)
            for spec in inits:
                self._run_init(pod, spec)
            for spec in pod.spec["containers"]:
                container = Container(pod=pod, spec=spec, docker_name=f"{self.run_id}-{pod.name}-{spec['name']}")
                pod.containers.append(container)
            with self._lock:
                self.pods.append(pod)
            for container in pod.containers:
                docker(*self.docker_run_args(pod, container))
                container.started_at = time.monotonic()
                container.probes = {kind: ProbeState(kind, {**PROBE_DEFAULTS, **container.spec[f"{kind}Probe"]},
                                                     next_at=container.started_at + container.spec[f"{kind}Probe"].get("initialDelaySeconds", 0))
                                    for kind in ("startup", "liveness", "readiness") if container.spec.get(f"{kind}Probe")}
            started.append(pod)
        return started

    def _hold_volumes(self, pod: Pod) -> None:
        """Keep the pod's tmpfs volumes mounted between its init containers and its containers (Docker
        unmounts a tmpfs volume when its last container stops), as the pod sandbox keeps them."""
        mounts = [a for i, src in enumerate(pod.volumes.values()) if src.startswith("type=volume")
                  for a in ("--mount", f"{src},dst=/sandbox/{i}")]
        pod.holder = f"{self.run_id}-{pod.name}-sandbox"
        image = pod.spec["containers"][0]["image"]
        docker("run", "-d", "--name", pod.holder, "--network", "none", "--label", f"{RUN_LABEL}={self.run_id}",
               *mounts, "--entrypoint", "sleep", image, "infinity")

    def _run_init(self, pod: Pod, spec: dict) -> None:
        container = Container(pod=pod, spec=spec, docker_name=f"{self.run_id}-{pod.name}-{spec['name']}", init=True)
        pod.containers.append(container)
        docker(*self.docker_run_args(pod, container))
        code = docker("wait", container.docker_name, timeout=600).stdout.strip()
        if code != "0":
            logs = docker("logs", "--tail", "60", container.docker_name, check=False)
            raise AssertionError(f"{pod.kind_name} init container {spec['name']} exited with {code}:\n"
                                 f"{logs.stdout}{logs.stderr}")

    def stop(self, pod: Pod) -> None:
        """Delete a pod: SIGTERM, then SIGKILL after its terminationGracePeriodSeconds."""
        grace = int(pod.spec.get("terminationGracePeriodSeconds", 30))
        with self._lock:
            self.pods.remove(pod)
        for c in pod.containers:
            docker("stop", "-t", str(grace), c.docker_name, check=False, timeout=grace + 60)

    def pods_of(self, workload_name: str) -> list[Pod]:
        return [p for p in self.pods if p.workload["metadata"]["name"] == workload_name]

    # -- probes ---------------------------------------------------------------------------------------

    def _probe_loop(self) -> None:
        last_state_check = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                containers = [c for p in self.pods for c in p.containers if not c.init and c.started_at and not c.fatal]
            if now - last_state_check > 2:
                last_state_check = now
                for c in containers:
                    self._check_running(c)
            for c in containers:
                for probe in list(c.probes.values()):
                    if c.fatal or now < probe.next_at:
                        continue
                    if probe.kind != "startup" and not c.started:
                        continue
                    if probe.kind == "startup" and probe.ever_passed:
                        continue
                    probe.next_at = now + probe.spec["periodSeconds"]
                    ok, error = self._probe_once(c, probe.spec)
                    self._record(c, probe, ok, error)
            self._stop.wait(0.2)

    def _check_running(self, c: Container) -> None:
        proc = docker("inspect", "--format", "{{.State.Running}} {{.State.ExitCode}} {{.State.OOMKilled}}",
                      c.docker_name, check=False)
        parts = proc.stdout.split()
        if proc.returncode == 0 and parts and parts[0] == "false":
            logs = docker("logs", "--tail", "40", c.docker_name, check=False)
            c.fatal = (f"container exited (code {parts[1]}, OOMKilled {parts[2]}): the kubelet would restart it\n"
                       f"{logs.stdout[-3000:]}{logs.stderr[-3000:]}")

    def _record(self, c: Container, probe: ProbeState, ok: bool, error: str) -> None:
        if ok:
            probe.successes, probe.failures = probe.successes + 1, 0
            if probe.successes >= probe.spec["successThreshold"]:
                probe.passed = probe.ever_passed = True
            return
        probe.failures, probe.successes, probe.last_error = probe.failures + 1, 0, error
        if probe.failures >= probe.spec["failureThreshold"]:
            probe.passed = False
            if probe.kind in ("startup", "liveness"):
                c.fatal = (f"{probe.kind} probe failed {probe.failures} times in a row ({error}): "
                           "the kubelet would kill and restart the container")

    def _probe_once(self, c: Container, spec: dict) -> tuple[bool, str]:
        timeout = spec["timeoutSeconds"]
        try:
            if "httpGet" in spec:
                h = spec["httpGet"]
                port = self._named_port(c, h["port"])
                conn_cls = http.client.HTTPSConnection if h.get("scheme", "HTTP") == "HTTPS" else http.client.HTTPConnection
                conn = conn_cls(h.get("host") or c.pod.ip, port, timeout=timeout)
                try:
                    headers = {x["name"]: x["value"] for x in h.get("httpHeaders", [])}
                    headers.setdefault("User-Agent", "kube-probe/1.31")
                    conn.request("GET", h.get("path", "/"), headers=headers)
                    status = conn.getresponse().status
                finally:
                    conn.close()
                # The kubelet counts 200-399 as success.
                return 200 <= status < 400, f"HTTP {status}"
            if "tcpSocket" in spec:
                port = self._named_port(c, spec["tcpSocket"]["port"])
                socket.create_connection((spec["tcpSocket"].get("host") or c.pod.ip, port), timeout=timeout).close()
                return True, ""
            if "exec" in spec:
                proc = docker("exec", c.docker_name, *spec["exec"]["command"], check=False, timeout=timeout + 5)
                return proc.returncode == 0, f"exit {proc.returncode}: {(proc.stdout + proc.stderr).strip()[-200:]}"
            return False, f"unsupported probe {sorted(spec)}"
        except (OSError, subprocess.TimeoutExpired, http.client.HTTPException) as exc:
            return False, f"{type(exc).__name__}: {exc}"

    @staticmethod
    def _named_port(c: Container, port: str | int) -> int:
        if isinstance(port, int):
            return port
        for p in c.spec.get("ports", []):
            if p.get("name") == port:
                return p["containerPort"]
        raise PodSpecError(f"{c.pod.kind_name} container {c.name}: probe port {port!r} is not a container port")

    def wait_ready(self, pods: Iterable[Pod], timeout: float) -> None:
        """Until every container of `pods` is started, live (its liveness probe passed) and ready;
        fails at once on a container the kubelet would restart, and at `timeout` on one that is not."""
        pods = list(pods)
        deadline = time.monotonic() + timeout
        while True:
            self.assert_healthy(pods)
            waiting = [c for p in pods for c in p.containers if not c.init and not (c.ready and c.live)]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise AssertionError("probes never passed:\n" + "\n".join(self.describe(c) for c in waiting))
            time.sleep(0.5)

    def assert_healthy(self, pods: Iterable[Pod] | None = None) -> None:
        """No container of `pods` (default: all) exited or failed a startup/liveness probe to its threshold."""
        with self._lock:
            pods = list(self.pods if pods is None else pods)
        bad = [f"{c.pod.kind_name} container {c.name}: {c.fatal}" for p in pods for c in p.containers if c.fatal]
        assert not bad, "\n".join(bad)

    @staticmethod
    def describe(c: Container) -> str:
        states = ", ".join(f"{p.kind}: {'passed' if p.passed else 'failing'} (last error: {p.last_error or '-'})"
                           for p in c.probes.values())
        return f"{c.pod.kind_name} container {c.name}: {states or 'no probes'}"
