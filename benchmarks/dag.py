"""Where a finished Snakemake run spent its time: wall time, CPU time and peak RSS per rule and per stage, and the
critical path through the job DAG.

Reads what every run leaves behind — each rule's `benchmark:` table (logs/benchmarks/**/*.tsv: s, max_rss,
cpu_time, mean_load, ...) and Snakemake's own log (.snakemake/log/*.snakemake.log: each job's rule, inputs, outputs,
benchmark file, start and finish) — so it needs no rerun and no galssl import. A stage is the workflow/rules/*.smk
file that defines the rule. The critical path is the longest chain of jobs through the DAG (a job depends on the
jobs that wrote its inputs), weighted by each job's benchmarked wall time: no number of cores can make the run
shorter than that.

Prints and saves JSON (default benchmarks/results/dag.json, with `total_wall_s`) and a figure beside it (.png).
Usage: python benchmarks/dag.py [--workdir .] [--log .snakemake/log/<newest>] [--out benchmarks/results/dag.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TIMESTAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
JOB_HEADER = re.compile(r"^(?:local)?(?:rule|checkpoint) (\S+):$")
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\S+)\)")
RULE_DEF = re.compile(r"^(?:rule|checkpoint) (\w+):", re.MULTILINE)


@dataclass
class Job:
    """One job of the run as the log and its benchmark table describe it."""

    jobid: int
    rule: str
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    benchmark: str | None = None
    wildcards: str = ""
    started: datetime | None = None
    finished: datetime | None = None
    wall_s: float | None = None
    cpu_s: float | None = None
    max_rss_mb: float | None = None

    @property
    def seconds(self) -> float:
        """Benchmarked wall time, else the log's (1-s resolution) start-to-finish time, else 0."""
        if self.wall_s is not None:
            return self.wall_s
        if self.started and self.finished:
            return (self.finished - self.started).total_seconds()
        return 0.0


def _stamp(text: str) -> datetime:
    return datetime.strptime(" ".join(text.split()), "%a %b %d %H:%M:%S %Y")


def parse_log(path: Path) -> tuple[list[Job], datetime | None, datetime | None]:
    """Jobs of one Snakemake log (in start order), and the first and last time stamps of the run."""
    jobs: dict[int, Job] = {}
    current: Job | None = None
    fields: dict[str, str] = {}
    last_stamp: datetime | None = None
    first_stamp: datetime | None = None

    def close() -> None:
        nonlocal current
        if current is not None and "jobid" in fields:
            current.jobid = int(fields["jobid"])
            current.inputs = [p.strip() for p in fields.get("input", "").split(",") if p.strip()]
            current.outputs = [p.strip() for p in fields.get("output", "").split(",") if p.strip()]
            current.benchmark = fields.get("benchmark")
            current.wildcards = fields.get("wildcards", "")
            jobs[current.jobid] = current
        current = None
        fields.clear()

    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stamp = TIMESTAMP.match(line.strip())
        if stamp:
            close()
            last_stamp = _stamp(stamp.group(1))
            first_stamp = first_stamp or last_stamp
            continue
        header = JOB_HEADER.match(line.strip())
        if header and not line.startswith(" "):
            close()
            current = Job(jobid=-1, rule=header.group(1), started=last_stamp)
            continue
        if current is not None and line.startswith("    ") and ":" in line:
            key, value = line.strip().split(":", 1)
            fields[key.strip()] = value.strip()
            continue
        close()
        done = FINISHED.match(line.strip())
        if done and int(done.group(1)) in jobs:
            jobs[int(done.group(1))].finished = last_stamp
    close()
    return sorted(jobs.values(), key=lambda job: (job.started or datetime.min, job.jobid)), first_stamp, last_stamp


def read_benchmark(path: Path) -> dict[str, float] | None:
    """The first row of a Snakemake benchmark table as numbers (None when the file is missing or empty)."""
    if not path.is_file():
        return None
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    if not rows:
        return None

    def number(key: str) -> float | None:
        try:
            return float(rows[0][key])
        except (KeyError, TypeError, ValueError):
            return None

    return {"s": number("s"), "max_rss": number("max_rss"), "cpu_time": number("cpu_time"),
            "mean_load": number("mean_load")}


def rule_stages(rules_dir: Path) -> dict[str, str]:
    """rule name -> stage (the .smk file that defines it, without the suffix)."""
    stages = {}
    for smk in sorted(rules_dir.glob("*.smk")):
        for name in RULE_DEF.findall(smk.read_text(encoding="utf-8")):
            stages[name] = smk.stem
    return stages


def critical_path(jobs: list[Job]) -> list[Job]:
    """Longest chain of jobs (by `Job.seconds`) in which each job reads an output of the one before."""
    writer = {output: job for job in jobs for output in job.outputs}
    best: dict[int, tuple[float, Job | None]] = {}
    for job in jobs:  # start order is a topological order: a job starts only after its inputs' writers finish
        parents = {writer[path].jobid: writer[path] for path in job.inputs if path in writer}
        chain, before = 0.0, None
        for parent in parents.values():
            if parent.jobid in best and best[parent.jobid][0] > chain:
                chain, before = best[parent.jobid][0], parent
        best[job.jobid] = (chain + job.seconds, before)
    if not best:
        return []
    end = max(jobs, key=lambda job: best[job.jobid][0])
    path = [end]
    while best[path[-1].jobid][1] is not None:
        path.append(best[path[-1].jobid][1])
    return path[::-1]


