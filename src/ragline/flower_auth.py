"""Credentials of Flower's HTTP basic auth in local mode: Flower never runs open.

Flower shows every task of every tenant and can revoke them, so `ragline up` always starts it with
`FLOWER_BASIC_AUTH` set (Flower reads its options from FLOWER_* variables; a password on the command
line would show in `ps`). In order of precedence:

- FLOWER_BASIC_AUTH, `user:password[,user2:password2]`, as Flower itself takes it;
- RAGLINE_FLOWER_PASSWORD (user RAGLINE_FLOWER_USER, default `admin`);
- otherwise a random password generated at first start and kept in DATA_DIR/flower-password,
  readable by its owner only (0600), reused on every later start.

    auth = local_flower_auth(Path("data"), os.environ)
    auth.value       # "admin:3q2-..." for FLOWER_BASIC_AUTH
    auth.source      # "data/flower-password", or the variable it came from
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

PASSWORD_FILE = "flower-password"
DEFAULT_USER = "admin"
# Flower splits FLOWER_BASIC_AUTH on ',' into pairs and compares "user:password" whole.
FORBIDDEN_CHARACTERS = ","


@dataclass(frozen=True)
class FlowerAuth:
    value: str
    user: str
    source: str

    def describe(self) -> str:
        if self.source == "FLOWER_BASIC_AUTH":
            return "basic auth: the user:password pairs of FLOWER_BASIC_AUTH"
        if self.source == "RAGLINE_FLOWER_PASSWORD":
            return f"basic auth: user {self.user}, password from RAGLINE_FLOWER_PASSWORD"
        return f"basic auth: user {self.user}, password in {self.source}"


def local_flower_auth(data_dir: Path, environ: Mapping[str, str]) -> FlowerAuth:
    """The credentials Flower is started with (see the module docstring)."""
    if explicit := environ.get("FLOWER_BASIC_AUTH", "").strip():
        return FlowerAuth(explicit, explicit.split(":", 1)[0], "FLOWER_BASIC_AUTH")
    user = environ.get("RAGLINE_FLOWER_USER", "").strip() or DEFAULT_USER
    if password := environ.get("RAGLINE_FLOWER_PASSWORD", ""):
        source = "RAGLINE_FLOWER_PASSWORD"
    else:
        path = data_dir / PASSWORD_FILE
        password, source = stored_password(path), str(path)
    if ":" in user or any(ch in user + password for ch in FORBIDDEN_CHARACTERS):
        raise ValueError("Flower's user name may not contain ':' or ',', nor its password ','")
    return FlowerAuth(f"{user}:{password}", user, source)


def stored_password(path: Path) -> str:
    """The password kept in `path`, created (mode 0600, never wider) with a random one if absent."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            logger.warning("flower password file readable by others, restricting it path=%s mode=%o", path, mode)
            path.chmod(0o600)
        password = path.read_text().strip()
        if password:
            return password
        path.unlink()
        return stored_password(path)
    password = secrets.token_urlsafe(24)
    with os.fdopen(descriptor, "w") as file:
        file.write(password + "\n")
    return password
