"""Reading the INI files the Yarra clients write (task files, mode files)."""

from __future__ import annotations

import configparser


def parse_yarra_ini(data: bytes, source: str) -> configparser.ConfigParser:
    """A Yarra INI file: UTF-8 or Latin-1, ``%`` literal (``%00`` keys), repeats tolerated.

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
    parser.read_string(text, source=source)
    return parser
