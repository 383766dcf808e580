"""Every report caption is valid reStructuredText once its Jinja is rendered (Snakemake renders, then docutils)."""

from __future__ import annotations

from pathlib import Path

import docutils.core
import docutils.utils
import jinja2
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

CAPTIONS = sorted((REPO / "workflow" / "report").glob("*.rst"))


class _Wildcards(dict):
    """Any wildcard a caption names: a plausible value."""

    def __missing__(self, key: str) -> str:
        return {"survey": "sdss", "slot": "best", "task": "classes"}.get(key, "simclr")


def test_there_are_captions():
    assert len(CAPTIONS) > 20


@pytest.mark.parametrize("path", CAPTIONS, ids=lambda path: path.name)
def test_caption_renders_without_docutils_errors(path):
    # The context Snakemake gives a caption: the default config, the job's wildcards and outputs.
    snakemake = {"config": yaml.safe_load((REPO / "config" / "config.yaml").read_text()), "wildcards": _Wildcards(),
                 "output": ["results/sdss/simclr/figure.png"]}
    template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(path.read_text())
    text = template.render(snakemake=snakemake)
    # halt_level 3: an ERROR (e.g. "|Δz|" read as an undefined substitution) raises instead of being printed
    with _no_error():
        docutils.core.publish_doctree(text, settings_overrides={"halt_level": 3, "report_level": 5})


class _no_error:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is not None and issubclass(kind, docutils.utils.SystemMessage):
            pytest.fail(f"docutils error: {value}")
        return False
