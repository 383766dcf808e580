"""The rule graph of the default DAG (config/config.yaml): docs/rulegraph.dot, and docs/rulegraph.png drawn from it.

Snakemake prints the edges of `--rulegraph` in an order that changes from run to run (and numbers the rules by it),
so the DOT text kept here is normalised: rules numbered in name order, edges sorted. tests/test_lint.py compares it
with the current DAG (without Graphviz); `make rulegraph` rewrites both files (the figure needs Graphviz's `dot`).
Usage: python docs/rulegraph.py [--no-png]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOT_FILE = REPO / "docs" / "rulegraph.dot"
PNG_FILE = REPO / "docs" / "rulegraph.png"
NODE = re.compile(r'^\s*(\d+)\[label = "([^"]+)"(.*)$')
EDGE = re.compile(r"^\s*(\d+) -> (\d+)\s*$")


def snakemake_rulegraph() -> str:
    """`snakemake --rulegraph all` of the default config, as Snakemake prints it (built in an empty working
    directory, so the results a checkout already has change nothing)."""
    snakemake = Path(sys.executable).with_name("snakemake")
    command = [str(snakemake)] if snakemake.exists() else [sys.executable, "-m", "snakemake"]
    with tempfile.TemporaryDirectory(prefix="galssl-rulegraph-") as workdir:
        result = subprocess.run(
            [*command, "--snakefile", str(REPO / "Snakefile"), "--configfile", str(REPO / "config" / "config.yaml"),
             "--directory", workdir, "--rulegraph", "dot", "all"],
            cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(f"snakemake --rulegraph failed:\n{result.stderr[-3000:]}")
    return result.stdout


def graph(dot: str) -> tuple[set[str], set[tuple[str, str]]]:
    """Rule names and (upstream, downstream) rule-name edges of a rule-graph DOT text."""
    lines = dot.splitlines()
    names = {node.group(1): node.group(2) for node in map(NODE.match, lines) if node}
    edges = {(names[edge.group(1)], names[edge.group(2)]) for edge in map(EDGE.match, lines) if edge}
    return set(names.values()), edges


def normalise(dot: str) -> str:
    """The same rule graph with the rules numbered in name order and the edges sorted (stable text)."""
    lines = dot.strip().splitlines()
    header = [line.rstrip() for line in lines if not NODE.match(line) and not EDGE.match(line) and line.strip() != "}"]
    nodes = {}
    for line in lines:
        node = NODE.match(line)
        if node:
            nodes[node.group(1)] = (node.group(2), node.group(3))
    number = {old: new for new, old in enumerate(sorted(nodes, key=lambda old: nodes[old][0]))}
    body = [f'\t{number[old]}[label = "{nodes[old][0]}"{nodes[old][1]}' for old in sorted(nodes, key=number.get)]
    edges = sorted((number[a], number[b]) for a, b in (EDGE.match(line).groups() for line in lines if EDGE.match(line)))
    body += [f"\t{a} -> {b}" for a, b in edges]
    return "\n".join(header + body + ["}"]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-png", action="store_true", help="write docs/rulegraph.dot only")
    args = parser.parse_args()
    dot = normalise(snakemake_rulegraph())
    DOT_FILE.write_text(dot, encoding="utf-8")
    rules, edges = graph(dot)
    print(f"{DOT_FILE.relative_to(REPO)}: {len(rules)} rules, {len(edges)} edges")
    if args.no_png:
        return
    if shutil.which("dot") is None:
        sys.exit("docs/rulegraph.py: Graphviz's `dot` is not installed (Debian: apt-get install graphviz); "
                 "docs/rulegraph.dot is written, docs/rulegraph.png is not")
    subprocess.run(["dot", "-Tpng", "-o", str(PNG_FILE), str(DOT_FILE)], check=True)
    print(f"{PNG_FILE.relative_to(REPO)} drawn with Graphviz")


if __name__ == "__main__":
    main()
