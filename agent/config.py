"""The agent's TOML configuration, read once into a typed object and passed in.

The format is the one ``scripts/admin`` and the portal write
(``administration/agent_config.py``):

.. code-block:: toml

    [cloud]
    api_url = "https://..."
    region = "eu-central-1"
    access_key_id = "AKIA..."
    secret_file = "agent.secret"   # readable only by its owner
    s3_endpoint = "http://..."     # optional: a local or private cloud's S3; AWS_ENDPOINT_URL
                                   # (or AWS_ENDPOINT_URL_S3) overrides it

    [folders]
    base = "/data/yarra"           # holds cloud/out, cloud/in, cloud/phi, cloud/phi_archive

    [agent]
    concurrency = 1
    poll_seconds = 10
    bandwidth_mbps = 0             # megabits per second; 0 means no cap
    keep_days = 30                 # days a finished task stays in `status`; 0 keeps it for ever
    sentry_dsn = ""                # optional; empty means off

    [[destination]]                # the places images may go; the cloud chooses among
    method = "PACS"                # them by name and adds none
    ...

Relative paths are taken relative to the config file's folder.
"""

from __future__ import annotations

import math
import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agent.errors import ConfigError
from transfer.throttle import mbps_to_bytes_per_second

_SECTIONS: dict[str, tuple[str, ...]] = {
    "cloud": ("api_url", "region", "access_key_id", "secret_file", "s3_endpoint"),
    "folders": ("base",),
    "agent": ("concurrency", "poll_seconds", "bandwidth_mbps", "keep_days", "sentry_dsn"),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "cloud": ("api_url", "region", "access_key_id", "secret_file"),
    "folders": ("base",),
}
_DEFAULTS: dict[str, Any] = {
    "concurrency": 1,
    "poll_seconds": 10,
    "bandwidth_mbps": 0,
    "keep_days": 30,
    "sentry_dsn": "",
    "s3_endpoint": "",
}


@dataclass(frozen=True)
class AgentConfig:
    """What the agent needs to run, checked when loaded.

    Attributes
    ----------
    path
        The TOML file it was read from (named in messages).
    api_url
        Base URL of the v1 API, without a trailing slash.
    region, access_key_id
        The AWS region and the user's access key id.
    secret
        The secret access key, read from ``secret_file``; never shown in ``repr``.
    secret_file
        Where the secret was read from.
    s3_endpoint
        The S3 endpoint of a local or private cloud; empty for AWS's own.
    base
        The folder holding ``cloud/out``, ``cloud/in``, ``cloud/phi``, ``cloud/phi_archive``.
    concurrency
        How many tasks move at once (at least 1).
    poll_seconds
        Seconds between looks at the ORT folders and the cloud's job states.
    bandwidth_mbps
        Cap on transfers in megabits per second; 0 means none.
    keep_days
        Days the agent keeps a finished task's journal and state record (what
        ``status`` lists) after the task ended; 0 keeps them for ever.
    sentry_dsn
        Sentry DSN for error reports; empty means off.
    destinations
        The ``[[destination]]`` tables as written: the only places the agent delivers
        to; the cloud's ``v1/mode_destinations`` chooses among them by name.
    """

    path: Path
    api_url: str
    region: str
    access_key_id: str
    secret: str = field(repr=False)
    secret_file: Path
    base: Path
    s3_endpoint: str = ""
    concurrency: int = 1
    poll_seconds: float = 10
    bandwidth_mbps: float = 0
    keep_days: int = 30
    sentry_dsn: str = field(default="", repr=False)
    destinations: tuple[dict[str, Any], ...] = ()

    @property
    def bandwidth_bytes_per_second(self) -> float | None:
        """The transfer cap as ``transfer/`` takes it, or None for no cap."""
        if self.bandwidth_mbps <= 0:
            return None
        return mbps_to_bytes_per_second(self.bandwidth_mbps)

    @classmethod
    def load(cls, path: Path) -> AgentConfig:
        """Read and check the config at ``path`` and the secret file it names.

        Raises
        ------
        ConfigError
            When the file is missing or not TOML, a key is missing, unknown or of the
            wrong type, or the secret file is missing, empty or readable by others.
        """
        path = Path(path).expanduser().absolute()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                f"the agent's config {path} does not exist; write it with"
                " `scripts/admin user add ... --agent-config PATH` or pass its path"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the agent's config {path}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}; fix that line") from None
        reader = _Reader(path, data)
        here = path.parent
        secret_file = _resolve(here, reader.string("cloud", "secret_file"))
        agent = reader.section("agent")
        cloud = reader.section("cloud")
        return cls(
            path=path,
            api_url=_api_url(path, reader.string("cloud", "api_url")),
            region=reader.string("cloud", "region"),
            access_key_id=reader.string("cloud", "access_key_id"),
            secret=read_secret(secret_file, path),
            secret_file=secret_file,
            base=_resolve(here, reader.string("folders", "base")),
            s3_endpoint=_s3_endpoint(path, reader.optional_string("cloud", "s3_endpoint", cloud)),
            concurrency=reader.integer("agent", "concurrency", agent, minimum=1),
            poll_seconds=reader.number("agent", "poll_seconds", agent, positive=True),
            bandwidth_mbps=reader.number("agent", "bandwidth_mbps", agent, positive=False),
            keep_days=reader.integer("agent", "keep_days", agent, minimum=0),
            sentry_dsn=reader.optional_string("agent", "sentry_dsn", agent),
            destinations=reader.destinations(),
        )


