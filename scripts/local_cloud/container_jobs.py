"""Batch jobs as containers of the worker image, as an ECS agent on a Batch instance runs them.

The local Batch's switch from local processes (its fast default) to the image AWS runs:
the job definition's command replaces the image's default command, as ECS passes a job's
``command`` (the image has no entry point); the job's environment holds exactly the
variables Batch gives it; the image's own user and work folder apply; the job's vCPUs and
memory become the container's CPU and memory limits. The container shares the host's network, so the
emulator on loopback answers it at the same address as every other client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scripts.images import Engine


@dataclass(frozen=True)
class Launch:
    """How to start one attempt: the engine's command line and its environment."""

    argv: list[str]
    env: dict[str, str]


@dataclass(frozen=True)
class ContainerJobs:
    """Runs each job attempt as ``ENGINE run`` of ``image``.

    Parameters
    ----------
    engine
        The container engine that answered (see ``scripts.images.find_engine``).
    image
        The worker image's name, as the job definition's ``image``.
    limits
        Whether to set the job's vCPUs and memory as the container's limits; off where
        the machine's cgroups cannot enforce them.
    """

    engine: Engine
    image: str
    limits: bool = True

    def launch(
        self,
        name: str,
        command: Sequence[str],
        environment: Mapping[str, str],
        resources: Sequence[Mapping[str, str]],
    ) -> Launch:
        """The attempt ``name`` of a job with these command, environment and resources.

        The variables' values reach the container through the engine's environment
        (``--env NAME``), never its command line.
        """
        argv = [self.engine.command, "run", "--rm", "--name", name, "--network", "host"]
        for variable in sorted(environment):
            argv += ["--env", variable]
        if self.limits:
            wanted = {item["type"]: item["value"] for item in resources}
            if "VCPU" in wanted:
                argv += ["--cpus", wanted["VCPU"]]
            if "MEMORY" in wanted:
                memory = f"{wanted['MEMORY']}m"  # MiB, as Batch's MEMORY; no swap beyond it
                argv += ["--memory", memory, "--memory-swap", memory]
        argv += [self.image, *command]
        return Launch(argv=argv, env={**os.environ, **self.engine.env, **environment})

    def remove(self, name: str) -> None:
        """Remove the attempt's container if it is still there (its engine client was killed)."""
        self.engine.run(["rm", "--force", name], capture_output=True)
