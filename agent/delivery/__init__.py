"""Delivery of a task's re-identified images to the site's destinations (PACS or folder)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agent.delivery.dicom_store import echo, store_series
from agent.delivery.folder import copy_series
from contracts.destination import Destination

__all__ = ["copy_series", "deliver", "echo", "store_series"]


def deliver(files: Sequence[Path], destination: Destination, *, subfolder: str) -> None:
    """Deliver ``files`` to ``destination``: C-STORE to a PACS, or a copy into ``subfolder``.

    Raises
    ------
    DeliveryError
        When the destination did not take every file; delivering again is safe.
    """
    if destination.method == "PACS":
        store_series(files, destination)
    else:
        copy_series(files, destination, subfolder)
