"""The ``.phi`` vault: the patient's identity for one task, kept at the site.

ORT writes ``cloud/phi/{uuid}.phi`` (INI)::

    [PHI]    NAME, DOB, MRN, ACC, UUID, TASKID, MODE
    [LOG]    CREATED, UPLOAD_BEGIN/END, PROCESSING_CREATED/BEGIN/END,
             DOWNLOAD_BEGIN/END, STORAGE_BEGIN/END, COMPLETED
    [STATUS] RESULT, DELAY, RETRY_UPLOAD, RETRY_DOWNLOAD, RETRY_STORAGE
    [STATS]  SHORTCODE, COST, DATASIZE_MB

The agent adds ``[REPLACED]``: what de-identification took out of the raw header,
field by field, so the vault alone holds it. Timestamps the agent writes into
``[LOG]`` are ISO 8601 with the local UTC offset (``2024-11-26T09:15:00+01:00``).

Values follow Qt's INI conventions, which ORT reads and writes: a value holding
``,`` ``;`` ``"`` ``\\``, a control character or surrounding blanks is written in
double quotes with backslash escapes, and ``\\xHHHH`` escapes are understood when
read. Sections and keys this module does not know are kept as they were.
"""

from __future__ import annotations

import configparser
import io
import logging
import re
import shutil
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, unquote

from agent.errors import BadTask
from agent.identity import PatientIdentity
from agent.private import private_folder, protect_file
from contracts.atomic_write import replace_file, sync_folder, write_atomically

LOG_EVENTS = (
    "CREATED",
    "UPLOAD_BEGIN",
    "UPLOAD_END",
    "PROCESSING_CREATED",
    "PROCESSING_BEGIN",
    "PROCESSING_END",
    "DOWNLOAD_BEGIN",
    "DOWNLOAD_END",
    "STORAGE_BEGIN",
    "STORAGE_END",
    "COMPLETED",
)
REPLACED = "REPLACED"
_DATE_FORMATS = ("%Y%m%d", "%Y-%m-%d", "%d.%m.%Y")
_NEEDS_QUOTES = re.compile(r'[,;"\\\x00-\x1f\x7f]|^\s|\s$')
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{1,4}|.)", re.S)
_log = logging.getLogger("yarracloud.agent.phi")
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


