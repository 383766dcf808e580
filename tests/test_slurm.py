"""`snakemake --profile slurm all` on a real Slurm: a one-node cluster on this machine (tests/slurm/start.sh).

The tiny end-to-end workflow runs under the repository's Slurm profile; sacct must show each of its jobs
completed under Slurm (GPU rules on a GPU), its outputs must equal a local run's, and one pretraining then runs as
two DDP ranks started by the rule's own srun (CPU, gloo). Needs root and Debian's packages (start.sh installs them).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from galssl.checkpoint import load_encoder
from test_cluster import rule_blocks
from test_workflow import REPO, SNAKEMAKE, tiny_config

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(5400)]
SLURM_SCRIPTS = REPO / "tests" / "slurm"
# Status polling every 2 s instead of the profile's cluster-friendly default.
FAST_POLLING = ["--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "2"]


def environment() -> dict[str, str]:
    """The test's environment with the venv first on PATH (jobs inherit it: sbatch --export=ALL), no site
    settings and no Slurm job context."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GALSSL_SLURM_", "GALSSL_TRAIN_", "SLURM_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


@pytest.fixture(scope="module")
def cluster():
    """A running Slurm cluster; stopped afterwards if this fixture started it."""
    already_up = subprocess.run(["scontrol", "ping"], capture_output=True).returncode == 0 \
        if subprocess.run(["which", "scontrol"], capture_output=True).returncode == 0 else False
    start = subprocess.run(["bash", str(SLURM_SCRIPTS / "start.sh")], capture_output=True, text=True, timeout=600)
    assert start.returncode == 0, start.stdout[-2000:] + start.stderr[-3000:]
    yield
    if not already_up:
        subprocess.run(["bash", str(SLURM_SCRIPTS / "stop.sh")], capture_output=True, text=True, timeout=120)


def snakemake_slurm(workdir: Path, *args: str, timeout: int = 2700) -> subprocess.CompletedProcess:
    """`snakemake --profile slurm ...` typed in the repository root, for a workflow in `workdir`, under `timeout`."""
    command = ["timeout", "-k", "30", str(timeout), SNAKEMAKE, "--profile", "slurm", "--snakefile",
               str(REPO / "Snakefile"), "-d", str(workdir), *FAST_POLLING, *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=environment(), timeout=timeout + 60)


def sacct(*args: str) -> list[dict[str, str]]:
    fields = ["JobID", "JobName", "State", "ExitCode", "Comment", "AllocTRES", "NTasks"]
    out = subprocess.run(["sacct", "--parsable2", "--noheader", "-o", ",".join(fields), *args],
                         capture_output=True, text=True, check=True).stdout
    return [dict(zip(fields, line.split("|"))) for line in out.splitlines() if line]


def slurm_config(workdir: Path) -> Path:
    """The tiny config with two methods (one contrastive with its encoder, the supervised baseline) and no
    from-scratch runs: every kind of rule still runs under Slurm, in fewer jobs (the whole tiny DAG runs locally in
    tests/test_workflow.py)."""
    path = tiny_config(workdir)
    config = yaml.safe_load(path.read_text())
    config["pretrain"]["methods"] = ["simclr", "supervised"]
    config["probes"]["label_efficiency"]["supervised_from_scratch"] = False
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    """The tiny workflow under `snakemake --profile slurm all`, and its data and training stages run locally (the
    outputs compared; the whole local DAG is tests/test_workflow.py's)."""
    local, slurm = tmp_path_factory.mktemp("local"), tmp_path_factory.mktemp("slurm")
    targets = ["results/mock/gallery.png", "results/sdss/augmentations.png"]
    targets += [f"results/sdss/{method}/{name}" for method in ("simclr", "supervised")
                for name in ("embeddings.parquet", "training_curves.png")]
    result = subprocess.run([SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "-d", str(local), "-c2", *targets,
                             "--configfile", str(slurm_config(local))], capture_output=True, text=True,
                            env=environment(), timeout=1500)
    assert result.returncode == 0, result.stderr[-3000:]
    started = datetime.now()
    result = snakemake_slurm(slurm, "all", "--configfile", str(slurm_config(slurm)))
    wall_s = (datetime.now() - started).total_seconds()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    print(f"snakemake --profile slurm all: {wall_s:.0f} s", file=sys.stderr)
    return local, slurm, output


