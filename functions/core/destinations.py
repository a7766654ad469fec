"""A site's destinations as the cloud keeps them: the shared record and the modes each serves.

They live on the site's record (``Site.destinations``: name → fields) and the API
serves them per mode as the Yarra clients read them (:mod:`contracts.destination`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contracts import destination


@dataclass(frozen=True)
class Destination(destination.Destination):
    """One destination of a site; ``modes`` empty means every mode of the site."""

    modes: tuple[str, ...] = field(default_factory=tuple)

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
            port=int(record.get("port", destination.DEFAULT_PORT)),
            aet=record.get("aet", ""),
            aec=record.get("aec", ""),
            location=record.get("location", ""),
            modes=tuple(record.get("modes") or ()),
        )


def site_destinations(records: Mapping[str, Mapping[str, Any]]) -> list[Destination]:
    """The destinations stored on a site, by name."""
    return [Destination.from_record(name, record) for name, record in sorted(records.items())]


def for_mode(destinations: Sequence[Destination], mode_id: str) -> list[Destination]:
    return [d for d in destinations if d.serves(mode_id)]
