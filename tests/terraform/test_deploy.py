"""scripts/deploy: the Lambda package it builds, the steps of a dry run, the portal image."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

import scripts.deploy as deploy
from administration.deployment import DESCRIPTION_FILE
from recon_image.modes.catalog import client_configs
from recon_image.settings import BUILTIN_MODES_DIR
from scripts.images import IMAGES, SUITE, Base, Engine, find_engine
from tests.helpers.imports import import_closure


def test_the_package_holds_every_handler_and_is_reproducible(tmp_path: Path):
    first = deploy.build_lambda_zip(tmp_path / "a" / "functions.zip", [], run=None)
    second = deploy.build_lambda_zip(tmp_path / "b" / "functions.zip", [], run=None)
    names = set(zipfile.ZipFile(first).namelist())
    for handler in ("api", "submit", "job_state", "sweeper", "billing_outbox", "billing_reconcile"):
        assert f"functions/handlers/{handler}.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert first.read_bytes() == second.read_bytes()


def test_the_package_carries_every_package_of_ours_the_handlers_import(tmp_path: Path):
    package = deploy.build_lambda_zip(tmp_path / "functions.zip", [], run=None)
    carried = {name.split("/")[0] for name in zipfile.ZipFile(package).namelist()}
    assert import_closure("functions") <= carried  # module by module: test_lambda_package.py


def test_the_dependencies_are_the_functions_extra_for_lambdas_platform(tmp_path: Path):
    commands = []
    deploy.build_lambda_zip(tmp_path / "functions.zip", ["pynamodb==6.1.0"], commands.append)
    (command,) = commands
    assert command[-1] == "pynamodb==6.1.0"
    assert "manylinux2014_x86_64" in command and "3.11" in command
    assert any(r.startswith("aws-lambda-powertools") for r in deploy.pinned_requirements())


def dry_run(region: str, tmp_path: Path, monkeypatch) -> list[str]:
    monkeypatch.setattr(deploy, "BUILD_DIR", tmp_path)
    monkeypatch.setattr(deploy, "pinned_requirements", lambda: [])
    monkeypatch.setattr(deploy, "find_engine", lambda: None)
    said: list[str] = []
    deploy.Deployer(
        region, dry_run=True, say=said.append, tag="abc123", ca_bundle=Path("/host/ca.pem")
    ).deploy()
    return said


def test_a_dry_run_prints_the_image_terraform_and_mode_steps(tmp_path, monkeypatch):
    said = dry_run("eu-central-1", tmp_path, monkeypatch)
    text = "\n".join(said)
    init = "$ TF_DATA_DIR=.terraform/eu-central-1 terraform -chdir=terraform/region init"
    assert f"{init} -input=false -backend-config=eu-central-1.backend.hcl" in said
    assert "docker build -f recon_image/Dockerfile" in text
    assert ":abc123" in text and "docker push" in text
    base = Base().ref
    assert f"$ docker import rootfs.tar {base}" in said
    mmdebstrap = next(line for line in said if line.startswith("$ mmdebstrap"))
    assert f" {SUITE} " in mmdebstrap, "the base's suite is pinned"
    assert said.index(mmdebstrap) < said.index(f"$ docker import rootfs.tar {base}")
    assert said[-2].endswith("-var=worker_image_tag=abc123")
    assert said[-1] == "Would publish {} modes: {}".format(
        len(client_configs(BUILTIN_MODES_DIR)), ", ".join(sorted(client_configs(BUILTIN_MODES_DIR)))
    )
    assert (tmp_path / "functions.zip").is_file()
    assert "portal" not in text, "eu-central-1 does not host the portal"


def test_the_portal_region_builds_and_pushes_both_images_and_applies_both_tags(
    tmp_path, monkeypatch
):
    said = dry_run("us-east-1", tmp_path, monkeypatch)
    terraform = "$ TF_DATA_DIR=.terraform/us-east-1 terraform -chdir=terraform/region "
    commands = [shlex.split(line[2:]) for line in said if line.startswith(terraform)]
    init, ecr_apply, apply = commands
    assert "init" in init
    assert "-target=module.stack.module.batch.aws_ecr_repository.worker" in ecr_apply
    assert "-target=module.stack.module.portal[0].aws_ecr_repository.portal" in ecr_apply
    for tag in ("-var=worker_image_tag=abc123", "-var=portal_image_tag=abc123"):
        assert tag in ecr_apply and tag in apply
    assert not [arg for arg in apply if arg.startswith("-target")]
    assert "-var-file=us-east-1.tfvars" in ecr_apply and "-var-file=us-east-1.tfvars" in apply
    for image, output in (
        ("recon_image/Dockerfile", "worker_repository_url"),
        ("portal_flask/Dockerfile", "portal_repository_url"),
    ):
        reference = f"<terraform output {output}>:abc123"
        build = ["docker", "build", "-f", image, "-t", reference]
        build += ["--build-arg", f"BASE={Base().ref}", "--secret", "id=pip_cert,src=/host/ca.pem"]
        build = f"$ {shlex.join([*build, '.'])}"
        push = f"$ {shlex.join(['docker', 'push', reference])}"
        assert said.index(build) < said.index(push) < said.index(f"$ {shlex.join(apply)}")


def test_the_portal_region_states_how_its_migrations_run(tmp_path, monkeypatch):
    said = dry_run("us-east-1", tmp_path, monkeypatch)
    start = said.index("Then run the portal's database migrations, once per release:")
    run_task, wait, exit_code = (line.removeprefix("$ ") for line in said[start + 1 :])
    overrides = json.loads(shlex.split(run_task)[shlex.split(run_task).index("--overrides") + 1])
    (container,) = overrides["containerOverrides"]
    assert container == {
        "name": "portal",
        "command": ["python", "-m", "portal_flask", "migrate"],
    }
    assert "--cluster yarracloud-portal" in run_task
    assert "--task-definition yarracloud-portal" in run_task
    assert "services[0].networkConfiguration" in run_task
    assert wait.startswith("aws ecs wait tasks-stopped") and '"$task"' in wait
    assert "exitCode" in exit_code


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("portal             = true", "true"),
        ("portal = false # not here", "false"),
        ('prefix = "yc-test"', "yc-test"),
        ("portal_image_tag = true", None),
        ("# portal = true", None),
    ],
)
def test_the_region_settings_are_read_from_its_tfvars(tmp_path: Path, line: str, value):
    tfvars = tmp_path / "terraform.tfvars"
    tfvars.write_text(f'region = "x"\n{line}\n')
    name = "prefix" if "prefix" in line else "portal"
    assert deploy.tfvars_scalar(tfvars, name) == value


def test_an_unknown_region_is_refused_with_the_known_ones(capsys):
    assert deploy.main(["mars-north-1", "--dry-run"]) == 1
    error = capsys.readouterr().err
    assert "no Terraform settings for mars-north-1" in error
    assert "mars-north-1.tfvars and mars-north-1.backend.hcl" in error
    assert "eu-central-1, us-east-1" in error


def add_region(root: Path, region: str, named: str | None = None) -> None:
    """A copy of the region root with ``region`` added as an operator adds one: two files."""
    shutil.copytree(deploy.REGION_ROOT, root, ignore=shutil.ignore_patterns(".terraform*"))
    tfvars = (root / "eu-central-1.tfvars").read_text().replace("eu-central-1", region)
    (root / f"{region}.tfvars").write_text(tfvars.replace(region, named or region, 1))
    backend = (root / "eu-central-1.backend.hcl").read_text().replace("eu-central-1", region)
    (root / f"{region}.backend.hcl").write_text(backend)


def test_a_region_added_as_its_two_files_is_deployed_with_them(tmp_path, monkeypatch):
    root = tmp_path / "region"
    add_region(root, "ap-southeast-2")
    monkeypatch.setattr(deploy, "REGION_ROOT", root)
    said = dry_run("ap-southeast-2", tmp_path, monkeypatch)
    terraform = [
        shlex.split(line[2:])
        for line in said
        if line.startswith("$ TF_DATA_DIR=.terraform/ap-southeast-2 terraform -chdir=")
    ]
    assert len(terraform) == 3
    chdirs = {Path(deploy.REPO_ROOT, command[2].removeprefix("-chdir=")) for command in terraform}
    assert {path.resolve() for path in chdirs} == {root.resolve()}
    assert terraform[0][-1] == "-backend-config=ap-southeast-2.backend.hcl"
    assert all("-var-file=ap-southeast-2.tfvars" in command for command in terraform[1:])


def test_a_region_whose_variables_name_another_is_refused(tmp_path, monkeypatch, capsys):
    add_region(tmp_path / "region", "ap-southeast-2", named="eu-central-1")
    monkeypatch.setattr(deploy, "REGION_ROOT", tmp_path / "region")
    assert deploy.main(["ap-southeast-2", "--dry-run"]) == 1
    error = capsys.readouterr().err
    assert "ap-southeast-2.tfvars sets region = 'eu-central-1'" in error


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_each_image_is_pushed_to_its_repository_after_one_login_per_registry(engine: str):
    registry = "1.dkr.ecr.eu-central-1.amazonaws.com"
    images = [("worker", f"{registry}/yc/w"), ("portal", f"{registry}/yc/p")]
    steps = deploy.image_steps(Engine(engine), images, "t", "eu-central-1", base="b:1")
    (login,) = [step for step in steps if step[0] == "sh"]
    assert login[-1].endswith(f"--password-stdin {registry}")
    on_base = ["--build-arg", "BASE=b:1", "."]
    assert steps[1:] == [
        [engine, "build", "-f", "recon_image/Dockerfile", "-t", f"{registry}/yc/w:t", *on_base],
        [engine, "push", f"{registry}/yc/w:t"],
        [engine, "build", "-f", "portal_flask/Dockerfile", "-t", f"{registry}/yc/p:t", *on_base],
        [engine, "push", f"{registry}/yc/p:t"],
    ]


def test_a_docker_client_without_a_daemon_is_not_taken_for_an_engine(tmp_path, monkeypatch):
    stand_in = tmp_path / "docker"
    stand_in.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_engine(("docker",)) is None


PORTAL_DOCKERFILE = deploy.REPO_ROOT / IMAGES[deploy.PORTAL.name].dockerfile
PORTAL_MODULE = deploy.REPO_ROOT / "terraform" / "modules" / "portal" / "main.tf"


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined, comments dropped."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.strip().partition(" ") for line in joined.splitlines())
        if word
    ]


def instruction(name: str) -> list[str]:
    return [rest for word, rest in dockerfile_instructions(PORTAL_DOCKERFILE) if word == name]


def task_definition_port_and_command() -> tuple[int, list[str]]:
    text = PORTAL_MODULE.read_text()
    port = int(re.search(r"^\s*port\s*=\s*(\d+)\s*$", text, re.MULTILINE).group(1))
    command = re.search(r"^\s*command\s*=\s*(\[.*\])\s*$", text, re.MULTILINE).group(1)
    return port, json.loads(command.replace("tostring(local.port)", json.dumps(str(port))))


def test_the_portal_image_serves_the_task_definitions_command_on_its_port():
    port, command = task_definition_port_and_command()
    (cmd,) = instruction("CMD")
    assert json.loads(cmd) == command
    assert command[:4] == ["python", "-m", "portal_flask", "serve"]
    assert (deploy.REPO_ROOT / "portal_flask" / "__main__.py").is_file()
    from portal_flask.__main__ import _parser

    served = _parser().parse_args(command[3:])
    assert (served.command, served.host, served.port) == ("serve", "0.0.0.0", port)
    assert not served.plain_http
    assert instruction("EXPOSE") == [str(port)]
    (healthcheck,) = instruction("HEALTHCHECK")
    assert f"http://127.0.0.1:{port}/healthz" in healthcheck
    assert 'path    = "/healthz"' in PORTAL_MODULE.read_text()


def test_the_portal_image_runs_as_a_non_root_user_on_the_debian_base():
    (base,) = instruction("FROM")
    assert base == "${BASE}"
    assert instruction("ARG")[0].split("=")[0] == "BASE"
    (user,) = instruction("USER")
    assert not user.startswith(("0", "root"))
    assert "readonlyRootFilesystem = true" in PORTAL_MODULE.read_text()
    image_env = dict(
        pair.split("=", 1) for rest in instruction("ENV") for pair in shlex.split(rest)
    )
    assert instruction("VOLUME") == [json.dumps([image_env["TMPDIR"]])]
    assert any(re.search(r'pip install [^&]*"\.\[portal\]"$', run) for run in instruction("RUN"))


def copied_paths() -> set[str]:
    return {shlex.split(rest)[0].rstrip("/") for rest in instruction("COPY")}


def test_the_portal_image_carries_everything_the_portal_imports_and_reads():
    copied = copied_paths()
    needed = import_closure("portal_flask")
    assert {"functions", "administration", "contracts"} <= needed
    assert needed <= copied, f"the portal image lacks {sorted(needed - copied)}"
    assert str(DESCRIPTION_FILE.relative_to(deploy.REPO_ROOT)) in copied
    assert "pyproject.toml" in copied


def test_the_build_context_leaves_out_environments_state_and_build_outputs():
    ignored = (deploy.REPO_ROOT / ".dockerignore").read_text().splitlines()
    for path in (".venv", ".git", "var", "build"):
        assert path in ignored
    copied = copied_paths()
    assert not [p for p in copied if p.split("/")[0] in ignored]


@pytest.mark.slow
def test_the_portal_images_files_migrate_and_serve_without_writing_to_them(tmp_path: Path):
    """The image's layout alone, with the task definition's environment, as ECS runs it."""
    layout = tmp_path / "opt"
    for path in copied_paths():
        source = deploy.REPO_ROOT / path
        if source.is_dir():
            shutil.copytree(source, layout / path, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (layout / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, layout / path)
    before = sorted(p.relative_to(layout) for p in layout.rglob("*"))
    image_env = dict(
        pair.split("=", 1) for rest in instruction("ENV") for pair in shlex.split(rest)
    )
    assert image_env["PYTHONDONTWRITEBYTECODE"] == "1"
    env = {
        **image_env,
        "PATH": "/usr/bin:/bin",
        "YC_PORTAL_DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}",
        "YC_PORTAL_SECRET_KEY": "image-test-secret",
        "TMPDIR": str(tmp_path),
    }

    def python(*args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, *args], cwd=layout, env=env, capture_output=True, text=True, **kwargs
        )

    migrated = python("-m", "portal_flask", "migrate", timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    reads = python(
        "-c",
        "import administration.deployment as d, portal_flask as p;"
        "d.description(); print(d.__file__); print(p.__file__)",
        timeout=60,
    )
    assert reads.returncode == 0, reads.stderr
    assert all(line.startswith(str(layout)) for line in reads.stdout.split())
    ready = tmp_path / "ready"
    serve = ["-m", "portal_flask", "serve", "--host", "127.0.0.1", "--port", "0"]
    server = subprocess.Popen(
        [sys.executable, *serve, "--ready-file", str(ready)],
        cwd=layout,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert server.poll() is None, server.stdout.read().decode()
            assert time.monotonic() < deadline, "the portal did not start"
            time.sleep(0.05)
        port = ready.read_text().strip().rsplit(":", 1)[1]
        (healthcheck,) = instruction("HEALTHCHECK")
        probe = json.loads(healthcheck[healthcheck.index("CMD") + 3 :])
        probe[-1] = probe[-1].replace(":8000/", f":{port}/")
        assert python(*probe[1:], timeout=30).returncode == 0
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0
    assert sorted(p.relative_to(layout) for p in layout.rglob("*")) == before
