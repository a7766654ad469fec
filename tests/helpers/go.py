"""The AWS Go SDK v2 as a test peer: builds ``tests/transfer/go/s3peer`` offline and runs it.

The build uses Go's GOPATH mode against the source tree that the Debian package
``golang-github-aws-aws-sdk-go-v2-dev`` installs, so it needs no network. The
binary is cached under a directory keyed by the source, the Go version and the
SDK version, so a session builds it at most once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

S3PEER_SOURCE = Path(__file__).resolve().parents[1] / "transfer" / "go" / "s3peer"
SDK_PACKAGE = Path("github.com/aws/aws-sdk-go-v2/feature/s3/manager")
DEBIAN_GOPATH = Path("/usr/share/gocode")
INSTALL_HINT = (
    "install golang-go and golang-github-aws-aws-sdk-go-v2-dev"
    " (scripts/test does it when run as root)"
)


class GoUnavailable(RuntimeError):
    """Go or the AWS Go SDK v2 sources are missing, so the Go peer cannot be built."""


def _sdk_gopath() -> Path:
    """The GOPATH entry that holds the SDK's sources (the Debian tree unless GOPATH has them)."""
    candidates = [Path(p) for p in os.environ.get("GOPATH", "").split(os.pathsep) if p]
    candidates.append(DEBIAN_GOPATH)
    for root in candidates:
        if (root / "src" / SDK_PACKAGE).is_dir():
            return root
    raise GoUnavailable(f"the AWS Go SDK v2 sources are missing: {INSTALL_HINT}")


def _go_env(gopath: Path, cache_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPROXY": "off",
        "GOFLAGS": "",
        "GOPATH": str(gopath),
        "CGO_ENABLED": "0",
    }
    # The default build cache lives under $HOME, which may be missing or read-only.
    env.setdefault("GOCACHE", str(cache_dir / "go-build"))
    return env


def build_s3peer(out_dir: Path) -> Path:
    """Compiles the Go peer into ``out_dir`` (once per source and toolchain); returns its path.

    Raises :class:`GoUnavailable` when ``go`` or the SDK sources are missing, and
    :class:`RuntimeError` with the compiler's output when the build fails.
    """
    go = shutil.which("go")
    if go is None:
        raise GoUnavailable(f"the go command is not on PATH: {INSTALL_HINT}")
    gopath = _sdk_gopath()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = _go_env(gopath, out_dir)

    version = subprocess.run(
        [go, "version"], capture_output=True, text=True, env=env, check=False
    ).stdout
    digest = hashlib.sha256(version.encode())
    sdk_meta = gopath / "src" / SDK_PACKAGE / "go_module_metadata.go"
    if sdk_meta.is_file():
        digest.update(sdk_meta.read_bytes())
    for source in sorted(S3PEER_SOURCE.glob("*.go")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    binary = out_dir / f"s3peer-{digest.hexdigest()[:16]}"
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary

    partial = out_dir / f".{binary.name}.{os.getpid()}"
    result = subprocess.run(
        [go, "build", "-o", str(partial), "."],
        cwd=S3PEER_SOURCE,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise RuntimeError(
            f"building the Go peer failed (GOPATH={gopath}):\n{result.stdout}{result.stderr}"
        )
    partial.replace(binary)
    return binary


def run_s3peer(
    binary: Path, *args: str, env: Mapping[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Runs the Go peer (``upload``/``download`` ...) with exactly ``env`` plus PATH and HOME."""
    base = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    return subprocess.run(
        [str(binary), *args],
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=timeout,
        check=False,
    )
