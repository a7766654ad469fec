"""The moto release the emulator's patches were written for, and the check that it is installed.

Every patch of moto here (:mod:`~scripts.local_cloud.moto_speed`,
:mod:`~scripts.local_cloud.s3_ranges`, :mod:`~scripts.local_cloud.moto_fidelity`) wraps or
replaces one small piece of moto's code as it is in this release. On another release the
piece may have moved, changed its arguments or been fixed, and a patch would then fail
somewhere far from its cause or silently do the wrong thing; so each refuses to run.
"""

from __future__ import annotations

from importlib.metadata import version

WRITTEN_FOR = "5.2.5"
"""The moto release every patch was written and tested against (pyproject.toml pins it)."""


class MotoVersionError(RuntimeError):
    """The installed moto is not the release the patches were written for."""


def require_written_for(installed: str | None = None) -> None:
    """Refuse to patch any moto but :data:`WRITTEN_FOR`, saying what to do instead."""
    installed = installed or version("moto")
    if installed != WRITTEN_FOR:
        raise MotoVersionError(
            f"the AWS emulator's patches were written for moto {WRITTEN_FOR}, but moto"
            f" {installed} is installed. Install the pinned moto (scripts/test does), or,"
            f" to move to {installed}: check each patch in scripts/local_cloud/moto_speed.py,"
            " s3_ranges.py and moto_fidelity.py against it (each docstring names the moto"
            " change that would make it unneeded), remove those moto has made unneeded,"
            " then set WRITTEN_FOR in scripts/local_cloud/moto_version.py and the pin in"
            " pyproject.toml"
        )
