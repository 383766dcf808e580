"""Every example config validates and plans its DAG (snakemake -n) once its input files exist."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "config" / "examples").glob("*.yaml"))
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def make_inputs(config: dict, workdir: Path) -> None:
    """Create small stand-ins for the files an example names (the real ones are downloads)."""
    catalog = config["catalog"]
    path = workdir / catalog["path"]
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 7
    if str(path).endswith(".h5"):
        with h5py.File(path, "w") as h5:
            h5["images"] = np.zeros((n, 16, 16, 3), np.uint8)
            h5["ans"] = np.arange(n) % 10
            h5["ra"] = np.linspace(150, 151, n)
            h5["dec"] = np.linspace(2, 3, n)
            h5["redshift"] = np.full(n, 0.05)
            h5["pxscale"] = np.full(n, 0.262)
    elif not path.exists():
        frame = pd.DataFrame({catalog.get("id_column", "object_id"): [f"obj{i}" for i in range(n)],
                              catalog.get("ra_column", "ra"): np.linspace(150, 151, n),
                              catalog.get("dec_column", "dec"): np.linspace(2, 3, n)})
        frame.to_csv(path, index=False)
    for survey in config["surveys"].values():
        if survey["provider"] == "files" and survey.get("format") == "image":
            (workdir / survey["path"]).mkdir(parents=True, exist_ok=True)


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_config_plans(example, tmp_path):
    config = yaml.safe_load(example.read_text())
    if config["catalog"]["path"].startswith("config/"):
        shutil.copytree(REPO / "config", tmp_path / "config")
    make_inputs(config, tmp_path)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run([SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "-d", str(tmp_path), "-n", "all",
                             "--configfile", str(example)], capture_output=True, text=True, env=env, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-2000:]
    survey = next(iter(config["surveys"]))
    assert "ingest_shard" in output and "ingest_manifest" in output
    assert "mock_catalog" not in output, "a real-survey config must not pull in the mock sky"
    assert f"results/{survey}/manifest.json" in output
