"""The destinations a site allows, read from the ``[[destination]]`` tables of the agent's TOML.

Each table has the keys of a ``v1/mode_destinations`` entry
(:mod:`contracts.destination`); the agent takes no address from the cloud: the
cloud's list only chooses among the site's destinations by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.errors import ConfigError
from contracts.destination import ENTRY_KEYS, Destination, InvalidDestination


def destination_from_config(table: Mapping[str, Any]) -> Destination:
    """Parse one ``[[destination]]`` table of the agent's TOML.

    ``aet`` may be left out (the agent's default calling title is used), a port may
    be a number or a string. An unknown key is refused, since it is most likely a
    misspelt one.

    Raises
    ------
    ConfigError
        When a key is unknown, a key the method needs is missing or a value is unusable.
    """
    unknown = sorted(set(table) - set(ENTRY_KEYS))
    if unknown:
        raise ConfigError(
            f"[[destination]] in the agent's config has unknown key(s) {', '.join(unknown)};"
            f" the keys are {', '.join(sorted(ENTRY_KEYS))}"
        )
    try:
        return Destination.from_entry(table, "a [[destination]] of the agent's config")
    except InvalidDestination as exc:
        raise ConfigError(str(exc)) from None
