"""Pretraining end to end on tiny shards: outputs, resume after SIGTERM, deterministic embeddings, bad checkpoints."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from galssl.checkpoint import load_encoder
from galssl.errors import DataError
from galssl.ingest import SurveySpec, ingest_shard, write_manifest
from galssl.mocksky.catalog import labels_table
from galssl.providers import ProviderContext, create_provider

SECTION = {"provider": "mock", "instrument": "sdss", "bands": ["g", "r", "i"], "pixel_scale_arcsec": 0.396,
           "cutout_size": 32}
PRETRAIN = {"epochs": 2, "batch_size": 8, "checkpoint_every_n_steps": 1, "probe_train_size": 10, "probe_val_size": 10,
            "augment": {"jitter_crop": {"crop_size": 24, "max_shift": 2}}, "warmup_epochs": 0.5}
CLI = [sys.executable, "-m", "galssl.cli"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrain")
    provider = create_provider(SECTION, ProviderContext("sdss", 3, str(root / "cache"), {"n_objects": 48}))
    catalog = provider.sky.catalog()
    catalog["split"] = ["val" if i % 4 == 0 else "train" for i in range(len(catalog))]
    spec = SurveySpec.from_section("sdss", SECTION)
    shards = []
    for index in range(2):
        shard, failures = root / f"shard-{index:05d}.parquet", root / f"failures-{index}.parquet"
        ingest_shard(catalog, spec, provider, index, 24, 3, str(shard), str(failures))
        shards.append(str(shard))
    write_manifest(spec, shards, [str(root / f"failures-{i}.parquet") for i in range(2)], str(root / "manifest.json"),
                   str(root / "failures.parquet"), "test")
    labels_table(provider.sky).to_parquet(root / "labels.parquet")
    return root, shards


def pretrain_command(root: Path, shards: list[str], method: str, out: Path, extra: dict | None = None) -> list[str]:
    section = {**PRETRAIN, **(extra or {})}
    return [*CLI, "pretrain", "--survey", "sdss", "--survey-config", json.dumps(SECTION), "--method", method,
            "--pretrain", json.dumps(section), "--shards", *shards, "--manifest", str(root / "manifest.json"),
            "--labels", str(root / "labels.parquet"), "--seed", "3", "--out-dir", str(out), "--threads", "1"]


@pytest.mark.parametrize("method", ["simclr", "mae"])
def test_pretrain_writes_encoder_and_metrics_and_embeddings_are_deterministic(dataset, tmp_path, method):
    root, shards = dataset
    out = tmp_path / method
    result = subprocess.run(pretrain_command(root, shards, method, out), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    encoder, recipe = load_encoder(out / "encoder.ckpt")
    assert recipe["method"] == method and recipe["img_size"] == 24 and recipe["bands"] == ["g", "r", "i"]
    assert recipe["global_step"] == 2 * -(-36 // 8)
    metrics = (out / "metrics.csv").read_text()
    assert "train/loss" in metrics and "val/loss" in metrics and "probe/accuracy" in metrics
    assert "probe/balanced_accuracy" in metrics
    tables = []
    for name in ("a", "b"):
        target = tmp_path / f"{name}.parquet"
        embed = subprocess.run([*CLI, "embed", "--ckpt", str(out / "encoder.ckpt"), "--shards", *shards, "--manifest",
                                str(root / "manifest.json"), "--out", str(target)], capture_output=True, text=True)
        assert embed.returncode == 0, embed.stderr[-2000:]
        tables.append(target.read_bytes())
    assert tables[0] == tables[1]
    from galssl.embeddings import read_embeddings
    ids, vectors = read_embeddings(tmp_path / "a.parquet")
    assert len(ids) == 48 and vectors.shape == (48, encoder.embedding_dim) and ids == sorted(ids)


def test_sigterm_checkpoints_and_rerun_resumes(dataset, tmp_path):
    root, shards = dataset
    out = tmp_path / "moco"
    # Patience above the epoch count: the whole schedule runs (a 36-galaxy probe plateaus at once and would stop it).
    command = pretrain_command(root, shards, "moco", out, {"epochs": 6, "early_stopping_patience": 10})
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoints = out / "checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and not any(checkpoints.glob("step*.ckpt")):
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 75, stderr[-2000:]
    saved = torch.load(checkpoints / "last.ckpt", map_location="cpu", weights_only=True)
    assert 0 < saved["global_step"] < 6 * -(-36 // 8)
    assert any(key.startswith("KeepBest") for key in saved["callbacks"])  # the best epoch so far survives a resume
    assert not (out / "encoder.ckpt").exists()
    # The same interrupted state under other settings is not continued: that run starts from step 0.
    other = tmp_path / "moco-other"
    shutil.copytree(out, other)
    changed = pretrain_command(root, shards, "moco", other, {"epochs": 1, "lr": 0.002})
    fresh = subprocess.run(changed, capture_output=True, text=True, timeout=600)
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert "was written with other settings: training from the start" in fresh.stderr
    assert load_encoder(other / "encoder.ckpt")[1]["global_step"] == -(-36 // 8)
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"resuming from {checkpoints / 'last.ckpt'}" in rerun.stderr
    _, recipe = load_encoder(out / "encoder.ckpt")
    assert recipe["global_step"] == 6 * -(-36 // 8)
    assert recipe["kept"]["kept"] == "best" and recipe["kept"]["monitor"] == "probe/balanced_accuracy"
    assert not checkpoints.exists()  # finished: a later forced rerun starts afresh instead of resuming


def test_bad_checkpoints_give_clear_errors(tmp_path):
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(os.urandom(200))
    with pytest.raises(DataError, match="not a readable galssl encoder checkpoint"):
        load_encoder(garbage)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, foreign)
    with pytest.raises(DataError, match="not a galssl encoder checkpoint"):
        load_encoder(foreign)
    with pytest.raises(DataError, match="file not found"):
        load_encoder(tmp_path / "missing.ckpt")


def test_pixels_pca_floor_matches_a_batch_pca_and_loads_like_any_encoder(dataset, tmp_path):
    import numpy as np
    from sklearn.decomposition import PCA

    from galssl.data import AsinhNormalise, ShardDataset, centre_crop, load_manifest
    from galssl.pixels import fit_pixel_pca

    root, shards = dataset
    out = tmp_path / "pixels_pca" / "encoder.ckpt"
    n = fit_pixel_pca(shards, root / "manifest.json", 24, 5, seed=3, out=out, survey="sdss", batch_size=8)
    assert n == 36  # the train split only
    method, recipe = load_encoder(out)
    assert recipe["method"] == "pixels_pca" and method.embedding_dim == 5
    assert len(recipe["explained_variance_ratio"]) == 5
    normalise = AsinhNormalise.from_manifest(load_manifest(root / "manifest.json"))
    train = [s["image"] for s in ShardDataset(shards, splits=["train"], normalise=normalise,
                                              transform=lambda image, generator: centre_crop(image, 24))]
    images = torch.stack(train)
    flat = images.reshape(len(images), -1).numpy()
    reference = PCA(n_components=5).fit(flat)
    components = method.encoder.components.numpy()
    np.testing.assert_allclose(components @ components.T, np.eye(5), atol=1e-4)
    # Same subspace as a one-shot PCA: the incremental fit's leading components match up to sign.
    agreement = np.abs(np.sum(components[:3] * reference.components_[:3], axis=1))
    assert np.all(agreement > 0.99), agreement
    projected = method.embed(images).numpy()
    np.testing.assert_allclose(np.abs(projected[:, 0]), np.abs(reference.transform(flat)[:, 0]), rtol=1e-3, atol=1e-3)
    with pytest.raises(DataError, match="embed.pixels_pca.n_components=100"):
        fit_pixel_pca(shards, root / "manifest.json", 24, 100, seed=3, out=tmp_path / "x.ckpt")
    assert not (tmp_path / "x.ckpt").exists()


def test_supervised_from_scratch_trains_on_the_label_subset_only_and_scores_its_head(dataset, tmp_path):
    import pandas as pd

    from galssl.evaluate.baseline import run_subset
    from galssl.label_subsets import label_subset, labelled_train_objects, nested_stratified_order

    root, shards = dataset
    labels = str(root / "labels.parquet")
    everyone = labelled_train_objects(shards, labels, "galaxy10_class")
    small, large = (label_subset(shards, labels, "galaxy10_class", n, seed=5) for n in (8, 16))
    assert len(small) == 8 and set(small["object_id"]) <= set(large["object_id"])  # nested
    order = nested_stratified_order(everyone["label"].to_numpy(), 5)
    assert sorted(small["object_id"]) == sorted(everyone["object_id"].iloc[order[:8]])
    assert len(label_subset(shards, labels, "galaxy10_class", 10_000, seed=5)) == len(everyone)  # capped
    # The run's subset: its 8 train objects and at most 8 labelled val objects to select its epoch on.
    subset = run_subset(shards, labels, "galaxy10_class", 8, seed=5)
    val = subset[subset["split"] == "val"]
    everyone_val = labelled_train_objects(shards, labels, "galaxy10_class", split="val")
    assert sorted(subset.loc[subset["split"] == "train", "object_id"]) == sorted(small["object_id"])
    assert len(val) == min(8, len(everyone_val)) and set(val["object_id"]) <= set(everyone_val["object_id"])
    assert len(everyone_val) > 8  # so the subset really is smaller than the val split
    ids = tmp_path / "ids.parquet"
    subset.to_parquet(ids)
    out = tmp_path / "scratch"
    command = pretrain_command(root, shards, "supervised", out, {"epochs": 3, "online_probe": False,
                                                                 "val_every_n_epochs": 2})
    result = subprocess.run([*command, "--train-ids", str(ids)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    _, recipe = load_encoder(out / "encoder.ckpt")
    assert recipe["global_step"] == 3  # 8 objects, batch 8: one step per epoch — the other train objects unseen
    assert "training on 8 train-split objects, validating on 8 val-split objects" in result.stderr
    # Validated once (epoch index 1, after step 2): the supervised run keeps that epoch's weights on its val loss.
    assert {k: recipe["kept"][k] for k in ("monitor", "mode", "kept", "epoch", "step")} == {
        "monitor": "val/loss", "mode": "min", "kept": "best", "epoch": 1, "step": 2}
    metrics = pd.read_csv(out / "metrics.csv")
    assert "probe/accuracy" not in metrics.columns and metrics["val/loss"].notna().sum() == 1  # epoch 2 only
    scores = tmp_path / "scores.parquet"
    score = subprocess.run([*CLI, "score-supervised", "--ckpt", str(out / "encoder.ckpt"), "--train-ids", str(ids),
                            "--shards", *shards, "--manifest", str(root / "manifest.json"), "--labels", labels,
                            "--seed", "5", "--split", "val", "--out", str(scores)], capture_output=True, text=True,
                           timeout=300)
    assert score.returncode == 0, score.stderr[-2000:]
    table = pd.read_parquet(scores)
    assert list(table["metric"]) == ["accuracy", "balanced_accuracy", "macro_f1"] and set(table["n_labels"]) == {8}
    assert set(table["method"]) == {"supervised_from_scratch"} and set(table["split"]) == {"val"}
    assert ((table["value"] >= 0) & (table["value"] <= 1)).all()


def test_early_stopping_watches_the_metric_it_is_given(tmp_path):
    from lightning.pytorch.callbacks import EarlyStopping

    from galssl.train import TrainSettings, make_trainer

    def stopper(trainer):
        return next(callback for callback in trainer.callbacks if isinstance(callback, EarlyStopping))

    default, _ = make_trainer(tmp_path, TrainSettings(epochs=2), [])
    assert stopper(default).monitor == "val/loss" and stopper(default).mode == "min"
    probe, _ = make_trainer(tmp_path, TrainSettings(epochs=2, early_stopping_patience=3), [],
                            stop_on=("probe/accuracy", "max"))
    assert (stopper(probe).monitor, stopper(probe).mode, stopper(probe).patience) == ("probe/accuracy", "max", 3)
    assert stopper(default).strict and not stopper(probe).strict  # an epoch the probe skips does not crash the run


def test_the_saved_encoder_holds_the_best_probe_epoch_not_the_last(dataset, tmp_path, monkeypatch):
    from galssl import pretrain
    from galssl.train import LinearProbe

    # A scripted online probe, best at epoch 1; with patience 2 early stopping ends the run after epoch 3.
    scripted = [0.30, 0.90, 0.50, 0.40, 0.35, 0.30]
    weights: dict[int, dict[str, torch.Tensor]] = {}

    class ScriptedProbe(LinearProbe):
        def on_validation_epoch_end(self, trainer, module) -> None:
            weights[trainer.current_epoch] = {k: v.detach().clone() for k, v in module.method.state_dict().items()}
            module.log("probe/balanced_accuracy", scripted[trainer.current_epoch], sync_dist=False)

    monkeypatch.setattr(pretrain, "LinearProbe", ScriptedProbe)
    root, shards = dataset
    inputs = pretrain.PretrainInputs(survey="sdss", method="simclr", shards=shards,
                                     manifest=str(root / "manifest.json"), labels=str(root / "labels.parquet"),
                                     seed=3, out_dir=tmp_path / "simclr",
                                     section={**PRETRAIN, "epochs": 6, "early_stopping_patience": 2})
    method, recipe = load_encoder(pretrain.run_pretraining(inputs))
    steps = -(-36 // 8)
    assert sorted(weights) == [0, 1, 2, 3] and recipe["epochs_run"] == 4 and recipe["global_step"] == 4 * steps
    assert recipe["kept"] == {"monitor": "probe/balanced_accuracy", "mode": "max", "kept": "best", "epoch": 1,
                              "step": 2 * steps, "value": pytest.approx(0.9)}
    saved = method.state_dict()
    assert saved.keys() == weights[1].keys()
    for name, value in weights[1].items():
        assert torch.equal(saved[name], value), name
    changed = [name for name in saved if not torch.equal(saved[name], weights[3][name])]
    assert changed  # training went on after epoch 1: the last epoch's weights are different ones


def test_keep_best_skips_early_and_non_finite_epochs_and_survives_a_checkpoint(tmp_path):
    from types import SimpleNamespace

    from galssl.train import KeepBest

    model = torch.nn.Linear(2, 1)
    module = SimpleNamespace(method=model)
    keep = KeepBest("val/loss", "min", from_epoch=2)
    # Epochs 0-1 are before from_epoch (GalaxAlign's stage 1) however low; NaN is no candidate; the tie at 0.5
    # keeps the first (epoch 3).
    for epoch, loss in enumerate([0.1, 0.2, 0.9, 0.5, float("nan"), 0.5, 0.7]):
        with torch.no_grad():
            model.weight.fill_(epoch)
        trainer = SimpleNamespace(sanity_checking=False, current_epoch=epoch, global_step=10 * (epoch + 1),
                                  callback_metrics={"val/loss": torch.tensor(loss)})
        keep.on_validation_end(trainer, module)
    torch.save(keep.state_dict(), tmp_path / "state.pt")
    resumed = KeepBest("val/loss", "min", from_epoch=2)
    resumed.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    kept = resumed.restore(model, last_epoch=6, last_step=70)
    assert kept == {"monitor": "val/loss", "mode": "min", "kept": "best", "epoch": 3, "step": 40,
                    "value": pytest.approx(0.5)}
    assert torch.all(model.weight == 3)
    # Another monitor's saved best is not taken; without any candidate the weights stay and "last" is recorded.
    other = KeepBest("probe/accuracy", "max")
    other.load_state_dict(keep.state_dict())
    with torch.no_grad():
        model.weight.fill_(6)
    assert other.restore(model, last_epoch=6, last_step=70) == {
        "monitor": "probe/accuracy", "mode": "max", "kept": "last", "epoch": 6, "step": 70, "value": None}
    assert torch.all(model.weight == 6)
