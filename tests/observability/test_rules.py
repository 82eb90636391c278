"""The alert rules pass promtool's checks and its unit tests (tests/observability/rules_test.yaml)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import REPO

ALERT_FILES = sorted((REPO / "charts" / "rag" / "alerts").glob("*.yaml"))
RULE_TESTS = Path(__file__).with_name("rules_test.yaml")


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120)


def test_rule_files_are_valid() -> None:
    assert ALERT_FILES
    result = _promtool("check", "rules", *map(str, ALERT_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test() -> None:
    alerts = {line.split("alert:", 1)[1].strip() for path in ALERT_FILES for line in path.read_text().splitlines() if line.strip().startswith("- alert:")}
    tested = {line.split("alertname:", 1)[1].strip() for line in RULE_TESTS.read_text().splitlines() if "alertname:" in line}
    assert alerts and alerts == tested


def test_rule_unit_tests_pass() -> None:
    result = _promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
