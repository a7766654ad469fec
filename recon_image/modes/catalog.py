"""The ``[ClientConfig]`` of every mode in a folder, for a provisioning step to publish.

``python -m recon_image.modes.catalog [MODES_DIR]`` prints them as JSON (the
shipped modes when no folder is given).

The backend never reads the worker's modes folder: deployment (or the local
cloud) publishes what this returns into the mode catalog that ``v1/modes`` serves.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from recon_image.modes.modefile import MODE_SUFFIX, load_mode, mode_ids


def client_configs(modes_dir: Path) -> dict[str, dict[str, str]]:
    """Each mode's ``[ClientConfig]``, keyed by mode id (the file stem), in id order.

    ``Name`` is always present: a mode that gives none is named by its id.

    Raises
    ------
    ModeError
        When a mode file is broken; publishing it would offer a mode that cannot run.
    """
    configs: dict[str, dict[str, str]] = {}
    for mode_id in mode_ids(modes_dir):
        mode = load_mode(modes_dir / f"{mode_id}{MODE_SUFFIX}")
        configs[mode_id] = {**dict(mode.client_config), "Name": mode.name}
    return configs


def main(argv: Sequence[str] | None = None) -> int:
    """Print the client configs of ``argv[0]`` (default: the shipped modes) as JSON."""
    from recon_image.errors import ModeError
    from recon_image.settings import BUILTIN_MODES_DIR

    args = list(sys.argv[1:] if argv is None else argv)
    folder = Path(args[0]) if args else BUILTIN_MODES_DIR
    try:
        print(json.dumps(client_configs(folder), indent=2, ensure_ascii=False))
    except ModeError as error:
        print(error, file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
