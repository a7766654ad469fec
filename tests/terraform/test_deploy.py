"""scripts/deploy: the Lambda package it builds, the steps of a dry run, the portal image."""

from __future__ import annotations

import ast
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


def test_the_package_holds_every_handler_and_is_reproducible(tmp_path: Path):
    first = deploy.build_lambda_zip(tmp_path / "a" / "functions.zip", [], run=None)
    second = deploy.build_lambda_zip(tmp_path / "b" / "functions.zip", [], run=None)
    names = set(zipfile.ZipFile(first).namelist())
    for handler in ("api", "submit", "job_state", "sweeper", "billing_outbox", "billing_reconcile"):
        assert f"functions/handlers/{handler}.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert first.read_bytes() == second.read_bytes()


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
    monkeypatch.setattr(deploy, "container_engine", lambda: None)
    said: list[str] = []
    deploy.Deployer(region, dry_run=True, say=said.append, tag="abc123").deploy()
    return said


def test_a_dry_run_prints_the_image_terraform_and_mode_steps(tmp_path, monkeypatch):
    said = dry_run("eu-central-1", tmp_path, monkeypatch)
    text = "\n".join(said)
    assert "init -input=false -backend-config=backend.hcl" in text
    assert "docker build -f recon_image/Dockerfile" in text
    assert ":abc123" in text and "docker push" in text
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
    commands = [shlex.split(line[2:]) for line in said if line.startswith("$ terraform")]
    init, ecr_apply, apply = commands
    assert "init" in init
    assert "-target=module.stack.module.batch.aws_ecr_repository.worker" in ecr_apply
    assert "-target=module.stack.module.portal[0].aws_ecr_repository.portal" in ecr_apply
    for tag in ("-var=worker_image_tag=abc123", "-var=portal_image_tag=abc123"):
        assert tag in ecr_apply and tag in apply
    assert not [arg for arg in apply if arg.startswith("-target")]
    for image, output in (
        ("recon_image/Dockerfile", "worker_repository_url"),
        ("portal_flask/Dockerfile", "portal_repository_url"),
    ):
        reference = f"<terraform output {output}>:abc123"
        build = f"$ {shlex.join(['docker', 'build', '-f', image, '-t', reference, '.'])}"
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
    assert "no Terraform root for mars-north-1" in error and "eu-central-1" in error


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_each_image_is_pushed_to_its_repository_after_one_login_per_registry(engine: str):
    registry = "1.dkr.ecr.eu-central-1.amazonaws.com"
    images = [
        ("recon_image/Dockerfile", f"{registry}/yc/w"),
        ("portal_flask/Dockerfile", f"{registry}/yc/p"),
    ]
    steps = deploy.image_steps(engine, images, "t", "eu-central-1")
    (login,) = [step for step in steps if step[0] == "sh"]
    assert login[-1].endswith(f"--password-stdin {registry}")
    assert steps[1:] == [
        [engine, "build", "-f", "recon_image/Dockerfile", "-t", f"{registry}/yc/w:t", "."],
        [engine, "push", f"{registry}/yc/w:t"],
        [engine, "build", "-f", "portal_flask/Dockerfile", "-t", f"{registry}/yc/p:t", "."],
        [engine, "push", f"{registry}/yc/p:t"],
    ]


PORTAL_DOCKERFILE = deploy.REPO_ROOT / deploy.PORTAL.dockerfile
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


def test_the_portal_image_runs_as_a_non_root_user_on_a_slim_python_311():
    (base,) = instruction("FROM")
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", base)
    (user,) = instruction("USER")
    assert not user.startswith(("0", "root"))
    assert "readonlyRootFilesystem = true" in PORTAL_MODULE.read_text()
    image_env = dict(
        pair.split("=", 1) for rest in instruction("ENV") for pair in shlex.split(rest)
    )
    assert instruction("VOLUME") == [json.dumps([image_env["TMPDIR"]])]
    assert any('pip install ".[portal]"' in run for run in instruction("RUN"))


def copied_paths() -> set[str]:
    return {shlex.split(rest)[0].rstrip("/") for rest in instruction("COPY")}


def first_party_imports(package: Path) -> set[str]:
    packages = {
        "functions",
        "administration",
        "portal_flask",
        "recon_image",
        "transfer",
        "agent",
        "scripts",
    }
    found: set[str] = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            found |= {name.split(".")[0] for name in names} & packages
    return found


def test_the_portal_image_carries_everything_the_portal_imports_and_reads():
    copied = copied_paths()
    needed, unread = set(), {"portal_flask"}
    while unread:
        package = unread.pop()
        needed.add(package)
        unread |= first_party_imports(deploy.REPO_ROOT / package) - needed
    assert {"functions", "administration"} <= needed
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
