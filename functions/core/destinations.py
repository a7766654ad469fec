"""Where a site's images go: a DICOM node (``PACS``) or a folder or mounted share (``smb``).

They live on the site's record (``Site.destinations``: name → fields) and the API
serves them per mode as the Yarra clients read them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Method = Literal["PACS", "smb"]


@dataclass(frozen=True)
class Destination:
    """One destination; ``modes`` empty means every mode of the site.

    AE titles as Yarra and dcmtk's storescu name them: ``aet`` is the title the
    agent calls from, ``aec`` the PACS's own (called) title.
    """

    name: str
    method: Method
    ip: str = ""
    port: int = 104
    aet: str = ""
    aec: str = ""
    location: str = ""
    modes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.method == "PACS":
            if not (self.ip and self.aet and self.aec):
                raise ValueError(f"PACS destination {self.name!r} needs ip, aet and aec")
            if not 0 < self.port < 65536:
                raise ValueError(f"PACS destination {self.name!r}: port {self.port} is invalid")
        elif self.method == "smb":
            if not self.location:
                raise ValueError(f"folder destination {self.name!r} needs a location")
        else:
            raise ValueError(f"destination {self.name!r}: method must be PACS or smb")

    def serves(self, mode_id: str) -> bool:
        return not self.modes or mode_id in self.modes

    def to_record(self) -> dict[str, Any]:
        """The value stored under the destination's name in ``Site.destinations``."""
        record: dict[str, Any] = {"method": self.method, "modes": list(self.modes)}
        if self.method == "PACS":
            record.update(ip=self.ip, port=self.port, aet=self.aet, aec=self.aec)
        else:
            record["location"] = self.location
        return record

    @classmethod
    def from_record(cls, name: str, record: Mapping[str, Any]) -> Destination:
        return cls(
            name=name,
            method=record["method"],
            ip=record.get("ip", ""),
            port=int(record.get("port", 104)),
            aet=record.get("aet", ""),
            aec=record.get("aec", ""),
            location=record.get("location", ""),
            modes=tuple(record.get("modes") or ()),
        )

    def as_yarra(self) -> dict[str, str]:
        """The shape ``v1/mode_destinations`` answers, every value a string."""
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


def site_destinations(records: Mapping[str, Mapping[str, Any]]) -> list[Destination]:
    """The destinations stored on a site, by name."""
    return [Destination.from_record(name, record) for name, record in sorted(records.items())]


def for_mode(destinations: Sequence[Destination], mode_id: str) -> list[Destination]:
    return [d for d in destinations if d.serves(mode_id)]
