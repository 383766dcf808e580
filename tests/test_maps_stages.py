"""The `galssl maps-*` verbs end to end on a small synthetic survey (shards, catalogue, labels, a pixel-PCA encoder):
the compute verbs write tables only, the figure verbs draw from those tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from galssl.checkpoint import save_encoder
from galssl.cli import main
from galssl.data import AsinhNormalise
from galssl.embeddings import write_embeddings
from galssl.maps.inputs import METRIC_COLUMNS
from galssl.maps.stationarity import embed_images
from galssl.methods import create_method
from galssl.shards import ShardRow, shard_schema, write_shard

torch.set_num_threads(1)
N, BANDS, SIZE, CROP = 90, ["g", "r", "i"], 16, 12
MAPS = {"pca": {"n_components": 6, "n_show": 2, "n_extreme": 3},
        "sae": {"groups": [4, 4, 8], "reference_dim": 8, "k": 2, "epochs": 60, "batch_size": 32, "n_show": 2,
                "n_top_galaxies": 3},
        "umap": {"n_neighbors": 8, "grid_cells": 5}, "stationarity": {"n_galaxies": 2, "n_steps": 3, "max_shift_px": 2},
        "min_shared_nonzero": 5}


@pytest.fixture(scope="module")
def survey(tmp_path_factory) -> Path:
    """Galaxies are Gaussian blobs whose size sets the `size__large_fraction` vote."""
    root = tmp_path_factory.mktemp("maps")
    rng = np.random.default_rng(0)
    ids = [f"obj{i:03d}" for i in range(N)]
    split = np.array(["train"] * 60 + ["val"] * 10 + ["test"] * 20)
    sigma = rng.uniform(1.0, 4.0, N)
    y, x = np.mgrid[:SIZE, :SIZE] - (SIZE - 1) / 2
    images = (np.exp(-(x**2 + y**2)[None] / (2 * sigma[:, None, None] ** 2))[:, None]
              * np.array([1.0, 2.0, 3.0])[:, None, None])
    images = (images + 0.02 * rng.normal(size=(N, 3, SIZE, SIZE))).astype(np.float32)
    schema = shard_schema(BANDS, SIZE, 0.4)
    for shard, chunk in enumerate((slice(0, 45), slice(45, N))):
        rows = [ShardRow(ids[i], 0.0, 0.0, "toy", split[i], images[i], np.zeros(3), np.ones(3), np.zeros(3),
                         np.full(3, 0.02))
                for i in range(N)[chunk]]
        write_shard(root / f"shard-{shard:05d}.parquet", rows, schema)
    manifest = {"bands": BANDS, "image_shape": [3, SIZE, SIZE],
                "band_statistics": {band: {"sky_mad": 0.02} for band in BANDS}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    pd.DataFrame({"object_id": ids, "ra": 0.0, "dec": 0.0, "split": split}).to_parquet(root / "catalog.parquet")
    large = np.clip((sigma - 1) / 3 + rng.normal(0, 0.1, N), 0, 1)  # volunteers' noise on top of the true size
    pd.DataFrame({"object_id": ids, "object_type": "galaxy", "galaxy10_name": np.where(large > 0.5, "big", "small"),
                  "size__large_fraction": large, "size__small_fraction": 1 - large,
                  "redshift": rng.uniform(0.01, 0.3, N), "sigma_px": sigma,
                  "is_big": large > 0.5}).to_parquet(root / "labels.parquet")
    # The pixel-PCA floor as the encoder: fitted on the crops, saved as an ordinary encoder checkpoint.
    normalise = AsinhNormalise([0.02] * 3)
    top = (SIZE - CROP) // 2
    crops = images[..., top:top + CROP, top:top + CROP]
    flat = normalise(torch.as_tensor(crops)).reshape(N, -1).numpy()
    mean = flat.mean(0)
    components = np.linalg.svd(flat - mean, full_matrices=False)[2][:8]
    method = create_method("pixels_pca", in_chans=3, img_size=CROP, config={"n_components": 8})
    method.set_components(mean, components)
    save_encoder(root / "encoder.ckpt", method, {"method": "pixels_pca", "in_chans": 3, "img_size": CROP,
                                                 "config": {"n_components": 8}})
    write_embeddings(root / "embeddings.parquet", ids, embed_images(method.embed, crops, normalise), "toy_pca")
    return root


def common(root: Path) -> list[str]:
    return ["--catalog", str(root / "catalog.parquet"), "--labels", str(root / "labels.parquet"),
            "--shards", str(root / "shard-00000.parquet"), str(root / "shard-00001.parquet"),
            "--manifest", str(root / "manifest.json"), "--maps", json.dumps(MAPS), "--seed", "3"]


def draw(root: Path, out: Path, *extra: str) -> list[str]:
    """Arguments of the figure verbs: the label table and config, shards, manifest and the folder of the tables."""
    return ["--labels", str(root / "labels.parquet"), "--shards", str(root / "shard-00000.parquet"),
            str(root / "shard-00001.parquet"), "--manifest", str(root / "manifest.json"), "--maps", json.dumps(MAPS),
            "--maps-dir", str(out), *extra]


def test_pca_sae_and_alignment_verbs(survey, capsys):
    out = survey / "maps"
    args = ["--embeddings", str(survey / "embeddings.parquet"), "--name", "toy_pca", *common(survey),
            "--out-dir", str(out)]
    main(["maps-pca", *args])
    main(["maps-sae", *args])
    assert not list(out.glob("*.png"))  # the compute verbs write tables only
    main(["maps-pca-figures", *draw(survey, out)])
    main(["maps-sae-figures", *draw(survey, out)])
    main(["maps-alignment", "--pca", str(out / "pca_alignment.parquet"), "--sae", str(out / "sae_alignment.parquet"),
          "--maps", json.dumps(MAPS), "--out", str(out / "alignment.png")])
    for name in ("pca_variance", "pca_spearman", "pca_extremes", "sae_frequent", "sae_aligned", "alignment"):
        assert (out / f"{name}.png").stat().st_size > 10_000
    pca = pd.read_parquet(out / "pca_metrics.parquet")
    sae = pd.read_parquet(out / "sae_metrics.parquet")
    for frame in (pca, sae):
        assert tuple(frame.columns) == METRIC_COLUMNS and (frame["method"] == "toy_pca").all()
    # Size drives the first pixel component: it aligns with the planted vote.
    best = pca.set_index("task").loc["pca:size__large_fraction", "value"]
    assert best > 0.8
    metric = sae.set_index(["task", "metric"])["value"]
    assert 0 <= metric["sae", "fvu"] < 1 and 0 <= metric["sae", "dead_fraction"] <= 1
    activations = pd.read_parquet(out / "sae_activations.parquet")
    assert set(activations.columns) == {"object_id", "feature", "activation"} and (activations["activation"] > 0).all()
    features = pd.read_parquet(out / "sae_features.parquet")
    assert len(features) == 16 and features["group"].tolist() == [0] * 4 + [1] * 4 + [2] * 8
    payload = torch.load(out / "sae.pt", weights_only=True)
    assert payload["groups"] == [4, 4, 8] and payload["k"] == 2
    assert "spearman_max_abs" in capsys.readouterr().out
    extremes = pd.read_parquet(out / "pca_extremes.parquet")
    assert extremes.groupby(["component", "end"]).size().tolist() == [3] * 4  # n_show 2 x two ends x n_extreme 3
    scores = pd.read_parquet(out / "pca_scores.parquet").set_index("object_id")
    first = extremes.query("component == 1 and end == 'negative' and rank == 1").iloc[0]
    assert first["score"] == pytest.approx(scores.loc[first["object_id"], "pc_01"], rel=1e-6)
    assert first["score"] == pytest.approx(scores["pc_01"].min(), rel=1e-6)  # every object is a galaxy here


def test_truth_columns_are_aligned_apart_from_the_votes(survey, capsys):
    settings = dict(MAPS, truth_columns=["sigma_px", "is_big"])
    out = survey / "maps_truth"
    args = ["--embeddings", str(survey / "embeddings.parquet"), "--name", "toy_pca", *common(survey),
            "--out-dir", str(out)]
    args[args.index("--maps") + 1] = json.dumps(settings)
    main(["maps-pca", *args])
    main(["maps-sae", *args])
    pca = pd.read_parquet(out / "pca_metrics.parquet").set_index(["task", "metric"])["value"]
    sae = pd.read_parquet(out / "sae_metrics.parquet").set_index(["task", "metric"])["value"]
    # The planted size is the truth behind the vote: the first component follows it, and a boolean truth counts too.
    assert pca["pca:truth:sigma_px", "spearman_max_abs"] > 0.8
    assert 0 < pca["pca:truth:is_big", "spearman_max_abs"] <= 1
    assert sae["sae:truth:top", "spearman_max_abs"] == max(sae["sae:truth:sigma_px", "spearman_max_abs"],
                                                           sae["sae:truth:is_big", "spearman_max_abs"])
    # The vote summaries do not mix the truth in: the top is over the two vote fractions only.
    votes = [pca[f"pca:size__{answer}_fraction", "spearman_max_abs"] for answer in ("large", "small")]
    assert pca["pca:top", "spearman_max_abs"] == max(votes) < pca["pca:truth:top", "spearman_max_abs"]
    features = pd.read_parquet(out / "sae_features.parquet")
    assert set(features["best_truth"]) <= {"", "sigma_px", "is_big"} and (features["best_truth"] != "").any()
    assert not features["best_target"].str.startswith("truth:").any()
    alignment = pd.read_parquet(out / "pca_alignment.parquet")
    assert {"truth:sigma_px", "truth:is_big"} <= set(alignment["target"])
    main(["maps-alignment", "--pca", str(out / "pca_alignment.parquet"), "--sae", str(out / "sae_alignment.parquet"),
          "--maps", json.dumps(settings), "--out", str(out / "alignment.png")])
    from PIL import Image

    with Image.open(out / "alignment.png") as image:  # a third panel for the truth: 16.5 x 4.8 inches
        assert image.width / image.height > 3
    settings["truth_columns"] = ["inclination_deg"]
    args[args.index("--maps") + 1] = json.dumps(settings)
    with pytest.raises(SystemExit):
        main(["maps-pca", *args])
    error = capsys.readouterr().err.strip()
    assert "maps.truth_columns" in error and "inclination_deg" in error and "\n" not in error


def test_umap_and_stationarity_verbs(survey):
    out = survey / "maps_umap"
    main(["maps-pixel-stationarity", *common(survey), "--crop", str(CROP),
          "--out-umap", str(out / "pixel_umap.parquet"), "--out-paths", str(out / "pixel_paths.parquet")])
    main(["maps-umap", "--embeddings", str(survey / "embeddings.parquet"), *common(survey), "--ckpt",
          str(survey / "encoder.ckpt"), "--pixel-paths", str(out / "pixel_paths.parquet"), "--out-dir", str(out)])
    assert not list(out.glob("*.png"))
    cells = pd.read_parquet(out / "umap_cells.parquet")
    assert set(cells["object_id"]) <= set(pd.read_parquet(out / "umap.parquet")["object_id"])
    assert set(cells["crop_px"]) == {CROP}  # the encoder.ckpt's input size
    main(["maps-umap-figures", *draw(survey, out, "--pixel-umap", str(out / "pixel_umap.parquet"))])
    for name in ("umap_map", "umap_scatter", "stationarity"):
        assert (out / f"{name}.png").stat().st_size > 10_000
    umap = pd.read_parquet(out / "umap.parquet")
    assert len(umap) == N and np.isfinite(umap[["x", "y"]].to_numpy()).all()
    paths = pd.read_parquet(out / "stationarity.parquet")
    assert set(paths["space"]) == {"pixel", "embedding"}
    assert paths.groupby("space").size().tolist() == [2 * (1 + 3 * 3)] * 2
    chosen = set(paths["object_id"])
    test_ids = set(pd.read_parquet(survey / "catalog.parquet").query("split == 'test'")["object_id"])
    assert chosen <= test_ids and len(chosen) == 2
    metrics = pd.read_parquet(out / "umap_metrics.parquet").set_index("task")
    assert set(metrics.loc[["pixel", "embedding"], "metric"]) == {"umap_stationarity"}
    assert (metrics["value"] >= 0).all()


def test_missing_vote_column_is_one_line_error(survey, capsys):
    args = ["--embeddings", str(survey / "embeddings.parquet"), *common(survey), "--out-dir", str(survey / "bad"),
            "--labels-config", json.dumps({"vote_columns": ["merger__yes_fraction"]})]
    with pytest.raises(SystemExit) as stop:
        main(["maps-pca", *args])
    assert stop.value.code == 1
    error = capsys.readouterr().err.strip()
    assert "merger__yes_fraction" in error and "\n" not in error


def test_maps_without_labels_draw_no_alignment_figures(survey):
    """No label table at all (a pure representation run): PCA and SAE still run; nothing to correlate with means no
    Spearman heat map and no label-aligned latents, and the metrics have no vote rows."""
    out = survey / "maps_unlabelled"
    args = ["--embeddings", str(survey / "embeddings.parquet"), "--name", "toy_pca", *common(survey), "--out-dir",
            str(out), "--labels-config", json.dumps({})]
    del args[args.index("--labels"):args.index("--labels") + 2]
    main(["maps-pca", *args])
    main(["maps-sae", *args])
    figures = draw(survey, out, "--labels-config", json.dumps({}))
    del figures[figures.index("--labels"):figures.index("--labels") + 2]
    main(["maps-pca-figures", *figures])
    main(["maps-sae-figures", *figures])
    drawn = sorted(path.name for path in out.glob("*.png"))
    assert drawn == ["pca_extremes.png", "pca_variance.png", "sae_frequent.png"]
    pca = pd.read_parquet(out / "pca_metrics.parquet").set_index(["task", "metric"])["value"]
    assert pca["pca", "n_features_scored"] == 0 and not any(":size__" in task for task, _ in pca.index)
    assert len(pd.read_parquet(out / "pca_alignment.parquet")) == 0


def test_maps_with_redshift_only_correlate_with_it(survey):
    """No votes, a redshift: the heat map and the aligned latents show the redshift alone."""
    out = survey / "maps_redshift"
    args = ["--embeddings", str(survey / "embeddings.parquet"), "--name", "toy_pca", *common(survey), "--out-dir",
            str(out), "--labels-config", json.dumps({"redshift_column": "redshift", "class_names": "galaxy10_name"})]
    main(["maps-pca", *args])
    main(["maps-sae", *args])
    labels = json.dumps({"redshift_column": "redshift", "class_names": "galaxy10_name"})
    main(["maps-pca-figures", *draw(survey, out, "--labels-config", labels)])
    main(["maps-sae-figures", *draw(survey, out, "--labels-config", labels)])
    assert {"pca_spearman.png", "sae_aligned.png"} <= {path.name for path in out.glob("*.png")}
    targets = set(pd.read_parquet(out / "pca_alignment.parquet")["target"])
    assert targets <= {"redshift"}
