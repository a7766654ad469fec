"""The Orthanc PACS the tests start: see ``scripts/orthanc.py``, shared with the demo."""

from scripts.orthanc import (
    AE_TITLE,
    HOST,
    ORTHANC_BINARY,
    Orthanc,
    OrthancError,
    free_port,
    port_is_free,
)

__all__ = [
    "AE_TITLE",
    "HOST",
    "ORTHANC_BINARY",
    "Orthanc",
    "OrthancError",
    "free_port",
    "port_is_free",
]
