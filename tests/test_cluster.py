"""Cluster execution without a cluster: the Slurm profile, the workflow profile's per-rule resources, the sbatch
lines snakemake-executor-plugin-slurm builds from them, rule resources, and the conda environment pins."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from packaging.requirements import Requirement
from snakemake.profiles import ProfileConfigFileParser
from snakemake_executor_plugin_slurm import Executor
from snakemake_executor_plugin_slurm.submit_string import get_submit_command
from snakemake_executor_plugin_slurm.utils import set_gres_string

from test_workflow import REPO, SNAKEMAKE, tiny_config

SITE_VARIABLES = ("GALSSL_SLURM_PARTITION", "GALSSL_SLURM_ACCOUNT", "GALSSL_SLURM_QOS", "GALSSL_SLURM_GPU_PARTITION",
                  "GALSSL_SLURM_GPU_MODEL", "GALSSL_TRAIN_NODES", "GALSSL_TRAIN_GPUS_PER_NODE", "GALSSL_TRAIN_THREADS",
                  "GALSSL_TRAIN_MEM_MB_PER_GPU")


def profile(path: Path) -> dict:
    """A profile as Snakemake turns it into command-line arguments."""
    with open(path) as stream:
        return dict(ProfileConfigFileParser().parse(stream))


@pytest.fixture
def no_site(monkeypatch):
    for name in SITE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_slurm_profile_defaults_and_site_variables(no_site):
    assert (REPO / "slurm" / "config.v8+.yaml").is_file() and not (REPO / "slurm" / "profile.yaml").exists()
    args = profile(REPO / "slurm" / "config.v8+.yaml")
    assert args["executor"] == "slurm" and int(args["retries"]) >= 1 and args["rerun-incomplete"] == "True"
    assert int(args["latency-wait"]) >= 30 and int(args["jobs"]) >= 10
    # Without site settings: no partition, account or QOS (the cluster's defaults apply).
    assert args["default-resources"] == ["mem_mb=4000", "runtime=60"] and "slurm-qos" not in args
    no_site.setenv("GALSSL_SLURM_PARTITION", "all")  # a Python builtin's name: must stay a string
    no_site.setenv("GALSSL_SLURM_ACCOUNT", "12345")
    no_site.setenv("GALSSL_SLURM_QOS", "long")
    args = profile(REPO / "slurm" / "config.v8+.yaml")
    assert "slurm_partition='all'" in args["default-resources"]
    assert "slurm_account='12345'" in args["default-resources"] and args["slurm-qos"] == "long"


def test_profile_gpu_rules_are_exactly_the_rules_that_ask_for_a_gpu():
    asking = set()
    for path in (REPO / "workflow" / "rules").glob("*.smk"):
        for block in re.split(r"\n(?=rule )", path.read_text())[1:]:
            if re.search(r"^\s+gpu=1,", block, re.MULTILINE):
                asking.add(re.match(r"rule (\w+):", block).group(1))
    listed = re.search(r"GPU_RULES = \(([^)]*)\)", (REPO / "profiles/default/config.v8+.yaml").read_text()).group(1)
    assert asking and asking == set(re.findall(r'"(\w+)"', listed))


def test_workflow_profile_changes_nothing_by_default_and_sets_ddp_resources(no_site):
    assert profile(REPO / "profiles" / "default" / "config.v8+.yaml") == {}
    no_site.setenv("GALSSL_TRAIN_NODES", "2")
    no_site.setenv("GALSSL_TRAIN_GPUS_PER_NODE", "4")
    no_site.setenv("GALSSL_SLURM_GPU_MODEL", "a100")
    args = profile(REPO / "profiles" / "default" / "config.v8+.yaml")
    assert set(args["set-resources"]) == {"pretrain:nodes=2", "pretrain:tasks_per_node=4", "pretrain:gpu=8",
                                          "pretrain:mpi=srun", "pretrain:mem_mb=64000", "pretrain:gpu_model='a100'",
                                          "embed:gpu_model='a100'", "embed_external:gpu_model='a100'",
                                          "supervised_from_scratch:gpu_model='a100'", "finetune:gpu_model='a100'"}
    assert args["set-threads"] == ["pretrain=4"]
    no_site.setenv("GALSSL_TRAIN_NODES", "two")
    with pytest.raises(Exception, match="GALSSL_TRAIN_NODES must be a positive integer"):
        profile(REPO / "profiles" / "default" / "config.v8+.yaml")


class JobResources(dict):
    """Resources as the plugin reads them (``.get`` and attribute access)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def planned_jobs(workdir: Path, env: dict[str, str]) -> dict[str, dict]:
    """rule -> {"resources", "threads", "shell"} of the first job of each rule in a dry run of the tiny workflow
    under `--profile slurm` (and, found by Snakemake itself, profiles/default). A dry run caps threads at --cores,
    a Slurm run does not: hence the large --cores."""
    workdir.mkdir(parents=True)
    config = tiny_config(workdir)
    result = subprocess.run([SNAKEMAKE, "--profile", "slurm", "--snakefile", str(REPO / "Snakefile"), "-d",
                             str(workdir), "-n", "-p", "--cores", "64", "all", "--configfile", str(config)],
                            capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Using profiles slurm and workflow specific profile" in result.stderr
    jobs: dict[str, dict] = {}
    for block in re.split(r"\n(?=rule |localrule )", result.stdout + result.stderr):
        name = re.match(r"(?:local)?rule (\w+):", block)
        if not name or name.group(1) in jobs:
            continue
        resources = JobResources()
        line = re.search(r"^\s+resources: (.*)$", block, re.M)
        for item in line.group(1).split(", ") if line else []:
            key, _, value = item.partition("=")
            resources[key] = int(value) if value.isdigit() else value
        threads = re.search(r"^\s+threads: (\d+)$", block, re.M)
        shell = re.search(r"^Shell command: (.*)$", block, re.M)
        jobs[name.group(1)] = {"resources": resources, "threads": int(threads.group(1)) if threads else 1,
                               "shell": shell.group(1) if shell else ""}
    return jobs


def sbatch_line(job: dict, qos: str | None = None) -> str:
    """The sbatch command snakemake-executor-plugin-slurm 2.8.0 builds for a planned job (its own code)."""
    fake = SimpleNamespace(resources=job["resources"], threads=job["threads"], name="job", is_group=lambda: False)
    partition = Executor.get_partition_arg(SimpleNamespace(_partitions=None, _fallback_partition=None), fake) \
        if job["resources"].get("slurm_partition") else ""
    params = {"run_uuid": "run", "slurm_logfile": "log", "comment_str": "rule", "account": "",
              "partition": partition, "workdir": "/work"}
    settings = SimpleNamespace(requeue=False, no_requeue=False, qos=qos, reservation=None)
    return get_submit_command(fake, params, settings=settings) + set_gres_string(fake)


def test_rule_resources_map_to_sbatch_lines_and_the_ddp_launcher(tmp_path, no_site):
    env = {k: v for k, v in os.environ.items() if k not in SITE_VARIABLES}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    jobs = planned_jobs(tmp_path / "one", env)
    # A CPU rule: one task with the rule's threads, memory and time.
    catalog = sbatch_line(jobs["catalog"])
    assert " -t 30" in catalog and " --mem 4000" in catalog and " --ntasks=1" in catalog
    assert " --cpus-per-task=1" in catalog and "--gpus" not in catalog and " -p " not in catalog
    # A GPU rule: one GPU; the plugin's jobstep runs it in a one-task srun, Lightning sees one process.
    pretrain = sbatch_line(jobs["pretrain"])
    assert " --gpus=1" in pretrain and " --cpus-per-task=2" in pretrain and " --mem 12000" in pretrain
    assert "--ntasks" not in pretrain and "--nodes" not in pretrain and "mpi" not in jobs["pretrain"]["resources"]
    assert jobs["pretrain"]["shell"].startswith(" galssl pretrain ")

    # Two nodes x 4 GPUs on an a100 partition with a QOS: one srun task per GPU.
    env.update(GALSSL_TRAIN_NODES="2", GALSSL_TRAIN_GPUS_PER_NODE="4", GALSSL_SLURM_GPU_MODEL="a100",
               GALSSL_SLURM_GPU_PARTITION="gpu", GALSSL_SLURM_QOS="long")
    jobs = planned_jobs(tmp_path / "eight", env)
    pretrain = sbatch_line(jobs["pretrain"], qos="long")
    for flag in (" -p gpu", " --nodes=2", " --ntasks-per-node=4", " --cpus-per-task=4", " --gpus=a100:8",
                 " --mem 64000", " --qos=long", " -t 240"):
        assert flag in pretrain, (flag, pretrain)
    assert "--ntasks-per-gpu" not in pretrain and "--ntasks=" not in pretrain
    # `mpi` makes the plugin's jobstep run the rule in the batch script (no one-task srun around it) ...
    assert jobs["pretrain"]["resources"]["mpi"] == "srun"
    # ... and the rule itself starts the 8 ranks.
    assert jobs["pretrain"]["shell"].startswith(
        "srun --nodes=2 --ntasks-per-node=4 --cpus-per-task=4 --kill-on-bad-exit=1 --job-name=galssl-ddp"
        " --gpus-per-node=4 galssl pretrain ")
    embed = sbatch_line(jobs["embed"])
    assert " --gpus=a100:1" in embed and " -p gpu" in embed and "--nodes" not in embed


def rule_blocks() -> dict[str, str]:
    """rule name -> its text, over every workflow/rules/*.smk."""
    blocks = {}
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"(?m)^(?=\S)", path.read_text()):
            name = re.match(r"rule (\w+):", block)
            if name:
                blocks[name.group(1)] = block
    return blocks


