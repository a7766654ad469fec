"""Where a task's images go: a DICOM node (``PACS``) or a folder or mounted share (``smb``).

One destination is one entry of ``v1/mode_destinations`` in the shape the Yarra
clients read (``{method, name, ip, port, aet, aec}`` or ``{method, name,
location}``). The cloud keeps a site's destinations on the site's record and
serves them by name; the agent's TOML lists, in ``[[destination]]`` tables with
the same keys, the ones the site allows, and takes no address from the cloud. As
in Yarra and dcmtk's storescu, ``aet`` is the title the agent calls from (empty:
the agent's default) and ``aec`` the PACS's own (called) title.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Method = Literal["PACS", "smb"]

METHODS: dict[str, Method] = {"pacs": "PACS", "smb": "smb"}
"""The methods, by their names in any case."""

ENTRY_KEYS = ("method", "name", "ip", "port", "aet", "aec", "location")
"""The keys of a ``v1/mode_destinations`` entry and of a ``[[destination]]`` table."""

AE_TITLE_MAX = 16
DEFAULT_PORT = 104


class InvalidDestination(ValueError):
    """A destination that cannot be used; the message names it and the value to fix."""


@dataclass(frozen=True)
class Destination:
    """One place a task's images are delivered to.

    Attributes
    ----------
    name
        The site's name for it; shown in messages (never patient data).
    method
        ``PACS`` (DICOM C-STORE) or ``smb`` (a copy into a folder or mounted share).
    ip, port
        The PACS's address (``PACS`` only).
    aet
        The calling AE title the agent presents; empty means the agent's default.
    aec
        The called AE title, the PACS's own (``PACS`` only).
    location
        The folder or mount point (``smb`` only).

    Raises
    ------
    InvalidDestination
        When a value the method needs is missing, the port is not a TCP port or an
        AE title is not one.
    """

    name: str
    method: Method
    ip: str = ""
    port: int = DEFAULT_PORT
    aet: str = ""
    aec: str = ""
    location: str = ""

    def __post_init__(self) -> None:
        where = f"destination {self.name!r}"
        if self.method == "PACS":
            if not (self.ip and self.aec):
                raise InvalidDestination(f"PACS {where} needs ip and aec")
            if isinstance(self.port, bool) or not 0 < self.port < 65536:
                raise InvalidDestination(
                    f"{where}: port {self.port} is not a TCP port (1 to 65535)"
                )
            for key in ("aec", "aet") if self.aet else ("aec",):
                _check_ae_title(getattr(self, key), key, where)
        elif self.method == "smb":
            if not self.location:
                raise InvalidDestination(f"folder {where} needs a location")
        else:
            raise InvalidDestination(f"{where}: method {self.method!r} is unknown; use PACS or smb")

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any], where: str) -> Destination:
        """Read a ``v1/mode_destinations`` entry or a ``[[destination]]`` table.

        Values may be strings or, for the port, a number; ``aet`` may be left out.
        Keys other than :data:`ENTRY_KEYS` are ignored here (a reader that must
        refuse them checks first). ``where`` says in messages where the entry came from.

        Raises
        ------
        InvalidDestination
            When a key the method needs is missing or a value is unusable.
        """
        name = _text(entry, "name", where)
        where = f"destination {name!r} ({where})"
        method_text = _text(entry, "method", where)
        method = METHODS.get(method_text.lower())
        if method is None:
            raise InvalidDestination(f"{where}: method {method_text!r} is unknown; use PACS or smb")
        if method == "smb":
            return cls(name=name, method=method, location=_text(entry, "location", where))
        for key in ("ip", "port", "aec"):
            _text(entry, key, where)
        return cls(
            name=name,
            method=method,
            ip=_text(entry, "ip", where),
            port=_port(entry["port"], where),
            aet=_text(entry, "aet", where) if "aet" in entry else "",
            aec=_text(entry, "aec", where),
        )

    def as_entry(self) -> dict[str, str]:
        """The ``v1/mode_destinations`` entry, every value a string."""
        if self.method == "PACS":
            return {
                "method": "PACS",
                "name": self.name,
                "ip": self.ip,
                "port": str(self.port),
                "aet": self.aet,
                "aec": self.aec,
            }
        return {"method": "smb", "name": self.name, "location": self.location}

    def describe(self) -> str:
        """Names the destination for messages: its name and where it is, never patient data."""
        if self.method == "smb":
            return f"folder destination {self.name!r} ({self.location})"
        calling = f", calling AE {self.aet}" if self.aet else ""
        return f"PACS {self.name!r} at {self.ip}:{self.port} (called AE {self.aec}{calling})"

    @property
    def folder(self) -> Path:
        """The location of an ``smb`` destination as a path."""
        return Path(self.location)


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidDestination(f"{where} lacks the key {key!r}; add it")
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise InvalidDestination(f"{where}: {key!r} must be a string")
    return str(value).strip()


def _port(value: Any, where: str) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidDestination(f"{where}: port {text!r} is not a TCP port (1 to 65535)")
    return int(text)


def _check_ae_title(title: str, key: str, where: str) -> None:
    if len(title) > AE_TITLE_MAX or "\\" in title or not title.isprintable():
        raise InvalidDestination(
            f"{where}: {key!r} {title!r} is not an AE title (at most {AE_TITLE_MAX} printable"
            " characters, no backslash)"
        )
