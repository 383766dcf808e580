"""One pretraining run: shards + manifest (+ labels) → trained method → ``encoder.ckpt`` and ``metrics.csv``."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from lightning.pytorch import seed_everything
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader

from galssl.augment import build_augmentations
from galssl.augment.settings import augment_config, crop_size
from galssl.augment.views import BatchViews
from galssl.checkpoint import save_encoder
from galssl.data import ShardDataset, centre_crop, collate, load_manifest, normaliser_from_manifest
from galssl.display import augmentations_off
from galssl.errors import ConfigError, DataError, GalsslError
from galssl.io import atomic_path
from galssl.methods import create_method
from galssl.train import (
    KeepBest,
    LinearProbe,
    PreemptionCheckpoint,
    PretrainModule,
    SetEpoch,
    TrainSettings,
    ddp_layout,
    make_trainer,
)

PREEMPTED_EXIT_CODE = 75
"""Exit status after a checkpoint on SIGTERM/SIGUSR1 (EX_TEMPFAIL): the job failed, a retry resumes it."""


@dataclass
class PretrainInputs:
    """Everything a run reads, resolved from the rule's inputs."""

    survey: str
    method: str
    shards: list[str]
    manifest: str
    labels: str | None
    section: dict
    seed: int
    out_dir: Path
    instrument: str = "sdss"
    workers: int = 0
    train_ids: str | None = None  # table with object_id: train on these train-split objects only (label efficiency)
    class_column: str = "galaxy10_class"  # labels.class_column of the label table


def load_labels(path: str | None, class_column: str) -> pd.DataFrame | None:
    """Labels indexed by object_id with an integer class column (-1 unknown), or None without a table."""
    if not path:
        return None
    from galssl.tables import read_table

    table = read_table(path, "labels table")
    if class_column not in table.columns:
        raise ConfigError(f"config error: labels.class_column {class_column!r} is not a column of {path} "
                          f"(columns include: {', '.join(map(str, table.columns[:12]))})")
    labels = table[["object_id", class_column]].copy()
    labels[class_column] = pd.to_numeric(labels[class_column], errors="coerce").fillna(-1).astype("int64")
    return labels.set_index("object_id")


def checkpoint_run_key(path: Path) -> str | None:
    """The configuration a Lightning checkpoint of ``run_pretraining`` was written with (None if unreadable)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True).get("galssl_run_key")
    except Exception:  # noqa: BLE001 — a damaged or foreign file is simply not resumable
        return None


def read_object_ids(path: str | None, split: str | None = None) -> list[str] | None:
    """The object_id column of a Parquet/CSV table, or None without a path. With ``split``, only the rows of that
    split when the table has a ``split`` column (a from-scratch run's subset: its train objects and the val objects
    it selects its epoch on); None when such a table names no object of ``split`` (use the whole split)."""
    if not path:
        return None
    table = pd.read_csv(path) if str(path).endswith(".csv") else pd.read_parquet(path)
    if "object_id" not in table.columns:
        raise DataError(f"{path} has no object_id column (columns: {', '.join(map(str, table.columns[:12]))})")
    if split is not None and "split" in table.columns:
        table = table[table["split"].astype(str) == split]
        if split != "train" and table.empty:
            return None
    return table["object_id"].astype(str).tolist()


def method_config(section: dict, method: str, n_classes: int) -> dict:
    """The method's own settings, with the class count filled in for the supervised baseline."""
    config = dict((section.get("method_config") or {}).get(method, {}))
    if method == "supervised":
        config.setdefault("n_classes", n_classes)
    return config


def _probe_set(dataset: ShardDataset, limit: int, class_column: str) -> tuple[torch.Tensor, np.ndarray]:
    images, labels = [], []
    for sample in dataset:
        if int(sample["label"]) >= 0:
            images.append(sample["image"])
            labels.append(int(sample["label"]))
        if len(images) >= limit:
            break
    return (torch.stack(images) if images else torch.zeros(0)), np.asarray(labels)