def test_every_rule_declares_threads_memory_runtime_and_a_conda_environment():
    blocks = rule_blocks()
    assert {"mock_catalog", "ingest_shard", "pretrain", "embed"} <= set(blocks)
    for name, block in blocks.items():
        assert re.search(r"^    threads: ", block, re.M), f"rule {name}: no threads"
        assert re.search(r"^        mem_mb=", block, re.M), f"rule {name}: no mem_mb"
        assert re.search(r"^        runtime=", block, re.M), f"rule {name}: no runtime"
        conda = re.search(r'^    conda:\n        "\.\./\.\./envs/(\w+)\.yaml"', block, re.M)
        assert conda and (REPO / "envs" / f"{conda.group(1)}.yaml").is_file(), f"rule {name}: no conda env file"
    # The GPU rules are those the workflow profile gives the GPU partition and model.
    gpu_rules = {name for name, block in blocks.items() if re.search(r"^        gpu=1,", block, re.M)}
    listed = re.search(r"GPU_RULES = \(([^)]*)\)", (REPO / "profiles/default/config.v8+.yaml").read_text())
    assert gpu_rules == set(re.findall(r'"(\w+)"', listed.group(1))) and "pretrain" in gpu_rules


def lock_versions() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[normalise(name)] = version.strip()
    return pins


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


