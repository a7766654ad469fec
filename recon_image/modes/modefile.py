"""Reading a Yarra ``.mode`` file into a typed :class:`Mode`.

The format is INI as the Yarra clients and server write it: UTF-8 or Latin-1,
``%`` is literal (macros such as ``%rid``), a repeated key or section is no
error. ``[PreProcessing]``, ``[Reconstruction]`` and ``[PostProcessing]`` hold
either one ``Bin``/``Args`` pair or numbered pairs ``Bin1``/``Args1`` …
``BinN``/``ArgsN``, run in number order after an unnumbered ``Bin``.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from contracts.yarra_ini import parse_yarra_ini
from recon_image.errors import ModeError

MODE_SUFFIX = ".mode"
_MODE_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$")
_NUMBERED_BIN = re.compile(r"^bin(\d+)$", re.IGNORECASE)

Stage = Literal["PreProcessing", "Reconstruction", "PostProcessing"]
STAGES: tuple[Stage, ...] = ("PreProcessing", "Reconstruction", "PostProcessing")


@dataclass(frozen=True)
class Step:
    """One program a mode runs.

    Attributes
    ----------
    stage
        The section it comes from.
    key
        ``Bin`` or ``BinN``, to name the step in messages.
    binary
        The ``Bin`` value as written (macros not yet expanded).
    args
        The ``Args`` value as written; empty when the mode gives none.
    """

    stage: Stage
    key: str
    binary: str
    args: str

    @property
    def label(self) -> str:
        return f"[{self.stage}] {self.key}={self.binary}"


@dataclass(frozen=True)
class Mode:
    """A parsed mode file.

    Attributes
    ----------
    mode_id
        The file's stem: what a task's ``ReconMode`` names.
    path
        Where the file was read from.
    client_config
        ``[ClientConfig]`` as written (keys keep their case; values are text).
    preprocessing, reconstruction, postprocessing
        The steps of each stage, in the order they run; ``reconstruction`` is never empty.
    options
        ``[Options]`` (``KeepRawdata`` …), keys as written.
    sections
        Every other section (module settings such as ``[PACSTransfer]``), keys as written.
    """

    mode_id: str
    path: Path
    client_config: MappingProxyType[str, str]
    preprocessing: tuple[Step, ...]
    reconstruction: tuple[Step, ...]
    postprocessing: tuple[Step, ...]
    options: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    sections: MappingProxyType[str, MappingProxyType[str, str]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    @property
    def name(self) -> str:
        """The name the clients show: ``[ClientConfig] Name``, else the mode id."""
        return self.client_config.get("Name", "").strip() or self.mode_id

    @property
    def steps(self) -> tuple[Step, ...]:
        """Every step in the order the runner executes them."""
        return self.preprocessing + self.reconstruction + self.postprocessing


def is_mode_id(value: str) -> bool:
    """Whether ``value`` can name a mode file (a plain name, never a path)."""
    return bool(_MODE_ID.match(value)) and ".." not in value


def parse_mode(data: bytes, *, mode_id: str, path: Path) -> Mode:
    """Parse the bytes of a mode file.

    Raises
    ------
    ModeError
        When the text is not INI or the mode has no reconstruction step.
    """
    try:
        parser = parse_yarra_ini(data, source=str(path), keep_case=True)
    except configparser.Error as exc:
        first_line = str(exc).splitlines()[0]
        raise ModeError(
            f"mode {mode_id!r} ({path.name}) is not a valid mode file ({first_line}); fix the"
            " file or choose another mode"
        ) from None
    sections = {name: dict(parser[name]) for name in parser.sections()}
    by_lower = {name.lower(): name for name in sections}

    def section(name: str) -> dict[str, str]:
        real = by_lower.get(name.lower())
        return sections[real] if real is not None else {}

    steps = {stage: _steps(stage, section(stage)) for stage in STAGES}
    if not steps["Reconstruction"]:
        raise ModeError(
            f"mode {mode_id!r} ({path.name}) has no reconstruction: its [Reconstruction]"
            " section needs a Bin (the program to run) and Args; fix the mode file"
        )
    known = {stage.lower() for stage in STAGES} | {"clientconfig", "options"}
    return Mode(
        mode_id=mode_id,
        path=path,
        client_config=MappingProxyType(section("ClientConfig")),
        preprocessing=steps["PreProcessing"],
        reconstruction=steps["Reconstruction"],
        postprocessing=steps["PostProcessing"],
        options=MappingProxyType(section("Options")),
        sections=MappingProxyType(
            {
                name: MappingProxyType(values)
                for name, values in sections.items()
                if name.lower() not in known
            }
        ),
    )


def load_mode(path: Path) -> Mode:
    """Read and parse one mode file; its stem is the mode id."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModeError(f"mode file {path} cannot be read ({exc.strerror})") from None
    return parse_mode(data, mode_id=path.stem, path=path)


def find_mode(modes_dir: Path, mode_id: str) -> Mode:
    """The mode ``mode_id`` from ``modes_dir`` (``{mode_id}.mode``).

    Raises
    ------
    ModeError
        When the id is not a plain name, or no such mode exists; the message
        lists the modes that do.
    """
    if not is_mode_id(mode_id):
        raise ModeError(
            f"{mode_id!r} is not a mode name; choose one of the modes the service offers"
        )
    path = modes_dir / f"{mode_id}{MODE_SUFFIX}"
    if not path.is_file():
        available = ", ".join(mode_ids(modes_dir)) or "none"
        raise ModeError(
            f"the reconstruction mode {mode_id!r} does not exist on this worker (available:"
            f" {available}); choose an available mode for this protocol"
        )
    return load_mode(path)


def mode_ids(modes_dir: Path) -> list[str]:
    """The ids of the mode files in ``modes_dir``, sorted."""
    if not modes_dir.is_dir():
        return []
    return sorted(
        p.stem for p in modes_dir.iterdir() if p.suffix == MODE_SUFFIX and is_mode_id(p.stem)
    )


def _steps(stage: Stage, values: dict[str, str]) -> tuple[Step, ...]:
    lower = {key.lower(): (key, value) for key, value in values.items()}
    found: list[tuple[int, Step]] = []
    if "bin" in lower and lower["bin"][1].strip():
        key, binary = lower["bin"]
        args = lower.get("args", ("Args", ""))[1]
        found.append((-1, Step(stage, key, binary.strip(), args.strip())))
    for key_lower, (key, binary) in lower.items():
        match = _NUMBERED_BIN.match(key_lower)
        if match and binary.strip():
            number = int(match.group(1))
            args = lower.get(f"args{match.group(1)}", ("", ""))[1]
            found.append((number, Step(stage, key, binary.strip(), args.strip())))
    found.sort(key=lambda item: item[0])
    return tuple(step for _, step in found)
