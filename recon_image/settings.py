"""The worker's settings, read once from the environment (the contract in ``recon_image/__init__``).

Batch, or the local runner, starts ``python -m recon_image`` with
``YC_TASK_UUID``, ``YC_USER``, ``YC_INPUT`` and ``YC_OUTPUT``
(``s3://bucket/prefix/``), ``YC_MODE``, ``YC_PARAM``, ``YC_VCPUS`` and an
optional ``SENTRY_DSN``. The image adds ``YC_MODES_DIR``, ``YC_MODULES_DIR``
and ``YC_FFTW_WISDOM``; ``YC_WORK_DIR`` and ``YC_STEP_TIMEOUT_S`` are optional.
No other module of the worker reads the environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from recon_image.errors import ReconError

BUILTIN_MODES_DIR = Path(__file__).resolve().parent / "modes" / "builtin"
DEFAULT_MODULES_DIR = Path("/opt/yarracloud/modules")
DEFAULT_WISDOM = Path("/opt/yarracloud/fftw.wisdom")
DEFAULT_STEP_TIMEOUT_S = 4 * 3600.0

# What a mode's programs never need: the worker's storage credentials and its Sentry key.
_PRIVATE_ENV = re.compile(r"^(AWS_.*|SENTRY_DSN)$")


class SettingsError(ReconError):
    """The worker was started without a setting it needs: a deployment fault (exit 70)."""


@dataclass(frozen=True)
class S3Location:
    """``s3://bucket/prefix/``; the prefix always ends with ``/``."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, name: str, url: str) -> S3Location:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise SettingsError(f"{name}={url!r} is not an s3://bucket/prefix/ location")
        prefix = parsed.path.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return cls(bucket=parsed.netloc, prefix=prefix)

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class WorkerSettings:
    """Everything the job reads from its environment.

    Attributes
    ----------
    step_env
        The environment a mode's programs start from: the worker's, without
        AWS credentials and the Sentry DSN.
    """

    task_id: str
    user: str
    input: S3Location
    output: S3Location
    mode: str
    param: str
    vcpus: int
    sentry_dsn: str | None
    modes_dir: Path
    modules_dir: Path
    work_dir: Path | None
    fftw_wisdom: Path
    step_timeout_s: float
    environment: str
    attempt: int
    step_env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WorkerSettings:
        """Read the settings; raise :class:`SettingsError` naming a missing or bad variable."""

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise SettingsError(
                    f"the worker was started without {name}; the job definition (or the local"
                    " Batch runner) must set it"
                )
            return value

        def optional_path(name: str, default: Path) -> Path:
            value = env.get(name, "").strip()
            return Path(value) if value else default

        work_dir = env.get("YC_WORK_DIR", "").strip()
        return cls(
            task_id=required("YC_TASK_UUID"),
            user=required("YC_USER"),
            input=S3Location.parse("YC_INPUT", required("YC_INPUT")),
            output=S3Location.parse("YC_OUTPUT", required("YC_OUTPUT")),
            mode=required("YC_MODE"),
            param=env.get("YC_PARAM", "").strip(),
            vcpus=_positive_int("YC_VCPUS", env.get("YC_VCPUS", ""), default=1),
            sentry_dsn=env.get("SENTRY_DSN", "").strip() or None,
            modes_dir=optional_path("YC_MODES_DIR", BUILTIN_MODES_DIR),
            modules_dir=optional_path("YC_MODULES_DIR", DEFAULT_MODULES_DIR),
            work_dir=Path(work_dir) if work_dir else None,
            fftw_wisdom=optional_path("YC_FFTW_WISDOM", DEFAULT_WISDOM),
            step_timeout_s=_positive_float(
                "YC_STEP_TIMEOUT_S", env.get("YC_STEP_TIMEOUT_S", ""), DEFAULT_STEP_TIMEOUT_S
            ),
            environment=env.get("YC_ENVIRONMENT", "").strip() or "production",
            attempt=_positive_int(
                "AWS_BATCH_JOB_ATTEMPT", env.get("AWS_BATCH_JOB_ATTEMPT", ""), default=1
            ),
            step_env={k: v for k, v in env.items() if not _PRIVATE_ENV.match(k)},
        )


@dataclass(frozen=True)
class ProgramSettings:
    """What a built-in program takes from the environment the runner gives it.

    Attributes
    ----------
    threads
        ``OMP_NUM_THREADS`` (the job's vCPUs), at least 1.
    fftw_wisdom
        ``YC_FFTW_WISDOM``: FFTW wisdom to load when the file exists.
    error_file
        ``YC_ERROR_FILE``: where to record the reason of a failure, if the runner asked.
    """

    threads: int
    fftw_wisdom: Path
    error_file: Path | None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ProgramSettings:
        error_file = env.get("YC_ERROR_FILE", "").strip()
        wisdom = env.get("YC_FFTW_WISDOM", "").strip()
        return cls(
            threads=_positive_int("OMP_NUM_THREADS", env.get("OMP_NUM_THREADS", ""), default=1),
            fftw_wisdom=Path(wisdom) if wisdom else DEFAULT_WISDOM,
            error_file=Path(error_file) if error_file else None,
        )


def _positive_int(name: str, value: str, *, default: int) -> int:
    if not value.strip():
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise SettingsError(f"{name}={value!r} is not a whole number") from None
    if number < 1:
        raise SettingsError(f"{name}={number} must be at least 1")
    return number


def _positive_float(name: str, value: str, default: float) -> float:
    if not value.strip():
        return default
    try:
        number = float(value.strip())
    except ValueError:
        raise SettingsError(f"{name}={value!r} is not a number of seconds") from None
    if number <= 0:
        raise SettingsError(f"{name}={number} must be positive")
    return number
