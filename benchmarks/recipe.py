"""Which recipe choices make an encoder worth its compute (issue #16): one factor at a time, fixed step budget.

Every trial is one pretraining run through the pipeline's own code (galssl.pretrain.run_pretraining) on the
config's ``pretrain`` section with one override from the FACTORS table below, then the pipeline's probes: every
object embedded (galssl.embed.embed_shards), logistic and kNN class probes fitted on train, their hyper-parameter
chosen on val, scored on test (galssl.evaluate.probes.run_class_probes). pixels_pca (galssl.pixels) is the reference
every encoder must beat, probed the same way once.

Fixed budget: every trial gets about ``--steps`` optimiser steps whatever its batch size. One epoch is
ceil(n_train / batch_size) steps (as galssl.pretrain counts them), so epochs = round(steps / steps per epoch), at
least 1; the run takes epochs x steps per epoch steps (recorded as planned_steps and global_step). Early stopping
is switched off (patience = epochs) so every trial spends its budget; the encoder kept is still the pipeline's
(the epoch with the best online probe for self-supervised methods, the best val loss for the supervised one).
Wall time per trial (training, embedding, probes) is recorded too: a larger batch costs more per step. The
default 300 steps is about the default run's (10 epochs of 28 steps at batch 128 on ~3,500 train galaxies).

A factor whose key is not a setting of the method (TrainSettings, the augmentations, the method's settings
dataclass) is skipped with the reason printed and kept in the JSON; so is a setting the config checks reject (a
crop that does not fit the cutouts). Not studied for want of a key: input normalisation (the asinh softening is
fixed in galssl.data) and resolution (the pixel grid is set at ingest); ``rescale`` (random zoom) is the nearest.
``--set KEY=YAML`` changes the baseline section; ``--mock-objects N`` builds a small mock survey to study instead
(a smoke test: e.g. --mock-objects 200 --mock-cutout 48 --set augment.jitter_crop.crop_size=32 --steps 6).

Prints one line per trial and rewrites the JSON (default benchmarks/results/recipe.json) atomically after each, so
an interrupted study keeps what it measured; ``--resume`` skips the trials already there. The baseline trial (no
override) is shared by every factor. The figure (default: the JSON's name with .png) has one panel per factor: test
balanced accuracy of the final probes vs setting, mean ± std over seeds, the baseline marked, pixels_pca as
horizontal lines; ``--plot-only`` redraws it from the JSON.
Usage: python benchmarks/recipe.py [--method simclr] [--factors lr,batch_size] [--seeds 3] [--steps 300]
       [--shards 'results/sdss/shards/*.parquet' --manifest ... --labels ...] [--mock-objects 200 --mock-cutout 48]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import glob
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import textwrap
import time
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

# name: (key in the pretrain section, how the values apply, values). "set" replaces the value; "scale" multiplies
# the baseline's number or [low, high] range (0 switches the augmentation off; max_shift 0 = no jitter); "width" and
# "depth" multiply the backbone's channels (ViT embed_dim) and blocks per stage (ViT depth); "stride" sets a ResNet's
# output stride (32 = timm's default). "{method}" is the method studied. The baseline (the config's value) is always
# one of the settings.
FACTORS: dict[str, tuple[str, str, tuple]] = {
    "batch_size": ("batch_size", "set", (32, 64, 128, 256)),
    "lr": ("lr", "set", (3e-4, 1e-3, 3e-3)),
    "warmup": ("warmup_epochs", "set", (0.0, 0.5, 2.0)),
    "crop_size": ("augment.jitter_crop.crop_size", "set", (32, 40, 48, 56)),
    "rescale": ("augment.rescale", "set", (None, {"scale": [0.9, 1.1]}, {"scale": [0.8, 1.25]})),
    "noise": ("augment.noise.scale", "scale", (0, 0.5, 1, 2)),
    "psf_blur": ("augment.psf_blur.sigma_px", "scale", (0, 0.5, 1, 2)),
    "reddening": ("augment.reddening.ebv", "scale", (0, 0.5, 1, 2)),
    "jitter": ("augment.jitter_crop.max_shift", "scale", (0, 0.5, 1, 2)),
    "rotation": ("augment.rotation", "set", (False, {"flip": False}, True)),
    "width": ("method_config.{method}.backbone_kwargs", "width", (0.5, 1, 2)),
    "depth": ("method_config.{method}.backbone_kwargs", "depth", (0.5, 1, 2)),
    # A ResNet's ImageNet stem and stages shrink a 48-px crop 32x, to 2x2 features; a smaller output stride keeps
    # the later stages at 3x3 (16) or 6x6 (8) by dilation (timm's output_stride), at more compute per step.
    "output_stride": ("method_config.{method}.backbone_kwargs", "stride", (32, 16, 8)),
    "projection_dim": ("method_config.{method}.projection_dim", "set", (32, 128, 512)),
    "projection_hidden_dim": ("method_config.{method}.projection_hidden_dim", "set", (128, 512, 2048)),
    "temperature": ("method_config.{method}.temperature", "set", (0.1, 0.2, 0.5)),
    "queue_size": ("method_config.{method}.queue_size", "set", (256, 1024, 2048)),
    "mask_ratio": ("method_config.{method}.mask_ratio", "set", (0.5, 0.75, 0.9)),
    # No pretrain key yet: the asinh softening is fixed in galssl.data.normaliser_from_manifest (skipped until one).
    "normalisation": ("normalise.softening", "set", (1.0, 3.0, 10.0)),
}
PROBES = ("logistic", "knn")


# --- pure helpers (tests/test_benchmark_recipe.py) ---------------------------------------------------------------
def epochs_for_budget(steps: int, batch_size: int, n_train: int) -> int:
    """Epochs whose steps (ceil(n_train / batch_size) each) come closest to ``steps``; at least 1."""
    per_epoch = max(1, -(-n_train // batch_size))
    return max(1, round(steps / per_epoch))


def get_dotted(mapping: dict, key: str, default=None):
    """``mapping['a']['b']`` for key ``a.b``; ``default`` where a level is missing or not a mapping."""
    for part in key.split("."):
        if not isinstance(mapping, dict) or part not in mapping:
            return default
        mapping = mapping[part]
    return mapping


def set_dotted(mapping: dict, key: str, value) -> dict:
    """A deep copy of ``mapping`` with ``a.b`` set to ``value`` (missing or null levels become mappings)."""
    out = copy.deepcopy(mapping)
    node = out
    parts = key.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = copy.deepcopy(value)
    return out


def scaled(value, factor: float):
    """A number or [low, high] range times ``factor``; integers stay integers."""
    if isinstance(value, (list, tuple)):
        return [scaled(v, factor) for v in value]
    return round(value * factor) if isinstance(value, int) else float(value) * factor


def backbone_override(shape: dict, kind: str, factor: float) -> dict:
    """backbone_kwargs that scale a backbone described by ``shape`` (``backbone_shape``) in width or depth."""
    if shape["family"] == "resnet":
        if kind == "width":
            return {"channels": [max(1, round(c * factor)) for c in shape["channels"]]}
        return {"layers": [max(1, round(n * factor)) for n in shape["layers"]]}
    if kind == "width":  # ViT: the width stays a multiple of the heads
        heads = shape["num_heads"]
        return {"embed_dim": max(heads, round(shape["embed_dim"] * factor / heads) * heads)}
    return {"depth": max(1, round(shape["depth"] * factor))}


def factor_settings(name: str, resolved: dict, method: str, known: set[str], shape: dict | None,
                    table: dict = FACTORS) -> tuple[list[dict], str | None]:
    """The settings of one factor: [{label, value, override (key → value, empty for the baseline), baseline}], or
    ([], why) when the factor does not apply. ``resolved`` is the pretrain section with every default filled in,
    ``known`` the keys the method takes (``known_keys``), ``shape`` its backbone's (None: neither ResNet nor ViT)."""
    key_template, kind, values = table[name]
    key = key_template.format(method=method)
    top = key.split(".")[0] if not key.startswith("method_config.") else ".".join(key.split(".")[:3])
    if top not in known:
        return [], f"{key} is not a setting of the pretrain section for {method}"
    base = get_dotted(resolved, key)
    settings = []
    for value in values:
        if kind == "set":
            override = {} if value == base else {key: value}
            settings.append({"label": _label(value), "value": value, "override": override})
        elif kind == "scale":
            if base is None:
                return [], f"{key.rsplit('.', 1)[0]} is off in the baseline: nothing to scale"
            parent = key.rsplit(".", 1)[0]
            off = value == 0 and parent != "augment.jitter_crop"  # no jitter = max_shift 0, the crop stays
            override = {} if value == 1 else {parent: None} if off else {key: scaled(base, value)}
            settings.append({"label": f"{value:g}x", "value": value, "override": override})
        elif kind == "stride":
            if shape is None or shape["family"] != "resnet":
                return [], "output_stride applies to ResNet backbones only"
            default = int(dict(base or {}).get("output_stride", 32))
            kwargs = {**dict(base or {}), "output_stride": int(value)}
            settings.append({"label": f"/{value}", "value": value,
                             "override": {} if value == default else {key: kwargs}})
        else:
            if shape is None:
                return [], f"{kind} scales ResNet or ViT backbones only"
            kwargs = {**dict(base or {}), **backbone_override(shape, kind, value)}
            settings.append({"label": f"{value:g}x", "value": value, "override": {} if value == 1 else {key: kwargs}})
    if not any(not s["override"] for s in settings):  # the baseline is always one of the settings
        settings.insert(0, {"label": _label(base), "value": base, "override": {}})
    for setting in settings:
        setting["baseline"] = not setting["override"]
    return settings, None