def read_secret(secret_file: Path, config: Path) -> str:
    """The secret in ``secret_file``, which must be a file only its owner can read.

    Raises
    ------
    ConfigError
        Saying the ``chmod`` to run when group or others may read it.
    """
    try:
        info = secret_file.stat()
    except FileNotFoundError:
        raise ConfigError(
            f"the secret file {secret_file} named by [cloud] secret_file in {config} does not"
            " exist; put the user's secret access key there (chmod 600)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the secret file {secret_file}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"the secret file {secret_file} is not a regular file")
    if os.name == "posix" and info.st_mode & 0o077:
        raise ConfigError(
            f"the secret file {secret_file} can be read by other users (mode"
            f" {stat.S_IMODE(info.st_mode):o}); run `chmod 600 {secret_file}`"
        )
    try:
        secret = secret_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the secret file {secret_file}: {exc}") from None
    if not secret:
        raise ConfigError(
            f"the secret file {secret_file} is empty; put the user's secret access key there"
        )
    return secret


class _Reader:
    """Typed access to the parsed TOML, with messages naming the key and the file."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        allowed = {*_SECTIONS, "destination"}
        for name in data:
            if name not in allowed:
                raise ConfigError(
                    f"{path} has an unknown section or key {name!r}; the sections are"
                    f" {', '.join(f'[{s}]' for s in _SECTIONS)} and [[destination]]"
                )
        for section, keys in _SECTIONS.items():
            table = data.get(section, {})
            if not isinstance(table, dict):
                raise ConfigError(f"{path}: {section} must be a section, [{section}]")
            for key in table:
                if key not in keys:
                    raise ConfigError(
                        f"{path} has an unknown key {key!r} in [{section}]; the keys there"
                        f" are {', '.join(keys)}"
                    )
        for section, keys in _REQUIRED.items():
            for key in keys:
                if key not in data.get(section, {}):
                    raise ConfigError(f"{path} is missing [{section}] {key}; add it")

    def section(self, name: str) -> dict[str, Any]:
        return self.data.get(name, {})

    def string(self, section: str, key: str) -> str:
        value = self.data[section][key]
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{self.path}: [{section}] {key} must be a non-empty string")
        return value.strip()

    def optional_string(self, section: str, key: str, table: dict[str, Any]) -> str:
        value = table.get(key, _DEFAULTS[key])
        if not isinstance(value, str):
            raise ConfigError(f"{self.path}: [{section}] {key} must be a string")
        return value.strip()

    def integer(self, section: str, key: str, table: dict[str, Any], *, minimum: int) -> int:
        value = table.get(key, _DEFAULTS[key])
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(
                f"{self.path}: [{section}] {key} must be a whole number of at least {minimum}"
            )
        return value

    def number(self, section: str, key: str, table: dict[str, Any], *, positive: bool) -> float:
        value = table.get(key, _DEFAULTS[key])
        bad = isinstance(value, bool) or not isinstance(value, int | float)
        if not bad:
            bad = not math.isfinite(value) or value < 0 or (positive and value == 0)
        if bad:
            wanted = "a number above 0" if positive else "a number, 0 or more"
            raise ConfigError(f"{self.path}: [{section}] {key} must be {wanted}")
        return float(value)

    def destinations(self) -> tuple[dict[str, Any], ...]:
        entries = self.data.get("destination", [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ConfigError(
                f"{self.path}: destinations are tables written [[destination]], one per destination"
            )
        return tuple(dict(entry) for entry in entries)


def _api_url(path: Path, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"{path}: [cloud] api_url must be an http:// or https:// URL, such as the one the"
            " portal shows for the site"
        )
    return value.rstrip("/")


def _s3_endpoint(path: Path, value: str) -> str:
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"{path}: [cloud] s3_endpoint must be an http:// or https:// URL (leave it out for"
            " AWS's own S3)"
        )
    return value.rstrip("/")


def _resolve(here: Path, value: str) -> Path:
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else here / candidate
