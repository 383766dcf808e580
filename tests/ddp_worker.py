"""One rank of a tiny data-parallel pretraining run, for tests/test_ddp.py and tests/test_slurm.py.

Runs the real ``galssl.pretrain.run_pretraining`` with one extra callback that records, per rank, the object ids the
rank trained on, its final parameters and the distributed set-up Lightning chose. The rank's world comes from the
Slurm variables of its environment (set by ``srun``, or by the test that imitates it).

Usage: python ddp_worker.py METHOD OUT_DIR MANIFEST LABELS PRETRAIN_JSON SHARD...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback

import galssl.pretrain as pretrain


class Recorder(Callback):
    """Writes ``OUT_DIR/rank<R>.pt``: ids seen in training, parameters after training, world and backend."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.ids: list[str] = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self.ids.extend(batch["object_id"])

    def on_train_end(self, trainer, module) -> None:
        initialised = torch.distributed.is_available() and torch.distributed.is_initialized()
        torch.save({"rank": trainer.global_rank, "world_size": trainer.world_size, "ids": self.ids,
                    "environment": type(trainer.strategy.cluster_environment).__name__,
                    "backend": torch.distributed.get_backend() if initialised else None,
                    "params": {name: p.detach().clone() for name, p in module.method.named_parameters()}},
                   self.out_dir / f"rank{trainer.global_rank}.pt")


def main(argv: list[str]) -> None:
    method, out_dir, manifest, labels, section, *shards = argv
    torch.set_num_threads(1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    make_trainer = pretrain.make_trainer
    pretrain.make_trainer = lambda out_dir, settings, callbacks, **kw: make_trainer(
        out_dir, settings, [*callbacks, Recorder(out)], **kw)
    inputs = pretrain.PretrainInputs(survey="sdss", method=method, shards=shards, manifest=manifest, labels=labels,
                                     section=json.loads(section), seed=3, out_dir=out)
    pretrain.run_pretraining(inputs)


if __name__ == "__main__":
    main(sys.argv[1:])
