"""benchmarks/dag.py: a Snakemake log and the rules' benchmark tables → per-rule totals and the critical path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOG = REPO / "tests" / "data" / "toy.snakemake.log"  # a real Snakemake 9 log: a -> (b x=c, b x=d) -> all


def _dag_module():
    spec = importlib.util.spec_from_file_location("benchmark_dag", REPO / "benchmarks" / "dag.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_log_gives_every_job_with_its_files_and_times():
    dag = _dag_module()
    jobs, first, last = dag.parse_log(LOG)
    assert [(job.rule, job.wildcards) for job in jobs] == [("a", ""), ("b", "x=c"), ("b", "x=d"), ("all", "")]
    by_output = {job.outputs[0]: job for job in jobs if job.outputs}
    assert by_output["c.txt"].inputs == ["a.txt"] and by_output["c.txt"].benchmark == "logs/benchmarks/b/c.tsv"
    assert by_output["a.txt"].finished is not None and (last - first).total_seconds() == 2.0


def test_critical_path_follows_the_slowest_chain_of_dependencies():
    dag = _dag_module()
    jobs, _, _ = dag.parse_log(LOG)
    jobs = [job for job in jobs if job.rule != "all"]
    times = {"a.txt": 5.0, "c.txt": 1.0, "d.txt": 3.0}
    for job in jobs:
        job.wall_s = times[job.outputs[0]]
    path = dag.critical_path(jobs)
    assert [job.outputs[0] for job in path] == ["a.txt", "d.txt"]
    per_rule, per_stage = dag.summarise(jobs, {"a": "ingest", "b": "embed"})
    assert per_rule["b"] == {"jobs": 2, "wall_s": 4.0, "cpu_s": 0.0, "max_rss_mb": 0.0}
    assert list(per_stage) == ["ingest", "embed"]  # most expensive first


def test_benchmark_table_is_read_as_numbers(tmp_path):
    dag = _dag_module()
    table = tmp_path / "rule.tsv"
    table.write_text("s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
                     "12.5\t0:00:12\t812.3\t900\t1\t1\t0\t0\t95.0\t11.75\n")
    assert dag.read_benchmark(table) == {"s": 12.5, "max_rss": 812.3, "cpu_time": 11.75, "mean_load": 95.0}
    assert dag.read_benchmark(tmp_path / "missing.tsv") is None
