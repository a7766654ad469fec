"""The images' sizes and the worker's start-up as its container, beside its subprocess.

    python -m scripts.bench.images [--rounds N] [--image REF]

Start-up is the time from launch to exit of ``python -m recon_image`` with no task in
its environment: the interpreter, the worker's imports and its settings check (which
refuses, exit 70), all of a job's fixed cost before its first byte of work. The
container (``ENGINE run --rm``, the image's default command) and the subprocess (this
checkout's virtual environment, as the local Batch's default runs it) alternate round by
round; each is printed as its median with the spread over rounds. ``scripts.bench.worker``
prints the same report first.

The images are built by ``scripts/images`` (as the tests and ``scripts/deploy`` build
them, here with the worker's full FFTW wisdom) unless ``--image`` names a built worker.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from scripts.images import (
    PORTAL,
    WORKER,
    Engine,
    build_base,
    build_image,
    find_engine,
    host_ca_bundle,
)

REPO = Path(__file__).resolve().parents[2]
SETTINGS_REFUSED = 70
"""The worker's exit code for a missing setting: it started and read its environment."""


def image_size(engine: Engine, ref: str) -> int:
    answer = engine.run(
        ["image", "inspect", "--format", "{{.Size}}", ref], capture_output=True, text=True
    )
    if answer.returncode != 0:
        raise SystemExit(f"no image {ref}: {answer.stderr.strip()}")
    return int(answer.stdout.strip())


def start_up(command: Sequence[str], env: dict[str, str] | None = None) -> float:
    """Seconds from launch to exit of a worker that refuses for want of a task."""
    start = time.perf_counter()
    done = subprocess.run(list(command), capture_output=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != SETTINGS_REFUSED:
        raise SystemExit(
            f"{' '.join(command[:3])} ended {done.returncode}, not {SETTINGS_REFUSED}:"
            f" {done.stderr.decode()[-2000:]}"
        )
    return seconds


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def report(engine: Engine, refs: dict[str, str], rounds: int) -> None:
    """Print each image's size and the worker's start-up, container beside subprocess."""
    print("\nimages (scripts/images):")
    for name, ref in refs.items():
        print(f"  {name:<8} {image_size(engine, ref) / 1e6:>8,.0f} MB  {ref}")
    container = [engine.command, "run", "--rm", refs["worker"]]
    process = [sys.executable, "-m", "recon_image"]
    timings: dict[str, list[float]] = {"container": [], "subprocess": []}
    for round_ in range(rounds):
        order = ("container", "subprocess") if round_ % 2 == 0 else ("subprocess", "container")
        for contender in order:
            if contender == "container":
                env = {**os.environ, **engine.env}
                timings["container"].append(start_up(container, env))
            else:
                timings["subprocess"].append(start_up(process, {"PATH": os.environ["PATH"]}))
    print(f"worker start-up to its settings check, seconds: median (min-max) of {rounds}:")
    for contender, values in timings.items():
        print(f"  {contender:<12} {spread(values):>20}")
    ratio = [c / s for c, s in zip(timings["container"], timings["subprocess"], strict=True)]
    print(f"  container / subprocess: {spread(ratio)}")


def built_images(engine: Engine, worker: str | None) -> dict[str, str]:
    """The base, worker and portal images, built unless ``worker`` names one."""
    base = build_base(engine)
    refs = {"base": base}
    for spec in (WORKER, PORTAL):
        if spec is WORKER and worker:
            refs[spec.name] = worker
            continue
        ref = f"localhost/yarracloud-{spec.name}:bench"
        refs[spec.name] = build_image(engine, spec, ref=ref, base=base, ca_bundle=host_ca_bundle())
    return refs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--image", help="a built worker image to time instead of building one")
    args = parser.parse_args(argv)
    engine = find_engine()
    if engine is None:
        print("no container engine answers here: no image figures", file=sys.stderr)
        return 1
    report(engine, built_images(engine, args.image), args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
