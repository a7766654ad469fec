"""Names of the deployment's resources, read from its description (``terraform/resources.json``).

The backend's settings carry the table names; everything else (the site users'
IAM group, the dead-letter queues) follows from the same prefix, which is read
back from the task table's name through the description's own template.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from functions.core.settings import Settings

DESCRIPTION_FILE = Path(__file__).resolve().parents[1] / "terraform" / "resources.json"


def load_description(path: Path = DESCRIPTION_FILE) -> dict[str, Any]:
    """The deployment description."""
    return json.loads(Path(path).read_text())


@functools.cache
def description() -> dict[str, Any]:
    """This checkout's deployment description, read once."""
    return load_description()


def prefix_of(description: Mapping[str, Any], settings: Settings) -> str:
    """The deployment's name prefix, read back from its task table's name."""
    template = str(description["tables"]["task"]["name"])
    head, _, tail = template.partition("{prefix}")
    table = settings.task_table
    if not (table.startswith(head) and table.endswith(tail) and len(table) > len(head + tail)):
        raise ValueError(
            f"the task table {table!r} does not follow the deployment description ({template!r})"
        )
    return table[len(head) : len(table) - len(tail)]


def resolve(template: str, description: Mapping[str, Any], settings: Settings) -> str:
    """``template`` with ``{prefix}`` and ``{region}`` filled in for this deployment."""
    prefix = prefix_of(description, settings)
    return template.replace("{prefix}", prefix).replace("{region}", settings.region)


def site_user_group(description: Mapping[str, Any], settings: Settings) -> str:
    """The IAM group every site user belongs to."""
    return resolve(str(description["site_users"]["group"]), description, settings)


def site_user_path(description: Mapping[str, Any], settings: Settings) -> str:
    """The IAM path site users are created under; the portal may manage no user outside it."""
    return resolve(str(description["site_users"]["path"]), description, settings)