CONDA_TO_PIP = {"pytorch": "torch"}  # conda-forge names that differ from the pip distribution's


@pytest.mark.parametrize("env", ["data", "torch", "analysis"])
def test_conda_environment_pins_agree_with_the_pip_lock(env):
    spec = yaml.safe_load((REPO / "envs" / f"{env}.yaml").read_text())
    pins = lock_versions()
    requirements = [Requirement(d) for d in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
                    ["dependencies"]]
    project = {normalise(r.name): r.specifier for r in requirements}
    assert spec["channels"][0] == "conda-forge"
    checked = 0
    for dependency in spec["dependencies"]:
        entries = dependency["pip"] if isinstance(dependency, dict) else [dependency]
        for entry in entries:
            name, _, version = re.split(r"(==|=)", entry, maxsplit=1) if "=" in entry else (entry, "", "")
            name = normalise(CONDA_TO_PIP.get(name, name))
            if name in ("python", "pip"):
                continue
            assert version, f"envs/{env}.yaml: {entry} is not pinned"
            assert pins.get(name) == version, (f"envs/{env}.yaml pins {name} {version}, "
                                               f"requirements.lock {pins.get(name)}")
            if name in project:  # pyproject.toml holds compatible ranges, the lock the exact versions
                assert version in project[name], f"envs/{env}.yaml pins {name} {version} outside {project[name]}"
            checked += 1
    python = [d for d in spec["dependencies"] if isinstance(d, str) and d.startswith("python=")]
    assert python == ["python=3.11"] and checked >= 15
    assert os.access(REPO / "envs" / f"{env}.post-deploy.sh", os.X_OK)