class PhiFile:
    """One task's ``.phi`` file, read whole; changes reach the disk with :meth:`save`."""

    def __init__(self, path: Path, parser: configparser.ConfigParser) -> None:
        self.path = Path(path)
        self._ini = parser

    @classmethod
    def load(cls, path: Path) -> PhiFile:
        """Read ``path``.

        Raises
        ------
        BadTask
            When it is missing, not INI, or has no ``[PHI]`` section.
        """
        path = Path(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BadTask(f"the vault file {path} is missing; export the scan again") from None
        except OSError as exc:
            raise BadTask(f"cannot read the vault file {path}: {exc.strerror}") from None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        parser = _new_parser()
        try:
            parser.read_string(text, source=str(path))
        except configparser.Error as exc:
            line = getattr(exc, "lineno", None)
            where = f" at line {line}" if line else ""
            raise BadTask(
                f"the vault file {path} is not an INI file{where}; export the scan again"
            ) from None
        if _section(parser, "PHI") is None:
            raise BadTask(f"the vault file {path} has no [PHI] section; export the scan again")
        return cls(path, parser)

    # -- [PHI] ------------------------------------------------------------------------

    @property
    def uuid(self) -> str:
        """``[PHI] UUID``, or the file's stem when ORT left it out."""
        return self.get("PHI", "UUID") or self.path.stem

    @property
    def mode(self) -> str:
        return self.get("PHI", "MODE")

    @property
    def task_id(self) -> str:
        return self.get("PHI", "TASKID")

    def identity(self, exam_date: str = "", exam_time: str = "") -> PatientIdentity:
        """The patient as re-identification writes them into the DICOM.

        ``NAME`` is taken as ``LAST^FIRST`` or ``LAST, FIRST``; ``DOB`` as ``YYYYMMDD``,
        ``YYYY-MM-DD`` or ``DD.MM.YYYY``.

        Raises
        ------
        BadTask
            When NAME or MRN is empty (the message names the field, never its value).
            A DOB in none of those forms is taken as absent, with a warning.
        """
        for key in ("NAME", "MRN"):
            if not self.get("PHI", key):
                raise BadTask(f"the vault file {self.path} has no [PHI] {key}; export again")
        return PatientIdentity(
            name=dicom_name(self.get("PHI", "NAME")),
            patient_id=self.get("PHI", "MRN"),
            birth_date=self._birth_date(),
            accession=self.get("PHI", "ACC"),
            task_uuid=self.uuid,
            exam_date=exam_date,
            exam_time=exam_time,
        )

    def _birth_date(self) -> str:
        found = birth_date(self.get("PHI", "DOB"))
        if found is None:
            _log.warning(
                "the vault file %s has [PHI] DOB in a form not understood (YYYYMMDD,"
                " YYYY-MM-DD or DD.MM.YYYY); the images get no birth date",
                self.path,
            )
            return ""
        return found

    # -- [LOG], [STATUS], [STATS] -------------------------------------------------------

    def log(self, event: str, when: datetime) -> None:
        """Set ``[LOG] event`` to ``when`` (naive means local time), ISO 8601 with offset."""
        if event not in LOG_EVENTS:
            raise ValueError(f"{event!r} is not a [LOG] key; one of {', '.join(LOG_EVENTS)}")
        self.set("LOG", event, when.astimezone().isoformat(timespec="seconds"))

    def logged(self, event: str) -> datetime | None:
        """When ``event`` was logged, or None when it was not (or in a form not ISO 8601)."""
        text = self.get("LOG", event)
        try:
            return datetime.fromisoformat(text) if text else None
        except ValueError:
            return None

    def set_status(
        self,
        *,
        result: str | None = None,
        delay: int | None = None,
        retry_upload: int | None = None,
        retry_download: int | None = None,
        retry_storage: int | None = None,
    ) -> None:
        """Set the ``[STATUS]`` keys given; the others stay."""
        values = {
            "RESULT": result,
            "DELAY": delay,
            "RETRY_UPLOAD": retry_upload,
            "RETRY_DOWNLOAD": retry_download,
            "RETRY_STORAGE": retry_storage,
        }
        for key, value in values.items():
            if value is not None:
                self.set("STATUS", key, str(value))

    def retries(self, kind: str) -> int:
        """``[STATUS] RETRY_{kind}`` (UPLOAD, DOWNLOAD or STORAGE) as a number; 0 when unset."""
        text = self.get("STATUS", f"RETRY_{kind.upper()}")
        return int(text) if text.isdigit() else 0

    def set_stats(
        self,
        *,
        cost: float | None = None,
        datasize_mb: float | None = None,
        shortcode: str | None = None,
    ) -> None:
        """Set the ``[STATS]`` keys given; the others stay."""
        if cost is not None:
            self.set("STATS", "COST", f"{cost:.6f}")
        if datasize_mb is not None:
            self.set("STATS", "DATASIZE_MB", f"{datasize_mb:.1f}")
        if shortcode is not None:
            self.set("STATS", "SHORTCODE", shortcode)

    # -- [REPLACED] ---------------------------------------------------------------------

    def record_replaced(self, replaced: Mapping[str, str]) -> None:
        """Keep what de-identification replaced (field name → original value), and only that.

        An earlier ``[REPLACED]`` section is replaced whole, so recording again after a
        retry leaves no stale entry.
        """
        existing = _section(self._ini, REPLACED)
        if existing is not None:
            self._ini.remove_section(existing)
        self._ini.add_section(REPLACED)
        for field, value in replaced.items():
            self._ini.set(REPLACED, quote(field, safe=""), encode_value(value))

    def replaced(self) -> dict[str, str]:
        """The ``[REPLACED]`` section, as recorded."""
        section = _section(self._ini, REPLACED)
        if section is None:
            return {}
        return {unquote(key): decode_value(raw) for key, raw in self._ini.items(section)}

    # -- any key ------------------------------------------------------------------------

    def get(self, section: str, key: str) -> str:
        """The value of ``[section] key`` (either in any case), decoded; '' when absent."""
        name = _section(self._ini, section)
        if name is None:
            return ""
        for option, raw in self._ini.items(name):
            if option.upper() == key.upper():
                return decode_value(raw)
        return ""

    def set(self, section: str, key: str, value: str) -> None:
        """Set ``[section] key``, keeping the spelling of an existing section or key."""
        name = _section(self._ini, section)
        if name is None:
            self._ini.add_section(section)
            name = section
        option = next((o for o in self._ini.options(name) if o.upper() == key.upper()), key)
        self._ini.set(name, option, encode_value(value))

    def save(self) -> None:
        """Write the file atomically (temporary file, flush, rename), for the agent's eyes only."""
        text = io.StringIO()
        self._ini.write(text, space_around_delimiters=False)
        write_atomically(self.path, text.getvalue().encode("utf-8"))


def archive(phi_path: Path, phi_archive_dir: Path) -> Path:
    """Move a finished ``.phi`` file into ``phi_archive_dir``; returns its new path.

    A file of the same name there (from an earlier run of the task) is replaced.
    """
    phi_path = Path(phi_path)
    target = Path(phi_archive_dir) / phi_path.name
    private_folder(target.parent)
    try:
        replace_file(phi_path, target)
    except OSError:
        if not phi_path.exists():
            raise
        shutil.copy2(phi_path, target)
        phi_path.unlink()
    protect_file(target)
    sync_folder(target.parent)
    sync_folder(phi_path.parent)
    return target


def birth_date(text: str) -> str | None:
    """A birth date as ``YYYYMMDD``: '' when ``text`` is blank, None when it is no date.

    ``text`` may be ``YYYYMMDD``, ``YYYY-MM-DD`` or ``DD.MM.YYYY``; a placeholder such
    as ``xxxxxxxx`` or an impossible day is no date.
    """
    text = text.strip()
    if not text:
        return ""
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).strftime("%Y%m%d")
        except ValueError:
            continue
    return None


def dicom_name(name: str) -> str:
    """``LAST, FIRST`` → ``LAST^FIRST``; a name already in DICOM form stays as it is."""
    name = name.strip()
    if "^" in name or "," not in name:
        return name
    last, first = name.split(",", 1)
    return f"{last.strip()}^{first.strip()}"


def encode_value(value: str) -> str:
    """A value as Qt's INI writer spells it: quoted with escapes when it needs them."""
    if not _NEEDS_QUOTES.search(value):
        return value
    out = []
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def decode_value(raw: str) -> str:
    """The text of an INI value as Qt writes them (quotes, backslash and ``\\x`` escapes)."""
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        raw = raw[1:-1]
    elif "\\" not in raw:
        return raw
    return _ESCAPE.sub(_unescape, raw)


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    if code[0] == "x" and len(code) > 1:
        return chr(int(code[1:], 16))
    return _SIMPLE_ESCAPES.get(code, code)


def _new_parser() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(
        interpolation=None, strict=False, delimiters=("=",), comment_prefixes=(";", "#")
    )
    parser.optionxform = str  # keys keep their spelling when written back
    return parser


def _section(parser: configparser.ConfigParser, name: str) -> str | None:
    return next((s for s in parser.sections() if s.upper() == name.upper()), None)
