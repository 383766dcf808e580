"""Verbs of the training stages: pretraining, embeddings and their figures."""

from __future__ import annotations

import argparse
import json

from galssl.errors import GalsslError
from galssl.labelspec import add_labels_argument


def _instrument(section: dict) -> str:
    """The filter family of a survey section: the mock instrument, else the provider (legacy = DECam)."""
    known = {"legacy": "legacy", "sdss": "sdss", "euclid": "euclid"}
    return section.get("instrument") or known.get(section["provider"], "sdss")


def cmd_pretrain(args: argparse.Namespace) -> None:
    from pathlib import Path

    from galssl.pretrain import PretrainInputs, run_pretraining

    section = json.loads(args.pretrain)
    inputs = PretrainInputs(survey=args.survey, method=args.method, shards=args.shards, manifest=args.manifest,
                            labels=args.labels, section=section, seed=args.seed, out_dir=Path(args.out_dir),
                            instrument=_instrument(json.loads(args.survey_config)), workers=args.workers,
                            train_ids=args.train_ids, class_column=args.class_column)
    import torch

    torch.set_num_threads(max(1, args.threads))
    path = run_pretraining(inputs)
    print(f"{args.survey}/{args.method}: encoder -> {path}")


def cmd_embed(args: argparse.Namespace) -> None:
    import hashlib
    import json

    import torch

    from galssl.checkpoint import timm_encoder
    from galssl.data import load_manifest
    from galssl.embed import embed_with_manifest, file_sha256

    torch.set_num_threads(max(1, args.threads))
    manifest = load_manifest(args.manifest)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.ckpt:
        from galssl.checkpoint import build_encoder, content_hash, read_checkpoint

        payload = read_checkpoint(args.ckpt)
        method, recipe = build_encoder(payload, args.ckpt)
        config_hash = hashlib.sha256(json.dumps(recipe["config"], sort_keys=True, default=str).encode()).hexdigest()
        # The checkpoint's content hash (recipe and tensors, verified on load), not the file's bytes: torch.save
        # names its zip folder after the (temporary) file it writes, so equal weights can differ byte for byte.
        weights_hash = payload.get("sha256") or content_hash(recipe, payload["state_dict"])
        provenance = {"encoder": str(args.ckpt), "encoder_sha256": weights_hash,
                      "config_sha256": config_hash, "seed": recipe.get("seed"),
                      "global_step": recipe.get("global_step")}
        n = embed_with_manifest(args.manifest, args.shards, method.to(device).embed, int(recipe["img_size"]),
                                args.name or recipe["method"], args.out, batch_size=args.batch_size,
                                catalog=args.catalog, provenance=provenance)
    else:
        if not args.timm:
            raise GalsslError("give --ckpt (a galssl encoder.ckpt) or --timm NAME [--weights FILE]")
        crop = args.crop or int(manifest["image_shape"][-1])
        model = timm_encoder(args.timm, len(manifest["bands"]), crop, args.weights)
        provenance = {"timm": args.timm, "weights": args.weights,
                      "weights_sha256": file_sha256(args.weights) if args.weights else None}
        n = embed_with_manifest(args.manifest, args.shards, model.to(device), crop, args.name or f"timm:{args.timm}",
                                args.out, batch_size=args.batch_size, catalog=args.catalog, provenance=provenance)
    print(f"embeddings of {n} objects -> {args.out}")


def cmd_fit_pixel_pca(args: argparse.Namespace) -> None:
    import torch

    from galssl.pixels import fit_pixel_pca

    torch.set_num_threads(max(1, args.threads))
    n = fit_pixel_pca(args.shards, args.manifest, args.crop, args.n_components, args.seed, args.out, survey=args.survey)
    print(f"pixels_pca: {args.n_components} components of {args.crop}x{args.crop} pixels from {n} train objects "
          f"-> {args.out}")


def cmd_plot_training(args: argparse.Namespace) -> None:
    from galssl.io import save_figure_atomic
    from galssl.plots.training import training_curves_figure

    save_figure_atomic(training_curves_figure(args.metrics, args.title), args.out)


