"""Every example config runs `snakemake all` end to end, on a small input in the exact format of its real source.

The inputs are made at test time by tests/realformat.py from one small mock sky; the network surveys are served
from it by the mock sky server on 127.0.0.1 (one per module). Each run keeps its example's survey, provider, bands,
pixel scale and labels and shrinks everything else (about 34 objects, 32-px cutouts, one epoch).

A dry run (`snakemake -n`) is not enough: one passed where every training job then failed (issue 15). The four
label situations of `all`, one example each:

- no class labels: ``legacy_gzdecals`` (GZ DECaLS table: redshifts and vote fractions, no integer class);
- no redshift: ``jpeg_folder`` (a class column only) and ``sdss_gz2`` (vote fractions only);
- no votes: ``galaxy10_decals`` (classes and redshifts);
- nothing labelled: ``png_folder`` (object ids only), and the target lists of ``hips_legacy`` and ``euclid_q1``.

The Euclid archive has no local fake (astroquery.esa.euclid logs in to TAP, data and cutout services): that run
reads the per-object cache the Euclid provider writes after its archive calls, seeded in that exact layout, with
credentials set and the archive URL pointing at a closed port, so any request the provider made would fail.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import yaml

import realformat as rf
from galssl.mocksky.sky import MockSky
from galssl.testing.server import MockServer

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "config" / "examples"
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
CUTOUT_PX = 32
FAST_HTTP = {"retry_base_s": 0.01, "requests_per_second": 1000.0, "max_concurrency": 4, "timeout_s": 60.0,
             "max_retries": 3}
TINY = {
    "catalog": {"split": {"train": 0.5, "val": 0.25, "test": 0.25}},  # ~8 test galaxies of 34, not 3
    "pretrain": {"methods": ["simclr"], "epochs": 1, "batch_size": 16, "probe_train_size": 10, "probe_val_size": 10,
                 "augment": {"jitter_crop": {"crop_size": 24, "max_shift": 2}}},
    "embed": {"pixels_pca": {"n_components": 8}},
    "probes": {"label_efficiency": {"min_log2": 3, "max_log2": 4, "seeds": 1, "scratch_seeds": 1,
                                    "scratch_steps": 2}},
    "photoz": {"max_epochs": 30, "train_fractions": [0.5, 1.0]},
    "finetune": {"epochs": 1, "batch_size": 16},
    "maps": {"sae": {"epochs": 2, "batch_size": 16}, "stationarity": {"n_galaxies": 2, "n_steps": 2}},
}
"""Settings that keep one run to a few minutes on 2 cores; everything the example says about its data is kept."""


@dataclass
class Case:
    """One example: how to write its input, what to override, which labels it has, which files must fail."""

    example: str
    write: Callable[[Path, MockSky], int]  # writes the input under the run folder; returns the catalogue rows
    labels: frozenset[str]  # of class, redshift, votes
    overrides: dict = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # object_id -> words of the failure reason
    env: dict[str, str] = field(default_factory=dict)


def deep_update(base: dict, extra: dict) -> dict:
    """``base`` with ``extra`` merged in, key by key through nested dicts (lists and scalars replaced)."""
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        merged[key] = deep_update(merged[key], value) if isinstance(value, dict) and isinstance(
            merged.get(key), dict) else copy.deepcopy(value)
    return merged


def write_legacy(workdir: Path, sky: MockSky) -> int:
    (workdir / "data").mkdir()
    return len(rf.write_gz_decals_volunteers(sky, workdir / "data/gz_decals_volunteers_5.csv"))


def write_sdss(workdir: Path, sky: MockSky) -> int:
    (workdir / "data").mkdir()
    return len(rf.write_gz2_hart16(sky, workdir / "data/gz2_hart16.csv"))


def write_hips(workdir: Path, sky: MockSky) -> int:
    (workdir / "data").mkdir()
    return len(rf.write_position_list(sky, workdir / "data/nearby_galaxies.csv", names=True))


def write_euclid(workdir: Path, sky: MockSky) -> int:
    (workdir / "data").mkdir()
    table = rf.write_position_list(sky, workdir / "data/euclid_q1_targets.csv")
    # Native cutouts a little larger than the target grid (the WCS of each is rotated), as the provider asks for.
    rf.seed_euclid_cache(sky, table, workdir / "results/euclid/cache", CUTOUT_PX * 0.1 * 1.6)
    return len(table)


def write_galaxy10(workdir: Path, sky: MockSky) -> int:
    (workdir / "data").mkdir()
    return len(rf.write_galaxy10_h5(sky, workdir / "data/Galaxy10_DECals.h5"))


def write_jpeg(workdir: Path, sky: MockSky) -> int:
    return len(rf.write_jpeg_folder(sky, workdir / "data/my_cutouts", workdir / "data/my_cutouts.csv"))


def write_png(workdir: Path, sky: MockSky) -> int:
    return len(rf.write_png_folder(sky, workdir / "data/my_pngs", workdir / "data/my_pngs.csv"))


CASES = {
    "legacy_gzdecals": Case("legacy_gzdecals", write_legacy, frozenset({"redshift", "votes"})),
    "sdss_gz2": Case("sdss_gz2", write_sdss, frozenset({"votes"})),
    "hips_legacy": Case("hips_legacy", write_hips, frozenset(),
                        overrides={"catalog": {"path": "data/nearby_galaxies.csv"}}),
    "euclid_q1": Case("euclid_q1", write_euclid, frozenset(),
                      env={"GALSSL_EUCLID_USER": "fixture-user", "GALSSL_EUCLID_PASSWORD": "fixture-password"}),
    "galaxy10_decals": Case("galaxy10_decals", write_galaxy10, frozenset({"class", "redshift"}),
                            overrides={"pretrain": {"methods": ["simclr", "supervised"]}}),
    "jpeg_folder": Case("jpeg_folder", write_jpeg, frozenset({"class"}),
                        failures={"bad_truncated": "not a readable PNG/JPEG image", "bad_grey": "greyscale image"}),
    "png_folder": Case("png_folder", write_png, frozenset()),
}


def test_every_example_has_an_end_to_end_case() -> None:
    assert sorted(CASES) == sorted(path.stem for path in EXAMPLES.glob("*.yaml"))


@pytest.fixture(scope="module")
def sky() -> MockSky:
    return rf.fixture_sky()


@pytest.fixture(scope="module")
def server(sky: MockSky) -> Iterator[MockServer]:
    with MockServer(sky) as running:
        yield running


def run_config(case: Case, server: MockServer) -> dict:
    """The example with the tiny settings, the local server and the case's overrides."""
    config = yaml.safe_load((EXAMPLES / f"{case.example}.yaml").read_text())
    config = deep_update(config, TINY)
    (name, survey), = config["surveys"].items()
    survey["cutout_size"] = CUTOUT_PX
    if survey["provider"] in ("legacy", "sdss", "hips", "euclid"):
        survey.update(FAST_HTTP)
        survey["base_url"] = {"legacy": server.url, "sdss": server.url, "hips": server.hips2fits_url,
                              "euclid": "http://127.0.0.1:9/"}[survey["provider"]]
    return deep_update(config, case.overrides)


