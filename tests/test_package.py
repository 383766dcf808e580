"""The built wheel works on its own: installed outside the repository, it finds its config schema and resources."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import galssl

REPO = Path(__file__).resolve().parents[1]
BUILD_INPUTS = ("src", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "workflow/schemas",
                "resources")
"""What building the wheel reads (copied, so the build leaves no build/ folder in the repository)."""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding galssl installed from its wheel (no dependencies: those of this venv are used)."""
    source = tmp_path_factory.mktemp("source")
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "symbols")
    for name in BUILD_INPUTS:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=ignore)
        else:
            shutil.copy2(REPO / name, source / name)
    wheels = tmp_path_factory.mktemp("wheels")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    build = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    [wheel] = wheels.glob("galssl-*.whl")
    target = tmp_path_factory.mktemp("site")
    install = subprocess.run([*pip, "install", "--no-deps", "--no-compile", "--target", str(target), str(wheel)],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    return target


def run_installed(installed: Path, workdir: Path, program: str, *args: str) -> subprocess.CompletedProcess:
    """Run the installed ``galssl`` script or ``python``, with the installed copy first on sys.path, from a folder
    outside the repository."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GALSSL_")}
    env["PYTHONPATH"] = str(installed)
    executable = str(installed / "bin" / "galssl") if program == "galssl" else sys.executable
    return subprocess.run([executable, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=300)


def test_wheel_carries_schema_and_resources(installed):
    data = installed / "galssl" / "_data"
    assert (data / "schemas" / "config.schema.yaml").read_bytes() == \
        (REPO / "workflow" / "schemas" / "config.schema.yaml").read_bytes()
    shipped = sorted(path.relative_to(data / "resources").as_posix()
                     for path in (data / "resources").rglob("*") if path.is_file())
    assert "gz_trees/gz2.yaml" in shipped and "filters/sdss2010-r.ecsv" in shipped
    assert "mock/instruments.yaml" in shipped and "extinction.yaml" in shipped
    assert not any(name.startswith("symbols/") or name.endswith(".py") for name in shipped)


def test_installed_cli_validates_config_outside_repository(installed, tmp_path):
    config = tmp_path / "config.yaml"
    shutil.copy2(REPO / "config" / "config.yaml", config)
    where = run_installed(installed, tmp_path, "python", "-c", "import galssl; print(galssl.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()) == installed / "galssl" / "__init__.py"

    version = run_installed(installed, tmp_path, "galssl", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"galssl {galssl.__version__}"

    valid = run_installed(installed, tmp_path, "galssl", "validate-config", "config.yaml")
    assert valid.returncode == 0, valid.stderr
    assert valid.stdout.strip() == "config.yaml: valid"

    broken = tmp_path / "broken.yaml"
    config_data = yaml.safe_load(config.read_text())
    config_data["surveys"]["sdss"]["pixel_scale_arcsec"] = -0.4
    broken.write_text(yaml.safe_dump(config_data))
    invalid = run_installed(installed, tmp_path, "galssl", "validate-config", "broken.yaml")
    assert invalid.returncode == 1 and "pixel_scale_arcsec" in invalid.stderr, invalid.stderr


def test_installed_package_reads_resources_with_importlib(installed, tmp_path):
    code = ("from galssl.gztree import DecisionTree; from galssl.resources import resources_dir, schema_path; "
            "print(resources_dir()); print(schema_path()); "
            "print(' '.join(question.name for question in DecisionTree.load('gz2').questions))")
    result = run_installed(installed, tmp_path, "python", "-c", code)
    assert result.returncode == 0, result.stderr
    resources, schema, tree = result.stdout.splitlines()[:3]
    assert Path(resources) == installed / "galssl" / "_data" / "resources"
    assert Path(schema) == installed / "galssl" / "_data" / "schemas" / "config.schema.yaml"
    assert tree.split()[:2] == ["smooth_or_featured", "disk_edge_on"]
