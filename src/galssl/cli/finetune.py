"""Verbs of the fine-tuning stage: choose the best self-supervised method from the probe tables, fine-tune."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from galssl.errors import DataError


def cmd_finetune_choose(args: argparse.Namespace) -> None:
    from galssl.finetune.choose import choose_from_tables
    from galssl.io import write_text_atomic

    choice = choose_from_tables(args.tables, args.candidates, args.probe, args.metric)
    write_text_atomic(args.out, json.dumps(choice, indent=2, sort_keys=True) + "\n")
    scores = ", ".join(f"{method} {value:.4f}" for method, value in choice["scores"].items())
    print(f"val {args.metric} of classes_{args.probe}: {scores} -> best {choice['best']} -> {args.out}")


def chosen_checkpoint(ckpts: list[str], choice_path: str | None, name: str | None) -> tuple[str, str]:
    """(checkpoint, method name): the one of ``results/{survey}/<method>/encoder.ckpt`` named by the choice file,
    else the only checkpoint given (named ``name`` or its folder)."""
    if choice_path:
        best = json.loads(Path(choice_path).read_text(encoding="utf-8"))["best"]
        matches = [ckpt for ckpt in ckpts if Path(ckpt).parent.name == best]
        if not matches:
            raise DataError(f"{choice_path} chose {best!r}, but no --ckpts path is "
                            f"results/<survey>/{best}/encoder.ckpt")
        return matches[0], best
    if len(ckpts) != 1:
        raise DataError(f"give one checkpoint, or several with --choice (got {len(ckpts)})")
    return ckpts[0], name or Path(ckpts[0]).parent.name


def cmd_finetune(args: argparse.Namespace) -> None:
    import dataclasses

    import torch

    from galssl.binned_redshift import PhotozSettings
    from galssl.cli.training import _instrument
    from galssl.finetune.run import FinetuneInputs, run_finetune
    from galssl.finetune.settings import FinetuneSettings

    torch.set_num_threads(max(1, args.threads))
    ckpt, name = chosen_checkpoint(args.ckpts, args.choice, args.name)
    inputs = FinetuneInputs(survey=args.survey, method=name, ckpt=ckpt, task=args.task, shards=args.shards,
                            manifest=args.manifest, labels=args.labels,
                            settings=FinetuneSettings.from_section(json.loads(args.finetune)),
                            pretrain_section=json.loads(args.pretrain), class_column=args.class_column,
                            photoz=dataclasses.replace(PhotozSettings.from_section(json.loads(args.photoz)),
                                                       redshift_column=args.redshift_column), seed=args.seed,
                            out_dir=Path(args.out_dir), instrument=_instrument(json.loads(args.survey_config)),
                            workers=args.workers)
    run_finetune(inputs)
    print(f"{args.survey}/{name} fine-tuned on {args.task} -> {args.out_dir}")


def register(verbs: argparse._SubParsersAction) -> None:
    """Add this group's verbs to the `galssl` parser."""
    p = verbs.add_parser("finetune-choose", help="the self-supervised method with the best frozen-probe val score")
    p.add_argument("--tables", nargs="+", required=True, help="probes/metrics.parquet of every candidate")
    p.add_argument("--candidates", nargs="+", required=True, help="methods to choose among")
    p.add_argument("--probe", default="logistic", help="class probe whose score decides (task classes_<probe>)")
    p.add_argument("--metric", default="accuracy")
    p.add_argument("--out", required=True, help="JSON: best, scores, probe, metric, split")
    p.set_defaults(func=cmd_finetune_choose)

    p = verbs.add_parser("finetune", help="fine-tune an encoder with a head on classes or photo-z")
    p.add_argument("--survey", required=True)
    p.add_argument("--survey-config", required=True, help="the surveys.<name> section as JSON")
    p.add_argument("--ckpts", nargs="+", required=True, help="encoder.ckpt (several with --choice)")
    p.add_argument("--choice", help="finetune-choose JSON naming which of --ckpts to fine-tune")
    p.add_argument("--name", help="method name written in the tables (default: the checkpoint's folder)")
    p.add_argument("--task", required=True, choices=("classes", "photoz"))
    p.add_argument("--finetune", default="{}", help="the finetune config section as JSON")
    p.add_argument("--pretrain", default="{}", help="the pretrain section (its augment) as JSON")
    p.add_argument("--class-column", default="galaxy10_class", help="integer class column (labels.class_column)")
    p.add_argument("--redshift-column", default="redshift", help="redshift column (labels.redshift_column)")
    p.add_argument("--photoz", default="{}", help="the photoz config section as JSON")
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--labels", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.set_defaults(func=cmd_finetune)
