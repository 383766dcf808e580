"""Data-parallel pretraining: two CPU ranks with the gloo backend, started the way `srun` starts them.

Each rank is a process with the variables srun gives a task (SLURM_NTASKS, SLURM_PROCID, ...), so Lightning takes
its SLURMEnvironment path exactly as on a cluster (galssl.train.ddp_layout); the real srun path is run in
tests/test_slurm.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from galssl.checkpoint import load_encoder
from galssl.cluster import ddp_launcher, ddp_ranks
from galssl.errors import ConfigError
from galssl.ingest import SurveySpec, ingest_shard, write_manifest
from galssl.mocksky.catalog import labels_table
from galssl.providers import ProviderContext, create_provider
from galssl.train import ddp_layout

SECTION = {"provider": "mock", "instrument": "sdss", "bands": ["g", "r", "i"], "pixel_scale_arcsec": 0.396,
           "cutout_size": 32}
PRETRAIN = {"epochs": 1, "batch_size": 8, "checkpoint_every_n_steps": 100, "probe_train_size": 10,
            "probe_val_size": 10, "augment": {"jitter_crop": {"crop_size": 24, "max_shift": 2}}, "warmup_epochs": 0.5,
            "lr": 1e-3}
WORKER = Path(__file__).with_name("ddp_worker.py")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """48 mock objects in two shards: 36 train (every object not divisible by 4), 12 val."""
    root = tmp_path_factory.mktemp("ddp")
    provider = create_provider(SECTION, ProviderContext("sdss", 3, str(root / "cache"), {"n_objects": 48}))
    catalog = provider.sky.catalog()
    catalog["split"] = ["val" if i % 4 == 0 else "train" for i in range(len(catalog))]
    spec = SurveySpec.from_section("sdss", SECTION)
    shards, failures = [], []
    for index in range(2):
        shards.append(str(root / f"shard-{index:05d}.parquet"))
        failures.append(str(root / f"failures-{index}.parquet"))
        ingest_shard(catalog, spec, provider, index, 24, 3, shards[-1], failures[-1])
    write_manifest(spec, shards, failures, str(root / "manifest.json"), str(root / "failures.parquet"), "test")
    labels_table(provider.sky).to_parquet(root / "labels.parquet")
    train_ids = set(catalog.loc[catalog["split"] == "train", "object_id"].astype(str))
    return root, shards, train_ids


def srun_task_environment(rank: int, ntasks: int, port: int) -> dict[str, str]:
    """What `srun --nodes=1 --ntasks-per-node=N --job-name=galssl-ddp` sets for task `rank` (and nothing
    inherited that would change the world: other SLURM_*, torchrun's RANK/WORLD_SIZE)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SLURM_") and k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "NODE_RANK")}
    env.update(SLURM_NTASKS=str(ntasks), SLURM_NTASKS_PER_NODE=str(ntasks), SLURM_NNODES="1", SLURM_NODEID="0",
               SLURM_PROCID=str(rank), SLURM_LOCALID=str(rank), SLURM_JOB_NAME="galssl-ddp", SLURM_JOB_ID="4242",
               SLURM_NODELIST="localhost", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1",
               CUDA_VISIBLE_DEVICES="")
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_gloo_ranks_train_on_disjoint_halves_and_end_with_identical_weights(dataset, tmp_path):
    root, shards, train_ids = dataset
    out = tmp_path / "simclr"
    command = [sys.executable, str(WORKER), "simclr", str(out), str(root / "manifest.json"),
               str(root / "labels.parquet"), json.dumps(PRETRAIN), *shards]
    port = free_port()
    ranks = [subprocess.Popen(command, env=srun_task_environment(rank, 2, port), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for rank in range(2)]
    logs = [rank.communicate(timeout=400)[0] for rank in ranks]
    assert [rank.returncode for rank in ranks] == [0, 0], logs[0][-2000:] + logs[1][-2000:]

    records = [torch.load(out / f"rank{rank}.pt", weights_only=True) for rank in range(2)]
    for rank, record in enumerate(records):
        assert record["rank"] == rank and record["world_size"] == 2
        assert record["environment"] == "SLURMEnvironment" and record["backend"] == "gloo"
        # drop_uneven: each rank takes exactly 36 // 2 train objects, once each.
        assert len(record["ids"]) == 18 and len(set(record["ids"])) == 18
    first, second = (set(record["ids"]) for record in records)
    assert not first & second
    assert first | second == train_ids
    # Gradients are averaged over both ranks every step: the parameters end identical.
    assert records[0]["params"].keys() == records[1]["params"].keys()
    for name, value in records[0]["params"].items():
        assert torch.equal(value, records[1]["params"][name]), name

    # Rank 0 alone writes the encoder; it holds those same weights.
    method, recipe = load_encoder(out / "encoder.ckpt")
    assert recipe["global_step"] == 3  # ceil(18 / 8) steps per rank
    for name, value in method.named_parameters():
        assert torch.equal(value.detach(), records[0]["params"][name]), name
    # The schedule counts per-rank steps (3 per epoch, not the 5 of all 36 objects): warm-up 1 step, then cosine,
    # at the third step factor 0.5 * (1 + cos(pi * (2 - 1) / (3 - 1))) = 0.5.
    metrics = pd.read_csv(out / "metrics.csv")
    lr = metrics.dropna(subset=["train/lr"])
    assert lr["step"].tolist() == [2] and lr["train/lr"].iloc[0] == pytest.approx(0.5e-3)


def test_ddp_layout_follows_the_srun_task_variables(monkeypatch):
    for key in [k for k in os.environ if k.startswith("SLURM_")]:
        monkeypatch.delenv(key)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert ddp_layout() == (1, 1, False)
    for key, value in srun_task_environment(1, 8, 1).items():
        if key.startswith("SLURM_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("SLURM_NNODES", "2")
    assert ddp_layout() == (4, 2, True)
    # srun names a step after its command: Lightning treats "bash"/"interactive" steps as no Slurm at all.
    monkeypatch.setenv("SLURM_JOB_NAME", "bash")
    assert ddp_layout() == (1, 1, False)
    # The Slurm plugin's own one-task step (srun -n1): one process.
    monkeypatch.setenv("SLURM_JOB_NAME", "snakemake")
    monkeypatch.setenv("SLURM_NTASKS", "1")
    assert ddp_layout() == (1, 1, False)


def test_launcher_starts_one_srun_task_per_gpu():
    assert ddp_launcher({"gpu": 1, "mem_mb": 12000}, 2) == ""
    assert ddp_ranks({"nodes": 2, "tasks_per_node": 4}) == (2, 4)
    assert ddp_launcher({"nodes": 1, "tasks_per_node": 4, "gpu": 4, "mpi": "srun"}, 8) == (
        "srun --nodes=1 --ntasks-per-node=4 --cpus-per-task=8 --kill-on-bad-exit=1 --job-name=galssl-ddp"
        " --gpus-per-node=4")
    assert ddp_launcher({"nodes": 2, "tasks_per_node": 4, "gpu": 8, "mpi": "srun"}, 4) == (
        "srun --nodes=2 --ntasks-per-node=4 --cpus-per-task=4 --kill-on-bad-exit=1 --job-name=galssl-ddp"
        " --gpus-per-node=4")
    # CPU ranks (the CI cluster): no GPU option.
    assert ddp_launcher({"tasks_per_node": 2, "gpu": 0, "mpi": "srun"}, 1) == (
        "srun --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 --kill-on-bad-exit=1 --job-name=galssl-ddp")
    with pytest.raises(ConfigError, match="gpu=4 must equal nodes × tasks_per_node = 2 × 4"):
        ddp_launcher({"nodes": 2, "tasks_per_node": 4, "gpu": 4, "mpi": "srun"}, 4)
    with pytest.raises(ConfigError, match="mpi=srun"):
        ddp_launcher({"tasks_per_node": 4, "gpu": 4}, 4)
    with pytest.raises(ConfigError, match="tasks_per_node must be a non-negative integer"):
        ddp_launcher({"tasks_per_node": "four"}, 4)
