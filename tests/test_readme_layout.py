"""The README's layout section agrees with the tree: what it names exists, and every
package of ours is named."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_QUOTED = re.compile(r"`([^`\s]+)`")


def layout_items() -> list[str]:
    """The layout section's bullets, each one string."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("\nLayout:\n")
    end = readme.index("\n\n", readme.index("\n- ", start))
    return [" ".join(item.split()) for item in readme[start:end].split("\n- ")[1:]]


def named_paths(item: str) -> list[str]:
    return [name for name in _QUOTED.findall(item) if "/" in name and "." not in name[:1]]


def exists(path: str, base: Path) -> bool:
    """``path`` (``<name>`` standing for any name) under ``base``."""
    return any(base.glob(re.sub(r"<\w+>", "*", path.rstrip("/"))))


def test_every_path_the_layout_names_exists():
    items = layout_items()
    assert len(items) >= 3
    missing = []
    for item in items:
        paths = named_paths(item)
        folder = ROOT / paths[0]
        missing += [p for p in paths if not (exists(p, ROOT) or exists(p, folder))]
    assert not missing, f"the README's layout names what the tree lacks: {missing}"


def test_every_package_of_ours_is_in_the_layout():
    named = {path.rstrip("/") for item in layout_items() for path in named_paths(item)}
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert {"functions", "administration", "portal_flask"} <= packages
    assert not packages - named, f"the README's layout leaves out {sorted(packages - named)}"
    backend = {p.parent.name for p in (ROOT / "functions").glob("*/__init__.py")}
    in_backend_item = {path.split("/")[0] for path in named_paths(layout_items()[0])}
    assert not backend - in_backend_item, f"functions/ has {sorted(backend - in_backend_item)}"