def summarise(jobs: list[Job], stages: dict[str, str]) -> tuple[dict, dict]:
    """Per-rule and per-stage totals: jobs, wall s, CPU s, peak RSS MB."""
    per_rule: dict[str, dict] = defaultdict(lambda: {"jobs": 0, "wall_s": 0.0, "cpu_s": 0.0, "max_rss_mb": 0.0})
    per_stage: dict[str, dict] = defaultdict(lambda: {"jobs": 0, "wall_s": 0.0, "cpu_s": 0.0, "max_rss_mb": 0.0})
    for job in jobs:
        for table in (per_rule[job.rule], per_stage[stages.get(job.rule, "Snakefile")]):
            table["jobs"] += 1
            table["wall_s"] += job.seconds
            table["cpu_s"] += job.cpu_s or 0.0
            table["max_rss_mb"] = max(table["max_rss_mb"], job.max_rss_mb or 0.0)
    rounded = [{name: {k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}
                for name, row in sorted(table.items(), key=lambda item: -item[1]["wall_s"])}
               for table in (per_rule, per_stage)]
    return rounded[0], rounded[1]


def newest_log(workdir: Path) -> Path:
    logs = sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log"))
    if not logs:
        sys.exit(f"dag.py: no Snakemake log in {workdir / '.snakemake' / 'log'}: run the workflow first")
    return logs[-1]


def draw(report: dict, out: Path) -> None:
    """Wall and CPU time per stage, the 15 most expensive rules, and the critical path's share per stage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = list(report["per_stage"].items())[::-1]
    rules = list(report["per_rule"].items())[:15][::-1]
    figure, axes = plt.subplots(1, 2, figsize=(13, 0.35 * max(len(stages), len(rules)) + 2.5))
    for ax, rows, title in ((axes[0], stages, "per stage"), (axes[1], rules, "15 most expensive rules")):
        y = range(len(rows))
        ax.barh([v - 0.2 for v in y], [row["wall_s"] / 60 for _, row in rows], height=0.4, label="wall (sum of jobs)")
        ax.barh([v + 0.2 for v in y], [row["cpu_s"] / 60 for _, row in rows], height=0.4, label="CPU")
        ax.set_yticks(list(y), [f"{name} ({row['jobs']} jobs, {row['max_rss_mb'] / 1024:.1f} GB peak)"
                                for name, row in rows], fontsize=8)
        ax.set_xlabel("minutes")
        ax.set_title(title)
        ax.legend(loc="lower right", fontsize=8)
    figure.suptitle(f"{report['workdir_name']}: {report['n_jobs']} jobs, {report['total_wall_s'] / 60:.1f} min wall, "
                    f"critical path {report['critical_path_s'] / 60:.1f} min", fontsize=11)
    figure.tight_layout()
    figure.savefig(out, dpi=110, metadata={"Software": None})
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("."), help="the run's working directory")
    parser.add_argument("--log", type=Path, default=None, help="Snakemake log (default: the newest in the workdir)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "dag.json")
    args = parser.parse_args()
    log = args.log or newest_log(args.workdir)
    jobs, first, last = parse_log(log)
    jobs = [job for job in jobs if job.rule != "all"]
    loads = []
    for job in jobs:
        table = read_benchmark(args.workdir / job.benchmark) if job.benchmark else None
        if table:
            job.wall_s, job.cpu_s = table["s"], table["cpu_time"]
            job.max_rss_mb = table["max_rss"]
            if table["mean_load"] is not None:
                loads.append(table["mean_load"])
    per_rule, per_stage = summarise(jobs, rule_stages(REPO / "workflow" / "rules"))
    path = critical_path(jobs)
    report = {
        "workdir_name": args.workdir.resolve().name, "log": log.name, "n_jobs": len(jobs),
        "total_wall_s": (last - first).total_seconds() if first and last else None,
        "sum_job_wall_s": round(sum(job.seconds for job in jobs), 2),
        "sum_job_cpu_s": round(sum(job.cpu_s or 0.0 for job in jobs), 2),
        "critical_path_s": round(sum(job.seconds for job in path), 2),
        "critical_path": [{"rule": job.rule, "wildcards": job.wildcards, "wall_s": round(job.seconds, 2)}
                          for job in path],
        "jobs_without_benchmark": sorted({job.rule for job in jobs if job.wall_s is None}),
        "mean_job_load_percent": round(sum(loads) / len(loads), 1) if loads else None,
        "per_stage": per_stage, "per_rule": per_rule,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average_now": [round(v, 2) for v in os.getloadavg()]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, args.out)
    draw(report, args.out.with_suffix(".png"))
    print(json.dumps({k: report[k] for k in ("n_jobs", "total_wall_s", "sum_job_wall_s", "sum_job_cpu_s",
                                             "critical_path_s")}, indent=2))
    for stage, row in per_stage.items():
        print(f"{stage:>14}: {row['jobs']:4d} jobs {row['wall_s'] / 60:7.1f} min wall {row['cpu_s'] / 60:7.1f} min CPU "
              f"{row['max_rss_mb']:8.0f} MB peak")


if __name__ == "__main__":
    main()
