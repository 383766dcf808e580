"""End to end: the Snakemake workflow on a tiny mock sky, in a temporary directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image

from explorer_browser import check_explorer

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
    config["finetune"].update(epochs=1, batch_size=16)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run([SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "-d", str(workdir), "-c2", *args],
                          capture_output=True, text=True, env=env, timeout=2400)


@pytest.mark.e2e
@pytest.mark.timeout(3000)  # ~120 jobs, then ~30 again: about 12 minutes on 2 idle cores, longer when shared
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
    assert (tmp_path / "logs/benchmarks/mocksky/mock_catalog.tsv").exists()
    manifest = (tmp_path / "results/sdss/manifest.json").read_text()
    assert '"objects": 60' in manifest.replace("\n", " ") or '"objects": 60,' in manifest
    for method in ("simclr", "moco", "mae", "supervised"):
        embeddings = pd.read_parquet(tmp_path / f"results/sdss/{method}/embeddings.parquet")
        assert len(embeddings) == 60 and (embeddings["method"] == method).all()
        assert Image.open(tmp_path / f"results/sdss/{method}/training_curves.png").size[0] > 500
    assert Image.open(tmp_path / "results/sdss/mae/reconstructions.png").size[1] > 300
    assert Image.open(tmp_path / "results/sdss/augmentations.png").size[0] > 500
    survey_metrics = pd.read_parquet(tmp_path / "results/sdss/metrics.parquet")
    finetuned = survey_metrics[survey_metrics["task"].str.startswith("finetune_")]
    assert set(finetuned["task"]) == {"finetune_classes", "finetune_photoz"}
    assert "supervised" in set(finetuned["method"])
    needed = pd.read_csv(tmp_path / "results/sdss/labels_needed.csv")
    assert {"method", "classifier", "metric", "target", "n_labels_needed", "reached"} <= set(needed.columns)
    # Nothing left to do on a rerun.
    again = run_snakemake(tmp_path, "-n", "all", "--configfile", str(config))
    assert "Nothing to be done" in again.stdout + again.stderr
    # `all` builds the galaxy explorer, and it works in a real headless Chromium (tests/explorer_browser.py).
    assert (tmp_path / "logs/explorer/sdss.log").read_text().strip()
    assert check_explorer(tmp_path / "results/sdss/explorer", tmp_path / "explorer_tiny_run.png")["points"] == 60
    check_report(tmp_path, config)
    check_api_notebook(tmp_path / "results")
    # Reproducible: SimCLR's pretraining and everything downstream of it (embeddings, probes, photo-z, maps, search,
    # explorer, the survey's metrics tables and figures), run again from scratch, give byte-identical metrics tables
    # and pixel-identical figures. (Shards: tests/test_ingest.py; the data and training stages of a second whole run:
    # tests/test_slurm.py, which compares a Slurm run with a local one byte for byte.)
    first = snapshot(tmp_path / "results")
    shutil.rmtree(tmp_path / "results/sdss/simclr")
    rerun = run_snakemake(tmp_path, "all", "--configfile", str(config))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "rule pretrain:" in rerun.stdout + rerun.stderr
    second = snapshot(tmp_path / "results")
    assert sorted(first) == sorted(second)
    differ = sorted(name for name in first if first[name] != second[name])
    assert not differ, f"differ between two runs of the same config: {differ[:10]}"
    assert any(name.startswith("sdss/simclr/") for name in first) and "sdss/metrics.parquet" in first


def check_api_notebook(results: Path) -> None:
    """docs/api.ipynb runs on the tiny run's results (named by GALSSL_RESULTS, the kernel started in docs/); its cells
    assert that an image embedded from Python gets the workflow's vector and that the searches agree."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(REPO / "docs" / "api.ipynb", as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO / "docs")}})
    client.execute(env=dict(os.environ, GALSSL_RESULTS=str(results)))
    shown = "".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []))
    assert f"run {results / 'sdss' / 'simclr'}" in shown and "60 objects" in shown


def snapshot(results: Path) -> dict[str, object]:
    """Bytes of every metrics table and label table, decoded pixels of every figure, keyed by path."""
    taken: dict[str, object] = {}
    for path in sorted(results.rglob("*")):
        name = str(path.relative_to(results))
        if path.suffix == ".png":
            image = Image.open(path)
            taken[name] = (image.size, image.mode, image.tobytes())
        elif path.name.endswith(("metrics.parquet", "metrics.csv", "label_efficiency.parquet", "labels.parquet")):
            taken[name] = path.read_bytes()
    assert any(name.endswith("metrics.parquet") for name in taken) and any(n.endswith(".png") for n in taken)
    return taken


def check_report(workdir: Path, config: Path) -> None:
    """`snakemake --report` gathers every figure with its rendered caption and the metrics page."""
    report = workdir / "results" / "report.zip"
    result = run_snakemake(workdir, "all", "--configfile", str(config), "--report", str(report))
    assert result.returncode == 0, result.stderr[-3000:]
    with zipfile.ZipFile(report) as archive:
        names = archive.namelist()
        text = "".join(archive.read(name).decode("utf-8", "replace") for name in names
                       if name.endswith((".js", ".html")) and archive.getinfo(name).file_size < 50_000_000)
    figures = sorted((workdir / "results").rglob("*.png"))
    assert len(figures) > 20
    for figure in ("training_curves.png", "umap_map.png", "label_efficiency.png", "metrics.html"):
        assert any(name.endswith(figure) for name in names), figure
    assert "Reproduce:" in text and "snakemake results/sdss/simclr/training_curves.png" in text
    assert "60 mock-sky objects" in text  # captions rendered with the run's config
    report.unlink()
