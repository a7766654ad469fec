"""Running the Lambda package as Lambda runs it: unpacked, in a bare Python, handler by name.

Each function runs in its own process of a Python of the runtime's version started with
``-I -S`` (no site-packages, no user site, no PYTHONPATH), whose path holds only the
standard library and the unpacked package, as Lambda's ``/var/task``; ``-B``, since that
folder is read-only on Lambda. Each invocation gets its X-Ray trace header as Lambda sets
it (``_X_AMZN_TRACE_ID``, not sampled). Like a warm Lambda
container, the process keeps its handler between invocations.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_TF = REPO_ROOT / "terraform" / "modules" / "functions" / "main.tf"
RESOURCES_JSON = REPO_ROOT / "terraform" / "resources.json"

ZIP_LIMIT_BYTES = 50 * 1024 * 1024
"""Lambda's limit on a .zip uploaded directly (as Terraform's ``filename`` does)."""
UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024
"""Lambda's limit on a function's unzipped code and layers."""

# The runtime's loop: requests on stdin, answers on the process's own stdout; whatever the
# handler prints goes to stderr, as Lambda sends it to the function's log.
BOOTSTRAP = r"""
import importlib, json, os, sys, time, traceback
task_root, handler_name = sys.argv[1], sys.argv[2]
sys.path.insert(0, task_root)
answers = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)

class Context:
    def __init__(self, fields):
        self.__dict__.update(fields)
        self._deadline = time.monotonic() + fields["timeout_seconds"]

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))

module_name, _, function_name = handler_name.rpartition(".")
handler = getattr(importlib.import_module(module_name), function_name)
for line in sys.stdin:
    request = json.loads(line)
    if request.get("modules"):
        root = os.path.realpath(task_root) + os.sep
        files = [getattr(m, "__file__", None) or "" for m in list(sys.modules.values())]
        answer = {"files": sorted(f[len(root):] for f in files if f.startswith(root))}
    else:
        os.environ["_X_AMZN_TRACE_ID"] = request["trace_id"]
        try:
            answer = {"result": handler(request["event"], Context(request["context"]))}
        except Exception as error:
            answer = {"errorType": type(error).__name__, "errorMessage": str(error),
                      "stackTrace": traceback.format_exc()}
    answers.write(json.dumps(answer, default=str) + "\n")
    answers.flush()
"""


@dataclass(frozen=True)
class Declared:
    """What Terraform declares of the functions: the runtime and each function's handler."""

    python_version: str
    handlers: dict[str, str]
    """Function key (``api``, ``submit``, ...) to handler (``module.function``)."""


def declared_functions(
    functions_tf: Path = FUNCTIONS_TF, resources_json: Path = RESOURCES_JSON
) -> Declared:
    """Read the runtime and handler template from Terraform, the functions from resources.json.

    The functions module makes one function for ``api`` and for every queue's and
    schedule's ``function`` in resources.json (its ``local.timeouts``).
    """
    text = functions_tf.read_text()
    runtime = re.search(r'runtime\s*=\s*"python(3\.\d+)"', text)
    template = re.search(r'handler\s*=\s*"([^"]+)"', text)
    if runtime is None or template is None:
        raise ValueError(f"{functions_tf} declares no python runtime or no handler")
    resources = json.loads(resources_json.read_text())
    keys = {"api"} | {q["function"] for q in resources["queues"].values()}
    keys |= {s["function"] for s in resources["schedules"].values()}
    return Declared(
        python_version=runtime.group(1),
        handlers={key: template.group(1).replace("${each.key}", key) for key in sorted(keys)},
    )


def runtime_python(version: str) -> Path | None:
    """A Python interpreter of ``version`` (``3.11``) on this machine, else None.

    The one beneath this virtual environment when its version matches, since its
    standard library is complete; never the environment's own, which carries packages.
    """
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        candidate = Path(sys.base_prefix) / "bin" / f"python{version}"
        if candidate.is_file():
            return candidate
    for candidate in (Path(f"/usr/bin/python{version}"), Path(f"/usr/local/bin/python{version}")):
        if candidate.is_file():
            return candidate
    return None


class FunctionProcess:
    """One function of the unpacked package, warm in its own bare Python process."""

    def __init__(
        self,
        *,
        python: Path,
        task_root: Path,
        name: str,
        handler: str,
        environment: Mapping[str, str],
        timeout_seconds: float,
        region: str,
        account: str,
    ) -> None:
        self.name = name
        self.region = region
        self.account = account
        self.timeout_seconds = timeout_seconds
        env = {
            **environment,
            "LAMBDA_TASK_ROOT": str(task_root),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{python.name.removeprefix('python')}",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
        }
        self._proc = subprocess.Popen(
            [str(python), "-I", "-S", "-B", "-c", BOOTSTRAP, str(task_root), handler],
            cwd=task_root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(
                f"the {self.name} function's process ended (exit {self._proc.wait()});"
                " its log above says why"
            )
        return json.loads(line)

    def invoke(self, event: dict[str, Any], context: Any = None) -> Any:
        """Call the handler with ``event``; an exception it raises is raised here."""
        fields = {
            "function_name": self.name,
            "function_version": "$LATEST",
            "invoked_function_arn": (
                f"arn:aws:lambda:{self.region}:{self.account}:function:{self.name}"
            ),
            "memory_limit_in_mb": 512,
            "aws_request_id": str(uuid.uuid4()),
            "log_group_name": f"/aws/lambda/{self.name}",
            "log_stream_name": "local",
            "timeout_seconds": self.timeout_seconds,
        }
        trace_id = f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0"
        answer = self._ask({"event": event, "context": fields, "trace_id": trace_id})
        if "errorType" in answer:
            raise FunctionError(f"{self.name}: {answer['errorType']}: {answer['errorMessage']}")
        return answer["result"]

    def __call__(self, event: dict[str, Any], context: Any = None) -> Any:
        return self.invoke(event, context)

    def imported_files(self) -> list[str]:
        """The package's files the process has imported so far, relative to its root."""
        return self._ask({"modules": True})["files"]

    def stop(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        self._proc.wait(timeout=30)


class FunctionError(Exception):
    """A handler raised: Lambda's ``errorType`` and ``errorMessage``."""


def scheduled_event(rule: str, region: str, account: str) -> dict[str, Any]:
    """The event an EventBridge schedule sends its target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": "2026-12-01T06:00:00Z",
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account}:rule/{rule}"],
        "detail": {},
    }


def top_level_entries(task_root: Path) -> set[str]:
    """The package's top-level modules and packages (distribution metadata left out)."""
    return {
        path.name.split(".")[0]
        for path in task_root.iterdir()
        if not path.name.endswith((".dist-info", ".egg-info", ".pth")) and path.name != "bin"
    }
