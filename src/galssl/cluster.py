"""Slurm launch of data-parallel (DDP) training: the ``srun`` line that starts one rank per GPU.

A rule asks for ``nodes`` × ``tasks_per_node`` ranks through its Snakemake resources (set in ``profiles/default``).
snakemake-executor-plugin-slurm maps them to ``sbatch --nodes=N --ntasks-per-node=T --gpus=G --cpus-per-task=C``
(``tasks_per_node`` only when the rule has an ``mpi`` resource, which also makes the plugin run the rule in the
batch script instead of inside its own one-task ``srun``). The rule then starts its ranks with the prefix below;
Lightning's ``SLURMEnvironment`` reads each task's SLURM_PROCID/LOCALID/NODEID (``galssl.train.ddp_layout``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from galssl.errors import ConfigError


def _count(resources: Mapping[str, Any], name: str, default: int) -> int:
    value = resources.get(name, default)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"resource {name} must be a non-negative integer (got {value!r}); fix it in set-resources")
    return value


def ddp_ranks(resources: Mapping[str, Any]) -> tuple[int, int]:
    """(nodes, tasks per node) a rule's resources ask for: (1, 1) means one process."""
    return max(1, _count(resources, "nodes", 1)), max(1, _count(resources, "tasks_per_node", 1))


def ddp_launcher(resources: Mapping[str, Any], threads: int) -> str:
    """Shell prefix that starts a training command once per DDP rank ('' for a single process).

    ``resources``: the rule's Snakemake resources — ``nodes``, ``tasks_per_node`` (ranks per node, one per GPU),
    ``gpu`` (total GPUs over all nodes, as the Slurm plugin passes it to ``sbatch --gpus``; 0 for CPU ranks) and
    ``mpi`` (the launcher, ``srun``). ``threads``: CPU cores per rank (``--cpus-per-task``).
    """
    nodes, tasks_per_node = ddp_ranks(resources)
    ranks = nodes * tasks_per_node
    if ranks == 1:
        return ""
    gpus = _count(resources, "gpu", 0)
    if gpus and gpus != ranks:
        raise ConfigError(f"resource gpu={gpus} must equal nodes × tasks_per_node = {nodes} × {tasks_per_node} "
                          "(one DDP rank per GPU; gpu is the total over all nodes)")
    launcher = resources.get("mpi")
    if not launcher or not isinstance(launcher, str):
        raise ConfigError(f"{ranks} DDP ranks need the resource mpi=srun (the Slurm plugin then runs the rule in the "
                          "batch script and the rule starts one srun task per rank)")
    # A named step: Lightning ignores Slurm for steps named "bash" or "interactive" (srun's default name is the
    # command's), and the name shows in sacct.
    command = [launcher, f"--nodes={nodes}", f"--ntasks-per-node={tasks_per_node}",
               f"--cpus-per-task={max(1, int(threads))}", "--kill-on-bad-exit=1", "--job-name=galssl-ddp"]
    if gpus:
        command.append(f"--gpus-per-node={tasks_per_node}")  # every rank sees its node's GPUs; rank i takes cuda:i
    return " ".join(command)
