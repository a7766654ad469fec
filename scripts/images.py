"""``scripts/images [worker] [portal]``: build the container images AWS runs, as the tests do.

One way to build them, shared by the tests and ``scripts/deploy``:

1. the base: a root filesystem of Debian packages made with ``mmdebstrap`` from a
   pinned suite and imported into the engine (``podman import`` / ``docker import``);
   its name carries a hash of what went into it, so an engine that keeps its storage
   reuses it;
2. each image: its Dockerfile built on that base (``--build-arg BASE=...``), with the
   host's CA bundle, where pip needs one to reach the package index, passed as the
   build secret ``pip_cert`` so that it never stays in a layer.

The engine is the first of ``docker`` and ``podman`` that answers ``info``: a
``docker`` on the PATH may be a client with no daemon behind it. podman runs with
``scripts/containers.conf`` (runc, cgroupfs, ulimits at or under the host's) unless
``CONTAINERS_CONF`` names another file.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CONTAINERS_CONF = REPO_ROOT / "scripts" / "containers.conf"
SUITE = "bookworm"
"""The Debian suite of the base: Python 3.11, the Lambda runtime's and the worker's."""
MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates", "passwd")
BASE_REPOSITORY = "localhost/yarracloud-base"
_SLIM = [f"--dpkgopt=path-exclude=/usr/share/{d}/*" for d in ("doc", "man", "info", "locale")]
_PROBE_SECONDS = 60

Run = Callable[[Sequence[str]], None]


class ImageError(Exception):
    """An image could not be built; the message says which step and what to do."""


@dataclass(frozen=True)
class Engine:
    """A container engine that answered, and the environment it runs with."""

    command: str
    env: Mapping[str, str] = field(default_factory=dict)

    def run(
        self, args: Sequence[str], env: Mapping[str, str] | None = None, **options
    ) -> subprocess.CompletedProcess:
        """Run ``command args...`` with the engine's environment and ``env`` over it.

        Variables a container gets by ``--env NAME`` take their values from ``env``.
        """
        environment = {**os.environ, **self.env, **(env or {})}
        return subprocess.run([self.command, *args], env=environment, check=False, **options)

    def has_image(self, ref: str) -> bool:
        return self.run(["image", "inspect", ref], capture_output=True).returncode == 0


def engine_env(command: str, environ: Mapping[str, str]) -> dict[str, str]:
    """What the engine needs in its environment beyond ``environ``."""
    if command == "podman" and "CONTAINERS_CONF" not in environ:
        return {"CONTAINERS_CONF": str(CONTAINERS_CONF)}
    if command == "docker":
        return {"DOCKER_BUILDKIT": "1"}  # build secrets and cache mounts
    return {}


def find_engine(
    candidates: Sequence[str] = ("docker", "podman"),
    environ: Mapping[str, str] = os.environ,
) -> Engine | None:
    """The first engine of ``candidates`` that is installed and answers ``info``, else None."""
    for command in candidates:
        if shutil.which(command) is None:
            continue
        engine = Engine(command, engine_env(command, environ))
        try:
            probe = engine.run(["info"], capture_output=True, timeout=_PROBE_SECONDS)
        except subprocess.TimeoutExpired:
            continue
        if probe.returncode == 0:
            return engine
    return None


def host_ca_bundle(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The CA bundle the host's pip uses (``PIP_CERT``), when there is one."""
    named = environ.get("PIP_CERT")
    return Path(named) if named and Path(named).is_file() else None


@dataclass(frozen=True)
class Base:
    """The Debian root filesystem the images start from."""

    suite: str = SUITE
    mirror: str = MIRROR
    packages: tuple[str, ...] = BASE_PACKAGES

    @property
    def ref(self) -> str:
        """The image name: changes whenever what goes into the base changes."""
        recipe = "\n".join([self.suite, self.mirror, *sorted(self.packages), *_SLIM])
        return f"{BASE_REPOSITORY}:{self.suite}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"

    def command(self, tarball: Path) -> list[str]:
        """mmdebstrap into ``tarball``; the import is the engine's (see ``build_base``)."""
        return [
            "mmdebstrap",
            "--variant=minbase",
            f"--include={','.join(self.packages)}",
            *_SLIM,
            "--format=tar",
            self.suite,
            str(tarball),
            self.mirror,
        ]


