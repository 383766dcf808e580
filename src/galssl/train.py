"""Pretraining with Lightning: CPU here, CUDA with bf16 autocast and DDP over every GPU (and node) when present.

Checkpoints every N steps and on SIGTERM/SIGUSR1 (Slurm preemption); a rerun resumes from ``last.ckpt``
(loaded with ``weights_only=True``, no pickle execution); cosine schedule with linear warm-up; early stopping on the
validation loss (or the online probe) with the weights of the best validated epoch kept (``KeepBest``); an online
linear probe on held-out labels logged every epoch; metrics to CSV.
"""

from __future__ import annotations

import math
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.plugins.environments import LightningEnvironment, SLURMEnvironment
from lightning.pytorch.strategies import DDPStrategy
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.preprocessing import StandardScaler

from galssl.errors import ConfigError
from galssl.settings import schema_defaults


@dataclass(frozen=True)
@schema_defaults("pretrain")
class TrainSettings:
    """The optimisation part of ``pretrain`` (shared by every method; a method may override lr/epochs); defaults =
    the schema's."""

    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    warmup_epochs: float
    checkpoint_every_n_steps: int
    early_stopping_patience: int
    probe_train_size: int
    probe_val_size: int
    val_every_n_epochs: int = 1  # label-efficiency runs on a few labels repeat many short epochs: validate less often
    online_probe: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_section(cls, section: dict[str, Any], where: str = "pretrain") -> TrainSettings:
        """Take the known keys; the rest is left for the caller (method settings, augmentations)."""
        names = {f.name for f in fields(cls)} - {"extra"}
        values = {k: section[k] for k in names if k in section}
        settings = cls(**values, extra={k: v for k, v in section.items() if k not in names})
        if settings.epochs < 1 or settings.batch_size < 1 or settings.lr <= 0:
            raise ConfigError(f"config error: {where} needs epochs >= 1, batch_size >= 1 and lr > 0 "
                              f"(got {settings.epochs}, {settings.batch_size}, {settings.lr})")
        return settings


def warmup_cosine(step: int, warmup_steps: int, total_steps: int) -> float:
    """Learning-rate factor: linear warm-up to 1, then cosine decay to 0 at ``total_steps``."""
    if step < warmup_steps:
        return (step + 1) / max(1, warmup_steps)
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


class PretrainModule(L.LightningModule):
    """Wraps a galssl method (``galssl.methods``) for Lightning."""

    def __init__(self, method: torch.nn.Module, settings: TrainSettings, steps_per_epoch: int,
                 batch_views: Callable[[dict, int], dict] | None = None) -> None:
        super().__init__()
        self.method = method
        self.settings = settings
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.batch_views = batch_views
        self.run_key = ""  # what the run was configured with; stored in every checkpoint (see galssl.pretrain)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["galssl_run_key"] = self.run_key

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        """Augment the whole batch on its device (raw cutouts in, views and normalised images out)."""
        return batch if self.batch_views is None else self.batch_views(batch, self.current_epoch)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss, logs = self.method.training_loss(batch)
        size = batch["image"].shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=size, sync_dist=True)
        for key, value in logs.items():
            self.log(f"train/{key}", value, batch_size=size)
        self.log("train/lr", self.optimizers().param_groups[0]["lr"], batch_size=size)
        return loss

    def on_train_batch_end(self, outputs: Any, batch: dict, batch_idx: int) -> None:
        self.method.on_train_batch_end(self.global_step, self.steps_per_epoch * self.settings.epochs)
        # Parameters a method starts training mid-run (GalaxAlign's stage-2 symbol encoder) get fresh optimizer state.
        for parameter in getattr(self.method, "pop_restarted_parameters", list)():
            for optimizer in self.trainer.optimizers:
                optimizer.state.pop(parameter, None)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        loss, _ = self.method.training_loss(batch)
        self.log("val/loss", loss, prog_bar=True, batch_size=batch["image"].shape[0], sync_dist=True)

    def configure_optimizers(self):
        params = [p for p in self.method.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=self.settings.lr, weight_decay=self.settings.weight_decay)
        total = self.steps_per_epoch * self.settings.epochs
        warmup = int(self.settings.warmup_epochs * self.steps_per_epoch)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_cosine(step, warmup, total))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


