"""schemathesis against the live OpenAPI schema, every endpoint, with a fixed example budget in its
deterministic mode (the same cases every run): no 5xx, and every response matches the published schema."""

import subprocess
import sys
from pathlib import Path

from ragline.localstack import LocalStack
from tests.conftest import ARTIFACTS

EXAMPLES_PER_OPERATION = 25


def test_no_server_errors_and_no_schema_violations(stack: LocalStack, world: dict) -> None:
    report = ARTIFACTS / "schemathesis"
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("st")), "run", f"{stack.api_url}/openapi.json",
            "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance,response_headers_conformance",
            "--max-examples", str(EXAMPLES_PER_OPERATION),
            "--generation-deterministic",
            "--request-timeout", "60",
            "--workers", "1",
            "--report", "junit", "--report-dir", str(report),
        ],
        capture_output=True, text=True, timeout=900,
    )
    (ARTIFACTS / "logs").mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "logs" / "schemathesis.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-6000:]
    assert "No issues found" in result.stdout or "passed" in result.stdout
