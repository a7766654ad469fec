"""Reading the INI files the Yarra clients write: task files and mode files."""

from __future__ import annotations

import configparser


def parse_yarra_ini(
    data: bytes, source: str, *, keep_case: bool = False
) -> configparser.ConfigParser:
    """A Yarra INI file: UTF-8 or Latin-1, ``%`` literal (``%00`` keys), repeats tolerated.

    Keys are lower-cased, so they are looked up in any case; ``keep_case`` keeps them
    as written instead (a mode's ``Bin1``, ``Args1``), and a lookup must then spell
    them so. Section names are always kept.

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
