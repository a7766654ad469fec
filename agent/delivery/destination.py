"""Where a task's images go: a DICOM node (``PACS``) or a folder or mounted share (``smb``).

The site lists the destinations it allows as ``[[destination]]`` tables of the
agent's TOML, with the keys of the entries ``v1/mode_destinations`` answers in
the shape the Yarra clients read (``{method, name, ip, port, aet, aec}`` or
``{method, name, location}``). The agent takes no address from the cloud: the
cloud's list only chooses among the site's destinations by name. As in Yarra,
``aet`` is the title the agent calls from and ``aec`` the PACS's own (called)
title.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agent.errors import ConfigError

Method = Literal["PACS", "smb"]

_METHODS: dict[str, Method] = {"pacs": "PACS", "smb": "smb"}
_PACS_KEYS = ("ip", "port", "aec")
_CONFIG_KEYS = frozenset({"method", "name", "ip", "port", "aet", "aec", "location"})
AE_TITLE_MAX = 16


@dataclass(frozen=True)
class Destination:
    """One place a task's images are delivered to.

    Attributes
    ----------
    name
        The site's name for it; shown in messages (never patient data).
    method
        ``PACS`` (DICOM C-STORE) or ``smb`` (a copy into a folder or mounted share).
    host, port
        The PACS's address (``PACS`` only).
    aet
        The calling AE title the agent presents; empty means the caller's default.
    aec
        The called AE title, the PACS's own (``PACS`` only).
    location
        The folder or mount point (``smb`` only).
    """

    name: str
    method: Method
    host: str = ""
    port: int = 0
    aet: str = ""
    aec: str = ""
    location: str = ""

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> Destination:
        """Parse one ``[[destination]]`` table of the agent's TOML.

        The keys are those of ``v1/mode_destinations`` entries; ``aet`` may be left
        out (the agent's default calling title is used), a port may be a number or
        a string. An unknown key is refused, since it is most likely a misspelt one.

        Raises
        ------
        ConfigError
            When a key is unknown, a key the method needs is missing or a value is unusable.
        """
        unknown = sorted(set(table) - _CONFIG_KEYS)
        if unknown:
            raise ConfigError(
                f"[[destination]] in the agent's config has unknown key(s) {', '.join(unknown)};"
                f" the keys are {', '.join(sorted(_CONFIG_KEYS))}"
            )
        return cls._parse(table, "a [[destination]] of the agent's config")

    @classmethod
    def _parse(cls, entry: Mapping[str, Any], where: str) -> Destination:
        name = _text(entry, "name", where)
        where = f"destination {name!r} ({where})"
        method_text = _text(entry, "method", where)
        method = _METHODS.get(method_text.lower())
        if method is None:
            raise ConfigError(f"{where}: method {method_text!r} is unknown; use PACS or smb")
        if method == "smb":
            return cls(name=name, method=method, location=_text(entry, "location", where))
        for key in _PACS_KEYS:
            _text(entry, key, where)
        aet = _ae_title(entry, "aet", where) if "aet" in entry else ""
        return cls(
            name=name,
            method=method,
            host=_text(entry, "ip", where),
            port=_port(entry["port"], where),
            aet=aet,
            aec=_ae_title(entry, "aec", where),
        )

    def describe(self) -> str:
        """Names the destination for messages: its name and where it is, never patient data."""
        if self.method == "smb":
            return f"folder destination {self.name!r} ({self.location})"
        calling = f", calling AE {self.aet}" if self.aet else ""
        return f"PACS {self.name!r} at {self.host}:{self.port} (called AE {self.aec}{calling})"

    @property
    def folder(self) -> Path:
        """The location of an ``smb`` destination as a path."""
        return Path(self.location)


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ConfigError(f"{where} lacks the key {key!r}; add it")
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ConfigError(f"{where}: {key!r} must be a string")
    return str(value).strip()


def _port(value: Any, where: str) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"{where}: port {text!r} is not a TCP port (1 to 65535)")
    return int(text)


def _ae_title(entry: Mapping[str, Any], key: str, where: str) -> str:
    title = _text(entry, key, where)
    if len(title) > AE_TITLE_MAX or "\\" in title or not title.isprintable():
        raise ConfigError(
            f"{where}: {key!r} {title!r} is not an AE title (at most {AE_TITLE_MAX} printable"
            " characters, no backslash)"
        )
    return title
