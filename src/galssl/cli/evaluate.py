"""Verbs of the downstream-science stages on frozen embeddings: morphology probes, label efficiency, photo-z."""

from __future__ import annotations

import argparse
import json
import time


def _limit_threads(threads: int):
    """Cap torch and BLAS threads (sklearn, numpy) at ``threads``; returns the threadpoolctl context."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(max(1, threads))
    return threadpool_limits(max(1, threads))


def _labels(args: argparse.Namespace):
    from galssl.labelspec import labels_from_cli

    return labels_from_cli(args.labels_config)


def _load(args: argparse.Namespace):
    from galssl.evaluate.labelled import load_labelled

    return load_labelled(args.embeddings, args.catalog, args.labels, args.method)


def cmd_probes(args: argparse.Namespace) -> None:
    import pandas as pd

    from galssl.evaluate.probes import ProbeSettings, run_class_probes, run_vote_fraction_probes
    from galssl.io import write_parquet_atomic

    settings = ProbeSettings.from_section(json.loads(args.probes), _labels(args))
    with _limit_threads(args.threads):
        data = _load(args)
        start = time.perf_counter()
        class_metrics, class_predictions = run_class_probes(data, settings, args.seed)
        print(f"class probes: {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        vote_metrics, vote_predictions = run_vote_fraction_probes(data, settings, args.seed)
        print(f"vote-fraction probes: {time.perf_counter() - start:.1f} s")
    write_parquet_atomic(pd.concat([class_metrics, vote_metrics], ignore_index=True), args.metrics_out)
    write_parquet_atomic(class_predictions, args.class_predictions_out)
    write_parquet_atomic(vote_predictions, args.vote_predictions_out)
    test = class_metrics[class_metrics["split"] == "test"]
    for task, rows in test.groupby("task", sort=False):
        values = ", ".join(f"{row.metric} {row.value:.3f}" for row in rows.itertuples())
        print(f"{data.method} {task} test: {values}")
    print(f"metrics -> {args.metrics_out}")


def cmd_label_efficiency(args: argparse.Namespace) -> None:
    from galssl.evaluate.label_efficiency import LabelEfficiencySettings, run_label_efficiency
    from galssl.evaluate.probes import ProbeSettings
    from galssl.io import write_parquet_atomic

    probes = ProbeSettings.from_section(json.loads(args.probes), _labels(args))
    settings = LabelEfficiencySettings.from_section(probes.label_efficiency)
    with _limit_threads(args.threads):
        data = _load(args)
        start = time.perf_counter()
        table = run_label_efficiency(data, probes, settings, args.seed)
        print(f"label efficiency: {time.perf_counter() - start:.1f} s")
    write_parquet_atomic(table, args.out)
    summary = table.groupby(["task", "n_labels", "metric"])["value"].mean().unstack("metric")
    print(summary.round(3).to_string())  # seed means
    print(f"label efficiency -> {args.out}")


def cmd_photoz(args: argparse.Namespace) -> None:
    from galssl.binned_redshift import PhotozSettings
    from galssl.evaluate.photoz import run_photoz
    from galssl.io import write_parquet_atomic

    settings = PhotozSettings.from_section(json.loads(args.photoz), _labels(args))
    with _limit_threads(args.threads):
        data = _load(args)
        start = time.perf_counter()
        table, predictions = run_photoz(data, settings, args.seed)
        print(f"photo-z: {time.perf_counter() - start:.1f} s")
    write_parquet_atomic(table, args.metrics_out)
    write_parquet_atomic(predictions, args.predictions_out)
    print(f"photo-z metrics -> {args.metrics_out}")


def cmd_plot_confusion(args: argparse.Namespace) -> None:
    import pandas as pd

    from galssl.io import save_figure_atomic
    from galssl.labelspec import ResolvedLabels
    from galssl.plots.probes import confusion_figure
    from galssl.tables import read_table

    galaxy10 = ResolvedLabels(class_column="galaxy10_class", class_names="galaxy10_name")

    labels = read_table(args.labels, "labels table") if args.labels else None
    names = (_labels(args) or galaxy10).class_name_map(labels)
    save_figure_atomic(confusion_figure(pd.read_parquet(args.predictions), names, args.title), args.out)


def cmd_plot_vote_fractions(args: argparse.Namespace) -> None:
    import pandas as pd

    from galssl.io import save_figure_atomic
    from galssl.plots.probes import vote_fraction_figure

    save_figure_atomic(vote_fraction_figure(pd.read_parquet(args.predictions), args.title), args.out)


def cmd_plot_label_efficiency(args: argparse.Namespace) -> None:
    import pandas as pd

    from galssl.io import save_figure_atomic
    from galssl.plots.probes import label_efficiency_figure

    table = pd.concat([pd.read_parquet(path) for path in args.tables], ignore_index=True)
    save_figure_atomic(label_efficiency_figure(table, args.title), args.out)


def cmd_plot_photoz(args: argparse.Namespace) -> None:
    import pandas as pd

    from galssl.binned_redshift import PhotozSettings
    from galssl.io import save_figure_atomic
    from galssl.plots.photoz import photoz_figure

    settings = PhotozSettings.from_section(json.loads(args.photoz))
    save_figure_atomic(photoz_figure(pd.read_parquet(args.predictions), (settings.z_min, settings.z_max), args.title),
                       args.out)


def cmd_plot_photoz_fraction(args: argparse.Namespace) -> None:
    import pandas as pd

    from galssl.io import save_figure_atomic
    from galssl.plots.photoz import photoz_fraction_figure

    table = pd.concat([pd.read_parquet(path) for path in args.tables], ignore_index=True)
    save_figure_atomic(photoz_fraction_figure(table, args.title), args.out)


def _inputs(p: argparse.ArgumentParser) -> None:
    from galssl.labelspec import add_labels_argument

    p.add_argument("--embeddings", required=True, help="results/{survey}/{embedding}/embeddings.parquet")
    p.add_argument("--catalog", required=True, help="results/catalog/catalog.parquet (object_id, split)")
    p.add_argument("--labels", required=True, help="label table joined on object_id")
    p.add_argument("--method", help="name written in the metrics tables (default: the embeddings table's)")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--threads", type=int, default=1)
    add_labels_argument(p)


def register(verbs: argparse._SubParsersAction) -> None:
    """Add this group's verbs to the `galssl` parser."""
    from galssl.labelspec import add_labels_argument

    p = verbs.add_parser("probes", help="class and Galaxy Zoo vote-fraction probes on frozen embeddings")
    _inputs(p)
    p.add_argument("--probes", default="{}", help="the probes config section as JSON")
    p.add_argument("--metrics-out", required=True)
    p.add_argument("--class-predictions-out", required=True)
    p.add_argument("--vote-predictions-out", required=True)
    p.set_defaults(func=cmd_probes)

    p = verbs.add_parser("label-efficiency", help="class probes refitted on nested subsets of N = 2^k labels")
    _inputs(p)
    p.add_argument("--probes", default="{}", help="the probes config section as JSON")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_label_efficiency)

    p = verbs.add_parser("photoz", help="photometric redshifts: classifier over redshift bins on embeddings")
    _inputs(p)
    p.add_argument("--photoz", default="{}", help="the photoz config section as JSON")
    p.add_argument("--metrics-out", required=True)
    p.add_argument("--predictions-out", required=True)
    p.set_defaults(func=cmd_photoz)

    p = verbs.add_parser("plot-confusion", help="confusion matrix of every class probe")
    p.add_argument("--predictions", required=True)
    p.add_argument("--labels", help="label table with the class and class-name columns, for class names")
    add_labels_argument(p)
    p.add_argument("--title", default="")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_plot_confusion)

    p = verbs.add_parser("plot-vote-fractions", help="predicted vs volunteer vote fraction per Galaxy Zoo question")
    p.add_argument("--predictions", required=True)
    p.add_argument("--title", default="")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_plot_vote_fractions)

    p = verbs.add_parser("plot-label-efficiency", help="metric vs number of labels, one line per embedding")
    p.add_argument("--tables", nargs="+", required=True, help="label_efficiency.parquet of every embedding")
    p.add_argument("--title", default="")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_plot_label_efficiency)

    p = verbs.add_parser("plot-photoz", help="z_phot vs z_spec density with metrics, and the PIT histogram")
    p.add_argument("--predictions", required=True)
    p.add_argument("--photoz", default="{}", help="the photoz config section as JSON")
    p.add_argument("--title", default="")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_plot_photoz)

    p = verbs.add_parser("plot-photoz-fraction", help="photo-z metrics vs number of train redshifts, every embedding")
    p.add_argument("--tables", nargs="+", required=True, help="photoz/metrics.parquet of every embedding")
    p.add_argument("--title", default="")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_plot_photoz_fraction)
