"""What de-identifying one raw file produced: the patches to apply and what they replaced."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Deidentified:
    """The outcome of de-identifying one raw file.

    Attributes
    ----------
    patches
        ``(offset, bytes)`` pairs, each the same length as the bytes it
        replaces, sorted and non-overlapping; applied while uploading (TWIX).
        Empty when a de-identified copy was written instead (MRD).
    replaced
        Field name → original value, for the site's ``.phi`` vault only; never
        logged, never uploaded.
    software_version
        The scanner software as the header names it (``syngo MR E11``).
    exam_date, exam_time
        ``YYYYMMDD`` and ``HHMMSS`` of the exam as the header had it, '' if unknown.
    """

    patches: tuple[tuple[int, bytes], ...]
    replaced: dict[str, str]
    software_version: str
    exam_date: str
    exam_time: str
