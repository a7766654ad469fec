"""Where to go after signing in: only a path on this site, never another origin."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(target: str | None, default: str) -> str:
    """``target`` when it is a same-origin relative path, otherwise ``default``.

    Refused: absolute URLs, scheme-relative ``//host`` and ``/\\host`` (browsers
    read a backslash as a slash), anything with a scheme or host, control
    characters, and paths not starting with ``/``.
    """
    if not target:
        return default
    if any(ord(ch) < 32 or ch == "\\" for ch in target):
        return default
    if not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