def cmd_plot_mae(args: argparse.Namespace) -> None:
    from galssl.io import save_figure_atomic
    from galssl.plots.mae import reconstruction_figure

    save_figure_atomic(reconstruction_figure(args.ckpt, args.shards, args.manifest, args.n, args.seed), args.out)


def cmd_plot_augmentations(args: argparse.Namespace) -> None:
    from galssl.io import save_figure_atomic
    from galssl.plots.augment import augmentation_figure_from_shards

    section = json.loads(args.pretrain)
    instrument = _instrument(json.loads(args.survey_config))
    save_figure_atomic(augmentation_figure_from_shards(args.shards, args.manifest, section, instrument, args.seed),
                       args.out)


def cmd_plot_cutouts(args: argparse.Namespace) -> None:
    from galssl.io import save_figure_atomic
    from galssl.plots.cutouts import cutouts_figure_from_files

    figure = cutouts_figure_from_files(args.shards, args.manifest, args.labels, args.labels_config, args.crop,
                                       args.seed, args.survey, _instrument(json.loads(args.survey_config)),
                                       args.per_split, args.per_class)
    save_figure_atomic(figure, args.out)


def register(verbs: argparse._SubParsersAction) -> None:
    """Add this group's verbs to the `galssl` parser."""
    p = verbs.add_parser("pretrain", help="train one method on a survey's shards -> encoder.ckpt, metrics.csv")
    p.add_argument("--survey", required=True)
    p.add_argument("--survey-config", required=True, help="the surveys.<name> section as JSON")
    p.add_argument("--method", required=True)
    p.add_argument("--pretrain", required=True, help="the pretrain config section as JSON")
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--labels", help="label table joined on object_id (supervised baseline, online probe)")
    p.add_argument("--class-column", default="galaxy10_class",
                   help="integer class column of --labels (labels.class_column)")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--train-ids", help="table with object_id: train only on these train-split objects")
    p.set_defaults(func=cmd_pretrain)

    p = verbs.add_parser("embed", help="embeddings of every object from an encoder.ckpt or a timm model")
    p.add_argument("--ckpt", help="galssl encoder.ckpt")
    p.add_argument("--timm", help="timm model name (random init unless --weights)")
    p.add_argument("--weights", help="local safetensors/torch weights for --timm")
    p.add_argument("--crop", type=int, help="input size for --timm (default: the cutout size)")
    p.add_argument("--name", help="method name written in the table")
    p.add_argument("--catalog", help="catalogue Parquet (object_id, ra, dec, split): adds positions and splits")
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=cmd_embed)

    p = verbs.add_parser("fit-pixel-pca",
                         help="PCA of normalised pixels on the train split -> encoder.ckpt (the floor)")
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--crop", type=int, required=True, help="centre crop in pixels (the encoders' input size)")
    p.add_argument("--n-components", type=int, default=64)
    p.add_argument("--survey", default="")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=cmd_fit_pixel_pca)

    p = verbs.add_parser("plot-training", help="training curves (loss, learning rate, online probe) from metrics.csv")
    p.add_argument("--metrics", required=True)
    p.add_argument("--title", default="")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_plot_training)

    p = verbs.add_parser("plot-mae", help="MAE reconstructions: original / masked input / reconstruction")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--n", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_plot_mae)

    p = verbs.add_parser("plot-augmentations", help="every augmentation applied to the same four galaxies")
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--pretrain", required=True)
    p.add_argument("--survey-config", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_plot_augmentations)

    p = verbs.add_parser("plot-cutouts", help="gallery of ingested cutouts as the encoders see them (sample per split)")
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--labels", help="label table joined on object_id (rows by class when it has the class column)")
    add_labels_argument(p)
    p.add_argument("--crop", type=int, required=True, help="side of the encoders' centre crop in pixels (outlined)")
    p.add_argument("--survey", required=True)
    p.add_argument("--survey-config", required=True, help="the surveys.<name> section as JSON")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--per-split", type=int, default=8, help="cutouts per split without classes")
    p.add_argument("--per-class", type=int, default=3, help="cutouts per class and split with a class column")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_plot_cutouts)
