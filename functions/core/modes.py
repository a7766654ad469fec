"""A mode's ``[ClientConfig]``: the part of a Yarra ``.mode`` file the clients read."""

from __future__ import annotations

from collections.abc import Mapping
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


class InvalidClientConfig(ValueError):
    """A ``[ClientConfig]`` the catalog must not store; the message says which value to fix."""


def validate_client_config(values: Mapping[str, Any]) -> dict[str, Any]:
    """A complete ``ClientConfig`` with Yarra's keys, typed as the catalog stores them."""
    name = str(values.get("Name") or "").strip()
    if not name:
        raise InvalidClientConfig("a mode needs a Name, the name the scanner's menu shows")
    config: dict[str, Any] = {"Name": name}
    for key, default in CLIENT_CONFIG_DEFAULTS.items():
        config[key] = values.get(key, default)
    config["Tag"] = str(config["Tag"])
    config["ParamLabel"] = str(config["ParamLabel"])
    config["ParamDescription"] = str(config["ParamDescription"])
    config["ParamIsFloat"] = _boolean("ParamIsFloat", config["ParamIsFloat"])
    config["MinimumSizeMB"] = _number("MinimumSizeMB", config["MinimumSizeMB"], as_float=False)
    for key in ("ParamDefault", "ParamMin", "ParamMax"):
        config[key] = _number(key, config[key], as_float=config["ParamIsFloat"])
    if config["MinimumSizeMB"] < 0:
        raise InvalidClientConfig("MinimumSizeMB cannot be negative")
    if not config["ParamMin"] <= config["ParamDefault"] <= config["ParamMax"]:
        raise InvalidClientConfig(
            f"ParamDefault ({config['ParamDefault']}) must lie between ParamMin"
            f" ({config['ParamMin']}) and ParamMax ({config['ParamMax']})"
        )
    return config


def _number(key: str, value: Any, *, as_float: bool) -> int | float:
    if isinstance(value, bool):
        raise InvalidClientConfig(f"{key} must be a number, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidClientConfig(f"{key} must be a number, not {value!r}") from None
    if as_float:
        return number
    if not number.is_integer():
        raise InvalidClientConfig(
            f"{key} must be a whole number (ParamIsFloat is off), not {value!r}"
        )
    return int(number)


def _boolean(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise InvalidClientConfig(f"{key} must be true or false, not {value!r}")
