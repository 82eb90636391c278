"""k8s/kind-config.yaml against a JSON schema of kind's Cluster v1alpha4 (check-jsonschema, offline)."""

from __future__ import annotations

import yaml

from tests.chart.support import ROOT, run, tool

SCHEMA = ROOT / "tests" / "chart" / "kind-cluster-v1alpha4.schema.json"
CONFIG = ROOT / "k8s" / "kind-config.yaml"


def check(path) -> tuple[int, str]:
    proc = run([tool("check-jsonschema"), "--schemafile", str(SCHEMA), str(path)])
    return proc.returncode, proc.stdout + proc.stderr


def test_kind_config_matches_schema():
    rc, out = check(CONFIG)
    assert rc == 0, out


def test_control_plane_is_ingress_ready():
    config = yaml.safe_load(CONFIG.read_text())
    cp = [n for n in config["nodes"] if n["role"] == "control-plane"]
    assert len(cp) == 1
    assert cp[0]["labels"]["ingress-ready"] == "true"
    assert {(m["containerPort"], m["hostPort"]) for m in cp[0]["extraPortMappings"]} >= {(80, 80), (443, 443)}
    assert [n for n in config["nodes"] if n["role"] == "worker"]


def test_broken_kind_configs_are_caught(tmp_path):
    config = yaml.safe_load(CONFIG.read_text())
    cases = {
        "unknown-key": lambda c: c["nodes"][0].update(extraPortMapping=[]),
        "label-not-string": lambda c: c["nodes"][0]["labels"].update({"ingress-ready": True}),
        "port-as-string": lambda c: c["nodes"][0]["extraPortMappings"][0].update(hostPort="80"),
        "no-control-plane": lambda c: c.update(nodes=[n for n in c["nodes"] if n["role"] != "control-plane"]),
    }
    for case, breaks in cases.items():
        broken = yaml.safe_load(yaml.safe_dump(config))
        breaks(broken)
        path = tmp_path / f"{case}.yaml"
        path.write_text(yaml.safe_dump(broken))
        rc, out = check(path)
        assert rc != 0, f"{case} passed:\n{out}"
