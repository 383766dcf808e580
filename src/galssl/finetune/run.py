"""One fine-tuning job: encoder.ckpt + shards + labels → metrics on val and test, test predictions, training log.

The encoder starts from the pretrained weights and a new head is trained on the task (``galssl.finetune.tasks``) with
the same data path as pretraining (raw cutouts streamed from the shards, views made batch-wise on the device) and
the embeddings' crop and normalisation for evaluation. The weights of the epoch with the lowest val loss are scored
(early stopping on the same val loss); the test split is only ever scored, never used to choose.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from lightning.pytorch import seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader

from galssl.augment import build_augmentations
from galssl.augment.settings import augment_config
from galssl.augment.views import BatchViews
from galssl.binned_redshift import PhotozSettings
from galssl.checkpoint import load_encoder
from galssl.data import ShardDataset, centre_crop, collate, load_manifest, normaliser_from_manifest
from galssl.errors import DataError, GalsslError
from galssl.finetune.module import EncoderFeatures, FinetuneModule
from galssl.finetune.settings import FinetuneSettings
from galssl.finetune.tasks import ClassTask, PhotozTask, load_task
from galssl.io import atomic_path, write_parquet_atomic
from galssl.metric_table import metric_frame, metric_rows
from galssl.train import SetEpoch, TrainSettings, ddp_layout, make_trainer


@dataclass
class FinetuneInputs:
    """Everything one job reads, resolved from the rule's inputs."""

    survey: str
    method: str  # name written in the tables (the embedding whose encoder is fine-tuned)
    ckpt: str
    task: str  # classes or photoz
    shards: list[str]
    manifest: str
    labels: str
    settings: FinetuneSettings
    pretrain_section: dict  # its `augment` is the augmentation pipeline fine-tuning draws from
    class_column: str
    photoz: PhotozSettings
    seed: int
    out_dir: Path
    instrument: str = "sdss"
    workers: int = 0


