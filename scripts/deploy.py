"""``scripts/deploy REGION [--dry-run]``: one region, from source to a running deployment.

Steps, in order:

1. the Lambda package ``build/functions.zip``: the modules of ours the handlers import
   (``functions/`` and ``contracts/``; ``scripts/lambda_package.py``) with the
   ``functions`` extra's pinned dependencies, built for Lambda's Linux and Python 3.11;
2. ``terraform init`` of the region root ``terraform/region/`` with the region's
   ``REGION.backend.hcl`` (S3 state, DynamoDB lock), keeping the region's working data
   in ``.terraform/REGION`` so that regions never share a backend, and an apply of the
   images' ECR repositories alone, so the images have somewhere to go;
3. the worker image (``recon_image/Dockerfile``) and, in the region that hosts the portal
   (``portal = true`` in its ``REGION.tfvars``), the portal image
   (``portal_flask/Dockerfile``), built on the Debian base by ``scripts/images`` (as the
   tests build them), tagged with the commit, pushed; the engine is the one that
   answers (a ``docker`` client without a daemon does not); where none does, these
   steps are printed instead;
4. ``terraform apply`` of the whole region with ``REGION.tfvars``, that package and those
   image tags;
5. the mode catalog: every mode file the image carries, published into the region's
   ``mode_catalog`` table (the same code as ``scripts/admin mode publish``);
6. in the portal's region, the database migrations' command: a one-off task of the
   portal's task definition running ``python -m portal_flask migrate`` in the service's
   own subnets, printed for the operator to run once per release.

``--dry-run`` builds the package and prints every other step without running it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scripts.images import (
    IMAGES,
    Base,
    Engine,
    ImageError,
    build_base,
    build_command,
    find_engine,
    host_ca_bundle,
)
from scripts.lambda_package import package_files

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = REPO_ROOT / "build"
REGION_ROOT = REPO_ROOT / "terraform" / "region"
"""The root every region applies, with its own ``REGION.tfvars`` and ``REGION.backend.hcl``."""
LAMBDA_PLATFORM = ("--platform", "manylinux2014_x86_64", "--python-version", "3.11")
ZIP_TIME = (2020, 1, 1, 0, 0, 0)
"""Every entry's timestamp, so an unchanged source gives an identical package."""


@dataclass(frozen=True)
class Image:
    """One container image the region runs, and where Terraform names it."""

    name: str
    """Its name in ``scripts.images.IMAGES``."""
    repository_output: str
    """The root's output holding the image's ECR repository URL."""
    ecr_target: str
    """The repository's resource address, applied alone before the push."""
    tag_variable: str
    """The root's variable the commit tag is passed in."""


WORKER = Image(
    name="worker",
    repository_output="worker_repository_url",
    ecr_target="module.stack.module.batch.aws_ecr_repository.worker",
    tag_variable="worker_image_tag",
)
PORTAL = Image(
    name="portal",
    repository_output="portal_repository_url",
    ecr_target="module.stack.module.portal[0].aws_ecr_repository.portal",
    tag_variable="portal_image_tag",
)
PORTAL_CONTAINER = "portal"
"""The container's name in the portal's task definition (terraform/modules/portal)."""


class DeployError(Exception):
    """A step failed; the message says which and what to do."""


