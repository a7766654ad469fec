"""The container images, built for the tests by the same code as ``scripts/deploy``.

One build per test session: the base from Debian packages, then the worker (with FFTW
wisdom planned only for the shapes the tests reconstruct) and the portal. The engine
keeps its storage between sessions where the machine does, so an unchanged base is
reused and unchanged layers come from the build cache.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field

import pytest

from scripts.images import (
    REPO_ROOT,
    WORKER,
    Engine,
    ImageError,
    ImageSpec,
    build_base,
    build_image,
    find_engine,
    host_ca_bundle,
)

CHECKOUT = hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:12]
"""Tags the test images per checkout: two checkouts on one machine share the engine."""
TEST_WISDOM = "--only --slices 4,64,64 --slices 1,160,160"
"""The shapes the image tests reconstruct: the 4-slice 64² phantom and the real E11 file."""


@dataclass
class BuiltImages:
    """The engine, the base and each image built so far, with how long each took."""

    engine: Engine
    base: str = ""
    built: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def image(self, spec: ImageSpec) -> str:
        if spec.name in self.built:
            return self.built[spec.name]
        try:
            if not self.base:
                start = time.perf_counter()
                self.base = build_base(self.engine)
                self.seconds["base"] = time.perf_counter() - start
            start = time.perf_counter()
            ref = build_image(
                self.engine,
                spec,
                ref=f"localhost/yarracloud-{spec.name}:test-{CHECKOUT}",
                base=self.base,
                build_args={"WISDOM_ARGS": TEST_WISDOM} if spec is WORKER else {},
                ca_bundle=host_ca_bundle(),
            )
        except ImageError as error:
            pytest.fail(f"building the {spec.name} image failed: {error}")
        self.seconds[spec.name] = time.perf_counter() - start
        self.built[spec.name] = ref
        print(f"\nimage build times (s): {self.seconds}")
        return ref


def session_images() -> BuiltImages:
    """The session's images; skips, saying why, where no container engine runs.

    In CI (``CI`` set) it fails instead: a skipped image test there proves nothing.
    """
    engine = find_engine()
    if engine is None:
        message = (
            "no container engine answers here: the image tests need podman with runc and"
            " mmdebstrap (scripts/test installs them when run as root)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return BuiltImages(engine)