def training_augment(mode: str, pretrain_section: dict, bands: list[str], manifest: dict, instrument: str,
                     crop: int, image_size: int):
    """The training-view pipeline: pretraining's (``pretrain``) or only its rotation/flip and jitter crop
    (``geometric``), always cropping to the encoder's input size ``crop``."""
    section = augment_config(pretrain_section)
    jitter = section.get("jitter_crop") or {}
    max_shift = max(0, min(int(jitter.get("max_shift", 0)), (image_size - crop) // 2))
    if mode == "geometric":
        section = {"rotation": section.get("rotation", True), "noise": None, "psf_blur": None, "reddening": None,
                   "rescale": None}
    return build_augmentations({**section, "jitter_crop": {"crop_size": crop, "max_shift": max_shift}}, bands,
                               manifest, instrument)


@torch.no_grad()
def predict_split(module: FinetuneModule, task: ClassTask | PhotozTask, shards: list[str], split: str,
                  object_ids: list[str], batch_size: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(logits, truth, object_ids) of the given objects of ``split``, sorted by object_id, on this process alone."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    module.to(device).eval()
    dataset = ShardDataset(shards, splits=(split,), object_ids=object_ids, rank=0, world_size=1,
                           **task.dataset_labels())
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast(
        "cpu", enabled=False)
    logits, truth, ids = [], [], []
    for batch in DataLoader(dataset, batch_size=batch_size, collate_fn=collate):
        with autocast:
            out = module(module.normalise(centre_crop(batch["image"].to(device), module.crop)))
        logits.append(out.float().cpu().numpy())
        truth.append(task.truth(batch).numpy())
        ids += batch["object_id"]
    order = np.argsort(np.asarray(ids, dtype=object), kind="stable")
    return np.concatenate(logits)[order], np.concatenate(truth)[order], [ids[i] for i in order]


def run_finetune(inputs: FinetuneInputs, log=print) -> pd.DataFrame:
    """Fine-tune, then write ``metrics.parquet`` (tidy, val and test), ``predictions.parquet`` (test) and
    ``metrics.csv`` (training log) under ``out_dir``; returns the metrics table."""
    settings, seed = inputs.settings, inputs.seed
    seed_everything(seed, workers=True)
    method, recipe = load_encoder(inputs.ckpt)
    manifest = load_manifest(inputs.manifest)
    bands, image_size, crop = list(manifest["bands"]), int(manifest["image_shape"][-1]), int(recipe["img_size"])
    if list(recipe.get("bands", bands)) != bands:
        raise DataError(f"checkpoint {inputs.ckpt} was trained on bands {recipe['bands']}, the shards hold {bands}")
    task = load_task(inputs.task, inputs.labels, inputs.class_column, inputs.photoz)
    train_ids = task.train_ids(inputs.shards, settings.n_labels, seed)
    val_ids, test_ids = task.known_ids(inputs.shards, "val"), task.known_ids(inputs.shards, "test")
    if not val_ids or not test_ids:
        raise DataError(f"fine-tuning {task.name} needs labelled val (model selection) and test galaxies in "
                        f"{task.column!r} (got {len(val_ids)} val, {len(test_ids)} test)")
    features = EncoderFeatures(method)
    head = task.head(features.embedding_dim, train_ids)
    normalise = normaliser_from_manifest(manifest)
    augment = training_augment(settings.augment, inputs.pretrain_section, bands, manifest, inputs.instrument, crop,
                               image_size)
    labels = task.dataset_labels()
    train_set = ShardDataset(inputs.shards, splits=("train",), seed=seed, shuffle=True, drop_uneven=True,
                             object_ids=train_ids, **labels)
    val_set = ShardDataset(inputs.shards, splits=("val",), drop_uneven=True, object_ids=val_ids, **labels)
    devices, nodes, _ = ddp_layout()
    steps_per_epoch = max(1, -(-(len(train_ids) // (devices * nodes)) // settings.batch_size))
    module = FinetuneModule(features, head, task, settings, steps_per_epoch, crop, normalise,
                            BatchViews(augment, 1, crop, normalise, seed))
    # Pretraining's periodic step checkpoints are off (short runs, no resume); `best` keeps the lowest val loss.
    train_settings = TrainSettings(epochs=settings.epochs, batch_size=settings.batch_size, lr=settings.head_lr,
                                   weight_decay=settings.weight_decay, warmup_epochs=settings.warmup_epochs,
                                   checkpoint_every_n_steps=10**9, early_stopping_patience=settings.patience,
                                   online_probe=False)
    out_dir = Path(inputs.out_dir)
    best = ModelCheckpoint(dirpath=out_dir / "best", filename="best", monitor="val/loss", mode="min", save_top_k=1,
                           save_weights_only=True, enable_version_counter=False)
    shutil.rmtree(out_dir / "best", ignore_errors=True)
    trainer, _ = make_trainer(out_dir, train_settings, [best, SetEpoch(train_set)], steps_per_epoch=steps_per_epoch)
    loader = dict(batch_size=settings.batch_size, collate_fn=collate, num_workers=inputs.workers)
    log(f"{inputs.method} -> {task.name}: {len(train_ids)} train, {len(val_ids)} val, {len(test_ids)} test galaxies; "
        f"head lr {settings.head_lr:g}, encoder lr {settings.encoder_lr:g}")
    start = time.perf_counter()
    module.train()  # load_encoder returns eval mode; fine-tuning updates batch-norm statistics like pretraining
    trainer.fit(module, DataLoader(train_set, **loader), DataLoader(val_set, **loader))
    log(f"fine-tuning: {time.perf_counter() - start:.1f} s, {trainer.global_step} steps")
    if not trainer.is_global_zero:
        return metric_frame([])
    if best.best_model_path:
        state = torch.load(best.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
        log(f"kept the weights of the lowest val loss ({float(best.best_model_score):.4f})")
    rows, predictions = [], None
    for split, ids in (("val", val_ids), ("test", test_ids)):
        logits, truth, object_ids = predict_split(module, task, inputs.shards, split, ids, 2 * settings.batch_size)
        values, frame = task.scores(logits, truth, object_ids)
        rows += metric_rows(inputs.method, f"finetune_{task.name}", len(train_ids), seed, split, values)
        log(f"{inputs.method} finetune_{task.name} {split}: " + ", ".join(f"{k} {v:.4f}" for k, v in values.items()))
        if split == "test":
            predictions = frame
    table = metric_frame(rows)
    write_parquet_atomic(table, out_dir / "metrics.parquet")
    write_parquet_atomic(predictions, out_dir / "predictions.parquet")
    curves = out_dir / "logs" / "metrics.csv"
    if not curves.exists():
        raise GalsslError(f"fine-tuning wrote no training log ({curves}); check the log")
    with atomic_path(out_dir / "metrics.csv", suffix=".csv.tmp") as tmp:
        shutil.copyfile(curves, tmp)
    for folder in ("best", "checkpoints"):  # weights were only needed to score the best epoch
        shutil.rmtree(out_dir / folder, ignore_errors=True)
    return table