def pinned_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The ``functions`` extra of pyproject.toml: what the Lambda package carries."""
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    return list(extras["functions"])


def build_lambda_zip(
    out: Path,
    requirements: Sequence[str],
    run: Callable[[Sequence[str]], None],
    root: Path = REPO_ROOT,
) -> Path:
    """Install ``requirements`` for Lambda's platform and zip them with the handlers' modules.

    Of ``root``'s source, only what the handlers import goes in
    (:func:`scripts.lambda_package.package_files`).
    """
    deps = out.parent / "lambda-deps"
    shutil.rmtree(deps, ignore_errors=True)
    if requirements:
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--target",
                str(deps),
                *LAMBDA_PLATFORM,
                "--only-binary=:all:",
                *requirements,
            ]
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    files = [(p, p.relative_to(deps)) for p in sorted(deps.rglob("*")) if p.is_file()]
    files += [(path, Path(name)) for path, name in package_files(root)]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, name in files:
            if path.suffix == ".pyc" or "__pycache__" in name.parts:
                continue
            info = zipfile.ZipInfo(str(name), date_time=ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return out


def image_tag(cwd: Path = REPO_ROOT) -> str:
    """The commit the image is built from (``-dirty`` with uncommitted changes)."""
    result = subprocess.run(
        ["git", "describe", "--always", "--dirty", "--abbrev=12"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "unversioned"


def image_steps(
    engine: Engine,
    images: Sequence[tuple[str, str]],
    tag: str,
    region: str,
    *,
    base: str,
    ca_bundle: Path | None = None,
) -> list[list[str]]:
    """Log in to each ECR registry once, then build each image on ``base`` and push it.

    ``images`` holds ``(image name, repository URL)`` pairs (names of
    ``scripts.images.IMAGES``); every image gets ``tag``.
    """
    registries = dict.fromkeys(repository.split("/", 1)[0] for _, repository in images)
    steps = [
        [
            "sh",
            "-c",
            f"aws ecr get-login-password --region {region} | {engine.command} login"
            f" --username AWS --password-stdin {registry}",
        ]
        for registry in registries
    ]
    for name, repository in images:
        ref = f"{repository}:{tag}"
        spec = IMAGES[name]
        steps.append(build_command(engine, spec, ref=ref, base=base, ca_bundle=ca_bundle))
        steps.append([engine.command, "push", ref])
    return steps


def tfvars_scalar(tfvars: Path, name: str) -> str | None:
    """The value of a top-level ``name = "text"`` or ``name = true`` line, else None."""
    pattern = re.compile(rf'^\s*{re.escape(name)}\s*=\s*("([^"]*)"|[A-Za-z0-9_.-]+)\s*(#.*)?$')
    for line in tfvars.read_text().splitlines():
        match = pattern.match(line)
        if match:
            return match.group(2) if match.group(2) is not None else match.group(1)
    return None


def migration_steps(prefix: str, region: str) -> list[str]:
    """The portal's migrations as shell lines: a one-off task of its task definition.

    The task runs ``python -m portal_flask migrate`` in the portal service's own subnets
    and security group (read from the service); the last line prints its exit code.
    """
    cluster = service = family = f"{prefix}-portal"
    overrides = {
        "containerOverrides": [
            {"name": PORTAL_CONTAINER, "command": ["python", "-m", "portal_flask", "migrate"]}
        ]
    }
    ecs = ["aws", "ecs"]
    where = ["--region", region, "--cluster", cluster]
    network = [*ecs, "describe-services", *where, "--services", service]
    network += ["--query", "services[0].networkConfiguration", "--output", "json"]
    run_task = [*ecs, "run-task", *where, "--launch-type", "FARGATE", "--task-definition", family]
    run_task += ["--overrides", json.dumps(overrides, separators=(",", ":"))]
    run_task += ["--query", "tasks[0].taskArn", "--output", "text"]
    exit_code = [*ecs, "describe-tasks", *where, "--query", "tasks[0].containers[0].exitCode"]
    return [
        f'task=$({shlex.join(run_task)} --network-configuration "$({shlex.join(network)})")',
        f'{shlex.join([*ecs, "wait", "tasks-stopped", *where])} --tasks "$task"',
        f'{shlex.join(exit_code)} --output text --tasks "$task"  # 0: migrated',
    ]


@dataclass
class Deployer:
    """The steps of one region's deployment; ``dry_run`` prints instead of running."""

    region: str
    dry_run: bool = False
    say: Callable[[str], None] = print
    tag: str = field(default_factory=image_tag)
    ca_bundle: Path | None = field(default_factory=host_ca_bundle)
    """The CA bundle pip needs in an image build, passed as a build secret."""

    @property
    def tfvars(self) -> Path:
        return REGION_ROOT / f"{self.region}.tfvars"

    @property
    def backend(self) -> Path:
        return REGION_ROOT / f"{self.region}.backend.hcl"

    @property
    def terraform_env(self) -> dict[str, str]:
        """The region's own working folder, so no command reads another region's backend."""
        return {"TF_DATA_DIR": f".terraform/{self.region}"}

    def images(self) -> list[Image]:
        """The worker image everywhere; the portal's too where this region hosts it."""
        hosts_portal = tfvars_scalar(self.tfvars, "portal") == "true"
        return [WORKER, PORTAL] if hosts_portal else [WORKER]

    def run(
        self,
        command: Sequence[str],
        *,
        cwd: Path = REPO_ROOT,
        env: Mapping[str, str] | None = None,
    ) -> None:
        settings = [f"{name}={value}" for name, value in (env or {}).items()]
        self.say("$ " + shlex.join([*settings, *command]))
        if self.dry_run:
            return
        environment = {**os.environ, **(env or {})}
        if subprocess.run(list(command), cwd=cwd, env=environment, check=False).returncode != 0:
            raise DeployError(f"`{shlex.join(command)}` failed; fix it and run again")

    def output(self, name: str) -> str:
        if self.dry_run:
            return f"<terraform output {name}>"
        result = subprocess.run(
            ["terraform", "output", "-raw", name],
            cwd=REGION_ROOT,
            env={**os.environ, **self.terraform_env},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise DeployError(f"terraform has no output {name}: {result.stderr.strip()}")
        return result.stdout.strip()

    def deploy(self) -> None:
        self.check_region_files()
        package = BUILD_DIR / "functions.zip"
        self.say(f"Building {package} ...")
        build_lambda_zip(package, pinned_requirements(), self._build_run)
        images = self.images()
        tf = ["terraform", f"-chdir={os.path.relpath(REGION_ROOT, REPO_ROOT)}"]
        env = self.terraform_env
        variables = [f"-var-file={self.tfvars.name}", f"-var=lambda_zip={package}"]
        variables += [f"-var={image.tag_variable}={self.tag}" for image in images]
        targets = [f"-target={image.ecr_target}" for image in images]
        self.run([*tf, "init", "-input=false", f"-backend-config={self.backend.name}"], env=env)
        self.run([*tf, "apply", "-input=false", *targets, *variables], env=env)
        engine = find_engine()
        if engine is None and not self.dry_run:
            raise DeployError(
                "no container engine (docker or podman) answers: the images cannot"
                " be built here; run on a machine with one, or see --dry-run's steps"
            )
        if engine is None:
            self.say("No container engine here; the image steps would be:")
        engine = engine or Engine("docker")
        base = self.base_image(engine)
        built = [(image.name, self.output(image.repository_output)) for image in images]
        for step in image_steps(
            engine, built, self.tag, self.region, base=base, ca_bundle=self.ca_bundle
        ):
            self.run(step, env=engine.env)
        self.run([*tf, "apply", "-input=false", *variables], env=env)
        self.publish_modes()
        if PORTAL in images:
            prefix = tfvars_scalar(self.tfvars, "prefix") or "yarracloud"
            self.say("Then run the portal's database migrations, once per release:")
            for line in migration_steps(prefix, self.region):
                self.say("$ " + line)

    def check_region_files(self) -> None:
        """Refuse a region without both of its files, or whose variables name another."""
        known = ", ".join(sorted(p.stem for p in REGION_ROOT.glob("*.tfvars")))
        where = os.path.relpath(REGION_ROOT, REPO_ROOT)
        missing = [p.name for p in (self.tfvars, self.backend) if not p.is_file()]
        if missing:
            raise DeployError(
                f"no Terraform settings for {self.region}: {where}/ lacks {' and '.join(missing)}"
                f"; the regions are {known}. Add a region with these two files, copied from"
                ' another region\'s and edited (README.md, "From here to a real AWS region")'
            )
        named = tfvars_scalar(self.tfvars, "region")
        if named != self.region:
            raise DeployError(
                f"{where}/{self.tfvars.name} sets region = {named!r}; set it to"
                f" {self.region!r}, the region its file is named for"
            )

    def base_image(self, engine: Engine) -> str:
        """The images' Debian base: made unless the engine holds it; printed in a dry run."""
        base = Base()
        if self.dry_run:
            self.run(base.command(Path("rootfs.tar")))
            self.run([engine.command, "import", "rootfs.tar", base.ref])
            return base.ref
        try:
            return build_base(engine, base, run=lambda command: self.run(command, env=engine.env))
        except ImageError as error:
            raise DeployError(f"the images' base: {error}") from None

    def _build_run(self, command: Sequence[str]) -> None:
        self.say("$ " + shlex.join(command))
        if subprocess.run(list(command), check=False).returncode != 0:
            raise DeployError("installing the Lambda package's dependencies failed (see above)")

    def publish_modes(self) -> None:
        from recon_image.modes.catalog import client_configs
        from recon_image.settings import BUILTIN_MODES_DIR

        mode_ids = sorted(client_configs(BUILTIN_MODES_DIR))
        if self.dry_run:
            self.say(f"Would publish {len(mode_ids)} modes: {', '.join(mode_ids)}")
            return
        import boto3

        from functions.core.models import bind_models
        from scripts.local_cloud.modes import publish_modes
        from scripts.local_cloud.resources import Deployment, Resources

        account = boto3.client("sts", region_name=self.region).get_caller_identity()["Account"]
        resources = Resources(Deployment("yarracloud", self.region, account))
        bind_models(resources.settings(environment="production"))
        published = publish_modes(BUILTIN_MODES_DIR)
        self.say(f"Published {len(published)} modes: {', '.join(published)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/deploy", description=__doc__.split("\n")[0])
    parser.add_argument(
        "region", help="a region with its terraform/region/REGION.tfvars, e.g. us-east-1"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="build the package; print the other steps"
    )
    args = parser.parse_args(argv)
    try:
        Deployer(args.region, dry_run=args.dry_run).deploy()
    except DeployError as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