def test_every_job_ran_under_slurm_and_completed(runs):
    _, _, output = runs
    run_id = re.search(r"SLURM run ID: (\S+)", output).group(1)
    submitted = dict(re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", output))
    jobs = sacct("-X", "--name", run_id, "--starttime", "now-2hours")
    print("\n".join("|".join(job.values()) for job in jobs), file=sys.stderr)
    assert sorted(job["JobID"] for job in jobs) == sorted(submitted.values())
    assert all(job["State"] == "COMPLETED" and job["ExitCode"] == "0:0" for job in jobs), jobs
    # One Slurm job per non-local job of the DAG, each labelled with its rule (the plugin's --comment).
    stats = output[output.index("Job stats:"):]
    planned = Counter({rule: int(count) for rule, count in
                       re.findall(r"^(\w+)\s+(\d+)$", stats[:stats.index("total")], re.M)})
    local_rules = set(re.findall(r"^localrule (\w+):", output, re.M))
    rules = Counter(re.match(r"rule_(.+?)(?:_wildcards_.*)?$", job["Comment"]).group(1) for job in jobs)
    assert rules == Counter({rule: n for rule, n in planned.items() if rule not in local_rules})
    assert {"mock_catalog", "ingest_shard", "pretrain", "embed"} <= set(rules) and "all" in local_rules
    # GPU rules (gpu=1) were scheduled on (fake) GPUs, with their declared threads; CPU rules without.
    gpu_rules = {name for name, block in rule_blocks().items() if re.search(r"^        gpu=1,", block, re.M)}
    assert {"pretrain", "embed"} <= gpu_rules
    for job in jobs:
        rule = re.match(r"rule_(.+?)(?:_wildcards_.*)?$", job["Comment"]).group(1)
        assert ("gres/gpu=1" in job["AllocTRES"]) == (rule in gpu_rules), job
        if rule == "pretrain":
            assert "cpu=2" in job["AllocTRES"] and "mem=12000M" in job["AllocTRES"]
    # Each job's rule ran in the plugin's job step (srun -n1) inside the allocation.
    steps = sacct("--name", run_id, "--starttime", "now-2hours")
    assert {job["JobID"] + ".0" for job in jobs} <= {step["JobID"] for step in steps}


def files_under(root: Path) -> dict[str, Path]:
    return {str(path.relative_to(root)): path for path in sorted(root.rglob("*")) if path.is_file()}


def test_outputs_equal_a_local_run(runs):
    local, slurm, _ = runs
    local_files, slurm_files = files_under(local / "results"), files_under(slurm / "results")
    assert local_files.keys() <= slurm_files.keys() and len(local_files) > 15
    different = sorted(name for name in local_files if local_files[name].read_bytes() != slurm_files[name].read_bytes())
    # Everything is byte-equal (catalogues, labels, shards, manifest, metrics, embeddings, figures) except PyTorch
    # checkpoints: torch.save names its zip archive's folder after the file it writes (here a random temporary name,
    # written atomically) and Lightning's ones also record their absolute directory. Their tensors must be equal.
    assert all(name.endswith(".ckpt") for name in different), different
    assert "mock/catalog.parquet" in local_files and "sdss/manifest.json" in local_files
    assert any(name.startswith("sdss/shards/") for name in local_files)
    assert "sdss/simclr/encoder.ckpt" in local_files and "sdss/simclr/embeddings.parquet" in local_files
    for name in different:
        ours, theirs = (torch.load(files[name], map_location="cpu", weights_only=True)
                        for files in (local_files, slurm_files))
        assert ours.get("recipe") == theirs.get("recipe") and ours.get("global_step") == theirs.get("global_step")
        assert ours["state_dict"].keys() == theirs["state_dict"].keys()
        for key, value in ours["state_dict"].items():
            assert torch.equal(value, theirs["state_dict"][key]), (name, key)


def test_pretraining_runs_as_two_srun_ranks(runs):
    _, slurm, _ = runs
    target = "results/sdss/simclr/encoder.ckpt"
    assert not (slurm / "results/sdss/simclr/checkpoints").exists()  # a finished run leaves no resume state
    result = snakemake_slurm(slurm, target, "--forcerun", "pretrain", "--set-threads", "pretrain=1",
                             "--set-resources", "pretrain:tasks_per_node=2", "pretrain:mpi=srun", "pretrain:gpu=0",
                             "--configfile", str(slurm / "config.yaml"), timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert re.search(r"^Shell command: srun --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 --kill-on-bad-exit=1 "
                     r"--job-name=galssl-ddp galssl pretrain ", output, re.M)
    run_id = re.search(r"SLURM run ID: (\S+)", output).group(1)
    steps = sacct("--name", run_id, "--starttime", "now-2hours")
    print("\n".join("|".join(step.values()) for step in steps), file=sys.stderr)
    ranks = [step for step in steps if step["JobName"] == "galssl-ddp"]
    assert len(ranks) == 1 and ranks[0]["NTasks"] == "2" and ranks[0]["State"] == "COMPLETED"
    log = (slurm / "logs/pretrain/sdss.simclr.log").read_text()
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in log and "GLOBAL_RANK: 1, MEMBER: 2/2" in log
    assert "distributed_backend=gloo" in log
    catalog = pd.read_parquet(slurm / "results/catalog/catalog.parquet")
    per_rank = int((catalog["split"] == "train").sum()) // 2
    _, recipe = load_encoder(slurm / target)
    assert recipe["global_step"] == -(-per_rank // 16)  # tiny config: 1 epoch, batch 16 per rank