def _label(value) -> str:
    if value is None or value is False:
        return "off"
    if value is True:
        return "on"
    if isinstance(value, dict):
        return ",".join(f"{k}={_label(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "-".join(_label(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def budget_section(section: dict, method: str, steps: int, n_train: int) -> dict:
    """The section with epochs for the step budget (``epochs_for_budget``) and early stopping off."""
    method_config = (section.get("method_config") or {}).get(method, {})
    batch_size = int(method_config.get("batch_size", section.get("batch_size", 128)))
    epochs = epochs_for_budget(steps, batch_size, n_train)
    out = set_dotted(section, "epochs", epochs)
    out = set_dotted(out, "early_stopping_patience", epochs)
    if "epochs" in method_config:
        out["method_config"][method].pop("epochs")
    return out


def trial_key(method: str, seed: int, steps: int, section: dict, data: str) -> str:
    """Identity of one trial: the method, seed, budget, trained section and dataset fingerprint."""
    text = json.dumps({"method": method, "seed": seed, "steps": steps, "section": section, "data": data},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def plan_trials(factors: dict, seeds: list[int], done: dict) -> list[tuple[int, str, dict]]:
    """(seed, factor, setting) of the trials still to run, seeds outermost (a cut study has whole seeds), each
    trial key once (the shared baseline) and none already in ``done`` without an error."""
    plan, seen = [], set()
    for seed in seeds:
        for name, factor in factors.items():
            for setting in factor["settings"]:
                key = setting["trial_keys"].get(str(seed))  # None: a factor kept from a study with fewer seeds
                if key is None or key in seen or (key in done and not done[key].get("error")):
                    continue
                seen.add(key)
                plan.append((seed, name, setting))
    return plan


def summarise(factors: dict, trials: dict, seeds: list[int]) -> dict:
    """Per factor and setting: mean, std and count over seeds of the test balanced accuracies and the wall time."""
    summary = {}
    for name, factor in factors.items():
        rows = []
        for setting in factor["settings"]:
            runs = [trials[k] for s in seeds if (k := setting["trial_keys"].get(str(s))) in trials
                    and not trials[k].get("error")]
            row = {"label": setting["label"], "baseline": setting["baseline"], "n": len(runs)}
            for metric, values in ((f"{p}_balanced_accuracy", [r["probes"][p]["test_balanced_accuracy"] for r in runs])
                                   for p in PROBES):
                row.update(_mean_std(metric, values))
            row.update(_mean_std("online_best_balanced_accuracy",
                                 [r["online"]["best_balanced_accuracy"] for r in runs
                                  if r["online"]["best_balanced_accuracy"] is not None]))
            row.update(_mean_std("wall_s", [r["wall_s"] for r in runs]))
            rows.append(row)
        summary[name] = rows
    return summary


def _mean_std(name: str, values: list[float]) -> dict:
    if not values:
        return {f"{name}_mean": None, f"{name}_std": None}
    return {f"{name}_mean": round(float(np.mean(values)), 4),
            f"{name}_std": round(float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, 4)}


# --- the study ---------------------------------------------------------------------------------------------------
def known_keys(method: str) -> set[str]:
    """Keys a trial may override: TrainSettings fields, the augmentations, the method's settings fields."""
    from galssl.methods import method_settings
    from galssl.train import TrainSettings

    train = {f.name for f in fields(TrainSettings)} - {"extra"}
    return train | {"augment"} | {f"method_config.{method}.{k}" for k in method_settings(method).to_dict()}


def resolved_section(section: dict, method: str) -> dict:
    """The section as a run sees it: augmentation and method defaults filled in."""
    from galssl.augment.settings import augment_config
    from galssl.methods import method_settings

    method_config = (section.get("method_config") or {}).get(method, {})
    return {**section, "augment": augment_config(section),
            "method_config": {method: method_settings(method, method_config).to_dict()}}


def backbone_shape(method: str, section: dict, in_chans: int, img_size: int) -> dict | None:
    """Channels and blocks per stage of a ResNet, or width, depth and heads of a ViT; None for other backbones."""
    import timm

    from galssl.methods import method_settings
    from galssl.methods.backbone import build_backbone

    settings = method_settings(method, (section.get("method_config") or {}).get(method, {}))
    model, _ = build_backbone(replace(settings, weights=None), in_chans, img_size)
    if isinstance(model, timm.models.resnet.ResNet):
        stages = [getattr(model, f"layer{i}") for i in range(1, 5)]
        return {"family": "resnet", "layers": [len(stage) for stage in stages],
                "channels": [int(info["num_chs"]) for info in model.feature_info if info["module"].startswith("layer")]}
    if hasattr(model, "blocks") and hasattr(model, "embed_dim"):
        return {"family": "vit", "embed_dim": int(model.embed_dim), "depth": len(model.blocks),
                "num_heads": int(model.blocks[0].attn.num_heads)}
    return None


def check_section(config: dict, section: dict, method: str, survey: str, image_size: int) -> None:
    """ConfigError unless the trial's section passes the config schema and checks and the method's settings."""
    from galssl.config import validate_config
    from galssl.methods import method_settings

    trial = copy.deepcopy(config)
    methods = list(config["pretrain"]["methods"])  # other stages' keys name these (explorer.embedding, ...)
    trial["pretrain"] = {**section, "methods": methods + [method] * (method not in methods)}
    trial["surveys"] = {survey: {**config["surveys"][survey], "cutout_size": image_size}}
    validate_config(trial)
    method_settings(method, section["method_config"].get(method, {}))


@contextlib.contextmanager
def output_to(path: Path):
    """Send file descriptors 1 and 2 (Lightning's progress bars, logs and warnings) to ``path`` for the duration."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "a") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for descriptor, copy_of in zip((1, 2), saved):
                os.dup2(copy_of, descriptor)
                os.close(copy_of)


class Study:
    """The data of the study (shards, manifest, labels with splits) and how one encoder is probed."""

    def __init__(self, args: argparse.Namespace, config: dict) -> None:
        from galssl.data import load_manifest
        from galssl.evaluate.probes import ProbeSettings
        from galssl.shards import read_shard_table
        from galssl.tables import read_table

        self.args, self.config = args, config
        self.shards = sorted({path for pattern in args.shards for path in glob.glob(pattern)})
        if not self.shards:
            raise SystemExit(f"no shards match {' '.join(args.shards)}")
        self.manifest = load_manifest(args.manifest)
        self.n_train = int(self.manifest["counts"]["by_split"].get("train", 0))
        self.fingerprint = hashlib.sha256(Path(args.manifest).read_bytes()).hexdigest()[:16]
        splits = pd.concat([read_shard_table(p, ["object_id", "split"]).to_pandas() for p in self.shards])
        labels = read_table(args.labels, "labels table")[["object_id", args.class_column]]
        self.table = splits.merge(labels, on="object_id", how="left").set_index("object_id")
        self.probe_settings = replace(ProbeSettings.from_section(config.get("probes")), classifiers=PROBES,
                                      class_column=args.class_column, gz_tree=None)

    def probe(self, checkpoint: Path, name: str, seed: int) -> tuple[dict, float, float]:
        """Test (and val) metrics of the logistic and kNN probes on an encoder; (metrics, embed s, probe s)."""
        from galssl.checkpoint import load_encoder
        from galssl.embed import embed_shards
        from galssl.evaluate.labelled import LabelledEmbeddings
        from galssl.evaluate.probes import run_class_probes

        start = time.perf_counter()
        method, recipe = load_encoder(checkpoint)
        ids, vectors = embed_shards(method.embed, self.shards, self.manifest, int(recipe["img_size"]))
        embed_s = time.perf_counter() - start
        rows = self.table.loc[ids]
        data = LabelledEmbeddings(name, np.asarray(ids), vectors, rows["split"].to_numpy(dtype=str),
                                  rows.drop(columns=["split"]).reset_index(drop=True))
        start = time.perf_counter()
        table, _ = run_class_probes(data, self.probe_settings, seed, log=lambda *_: None)
        probe_s = time.perf_counter() - start
        out = {}
        for kind in PROBES:
            part = table[table["task"] == f"classes_{kind}"]
            out[kind] = {f"{row.split}_{row.metric}": round(float(row.value), 4) for row in part.itertuples()}
        return out, embed_s, probe_s

    def reference(self, section: dict, seed: int, work: Path) -> dict:
        """pixels_pca fitted on the train split and probed like every trial."""
        from galssl.augment.settings import crop_size
        from galssl.pixels import fit_pixel_pca

        start = time.perf_counter()
        crop = crop_size(section, int(self.manifest["image_shape"][-1]))
        n_components = int(self.config["embed"]["pixels_pca"]["n_components"])
        fit_pixel_pca(self.shards, self.args.manifest, crop, n_components, seed, work / "pixels_pca.ckpt")
        probes, _, _ = self.probe(work / "pixels_pca.ckpt", "pixels_pca", seed)
        return {"crop": crop, "n_components": n_components, "seed": seed, "probes": probes,
                "wall_s": round(time.perf_counter() - start, 1)}

    def trial(self, section: dict, seed: int, out_dir: Path) -> dict:
        """One pretraining run on ``section`` and its probes (see the module docstring)."""
        from galssl.checkpoint import read_checkpoint
        from galssl.pretrain import PretrainInputs, run_pretraining

        args = self.args
        survey_section = self.config["surveys"][args.survey]
        # As `galssl pretrain` names it: the mock instrument, else the provider's filter family (legacy = DECam).
        instrument = survey_section.get("instrument") or \
            {"legacy": "legacy", "euclid": "euclid"}.get(survey_section["provider"], "sdss")
        out_dir.mkdir(parents=True, exist_ok=True)
        start, cpu_start = time.perf_counter(), time.process_time()
        with output_to(out_dir / "train.log"):
            checkpoint = run_pretraining(PretrainInputs(
                survey=args.survey, method=args.method, shards=self.shards, manifest=args.manifest,
                labels=args.labels, section=section, seed=seed, out_dir=out_dir, instrument=instrument,
                class_column=args.class_column))
        train_s = time.perf_counter() - start
        probes, embed_s, probe_s = self.probe(checkpoint, args.method, seed)
        recipe = read_checkpoint(checkpoint)["recipe"]
        metrics = pd.read_csv(out_dir / "metrics.csv")
        online = metrics.get("probe/balanced_accuracy", pd.Series(dtype=float)).dropna()
        epochs = int(section["epochs"])
        per_epoch = -(-self.n_train // int(get_dotted(section, f"method_config.{args.method}.batch_size",
                                                      section["batch_size"])))
        return {"method": args.method, "seed": seed, "epochs": epochs, "steps_per_epoch": per_epoch,
                "planned_steps": epochs * per_epoch, "global_step": recipe["global_step"],
                "epochs_run": recipe["epochs_run"], "kept_epoch": recipe["kept"]["epoch"],
                "online": {"best_balanced_accuracy": round(float(online.max()), 4) if len(online) else None,
                           "last_balanced_accuracy": round(float(online.iloc[-1]), 4) if len(online) else None},
                "probes": probes, "train_s": round(train_s, 1), "embed_s": round(embed_s, 1),
                "probe_s": round(probe_s, 1), "wall_s": round(train_s + embed_s + probe_s, 1),
                "cpu_s": round(time.process_time() - cpu_start, 1), "error": None}


def build_mock_dataset(config: dict, survey: str, n_objects: int, cutout: int, seed: int, root: Path) -> dict:
    """A small mock survey the way tests/test_pretrain.py builds one: shards, manifest, labels (paths returned)."""
    from galssl.catalog import assign_split
    from galssl.ingest import SurveySpec, ingest_shard, write_manifest
    from galssl.mocksky.catalog import labels_table
    from galssl.providers import ProviderContext, create_provider

    section = {**config["surveys"][survey], "cutout_size": cutout}
    mock = {**config["mock"], "n_objects": n_objects}
    root.mkdir(parents=True, exist_ok=True)
    provider = create_provider(section, ProviderContext(survey, seed, str(root / "cache"), mock))
    catalog = provider.sky.catalog()
    catalog["split"] = assign_split(catalog["object_id"], config["catalog"]["split"], seed)
    spec = SurveySpec.from_section(survey, section)
    shard_size = -(-len(catalog) // 2)
    shards = [str(root / f"shard-{i:05d}.parquet") for i in range(2)]
    failures = [str(root / f"failures-{i:05d}.parquet") for i in range(2)]
    for index in range(2):
        ingest_shard(catalog, spec, provider, index, shard_size, seed, shards[index], failures[index])
    write_manifest(spec, shards, failures, str(root / "manifest.json"), str(root / "failures.parquet"), "recipe-mock")
    labels_table(provider.sky).to_parquet(root / "labels.parquet")
    return {"shards": shards, "manifest": str(root / "manifest.json"),
            "labels": str(root / "labels.parquet")}


def plot(result: dict, out: Path) -> None:
    """One panel per studied factor: test balanced accuracy vs setting (mean ± std over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from galssl.io import save_figure_atomic

    names = [n for n, rows in result["summary"].items() if any(r["n"] for r in rows)]
    columns = min(4, max(1, len(names)))
    rows_n = max(1, math.ceil(len(names) / columns))
    width_in = max(5.0, 3.6 * columns)
    figure, axes = plt.subplots(rows_n, columns, figsize=(width_in, 3.1 * rows_n), squeeze=False)
    reference = (result.get("reference") or {}).get("probes", {})
    styles = {"logistic": ("C0", "o", "-"), "knn": ("C1", "s", "--")}
    for ax, name in zip(axes.flat, names):
        rows = result["summary"][name]
        x = np.arange(len(rows))
        for kind, (colour, marker, line) in styles.items():
            mean = np.array([np.nan if r[f"{kind}_balanced_accuracy_mean"] is None else
                             r[f"{kind}_balanced_accuracy_mean"] for r in rows])
            std = np.array([r[f"{kind}_balanced_accuracy_std"] or 0.0 for r in rows])
            ax.errorbar(x + (0.06 if kind == "knn" else -0.06), mean, yerr=std, color=colour, marker=marker,
                        linestyle=line, capsize=3, label=f"{kind} probe")
            if kind in reference:
                ax.axhline(reference[kind]["test_balanced_accuracy"], color="0.45", linestyle=line, linewidth=1,
                           label=f"pixels_pca, {kind}")
        for i, row in enumerate(rows):
            if row["baseline"]:
                ax.axvspan(i - 0.35, i + 0.35, color="0.9", zorder=0, label="baseline")
        ax.set_xticks(x, [f"{r['label']}\n{r['wall_s_mean'] or 0:.0f} s" + (" (base)" if r["baseline"] else "")
                          for r in rows], fontsize=7)
        ax.set_title(f"{name}  [{result['factors'][name]['key']}]", fontsize=9)
        ax.set_ylabel("test balanced accuracy", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    if names:
        axes.flat[0].legend(fontsize=6, loc="best")
    skipped = ", ".join(n for n, f in result["factors"].items() if f.get("skipped"))
    title = (f"{result['method']}: one factor at a time, ~{result['steps']} steps, seeds {result['seeds']} (mean ± "
             f"std; tick: setting, mean wall time)" + (f"; not studied: {skipped}" if skipped else ""))
    figure.suptitle(textwrap.fill(title, int(12 * width_in)), fontsize=9)
    figure.tight_layout()
    save_figure_atomic(figure, out)
    plt.close(figure)


def run_study(args: argparse.Namespace, config: dict, figure: Path) -> None:
    from galssl.augment.settings import crop_size
    from galssl.errors import GalsslError
    from galssl.io import write_text_atomic

    study = Study(args, config)
    method, survey = args.method, args.survey
    base = {k: v for k, v in config["pretrain"].items() if k != "methods"}
    base["method_config"] = {method: dict((config["pretrain"].get("method_config") or {}).get(method, {}))}
    for assignment in args.set:
        key, _, text = assignment.partition("=")
        base = set_dotted(base, key, yaml.safe_load(text))
    image_size = int(study.manifest["image_shape"][-1])
    try:
        check_section(config, base, method, survey, image_size)
    except GalsslError as error:
        raise SystemExit(f"baseline section on these {image_size}-px cutouts: {error}; change it with --set") from None

    shape = backbone_shape(method, base, len(study.manifest["bands"]), crop_size(base, image_size))
    seeds = [int(config["seed"]) + i for i in range(args.seeds)]
    out = Path(args.out)
    previous = json.loads(out.read_text()) if args.resume and out.exists() else {}
    if previous and (previous["method"], previous["data"]["fingerprint"], previous["steps"],
                     previous["baseline_section"]) != (method, study.fingerprint, args.steps, base):
        raise SystemExit(f"--resume: {out} holds a study of another method, dataset, --steps or baseline (--set); "
                         "use another --out")
    trials = previous.get("trials", {})
    factors = {name: factor for name, factor in previous.get("factors", {}).items() if name not in args.factors}
    for name in args.factors:
        settings, why = factor_settings(name, resolved_section(base, method), method, known_keys(method), shape)
        key = FACTORS[name][0].format(method=method)
        kept, dropped = [], []
        for setting in settings:
            section = base
            for dotted, value in setting["override"].items():
                section = set_dotted(section, dotted, value)
            try:
                check_section(config, section, method, survey, image_size)
            except GalsslError as error:
                dropped.append({"label": setting["label"], "reason": str(error)})
                print(f"skip {name}={setting['label']}: {error}")
                continue
            section = budget_section(section, method, args.steps, study.n_train)
            setting["section"] = section
            setting["trial_keys"] = {str(seed): trial_key(method, seed, args.steps, section, study.fingerprint)
                                     for seed in seeds}
            kept.append(setting)
        if why:
            print(f"skip factor {name}: {why}")
        factors[name] = {"key": key, "skipped": why, "settings": kept, "skipped_settings": dropped}
    result = {"study": "recipe", "method": method, "survey": survey, "steps": args.steps, "seeds": seeds,
              "threads": args.threads, "budget": "epochs = round(steps / ceil(n_train / batch_size)), >= 1; "
              "early stopping off",
              "data": {"manifest": args.manifest, "fingerprint": study.fingerprint, "n_train": study.n_train,
                       "shards": study.shards, "labels": args.labels, "class_column": args.class_column},
              "baseline_section": base, "factors": factors, "reference": previous.get("reference"), "trials": trials}
    if args.dry_run:
        for name, factor in ((n, f) for n, f in factors.items() if not f["skipped"]):
            print(f"{name} [{factor['key']}]: " + "; ".join(
                f"{s['label']}{' (baseline)' if s['baseline'] else ''} {json.dumps(s['override'])} "
                f"{s['section']['epochs']} ep" for s in factor["settings"]))
        print(f"{len(plan_trials(factors, seeds, trials))} trials to run")
        return
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="galssl-recipe-"))

    def save() -> None:
        result["summary"] = summarise(factors, trials, seeds)
        write_text_atomic(out, json.dumps(result, indent=1, default=str) + "\n")

    if (result["reference"] or {}).get("crop") != crop_size(base, image_size):  # none yet, or another baseline crop
        result["reference"] = study.reference(base, seeds[0], work)
        ref = result["reference"]["probes"]
        print(f"reference pixels_pca: logistic bal.acc {ref['logistic']['test_balanced_accuracy']:.3f}, "
              f"knn {ref['knn']['test_balanced_accuracy']:.3f} ({result['reference']['wall_s']:.0f} s)", flush=True)
        save()
    plan = plan_trials(factors, seeds, trials)
    print(f"{len(plan)} trials to run ({len(trials)} already in {out}); n_train {study.n_train}, "
          f"~{args.steps} steps each", flush=True)
    for seed, name, setting in plan:
        key = setting["trial_keys"][str(seed)]
        label = "baseline" if setting["baseline"] else f"{name}={setting['label']}"
        try:
            record = study.trial(setting["section"], seed, work / key)
        except (GalsslError, RuntimeError, ValueError) as error:
            record = {"method": method, "seed": seed, "error": f"{type(error).__name__}: {error}"}
            log = work / key / "train.log"
            tail = log.read_text()[-1500:] if log.exists() else ""
            print(f"{label} seed {seed}: FAILED {record['error']}\n{tail}", flush=True)
        else:
            p = record["probes"]
            online = record["online"]["best_balanced_accuracy"]
            print(f"{label} seed {seed}: {record['epochs']} ep x {record['steps_per_epoch']} = {record['global_step']} "
                  f"steps, online best {'-' if online is None else f'{online:.3f}'}, test bal.acc logistic "
                  f"{p['logistic']['test_balanced_accuracy']:.3f} knn {p['knn']['test_balanced_accuracy']:.3f} "
                  f"(acc {p['logistic']['test_accuracy']:.3f} / {p['knn']['test_accuracy']:.3f}), "
                  f"{record['wall_s']:.0f} s (train {record['train_s']:.0f}, cpu {record['cpu_s']:.0f})", flush=True)
        record["override"] = setting["override"]
        trials[key] = record
        if not args.keep_runs:
            shutil.rmtree(work / key, ignore_errors=True)
        save()
    save()  # the summary of a study with nothing left to run
    plot(result, figure)
    if not args.work_dir and not args.keep_runs:
        shutil.rmtree(work, ignore_errors=True)
    print(f"results -> {out}, figure -> {figure}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="config/config.yaml", help="config whose pretrain section is the baseline")
    parser.add_argument("--survey", default="sdss")
    parser.add_argument("--shards", nargs="+", default=["results/sdss/shards/*.parquet"], help="paths or globs")
    parser.add_argument("--manifest", default="results/sdss/manifest.json")
    parser.add_argument("--labels", default="results/mock/labels.parquet")
    parser.add_argument("--class-column", default="galaxy10_class")
    parser.add_argument("--method", default="simclr", choices=("simclr", "moco", "mae", "supervised"))
    parser.add_argument("--factors", default=",".join(FACTORS), help=f"comma list of: {', '.join(FACTORS)}")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per setting: config seed, +1, ...")
    parser.add_argument("--steps", type=int, default=300, help="optimiser steps per trial (~the default run's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=YAML",
                        help="change the baseline pretrain section, e.g. augment.jitter_crop.crop_size=32")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/recipe.json")
    parser.add_argument("--figure", default=None, help="default: --out with .png")
    parser.add_argument("--resume", action="store_true",
                        help="keep the trials (and the factors not named now) already in --out; run the rest")
    parser.add_argument("--dry-run", action="store_true", help="print the settings and trials, train nothing")
    parser.add_argument("--plot-only", action="store_true", help="redraw the figure from --out")
    parser.add_argument("--work-dir", default=None, help="where runs train (default: a temporary folder)")
    parser.add_argument("--keep-runs", action="store_true", help="keep each run's encoder, metrics and log")
    parser.add_argument("--mock-objects", type=int, default=0,
                        help="build a mock survey of this many objects in --work-dir/mock and study it instead")
    parser.add_argument("--mock-cutout", type=int, default=48)
    args = parser.parse_args()
    args.factors = [name.strip() for name in args.factors.split(",") if name.strip()]
    unknown = [name for name in args.factors if name not in FACTORS]
    if unknown:
        parser.error(f"unknown factor(s) {', '.join(unknown)}; choose from {', '.join(FACTORS)}")
    figure = Path(args.figure or Path(args.out).with_suffix(".png"))
    if args.plot_only:
        plot(json.loads(Path(args.out).read_text()), figure)
        print(f"figure -> {figure}")
        return
    import torch
    from threadpoolctl import threadpool_limits

    from galssl.config import load_config

    torch.set_num_threads(args.threads)
    config = load_config(args.config)
    if args.mock_objects:
        args.work_dir = args.work_dir or tempfile.mkdtemp(prefix="galssl-recipe-")
        paths = build_mock_dataset(config, args.survey, args.mock_objects, args.mock_cutout, int(config["seed"]),
                                   Path(args.work_dir) / "mock")
        args.shards, args.manifest, args.labels = paths["shards"], paths["manifest"], paths["labels"]
    with threadpool_limits(args.threads):
        run_study(args, config, figure)


if __name__ == "__main__":
    main()
