"""The destinations a site allows, as the agent's TOML lists them."""

from __future__ import annotations

import tomllib

import pytest

from agent.delivery.destination import destination_from_config
from agent.errors import ConfigError

PACS_ENTRY = {
    "method": "PACS",
    "name": "Main PACS",
    "ip": "10.20.0.7",
    "port": "11112",
    "aet": "YARRA_MR1",
    "aec": "PACS_MAIN",
}
SHARE_ENTRY = {"method": "smb", "name": "Research share", "location": "/mnt/research/yarra"}


def test_entries_in_the_api_shape_with_string_ports_parse() -> None:
    pacs = destination_from_config(PACS_ENTRY)
    assert (pacs.method, pacs.name, pacs.ip, pacs.port) == (
        "PACS",
        "Main PACS",
        "10.20.0.7",
        11112,
    )
    assert (pacs.aet, pacs.aec) == ("YARRA_MR1", "PACS_MAIN")
    share = destination_from_config(SHARE_ENTRY)
    assert (share.method, share.location) == ("smb", "/mnt/research/yarra")
    assert str(share.folder) == "/mnt/research/yarra"


def test_config_tables_parse_with_integer_ports_and_an_optional_calling_title() -> None:
    config = tomllib.loads(
        """
        [[destination]]
        name = "Main PACS"
        method = "PACS"
        ip = "10.20.0.7"
        port = 104
        aec = "PACS_MAIN"

        [[destination]]
        name = "Research share"
        method = "smb"
        location = "/mnt/research/yarra"
        """
    )
    pacs, share = (destination_from_config(table) for table in config["destination"])
    assert (pacs.port, pacs.aet, pacs.aec) == (104, "", "PACS_MAIN")
    assert share.location == "/mnt/research/yarra"
    assert "10.20.0.7:104" in pacs.describe() and "PACS_MAIN" in pacs.describe()


@pytest.mark.parametrize("missing", ["name", "method", "ip", "port", "aec"])
def test_a_pacs_entry_without_a_key_names_the_key(missing: str) -> None:
    entry = {key: value for key, value in PACS_ENTRY.items() if key != missing}
    with pytest.raises(ConfigError, match=f"lacks the key '{missing}'"):
        destination_from_config(entry)


def test_a_folder_destination_without_a_location_names_the_key() -> None:
    with pytest.raises(ConfigError, match="lacks the key 'location'"):
        destination_from_config({"method": "smb", "name": "Research share", "location": " "})


def test_a_config_table_without_the_called_title_or_with_an_unknown_key_is_refused() -> None:
    table = {key: value for key, value in PACS_ENTRY.items() if key != "aec"}
    with pytest.raises(ConfigError, match="lacks the key 'aec'"):
        destination_from_config(table)
    with pytest.raises(ConfigError, match=r"unknown key.*host"):
        destination_from_config({**PACS_ENTRY, "host": "10.20.0.7"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"method": "ftp"}, "method 'ftp' is unknown"),
        ({"port": "0"}, "not a TCP port"),
        ({"port": "eleven"}, "not a TCP port"),
        ({"aec": "A_CALLED_TITLE_TOO_LONG"}, "not an AE title"),
    ],
)
def test_unusable_values_are_refused_with_what_to_fix(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        destination_from_config({**PACS_ENTRY, **change})
