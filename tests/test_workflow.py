"""End to end: the Snakemake workflow on a tiny mock sky, in a temporary directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def tiny_config(tmp_path: Path) -> Path:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["mock"]["n_objects"] = 60
    config["mock"]["gallery"]["redshifts"] = [0.04, 0.12]
    config["mock"]["gallery"]["size_px"] = 48
    config["surveys"]["sdss"]["cutout_size"] = 32
    config["pretrain"] = {"methods": ["simclr", "moco", "mae", "supervised"], "epochs": 1, "batch_size": 16,
                          "probe_train_size": 10, "probe_val_size": 10,
                          "augment": {"jitter_crop": {"crop_size": 24, "max_shift": 2}}}
    config["embed"]["pixels_pca"]["n_components"] = 16  # fewer than the ~40 train objects
    config["probes"]["label_efficiency"].update(min_log2=3, max_log2=4, seeds=2, scratch_seeds=1, scratch_steps=2)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run([SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "-d", str(workdir), "-c2", *args],
                          capture_output=True, text=True, env=env, timeout=2400)


@pytest.mark.e2e
@pytest.mark.timeout(2700)  # ~90 jobs: about 8 minutes on 2 idle cores, far longer when the cores are shared
def test_tiny_workflow_runs_end_to_end(tmp_path):
    config = tiny_config(tmp_path)
    result = run_snakemake(tmp_path, "all", "--configfile", str(config))
    assert result.returncode == 0, result.stderr[-3000:]
    catalog = pd.read_parquet(tmp_path / "results/mock/catalog.parquet")
    labels = pd.read_parquet(tmp_path / "results/mock/labels.parquet")
    assert list(catalog.columns) == ["object_id", "ra", "dec"] and len(catalog) == 60
    assert set(labels["object_id"]) == set(catalog["object_id"])
    gallery = Image.open(tmp_path / "results/mock/gallery.png")
    assert gallery.size[0] > 300 and gallery.size[1] > 1000
    for log in ("logs/mocksky/mock_catalog.log", "logs/mocksky/mock_gallery.log"):
        assert (tmp_path / log).read_text().strip()
    assert (tmp_path / "benchmarks/rules/mocksky/mock_catalog.tsv").exists()
    manifest = (tmp_path / "results/sdss/manifest.json").read_text()
    assert '"objects": 60' in manifest.replace("\n", " ") or '"objects": 60,' in manifest
    for method in ("simclr", "moco", "mae", "supervised"):
        embeddings = pd.read_parquet(tmp_path / f"results/sdss/{method}/embeddings.parquet")
        assert len(embeddings) == 60 and (embeddings["method"] == method).all()
        assert Image.open(tmp_path / f"results/sdss/{method}/training_curves.png").size[0] > 500
    assert Image.open(tmp_path / "results/sdss/mae/reconstructions.png").size[1] > 300
    assert Image.open(tmp_path / "results/sdss/augmentations.png").size[0] > 500
    # Nothing left to do on a rerun; the same config gives the same catalogue bytes.
    first = (tmp_path / "results/mock/labels.parquet").read_bytes()
    again = run_snakemake(tmp_path, "-n", "all", "--configfile", str(config))
    assert "Nothing to be done" in again.stdout + again.stderr
    shutil.rmtree(tmp_path / "results")
    assert run_snakemake(tmp_path, "results/mock/labels.parquet", "--configfile", str(config)).returncode == 0
    assert (tmp_path / "results/mock/labels.parquet").read_bytes() == first
