"""The workflow's housekeeping: `snakemake --lint` is clean, the Snakefile stays thin and rule files hold only rules,
jobs write their outputs under results/ and their benchmarks under logs/benchmarks/ (never into resources/ or beside
the benchmark scripts), docs/rulegraph.dot is the current DAG, and every conda environment has the one post-deploy
script."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "workflow" / "rules"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
JOB_HEADER = re.compile(r"^(?:local)?rule (\w+):$")


def snakemake(workdir: Path, *args: str, configfile: Path = REPO / "config" / "config.yaml"):
    """The repository's workflow with `configfile`, working in `workdir` (not the repository)."""
    command = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--configfile", str(configfile),
               "--directory", str(workdir), *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)


def test_snakemake_lint_reports_nothing(tmp_path):
    result = snakemake(tmp_path, "--lint")
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Lints for" not in output, output[-6000:]
    assert "Congratulations, your workflow is in a good condition!" in output


def test_snakefile_is_thin_and_rule_files_hold_only_rules():
    snakefile = (REPO / "Snakefile").read_text(encoding="utf-8")
    code = [line.strip() for line in snakefile.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert not [line for line in code if line.startswith(("def ", "import ", "from "))], code
    assert [line for line in code if line.startswith("rule ")] == ["rule all:"]
    included = re.findall(r'^include: "workflow/rules/(\w+)\.smk"$', snakefile, re.MULTILINE)
    assert included[0] == "common" and sorted(included) == sorted(path.stem for path in RULES.glob("*.smk"))
    # Each stage's helper functions are in common/<stage>.smk, all of them included by common.smk.
    helpers = re.findall(r'^include: "common/(\w+)\.smk"$', (RULES / "common.smk").read_text(encoding="utf-8"),
                         re.MULTILINE)
    assert helpers and sorted(helpers) == sorted(path.stem for path in (RULES / "common").glob("*.smk"))
    assert set(helpers) <= set(included)
    for path in RULES.glob("*.smk"):
        text = path.read_text(encoding="utf-8")
        if path.stem != "common":
            assert not re.search(r"^def ", text, re.MULTILINE), f"{path.name} defines a function: move it to common/"
    for path in (RULES / "common").glob("*.smk"):
        assert not re.search(r"^(?:rule|checkpoint) ", path.read_text(encoding="utf-8"), re.MULTILINE), path.name


def test_jobs_write_results_and_logs_and_benchmark_under_logs(tmp_path):
    """Every job of the default DAG plus GalaxAlign (whose class symbols once went to resources/): outputs under
    results/, its log under logs/, its benchmark table under logs/benchmarks/."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))
    config["pretrain"]["methods"] += ["galaxalign"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    result = snakemake(tmp_path, "-n", "all", configfile=tmp_path / "config.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    jobs: list[dict[str, str]] = []
    for line in result.stdout.splitlines():
        header = JOB_HEADER.match(line)
        if header:
            jobs.append({"rule": header.group(1)})
        elif jobs and re.match(r"^    (output|log|benchmark): ", line):
            key, value = line.strip().split(": ", 1)
            jobs[-1][key] = value
    jobs = [job for job in jobs if job["rule"] != "all"]
    assert len(jobs) > 100 and "galaxalign_symbols" in {job["rule"] for job in jobs}
    for job in jobs:
        outputs = job["output"].split(", ")
        assert all(path.startswith("results/") for path in outputs), job
        assert job["log"].startswith("logs/") and not job["log"].startswith("logs/benchmarks/"), job
        assert job["benchmark"].startswith("logs/benchmarks/") and job["benchmark"].endswith(".tsv"), job
    symbols = next(job for job in jobs if job["rule"] == "galaxalign_symbols")
    assert "results/symbols/overview.png" in symbols["output"].split(", ")


def _rulegraph_module():
    spec = importlib.util.spec_from_file_location("docs_rulegraph", REPO / "docs" / "rulegraph.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rulegraph_text_is_the_current_dag():
    rulegraph = _rulegraph_module()
    kept_rules, kept_edges = rulegraph.graph(rulegraph.DOT_FILE.read_text(encoding="utf-8"))
    rules, edges = rulegraph.graph(rulegraph.snakemake_rulegraph())
    stale = [f"{what}: {sorted(items)}" for what, items in (
        ("rules not in docs/rulegraph.dot", rules - kept_rules), ("rules no longer in the DAG", kept_rules - rules),
        ("edges not in docs/rulegraph.dot", edges - kept_edges), ("edges no longer in the DAG", kept_edges - edges),
    ) if items]
    assert not stale, ("docs/rulegraph.dot (and .png) predate the DAG; redraw them with `make rulegraph` "
                       "(Graphviz: apt-get install graphviz)\n" + "\n".join(stale))
    assert {"all", "mock_catalog", "pretrain", "embed", "metrics_table"} <= rules
    assert rulegraph.PNG_FILE.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rulegraph_text_is_stable_whatever_order_snakemake_prints():
    rulegraph = _rulegraph_module()
    header = "digraph snakemake_dag {\n    graph[bgcolor=white, margin=0];\n"
    first = header + ('\t0[label = "all", color = "0.00 0.6 0.85", style="rounded"];\n'
                      '\t1[label = "embed", color = "0.22 0.6 0.85", style="rounded"];\n'
                      '\t2[label = "catalog", color = "0.44 0.6 0.85", style="rounded"];\n'
                      "\t1 -> 0\n\t2 -> 1\n\t2 -> 0\n}\n")
    second = header + ('\t0[label = "catalog", color = "0.44 0.6 0.85", style="rounded"];\n'
                       '\t1[label = "all", color = "0.00 0.6 0.85", style="rounded"];\n'
                       '\t2[label = "embed", color = "0.22 0.6 0.85", style="rounded"];\n'
                       "\t0 -> 1\n\t2 -> 1\n\t0 -> 2\n}\n")
    assert rulegraph.graph(first) == rulegraph.graph(second) == (
        {"all", "embed", "catalog"}, {("embed", "all"), ("catalog", "embed"), ("catalog", "all")})
    normalised = rulegraph.normalise(first)
    assert normalised == rulegraph.normalise(second) == rulegraph.normalise(normalised)
    assert normalised == header + ('\t0[label = "all", color = "0.00 0.6 0.85", style="rounded"];\n'
                                   '\t1[label = "catalog", color = "0.44 0.6 0.85", style="rounded"];\n'
                                   '\t2[label = "embed", color = "0.22 0.6 0.85", style="rounded"];\n'
                                   "\t1 -> 0\n\t1 -> 2\n\t2 -> 0\n}\n")


@pytest.mark.parametrize("env", sorted(path.stem for path in (REPO / "envs").glob("*.yaml")))
def test_every_conda_environment_runs_the_one_post_deploy_script(env):
    """Snakemake looks for envs/<env>.post-deploy.sh beside envs/<env>.yaml: each is a link to one script."""
    post_deploy = REPO / "envs" / f"{env}.post-deploy.sh"
    assert post_deploy.is_symlink() and post_deploy.resolve() == (REPO / "envs" / "install-galssl.sh").resolve()
    assert os.access(post_deploy, os.X_OK)
    assert 'pip install --no-deps --editable "${GALSSL_ROOT:-$PWD}"' in post_deploy.read_text(encoding="utf-8")
