"""The site agent's TOML config (the format ``agent/config.py`` reads) and its secret file.

The config names the access key; the secret lives in a separate file that only
its owner can read, so the config can be shown, copied and kept in version
control without giving the key away.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path, PurePath

from administration.errors import AdministrationError
from functions.core.destinations import Destination

AGENT_DEFAULTS = {"concurrency": 1, "poll_seconds": 10, "bandwidth_mbps": 0, "keep_days": 30}
DEFAULT_SECRET_FILE = "agent.secret"
"""Relative to the config's own folder, where the agent resolves it."""
DEFAULT_BASE = "/data/yarra"


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string."""
    out = []
    for char in value:
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\t":
            out.append("\\t")
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def agent_config_text(
    *,
    api_url: str | None,
    region: str,
    access_key_id: str,
    secret_file: PurePath | str,
    base: PurePath | str,
    s3_endpoint: str | None = None,
    destinations: Sequence[Destination] = (),
    written_by: str = "the YarraCloud administration",
) -> str:
    """The agent's config for one access key; without ``api_url`` a comment says where it goes.

    ``s3_endpoint`` is written only for a cloud whose S3 is not AWS's (a local or
    private one); the agent finds AWS's own from the region. ``destinations`` (the
    site's, as set up now) become ``[[destination]]`` tables: the only places the
    agent will deliver to, whatever the cloud later lists.
    """
    lines = [
        f"# The YarraCloud agent's configuration, written by {written_by}.",
        "# The secret access key is not in this file: secret_file names the file that holds",
        "# it, which must be readable only by the user the agent runs as (chmod 600).",
        "",
        "[cloud]",
    ]
    if api_url:
        lines.append(f"api_url = {toml_string(api_url)}")
    else:
        lines.append('# api_url = "https://..."  (not known when this file was written)')
    lines += [
        f"region = {toml_string(region)}",
        f"access_key_id = {toml_string(access_key_id)}",
        f"secret_file = {toml_string(str(secret_file))}",
        *([f"s3_endpoint = {toml_string(s3_endpoint)}"] if s3_endpoint else []),
        "",
        "[folders]",
        "# holds cloud/out, cloud/in, cloud/phi and cloud/phi_archive",
        f"base = {toml_string(str(base))}",
        "",
        "[agent]",
        *(f"{key} = {value}" for key, value in AGENT_DEFAULTS.items()),
        "",
        "# The only places this agent delivers identified images to. The portal's choice of",
        "# destinations per mode picks among them by name; a name not listed here fails the",
        "# task and nothing is sent. Add, change or remove them here, on the site's host.",
        *(line for destination in destinations for line in _destination_table(destination)),
    ]
    return "\n".join(lines)


def _destination_table(destination: Destination) -> list[str]:
    """One ``[[destination]]`` table, in the keys of a ``v1/mode_destinations`` entry."""
    rendered = (
        f"{key} = {value if key == 'port' else toml_string(value)}"
        for key, value in destination.as_entry().items()
    )
    return ["[[destination]]", *rendered, ""]


def secret_file_for(agent_config: Path) -> Path:
    """Where the secret goes: beside the config, same name, suffix ``.secret``."""
    secret = agent_config.with_suffix(".secret")
    return secret if secret != agent_config else agent_config.with_name(agent_config.name + ".key")


def write_secret_file(path: Path, secret: str) -> None:
    """Create ``path`` readable and writable only by its owner; never overwrite one."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        raise AdministrationError(
            f"{path} exists already; move it away or choose another path"
        ) from None
    with os.fdopen(fd, "w") as out:
        out.write(secret)


def write_agent_config(
    path: Path,
    secret_file: Path,
    *,
    api_url: str | None,
    region: str,
    access_key_id: str,
    secret_access_key: str,
    base: Path,
    s3_endpoint: str | None = None,
    destinations: Sequence[Destination] = (),
    written_by: str = "the YarraCloud administration",
) -> None:
    """Write the config and its secret file; neither may exist yet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_secret_file(secret_file, secret_access_key)
    text = agent_config_text(
        api_url=api_url,
        region=region,
        access_key_id=access_key_id,
        secret_file=secret_file,
        base=base,
        s3_endpoint=s3_endpoint,
        destinations=destinations,
        written_by=written_by,
    )
    try:
        with path.open("x") as out:
            out.write(text)
    except BaseException:
        secret_file.unlink(missing_ok=True)
        raise