def run_all(workdir: Path, config: dict, env: dict[str, str]) -> subprocess.CompletedProcess:
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    environ = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **env)
    return subprocess.run([SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "-d", str(workdir), "-c2", "all",
                           "--configfile", str(path)], capture_output=True, text=True, env=environ, timeout=1500)


def failed_job_logs(workdir: Path) -> str:
    """The tail of every rule log that mentions an error (what a failed job printed)."""
    tails = []
    for log in sorted((workdir / "logs").rglob("*.log")):
        text = log.read_text(errors="replace")
        if "Error" in text or "Traceback" in text:
            tails.append(f"--- {log.relative_to(workdir)}\n{text[-1500:]}")
    return "\n".join(tails)[-6000:]


@pytest.mark.e2e
@pytest.mark.timeout(1600)
@pytest.mark.parametrize("name", sorted(CASES))
def test_example_runs_all_end_to_end(name: str, server: MockServer, sky: MockSky, tmp_path: Path) -> None:
    case = CASES[name]
    n_rows = case.write(tmp_path, sky)
    config = run_config(case, server)
    started = time.monotonic()
    result = run_all(tmp_path, config, case.env)
    print(f"{name}: snakemake all took {time.monotonic() - started:.0f} s")
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{output[-3000:]}\n{failed_job_logs(tmp_path)}"
    assert not (tmp_path / "results/mock").exists(), "a real-survey config must not pull in the mock sky"
    (survey,) = config["surveys"]
    results = tmp_path / "results" / survey

    manifest = json.loads((results / "manifest.json").read_text())
    assert manifest["counts"]["objects"] == n_rows - len(case.failures)
    assert manifest["counts"]["failed"] == len(case.failures)
    failures = pd.read_parquet(results / "failures.parquet")
    assert set(failures["object_id"]) == set(case.failures)
    for object_id, words in case.failures.items():
        reason = failures.loc[failures["object_id"] == object_id, "reason"].item()
        assert words in reason and object_id in reason, reason

    # What every run makes, labelled or not.
    for path in ("cutouts.png", "augmentations.png", "simclr/encoder.ckpt", "pixels_pca/embeddings.parquet",
                 "simclr/search/index.faiss", "simclr/search/similarity.png", "simclr/maps/umap_map.png",
                 "simclr/maps/pca_variance.png", "simclr/maps/sae_frequent.png", "explorer/index.html",
                 "metrics.parquet"):
        assert (results / path).is_file(), path
    catalog_ids = set(pd.read_parquet(tmp_path / "results/catalog/catalog.parquet")["object_id"])
    assert len(catalog_ids) == n_rows
    for embedding in ("simclr", "pixels_pca"):  # every object but the failures (the CMYK JPEG is read, not lost)
        embedded = pd.read_parquet(results / embedding / "embeddings.parquet")["object_id"]
        assert set(embedded) == catalog_ids - set(case.failures) and len(embedded) == len(set(embedded))

    # What the labels switch on, and the line that says why a stage is left out.
    left_out = [line for line in result.stderr.splitlines() if "left out" in line]
    stages = {
        "class": ["simclr/probes/confusion.png", "label_efficiency.png"],
        "redshift": ["simclr/photoz/photoz.png", "photoz_vs_fraction.png"],
        "votes": ["simclr/maps/alignment.png"],
    }
    announcements = {"class": "galssl: class probes", "redshift": "galssl: photo-z left out",
                     "votes": "galssl: vote-alignment maps"}
    for kind, paths in stages.items():
        for path in paths:
            assert (results / path).is_file() == (kind in case.labels), (kind, path)
        announced = [line for line in left_out if announcements[kind] in line]
        assert bool(announced) == (kind not in case.labels), (kind, left_out)
    if "class" in case.labels and "supervised" in config["pretrain"]["methods"]:
        assert (results / "labels_needed.csv").is_file()
        assert (results / "finetune/supervised/classes/confusion.png").is_file()
    if not case.labels:
        assert not (results / "simclr/maps/pca_spearman.png").exists()
        assert any("label-alignment maps" in line for line in left_out), left_out
    tasks = set(pd.read_parquet(results / "metrics.parquet")["task"])
    assert ("photoz" in " ".join(tasks)) == ("redshift" in case.labels), tasks