def run_pretraining(inputs: PretrainInputs) -> Path:
    """Train one method; resume from ``checkpoints/last.ckpt`` when a previous run was interrupted."""
    section = inputs.section
    seed_everything(inputs.seed, workers=True)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    manifest = load_manifest(inputs.manifest)
    bands = list(manifest["bands"])
    image_size = int(manifest["image_shape"][-1])
    size = crop_size(section, image_size)
    settings = TrainSettings.from_section({k: v for k, v in section.items()
                                         if k not in ("methods", "labels", "class_column", "augment", "method_config")})
    overrides = (section.get("method_config") or {}).get(inputs.method, {})
    method_overrides = {k: overrides[k] for k in ("epochs", "lr", "batch_size") if k in overrides}
    settings = TrainSettings.from_section({**settings.__dict__, **method_overrides},
                                       where=f"pretrain.method_config.{inputs.method}")
    class_column = inputs.class_column
    labels = load_labels(inputs.labels, class_column)
    n_classes = int(labels[class_column].max()) + 1 if labels is not None and (labels[class_column] >= 0).any() else 0
    if inputs.method == "supervised" and n_classes < 2:
        raise ConfigError("config error: method supervised needs labels with at least two classes: set "
                          f"labels.table to a table with object_id and {class_column}")
    config = {k: v for k, v in method_config(section, inputs.method, n_classes).items()
              if k not in ("epochs", "lr", "batch_size")}
    method = create_method(inputs.method, in_chans=len(bands), img_size=size, config=config)
    if getattr(method, "needs_labels", False) and n_classes < 2:
        raise ConfigError(f"config error: method {inputs.method} needs labels with at least two classes: set "
                          f"labels.table to a table with object_id and {class_column}")
    planned_epochs = getattr(method, "planned_epochs", None)  # a method with its own schedule (GalaxAlign's stages)
    if planned_epochs is not None:
        if "epochs" in overrides:
            raise ConfigError(f"config error: pretrain.method_config.{inputs.method}.epochs is not used: "
                              f"{inputs.method} trains stage1_epochs + stage2_epochs")
        settings = dataclasses.replace(settings, epochs=int(planned_epochs))

    augment = build_augmentations(augment_config(section), bands, manifest, inputs.instrument)
    for name, reason in augmentations_off(manifest).items():
        print(f"augmentation {name} {reason}", file=sys.stderr)
    print(f"augmentations: {augment!r}", file=sys.stderr)
    normalise = normaliser_from_manifest(manifest)

    def evaluation(image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return centre_crop(image, size)

    # The loaders only read raw cutouts; the views are made batch-wise on the device (galssl.augment.views).
    batch_views = BatchViews(augment, int(getattr(method, "n_views", 0)), size, normalise, inputs.seed)
    common = dict(seed=inputs.seed, labels=labels, label_column=class_column if labels is not None else None)
    train_set = ShardDataset(inputs.shards, splits=("train",), shuffle=True, drop_uneven=True,
                             object_ids=read_object_ids(inputs.train_ids, "train"), **common)
    if len(train_set) == 0:
        raise DataError(f"no train-split objects to train on{' among ' + inputs.train_ids if inputs.train_ids else ''}")
    queue = getattr(method.config, "queue_size", None)
    if queue is not None and queue >= len(train_set):
        print(f"warning: pretrain.method_config.{inputs.method}.queue_size={queue} is not below the {len(train_set)} "
              "train objects, so a galaxy's own earlier keys become its negatives; lower it", file=sys.stderr)
    # A run on a label subset selects its epoch on the subset's val objects (no more than its N train labels).
    val_set = ShardDataset(inputs.shards, splits=("val",), shuffle=False, drop_uneven=True,
                           object_ids=read_object_ids(inputs.train_ids, "val"), **common)
    print(f"training on {len(train_set)} train-split objects, validating on {len(val_set)} val-split objects",
          file=sys.stderr)
    callbacks: list[Callback] = [SetEpoch(train_set)]
    if labels is not None and settings.online_probe:
        probe_train = _probe_set(ShardDataset(inputs.shards, splits=("train",), transform=evaluation,
                                              normalise=normalise, **common), settings.probe_train_size, class_column)
        probe_val = _probe_set(ShardDataset(inputs.shards, splits=("val",), transform=evaluation,
                                            normalise=normalise, **common), settings.probe_val_size, class_column)
        if len(probe_train[1]) and len(probe_val[1]):
            callbacks.append(LinearProbe(probe_train, probe_val))

    loader = dict(batch_size=settings.batch_size, collate_fn=collate, num_workers=inputs.workers,
                  persistent_workers=False)
    train_loader = DataLoader(train_set, **loader)
    val_loader = DataLoader(val_set, **loader)
    devices, nodes, _ = ddp_layout()
    per_rank = sum(train_set.shard_counts) // (devices * nodes)  # drop_uneven: every rank gets N // R samples
    steps_per_epoch = max(1, -(-per_rank // settings.batch_size))
    out_dir = inputs.out_dir
    last = out_dir / "checkpoints" / "last.ckpt"
    preemption = PreemptionCheckpoint(last)
    # A self-supervised method stops early on the online probe when it runs: its pretext loss is not the validation
    # metric that matters, and against a moving queue or momentum encoder it is not even comparable between epochs
    # (MoCo's rose while its probe accuracy rose). A method trained on the labels keeps its own validation loss.
    probing = any(isinstance(callback, LinearProbe) for callback in callbacks) \
        and not getattr(method, "needs_labels", False)
    stop_on = ("probe/balanced_accuracy", "max") if probing else ("val/loss", "min")
    # The saved encoder is the best epoch's on the metric early stopping watches, not the last of the `patience`
    # epochs run past it. Candidates are the epochs early stopping could end the run at: none before the last one
    # min_epochs forces (GalaxAlign's stage 1 is never kept in place of stage 2).
    min_epochs = getattr(method, "min_epochs", None)
    keep_best = KeepBest(*stop_on, from_epoch=max(0, (min_epochs or 1) - 1))
    trainer, checkpoint = make_trainer(out_dir, settings, [*callbacks, keep_best, preemption],
                                       steps_per_epoch=steps_per_epoch, min_epochs=min_epochs, stop_on=stop_on)
    module = PretrainModule(method, settings, steps_per_epoch, batch_views=batch_views)
    # Resume only a run of this very configuration: a checkpoint left by other settings (an edited config, another
    # label subset) is ignored and overwritten, never continued.
    module.run_key = json.dumps({"method": inputs.method, "pretrain": section, "seed": inputs.seed,
                                 "survey": inputs.survey, "train_ids": read_object_ids(inputs.train_ids),
                                 "objects": sum(train_set.shard_counts)}, sort_keys=True)
    resume = last if last.exists() and checkpoint_run_key(last) == module.run_key else None
    if resume:
        print(f"resuming from {resume}", file=sys.stderr)
    elif last.exists():
        print(f"{last} was written with other settings: training from the start", file=sys.stderr)
    trainer.fit(module, train_loader, val_loader, ckpt_path=resume, weights_only=True if resume else None)
    if preemption.preempted:
        raise SystemExit(PREEMPTED_EXIT_CODE)
    kept = keep_best.restore(module.method, last_epoch=int(trainer.current_epoch) - 1,
                             last_step=int(trainer.global_step))
    value = "" if kept["value"] is None else f", {kept['monitor']} {kept['value']:.4g}"
    print(f"encoder: the weights of epoch {kept['epoch']} (step {kept['step']}{value}; {kept['kept']} by "
          f"{kept['monitor']}) of {int(trainer.current_epoch)} epochs run", file=sys.stderr)
    # The checkpoint carries its own weights: drop any initial-weights path so moving that file never breaks it.
    recipe = {"method": inputs.method, "in_chans": len(bands), "img_size": size,
              "config": {k: v for k, v in config.items() if k != "weights"}, "bands": bands,
              "survey": inputs.survey, "seed": inputs.seed, "global_step": int(trainer.global_step),
              "epochs_run": int(trainer.current_epoch), "image_size": image_size,
              "pretrained": bool(config.get("weights")),  # initialised from a weights file (else random init)
              "kept": kept}  # the epoch whose weights these are: the best on the early-stopping metric
    encoder_path = out_dir / "encoder.ckpt"
    if trainer.is_global_zero:
        save_encoder(encoder_path, module.method, recipe)
        metrics = out_dir / "logs" / "metrics.csv"
        if metrics.exists():
            with atomic_path(out_dir / "metrics.csv", suffix=".csv.tmp") as tmp:
                shutil.copyfile(metrics, tmp)
        else:
            raise GalsslError(f"training wrote no metrics ({metrics}); check the log")
        # Resume state is for interrupted runs only: a finished run leaves none, so a forced or re-configured rerun
        # starts from scratch instead of resuming a run that already ended.
        shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)
    return encoder_path
