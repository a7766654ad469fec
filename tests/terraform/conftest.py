"""Terraform for the tests: the binary and provider mirror (or a skip), and private copies."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.terraform.terraform_cli import require_terraform


@pytest.fixture(scope="session")
def terraform_cli() -> tuple[str, Path]:
    """Terraform's path and the provider mirror; skips with the reason when either is missing."""
    return require_terraform()
