"""A mode's ``[ClientConfig]``: the part of a Yarra ``.mode`` file the clients read."""

from __future__ import annotations

from typing import Any

CLIENT_CONFIG_DEFAULTS: dict[str, Any] = {
    "Tag": "",
    "MinimumSizeMB": 0,
    "ParamLabel": "",
    "ParamDescription": "",
    "ParamDefault": 0,
    "ParamMin": 0,
    "ParamMax": 0,
    "ParamIsFloat": False,
}
"""Every ``[ClientConfig]`` key the Yarra clients read except ``Name``, with its default."""

CLIENT_CONFIG_KEYS: tuple[str, ...] = ("Name", *CLIENT_CONFIG_DEFAULTS)
"""The keys ``v1/modes`` answers, in the order the clients list them."""
