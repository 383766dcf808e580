"""Layers only look down: no stage of the pipeline imports the code of a sibling stage.

Every module of ``src/galssl`` belongs to a *unit*: its subpackage (``galssl.maps.pca`` -> ``maps``) or, for a
top-level module, the module itself (``galssl.pretrain`` -> ``pretrain``). Units sit in three tiers:

- shared (``SHARED``): helpers every stage may use (errors, I/O, tables, shards, data loading, image composites,
  instruments, metrics, augmentations, models). A shared unit imports only shared units;
- stages (``STAGES``): one per step of the data flow, catalogue -> cutouts -> shards -> encoders -> embeddings ->
  results, and the drawing layer ``plots``. A stage imports shared units and its own modules, never a sibling stage;
- entry points (``ENTRY``): the CLI, the Python API, the config loader, the labels a run has (read when the workflow
  is parsed) and the HTTP fakes of ``galssl.testing``, which wire stages together. Nothing below imports them.

The simulated sky (``mocksky``) is the data source of the mock survey, one tier above shared and below the stages:
only the mock survey's provider (``galssl.providers.mock``) reads it. Drawing is the plots layer's alone: no other
module imports matplotlib's pyplot, so a stage computes tables and a figure rule draws them.

``python tests/test_layers.py`` prints every import that breaks these rules.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "galssl"

SHARED = frozenset({
    "errors", "resources", "io", "tables", "display", "wcsutil", "gztree", "labelspec", "symbols", "shards", "data",
    "checkpoint", "train", "cluster", "config_checks", "augment", "methods", "instruments", "composite", "metrics",
    "metric_table", "embeddings", "label_table", "search_index", "binned_redshift", "label_subsets", "settings",
    "figure_panels",
})
"""Shared helpers: any stage may import them; they import only each other."""

SKY = frozenset({"mocksky"})
"""The simulated sky: imports shared units only; among the stages, only the mock survey's provider reads it."""

SKY_READERS = frozenset({"galssl.providers.mock"})
"""Stage modules that may read the simulated sky."""

STAGES = {
    "ingest": frozenset({"catalog", "providers", "reproject", "ingest"}),
    "pretrain": frozenset({"pretrain", "pixels"}),
    "embed": frozenset({"embed"}),
    "evaluate": frozenset({"evaluate"}),
    "maps": frozenset({"maps"}),
    "explorer": frozenset({"explorer"}),
    "finetune": frozenset({"finetune"}),
    "plots": frozenset({"plots"}),
}
"""Stages of the data flow (each: the units its rules call), and the drawing layer."""

ENTRY = frozenset({"cli", "api", "config", "run_labels", "testing"})
"""Entry points: they may import anything; nothing else imports them."""

ROOT = "galssl"
"""The package itself (``from galssl import __version__``), importable from anywhere."""


def module_name(path: Path) -> str:
    """``src/galssl/maps/pca.py`` -> ``galssl.maps.pca``; a package's ``__init__.py`` -> the package."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def unit_of(module: str) -> str:
    """``galssl.maps.pca`` -> ``maps``, ``galssl.pretrain`` -> ``pretrain``, ``galssl`` -> ``galssl``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def stage_of(unit: str) -> str | None:
    """The stage a unit belongs to (None for shared, sky and entry units)."""
    return next((stage for stage, units in STAGES.items() if unit in units), None)


def imported_modules(path: Path, module: str) -> Iterator[tuple[int, str]]:
    """(line, galssl module) of every import in a file, lazy ones inside functions included; relative imports are
    resolved against ``module``."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == ROOT:
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != ROOT:
                continue
            for alias in node.names:  # `from galssl.maps import pca` imports galssl.maps.pca when that is a module
                candidate = f"{base}.{alias.name}"
                as_path = PACKAGE.parent / Path(*candidate.split("."))
                yield node.lineno, candidate if as_path.with_suffix(".py").is_file() or as_path.is_dir() else base


def why_not(importer: str, imported: str) -> str | None:
    """Why ``importer`` may not import ``imported`` (None when it may)."""
    source, target = unit_of(importer), unit_of(imported)
    if source == target or target == ROOT or source in ENTRY or source == ROOT:
        return None
    if target in ENTRY:
        return f"imports the entry point {target!r}"
    if source in SHARED:
        return None if target in SHARED else f"shared unit {source!r} imports {target!r}, which is not shared"
    if source in SKY:
        return None if target in SHARED else f"the simulated sky imports {target!r}, which is not shared"
    if target in SHARED:
        return None
    if target in SKY:
        return None if importer in SKY_READERS else "a stage reads the simulated sky (only the mock provider may)"
    source_stage, target_stage = stage_of(source), stage_of(target)
    if source_stage is None:
        return f"{source!r} is in no tier of tests/test_layers.py"
    if target_stage is None:
        return f"{target!r} is in no tier of tests/test_layers.py"
    if source_stage == target_stage:
        return None
    return f"stage {source_stage!r} imports sibling stage {target_stage!r}"


def violations() -> list[str]:
    """Every import that breaks the layering, as ``file:line: importer -> imported: why``."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        for line, imported in sorted(set(imported_modules(path, importer))):
            reason = why_not(importer, imported)
            if reason:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {importer} -> {imported}: {reason}")
    return found


def test_every_unit_is_in_a_tier() -> None:
    """A new module or subpackage is placed in a tier on purpose, not waved through."""
    known = SHARED | SKY | ENTRY | {unit for units in STAGES.values() for unit in units}
    units = {unit_of(module_name(path)) for path in PACKAGE.rglob("*.py")} - {ROOT}
    assert sorted(units - known) == []


def test_layers_only_look_down() -> None:
    """No stage imports a sibling stage, no shared helper imports a stage, nothing imports an entry point."""
    found = violations()
    assert found == [], "\n".join(found)


def test_only_the_drawing_layer_draws() -> None:
    """Computing and drawing are separate modules: matplotlib.pyplot is imported under galssl/plots only."""
    drawing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if unit_of(module_name(path)) == "plots":
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [f"{node.module}.{alias.name}" for alias in node.names] if isinstance(node, ast.ImportFrom) else []
            if any(name.startswith("matplotlib.pyplot") for name in names):
                drawing.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert drawing == []


if __name__ == "__main__":
    report = violations()
    print("\n".join(report) or "no layering violations")
    print(f"{len(report)} violation(s)")
    sys.exit(1 if report else 0)