def build_base(engine: Engine, base: Base = Base(), run: Run | None = None) -> str:
    """Make the base image unless the engine already holds it; return its name."""
    if engine.has_image(base.ref):
        return base.ref
    if shutil.which("mmdebstrap") is None:
        raise ImageError(
            "mmdebstrap is not installed: it makes the images' base from Debian packages"
            " (apt-get install mmdebstrap)"
        )
    run = run or _runner(engine)
    with tempfile.TemporaryDirectory(prefix="yarracloud-base-") as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        run(base.command(tarball))
        run([engine.command, "import", str(tarball), base.ref])
    return base.ref


@dataclass(frozen=True)
class ImageSpec:
    """One image of the repository: its Dockerfile and default name."""

    name: str
    dockerfile: str


WORKER = ImageSpec("worker", "recon_image/Dockerfile")
PORTAL = ImageSpec("portal", "portal_flask/Dockerfile")
IMAGES = {spec.name: spec for spec in (WORKER, PORTAL)}


def build_command(
    engine: Engine,
    spec: ImageSpec,
    *,
    ref: str,
    base: str,
    build_args: Mapping[str, str] | None = None,
    ca_bundle: Path | None = None,
) -> list[str]:
    """The engine's build command for ``spec`` on ``base``, tagged ``ref``."""
    command = [engine.command, "build", "-f", spec.dockerfile, "-t", ref]
    command += ["--build-arg", f"BASE={base}"]
    for name, value in (build_args or {}).items():
        command += ["--build-arg", f"{name}={value}"]
    if ca_bundle is not None:
        command += ["--secret", f"id=pip_cert,src={ca_bundle}"]
    return [*command, "."]


def build_image(
    engine: Engine,
    spec: ImageSpec,
    *,
    ref: str,
    base: str,
    build_args: Mapping[str, str] | None = None,
    ca_bundle: Path | None = None,
) -> str:
    """Build ``spec`` on ``base`` from the repository root; return ``ref``."""
    command = build_command(
        engine, spec, ref=ref, base=base, build_args=build_args, ca_bundle=ca_bundle
    )
    _runner(engine)(command)
    return ref


def _runner(engine: Engine) -> Run:
    def run(command: Sequence[str]) -> None:
        result = subprocess.run(
            list(command), cwd=REPO_ROOT, env={**os.environ, **engine.env}, check=False
        )
        if result.returncode != 0:
            raise ImageError(f"`{shlex.join(command)}` failed (exit {result.returncode})")

    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/images", description=__doc__.split("\n")[0])
    parser.add_argument("images", nargs="*", choices=sorted(IMAGES), default=sorted(IMAGES))
    parser.add_argument("--tag", default="latest", help="tag of every image (default latest)")
    parser.add_argument(
        "--wisdom-args",
        help="the worker's FFTW planning, e.g. '--only --slices 1,128,128' (default: all)",
    )
    args = parser.parse_args(argv)
    engine = find_engine()
    if engine is None:
        print("images: no container engine (docker or podman) answers here", file=sys.stderr)
        return 1
    try:
        base = build_base(engine)
        for name in args.images:
            build_args = {"WISDOM_ARGS": args.wisdom_args} if args.wisdom_args else {}
            ref = build_image(
                engine,
                IMAGES[name],
                ref=f"localhost/yarracloud-{name}:{args.tag}",
                base=base,
                build_args=build_args if name == "worker" else {},
                ca_bundle=host_ca_bundle(),
            )
            print(ref)
    except ImageError as error:
        print(f"images: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