class LinearProbe(Callback):
    """Online linear probe: each validation epoch, logistic regression on frozen embeddings of labelled train
    images, scored on held-out (val) images — accuracy logged as ``probe/accuracy`` and balanced accuracy (the mean
    recall over classes, which a majority guess cannot inflate) as ``probe/balanced_accuracy``, the metric early
    stopping and the kept epoch of a self-supervised run watch."""

    def __init__(self, train: tuple[torch.Tensor, np.ndarray], val: tuple[torch.Tensor, np.ndarray]) -> None:
        self.train_images, self.train_labels = train
        self.val_images, self.val_labels = val

    @torch.no_grad()
    def _embed(self, module: PretrainModule, images: torch.Tensor) -> np.ndarray:
        was_training = module.method.training
        module.method.eval()
        chunks = [module.method.embed(images[i:i + 256].to(module.device)).float().cpu()
                  for i in range(0, len(images), 256)]
        module.method.train(was_training)
        return torch.cat(chunks).numpy()

    def on_validation_epoch_end(self, trainer: L.Trainer, module: PretrainModule) -> None:
        if trainer.sanity_checking or len(np.unique(self.train_labels)) < 2:
            return
        scaler = StandardScaler().fit(self._embed(module, self.train_images))
        train = scaler.transform(self._embed(module, self.train_images))
        val = scaler.transform(self._embed(module, self.val_images))
        classifier = LogisticRegression(max_iter=500, C=1.0).fit(train, self.train_labels)
        guess = classifier.predict(val)
        module.log("probe/accuracy", float(accuracy_score(self.val_labels, guess)), sync_dist=False)
        module.log("probe/balanced_accuracy", float(balanced_accuracy_score(self.val_labels, guess)), sync_dist=False)


class SetEpoch(Callback):
    """Lightning does not call ``set_epoch`` on iterable datasets (``galssl.data.ShardDataset``); reshuffle each
    epoch ourselves."""

    def __init__(self, *datasets: Any) -> None:
        self.datasets = datasets

    def on_train_epoch_start(self, trainer, module) -> None:
        for dataset in self.datasets:
            dataset.set_epoch(trainer.current_epoch)


