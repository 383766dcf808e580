"""Which labels a run has, decided once when the workflow is parsed (workflow/rules/common.smk): where its label
table is and which of the ``labels`` section's columns it really holds.

This reads the whole config and file headers of every kind of run (a label table, a user catalogue, the mock sky's
labels), so it sits with the entry points; the stages get the result as ``--labels-config`` JSON
(``galssl.labelspec.ResolvedLabels``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from galssl.labelspec import LabelSpec, ResolvedLabels


def label_source(config: Mapping[str, Any]) -> tuple[str | None, list[str] | None, str]:
    """Where a run's labels are: (path of the label table, its column names, how to name it in a message).

    ``labels.table`` when set; else the mock sky's labels when the catalogue is the mock's; else the normalised
    catalogue (results/catalog/catalog.parquet), which carries the user catalogue's own columns and those of a
    position cross-matched ``catalog.labels`` table. The columns come from file headers only (cheap at parse time).
    """
    from galssl.catalog import table_columns

    table = config.get("labels", {}).get("table")
    if table:
        return table, table_columns(table, key="labels.table"), table
    catalog = config["catalog"]
    if catalog["source"] == "mock":
        from galssl.mocksky.catalog import label_columns

        return "results/mock/labels.parquet", label_columns(), "the mock sky's labels"
    columns = [name for name in table_columns(catalog["path"])
               if name not in (catalog["id_column"], catalog["ra_column"], catalog["dec_column"])]
    if catalog.get("labels"):
        columns += table_columns(catalog["labels"], key="catalog.labels")
    return "results/catalog/catalog.parquet", columns, catalog["path"]


def resolve_config(config: Mapping[str, Any]) -> tuple[str | None, ResolvedLabels]:
    """The label table of a run ([None] when nothing is labelled) and its resolved labels."""
    path, columns, where = label_source(config)
    resolved = LabelSpec.from_section(config.get("labels")).resolve(columns, where)
    return (path if resolved.any else None), resolved
