"""Build hook: a wheel carries the repository's config schema and resources/ inside the package, as galssl/_data/.

The metadata lives in pyproject.toml. The files stay where the workflow expects them (workflow/schemas/,
resources/); galssl.resources reads the packaged copies with importlib.resources, and the repository's own
folders in an editable install (which copies nothing).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# (source folder in the repository, folder under galssl/_data/, file patterns) — generated files stay out.
PACKAGED_DATA = (
    ("workflow/schemas", "schemas", ("*.yaml",)),
    ("resources", "resources", ("*.yaml", "filters/*.ecsv", "gz_trees/*.yaml", "mock/*.yaml")),
)


def packaged_files() -> list[tuple[Path, str]]:
    """(source file, destination relative to the galssl package) of every file the wheel carries in _data/."""
    files = []
    for source, target, patterns in PACKAGED_DATA:
        for pattern in patterns:
            for path in sorted((ROOT / source).glob(pattern)):
                files.append((path, f"_data/{target}/{path.relative_to(ROOT / source).as_posix()}"))
    return files


class BuildWithData(build_py):
    """``build_py`` that also copies the schema and resources into the built package (not in editable mode)."""

    def run(self) -> None:
        editable = getattr(self, "editable_mode", False)
        if not editable:  # a build/ left by an earlier `pip install .` would ship modules deleted since
            shutil.rmtree(Path(self.build_lib) / "galssl", ignore_errors=True)
        super().run()
        if editable:
            return
        for source, target in packaged_files():
            destination = Path(self.build_lib) / "galssl" / target
            self.mkpath(str(destination.parent))
            self.copy_file(str(source), str(destination))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return outputs + [str(Path(self.build_lib) / "galssl" / target) for _, target in packaged_files()]


setup(cmdclass={"build_py": BuildWithData})
