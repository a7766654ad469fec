"""The worker's Dockerfile, checked without a Docker engine: what it names must exist."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

from tests.helpers.imports import import_closure

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "recon_image" / "Dockerfile"
IGNORE = REPO / "recon_image" / "Dockerfile.dockerignore"


def instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` in order, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    result = []
    for text in logical:
        keyword, _, rest = text.strip().partition(" ")
        result.append((keyword.upper(), rest.strip()))
    return result


def of(keyword: str) -> list[str]:
    return [rest for name, rest in instructions() if name == keyword]


def env() -> dict[str, str]:
    values = {}
    for rest in of("ENV"):
        for word in shlex.split(rest):
            name, _, value = word.partition("=")
            values[name] = value
    return values


def in_image(path: str) -> Path:
    """Where an image path under the WORKDIR comes from in the repository."""
    workdir = of("WORKDIR")[-1]
    assert path.startswith(workdir + "/"), f"{path} lies outside the WORKDIR {workdir}"
    return REPO / path[len(workdir) + 1 :]


def test_the_base_is_a_build_argument() -> None:
    order = [name for name, _ in instructions()]
    assert of("FROM") == ["${BASE}"]
    assert order.index("ARG") < order.index("FROM")
    assert of("ARG")[0].split("=")[0] == "BASE"


def test_every_copy_source_exists_and_the_build_context_keeps_it() -> None:
    kept = {line[1:].rstrip("/") for line in IGNORE.read_text().splitlines() if line[:1] == "!"}
    sources = []
    for rest in of("COPY"):
        words = [w for w in shlex.split(rest) if not w.startswith("--")]
        sources += words[:-1]
    assert sources
    for source in sources:
        assert (REPO / source).exists(), f"COPY {source}: no such file in the repository"
        assert source.rstrip("/") in kept, f"COPY {source} is excluded from the build context"


def test_the_image_carries_every_package_of_ours_the_worker_imports() -> None:
    copied = {shlex.split(rest)[0].rstrip("/") for rest in of("COPY")}
    needed = import_closure("recon_image")
    assert "contracts" in needed
    assert needed <= copied, f"the worker image lacks {sorted(needed - copied)}"


def test_pip_installs_an_extra_that_pyproject_defines() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    installs = [re.search(r"pip install [^&]*?(\S+)$", rest) for rest in of("RUN")]
    assert [m.group(1) for m in installs if m] == ['".[recon]"']
    assert "recon" in extras


def test_wisdom_is_made_at_build_where_the_worker_loads_it() -> None:
    runs = " && ".join(of("RUN"))
    match = re.search(r"python -m (recon_image\.pipeline\.wisdom) (\S+)", runs)
    assert match, "the build does not generate FFTW wisdom"
    module, out_file = match.groups()
    assert (REPO / (module.replace(".", "/") + ".py")).is_file(), f"no module {module}"
    assert env()["YC_FFTW_WISDOM"] == out_file


def test_the_modes_folder_the_image_names_is_in_the_repository() -> None:
    modes = in_image(env()["YC_MODES_DIR"])
    assert sorted(p.name for p in modes.glob("*.mode"))


def test_the_job_definitions_command_replaces_the_default_command_and_no_entry_point() -> None:
    """Batch passes the job definition's ``command`` as the container's command: with an
    entry point as well, the container would run ``python -m recon_image python -m ...``."""
    resources = json.loads((REPO / "terraform" / "resources.json").read_text())
    command = resources["batch"]["job_definition"]["command"]
    assert of("ENTRYPOINT") == []
    assert json.loads(of("CMD")[-1]) == command == ["python", "-m", "recon_image"]
    assert (REPO / "recon_image" / "__main__.py").is_file()


def test_the_worker_does_not_run_as_root() -> None:
    users = of("USER")
    assert users, "no USER: the container would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    order = [name for name, _ in instructions()]
    last_user = max(i for i, name in enumerate(order) if name == "USER")
    assert order.index("CMD") > last_user
    assert re.search(r"useradd .*--uid " + users[-1].split(":")[0], " ".join(of("RUN")))
