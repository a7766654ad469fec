"""The catalogue of raw-header parameter names (``catalogue.json``): identity, technical or age.

The catalogue is data, built from every parameter name of real scanner headers:
each entry says what de-identification does with the name and why, in one line.
Names compare case-insensitively; an entry spelled with ``<n>`` (``ProcName<n>``)
stands for the name with any number there. Names on no entry are kept unless they
look like identity (``looks_like_identity``, case-insensitively), which stops the task.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import Enum
from functools import cache
from pathlib import Path

CATALOGUE_FILE = Path(__file__).with_name("catalogue.json")
_NUMBER = re.compile(r"\d+")


class Kind(Enum):
    """What de-identification does with a parameter."""

    IDENTITY = "identity"
    AGE = "age"
    TECHNICAL = "technical"


@dataclass(frozen=True)
class Entry:
    """One catalogue entry: the name as spelled in the catalogue, its kind and why."""

    name: str
    kind: Kind
    reason: str


class Catalogue:
    """The parameter names de-identification knows, and the scanner software it accepts."""

    def __init__(self, data: dict) -> None:
        self._entries = {
            name.lower(): Entry(name, Kind(kind), reason)
            for name, (kind, reason) in data["parameters"].items()
        }
        words = "|".join(re.escape(word) for word in data["looks_like_identity"])
        self._looks_like_identity = re.compile(words, re.IGNORECASE)
        self.software: dict[str, str] = dict(data["software"])

    @classmethod
    def load(cls, path: Path = CATALOGUE_FILE) -> Catalogue:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def entry(self, name: str) -> Entry | None:
        """The entry for ``name`` (any case; ``<n>`` entries for numbered names), or None."""
        lowered = name.lower()
        return self._entries.get(lowered) or self._entries.get(_NUMBER.sub("<n>", lowered))

    def looks_like_identity(self, name: str) -> bool:
        return bool(self._looks_like_identity.search(name))

    def __len__(self) -> int:
        return len(self._entries)


@cache
def catalogue() -> Catalogue:
    """The catalogue shipped with the agent, read once."""
    return Catalogue.load()