class KeepBest(Callback):
    """Keeps, in CPU memory, the method's state of the validated epoch with the best ``monitor`` (``mode`` min or
    max; the first on ties; non-finite values and epochs before ``from_epoch`` are not candidates), so the saved
    encoder is that epoch's and not the last one early stopping let run past it. The copy travels in Lightning
    checkpoints (``state_dict``), so a resumed run still knows it."""

    def __init__(self, monitor: str, mode: str = "min", from_epoch: int = 0) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"KeepBest mode must be 'min' or 'max', not {mode!r}")
        self.monitor, self.mode, self.from_epoch = monitor, mode, from_epoch
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.best_step: int | None = None

    def _better(self, value: float) -> bool:
        if self.best_value is None:
            return True
        return value < self.best_value if self.mode == "min" else value > self.best_value

    def on_validation_end(self, trainer: L.Trainer, module: PretrainModule) -> None:
        if trainer.sanity_checking or trainer.current_epoch < self.from_epoch:
            return
        value = trainer.callback_metrics.get(self.monitor)
        # An epoch that does not log the metric (the probe skipped it) leaves an earlier value here, which never
        # beats the best (ties keep the first).
        if value is None or not math.isfinite(float(value)) or not self._better(float(value)):
            return
        self.best_state = {key: tensor.detach().cpu().clone() for key, tensor in module.method.state_dict().items()}
        self.best_value, self.best_epoch, self.best_step = float(value), trainer.current_epoch, trainer.global_step

    def restore(self, method: torch.nn.Module, last_epoch: int, last_step: int) -> dict[str, Any]:
        """Load the best state into ``method`` and describe what it now holds: monitor, mode, kept ("best", or
        "last" when no candidate epoch logged the metric: the weights stay), epoch (0-based, as in metrics.csv),
        step and the monitored value (None for "last")."""
        if self.best_state is None:
            return {"monitor": self.monitor, "mode": self.mode, "kept": "last", "epoch": last_epoch,
                    "step": last_step, "value": None}
        method.load_state_dict(self.best_state)
        return {"monitor": self.monitor, "mode": self.mode, "kept": "best", "epoch": self.best_epoch,
                "step": self.best_step, "value": self.best_value}

    def state_dict(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "value": self.best_value, "epoch": self.best_epoch, "step": self.best_step,
                "state": self.best_state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict.get("monitor") != self.monitor:  # another metric's best is no best of this one
            return
        self.best_value, self.best_epoch = state_dict["value"], state_dict["epoch"]
        self.best_step, self.best_state = state_dict["step"], state_dict["state"]


class PreemptionCheckpoint(Callback):
    """On SIGTERM or SIGUSR1 (Slurm's warning before preemption or time limit) save ``last.ckpt`` and stop.

    The job then exits non-zero (``preempted``); Snakemake's retry (or Slurm's requeue) reruns it and training
    resumes from the saved step.
    """

    def __init__(self, last_path: Path) -> None:
        self.last_path = last_path
        self.requested = False
        self.preempted = False

    def _handler(self, signum, frame) -> None:
        self.requested = True

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        # Every rank: Slurm signals every task of a step, and the save below is collective.
        for sig in (signal.SIGTERM, signal.SIGUSR1):
            signal.signal(sig, self._handler)

    def on_train_batch_end(self, trainer: L.Trainer, module, outputs, batch, batch_idx) -> None:
        # Under DDP all ranks stop after the same step when any one was signalled.
        if trainer.strategy.reduce_boolean_decision(self.requested, all=False) and not self.preempted:
            trainer.save_checkpoint(self.last_path)
            self.preempted = True
            trainer.should_stop = True


def ddp_layout() -> tuple[int, int, bool]:
    """(processes per node, nodes, launched by srun) of this training run.

    ``srun`` started one task per rank (``galssl.cluster.ddp_launcher``; Lightning's ``SLURMEnvironment`` reads
    SLURM_NTASKS/PROCID/LOCALID/NODEID): one process per task. Otherwise a single process, which Lightning turns
    into one per visible GPU on this node.
    """
    tasks = int(os.environ.get("SLURM_NTASKS", "1"))
    if tasks > 1 and "SLURM_PROCID" in os.environ and os.environ.get("SLURM_JOB_NAME") not in ("bash", "interactive"):
        nodes = int(os.environ.get("SLURM_NNODES", "1"))
        return tasks // nodes, nodes, True
    return (torch.cuda.device_count() if torch.cuda.is_available() else 1), 1, False


def make_trainer(out_dir: Path, settings: TrainSettings, callbacks: list[Callback], max_epochs: int | None = None,
                 max_steps: int = -1, steps_per_epoch: int = 5,
                 min_epochs: int | None = None,
                 stop_on: tuple[str, str] = ("val/loss", "min")) -> tuple[L.Trainer, ModelCheckpoint]:
    """A Trainer on CUDA (bf16) when present, else the CPU; DDP (NCCL, or gloo on CPUs) over ``ddp_layout()``.
    Early stopping watches ``stop_on`` (metric, min/max) and is ignored before ``min_epochs`` (a staged method's
    last stage must run)."""
    cuda = torch.cuda.is_available()
    devices, num_nodes, by_srun = ddp_layout()
    distributed = devices * num_nodes > 1
    # Under srun, no Slurm auto-requeue: PreemptionCheckpoint saves and Snakemake's retry resumes. Without srun,
    # Lightning starts the extra per-GPU processes itself.
    plugins = [SLURMEnvironment(auto_requeue=False) if by_srun else LightningEnvironment()] if distributed else []
    checkpoint = ModelCheckpoint(dirpath=out_dir / "checkpoints", filename="step{step}", save_last=True,
                                 every_n_train_steps=settings.checkpoint_every_n_steps, save_top_k=1,
                                 monitor="val/loss", mode="min", auto_insert_metric_name=False)
    trainer = L.Trainer(
        accelerator="gpu" if cuda else "cpu",
        devices=devices,
        num_nodes=num_nodes,
        strategy=DDPStrategy(process_group_backend="nccl" if cuda else "gloo") if distributed else "auto",
        plugins=plugins,
        precision="bf16-mixed" if cuda else "32-true",
        max_epochs=max_epochs or settings.epochs,
        min_epochs=min_epochs,
        check_val_every_n_epoch=max(1, settings.val_every_n_epochs),
        max_steps=max_steps,
        logger=CSVLogger(out_dir, name="logs", version=""),
        # Not strict on a callback's metric: the online probe skips an epoch whose labelled sample has one class.
        callbacks=[checkpoint, EarlyStopping(stop_on[0], patience=settings.early_stopping_patience, mode=stop_on[1],
                                             strict=stop_on[0] == "val/loss"), *callbacks],
        log_every_n_steps=max(1, min(5, steps_per_epoch)),  # short epochs still log their training loss
        enable_model_summary=False,
        deterministic=not cuda,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,  # ShardDataset splits shards across ranks itself
    )
    return trainer, checkpoint
