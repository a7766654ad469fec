"""A real Orthanc PACS on loopback ports in its own folder, and its REST API.

Used by the demo and by the tests. Orthanc runs from the Debian package
(``/usr/sbin/Orthanc``) with a configuration written for it alone: storage and
index in its own folder, no plugins, no authentication, DICOM AE title
``ORTHANC`` storing from any calling AE title. Its REST API refuses every client
but loopback; its DICOM port, for which Orthanc has no bind address, listens on
every interface for as long as it runs. Ports are free ones the OS hands out
unless given.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

ORTHANC_BINARY = Path("/usr/sbin/Orthanc")
AE_TITLE = "ORTHANC"
HOST = "127.0.0.1"
START_SECONDS = 60.0
POLL_SECONDS = 0.1

# Never let a proxy from the environment take a request to loopback elsewhere.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class OrthancError(RuntimeError):
    """Orthanc did not start, or its REST API answered with an error."""


def free_port() -> int:
    """A TCP port the OS hands out now: bound to port 0, read back, released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether ``port`` can be bound on every interface now (Orthanc's DICOM port binds there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("", port))
        except OSError:
            return False
        return True


class Orthanc:
    """One Orthanc process; ``start()`` it (or use ``with``), query it, ``stop()`` it.

    Parameters
    ----------
    work_dir
        Holds the configuration, the storage and the log (``orthanc.log``).
    binary
        The Orthanc executable.
    http_port, dicom_port
        The ports to listen on; 0 (the default) takes a free one.
    name
        The name Orthanc shows in its web interface.
    """

    def __init__(
        self,
        work_dir: Path,
        binary: Path = ORTHANC_BINARY,
        *,
        http_port: int = 0,
        dicom_port: int = 0,
        name: str = "YarraCloud test PACS",
    ) -> None:
        self.work_dir = work_dir
        self.binary = binary
        self.aet = AE_TITLE
        self.host = HOST
        self.name = name
        self._ports = (http_port, dicom_port)
        self.http_port = http_port
        self.dicom_port = dicom_port
        self.log_path = work_dir / "orthanc.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the REST API."""
        return f"http://{self.host}:{self.http_port}"

    def start(self) -> Orthanc:
        """Starts Orthanc and returns once its REST API answers.

        A port handed out by the OS can be taken by another process before
        Orthanc binds it, so a failed start is tried once more on new ports. A
        port given explicitly that is busy stops with a message naming it.

        Raises
        ------
        OrthancError
            When a given port is busy, or Orthanc does not start.
        """
        self.work_dir.mkdir(parents=True, exist_ok=True)
        for what, port in zip(("HTTP", "DICOM"), self._ports, strict=True):
            if port and not port_is_free(port):
                raise OrthancError(
                    f"port {port} (Orthanc's {what} port) is busy: stop what listens on it"
                    " or choose another port"
                )
        try:
            self._launch()
        except OrthancError:
            self.stop()
            if all(self._ports):
                raise
            self._launch()
        return self

    def stop(self) -> None:
        """Terminates Orthanc, and kills it if it does not end within 10 seconds."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> Orthanc:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _launch(self) -> None:
        self.http_port = self._ports[0] or free_port()
        self.dicom_port = self._ports[1] or free_port()
        config = self.work_dir / "orthanc.json"
        config.write_text(json.dumps(self._config(), indent=2))
        with self.log_path.open("ab") as log:
            # Its own session: a Ctrl-C at the terminal reaches whoever started it, who stops it.
            self._process = subprocess.Popen(
                [str(self.binary), str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            try:
                # A bounded wait on the process is the pause between polls, and tells of an exit.
                code = self._process.wait(timeout=POLL_SECONDS)
            except subprocess.TimeoutExpired:
                if self._answers():
                    return
                continue
            raise OrthancError(f"Orthanc exited with {code} while starting: {self._log_tail()}")
        raise OrthancError(
            f"Orthanc's REST API did not answer within {START_SECONDS:.0f} s: {self._log_tail()}"
        )

    def _config(self) -> dict[str, Any]:
        storage = str(self.work_dir / "storage")
        return {
            "Name": self.name,
            "StorageDirectory": storage,
            "IndexDirectory": storage,
            "StorageCompression": False,
            "Plugins": [],
            "HttpServerEnabled": True,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "HttpThreadsCount": 4,
            "DicomServerEnabled": True,
            "DicomAet": self.aet,
            "DicomPort": self.dicom_port,
            "DicomCheckCalledAet": True,
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": True,
            "DicomCheckModalityHost": False,
            "DicomModalities": {},
            "DicomThreadsCount": 2,
            "ConcurrentJobs": 1,
            "SaveJobs": False,
        }

    def _answers(self) -> bool:
        """Whether both the REST API and the DICOM port accept connections now."""
        try:
            self.get("/system")
        except (OrthancError, OSError):
            return False
        try:
            with socket.create_connection((self.host, self.dicom_port), timeout=1):
                return True
        except OSError:
            return False

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    def get(self, path: str) -> Any:
        """GET ``path`` of the REST API and decode its JSON answer."""
        return json.loads(self.get_bytes(path))

    def get_bytes(self, path: str) -> bytes:
        """GET ``path`` of the REST API as it comes (an instance's ``/preview`` is a PNG)."""
        try:
            with _OPENER.open(f"{self.url}{path}", timeout=10) as answer:
                return answer.read()
        except urllib.error.HTTPError as error:
            raise OrthancError(f"GET {path}: HTTP {error.code} {error.read()[:500]!r}") from error

    def studies(self) -> list[str]:
        """Orthanc's ids of the stored studies."""
        return self.get("/studies")

    def series(self) -> list[str]:
        """Orthanc's ids of the stored series."""
        return self.get("/series")

    def instances(self) -> list[str]:
        """Orthanc's ids of the stored instances."""
        return self.get("/instances")

    def series_info(self, series_id: str) -> dict[str, Any]:
        """One series: its ``MainDicomTags``, ``Instances`` and ``ParentStudy``."""
        return self.get(f"/series/{series_id}")

    def tags(self, instance_id: str) -> dict[str, Any]:
        """An instance's tags by keyword, as Orthanc stored them."""
        return self.get(f"/instances/{instance_id}/simplified-tags")
