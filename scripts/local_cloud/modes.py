"""Publishes a folder of Yarra mode files into the mode catalog, as deployment does.

The backend never reads the worker's modes folder; ``v1/modes`` serves the
catalog this writes. The local cloud publishes the worker's built-in modes when
it starts; ``scripts/admin mode publish --folder DIR`` publishes any folder.
"""

from __future__ import annotations

from pathlib import Path

from functions.core.models import ModeCatalog
from functions.core.modes import validate_client_config
from recon_image.modes.catalog import client_configs
from recon_image.settings import BUILTIN_MODES_DIR


def publish_modes(folder: Path = BUILTIN_MODES_DIR) -> list[str]:
    """Put every mode's ``[ClientConfig]`` from ``folder`` into the catalog; their ids.

    Raises
    ------
    recon_image.errors.ModeError
        When a mode file cannot run; nothing of the folder is published then.
    functions.core.modes.InvalidClientConfig
        When a ``[ClientConfig]`` value is out of range.
    """
    entries = [
        ModeCatalog(mode_id, client_config=validate_client_config(config), disabled=False)
        for mode_id, config in client_configs(folder).items()
    ]
    for entry in entries:
        entry.save()
    return [entry.mode_id for entry in entries]
