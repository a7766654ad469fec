"""The macros of Yarra mode files and their expansion into a program's arguments.

A step's ``Bin`` and ``Args`` may use ``%rid`` (input folder), ``%rif`` (scan
file), ``%rit`` (task file), ``%rod`` (reconstruction output), ``%rin`` (task
name), ``%pid``/``%pod`` (post-processing input/output), ``%td`` (transfer
folder), ``%tmp`` (temporary folder), ``%bd`` (modules folder), ``%bu`` (user
modules), ``%md`` (modes folder), ``%mf`` (mode file name), ``%mc`` (mode file
path), ``%vacc`` (ACC, ``0`` if none), ``%vparam`` (the task's parameter,
``N`` if none), ``%vtid`` (task id), ``%vuid`` (task id and a unique id) and
``%hq`` (a literal double quote, to quote paths).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from recon_image.errors import ModeError


@dataclass(frozen=True)
class MacroValues:
    """What each macro stands for in one job (paths are absolute)."""

    input_dir: Path
    scan_file: Path
    task_file: Path
    recon_out_dir: Path
    task_name: str
    post_in_dir: Path
    post_out_dir: Path
    transfer_dir: Path
    tmp_dir: Path
    modules_dir: Path
    user_modules_dir: Path
    modes_dir: Path
    mode_file: Path
    acc: str
    param: str
    task_id: str
    unique_id: str

    def table(self) -> dict[str, str]:
        """Each macro (without ``%hq``) and its text."""
        return {
            "%rid": str(self.input_dir),
            "%rif": str(self.scan_file),
            "%rit": str(self.task_file),
            "%rod": str(self.recon_out_dir),
            "%rin": self.task_name,
            "%pid": str(self.post_in_dir),
            "%pod": str(self.post_out_dir),
            "%td": str(self.transfer_dir),
            "%tmp": str(self.tmp_dir),
            "%bd": str(self.modules_dir),
            "%bu": str(self.user_modules_dir),
            "%md": str(self.modes_dir),
            "%mf": self.mode_file.name,
            "%mc": str(self.mode_file),
            "%vacc": self.acc.strip() or "0",
            "%vparam": self.param.strip() or "N",
            "%vtid": self.task_id,
            "%vuid": f"{self.task_id}_{self.unique_id}",
        }


def _pattern(names: list[str]) -> re.Pattern[str]:
    # Longest first, so that %rid never takes the start of a longer macro.
    ordered = sorted(names, key=len, reverse=True)
    return re.compile("|".join(re.escape(name) for name in ordered))


def expand(text: str, values: MacroValues) -> str:
    """Replace every macro in ``text`` in one pass (a value holding ``%`` is left as it is).

    ``%hq`` becomes ``"``.
    """
    table = values.table()
    table["%hq"] = '"'
    return _pattern(list(table)).sub(lambda match: table[match.group()], text)


def command_line(binary: str, args: str, values: MacroValues) -> list[str]:
    """The argument vector of a step: ``Bin`` then ``Args``, split as a shell would split them.

    The words are split before the macros expand, so a folder whose path
    holds a space stays one argument; ``%hq`` quotes a word as ``"`` does.

    Raises
    ------
    ModeError
        When a quote is not closed.
    """
    template = f"{binary} {args}".replace("%hq", '"')
    try:
        words = shlex.split(template, posix=True)
    except ValueError as exc:
        raise ModeError(
            f"the mode's command line {template!r} cannot be split into arguments ({exc});"
            " close every quote (%hq) in the mode file"
        ) from None
    return [expand(word, values) for word in words]
