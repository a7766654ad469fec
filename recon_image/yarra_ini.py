"""Reading the INI files of Yarra: task files and mode files.

The backend reads task files with the same rules (``functions/core/yarra_ini.py``);
the worker keeps its own reader because its image carries neither ``functions/``
nor that unit's dependencies.
"""

from __future__ import annotations

import configparser


def parse_yarra_ini(
    data: bytes, source: str, *, keep_case: bool = False
) -> configparser.ConfigParser:
    """A Yarra INI file: UTF-8 or Latin-1, ``%`` literal, repeated keys tolerated.

    ``keep_case`` keeps key names as written (a mode's ``Bin1``, ``Args1``);
    section names are always kept.

    Raises
    ------
    configparser.Error
        When the text is not INI; the caller says what it expected.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    if keep_case:
        parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text, source=source)
    return parser
