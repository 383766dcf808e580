"""Fine-tuning an encoder with a head: learning rates, one optimisation step, a planted dataset end to end through
the CLI, the choice of the best self-supervised method, and the config checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from galssl.binned_redshift import PhotozSettings
from galssl.checkpoint import save_encoder
from galssl.config import load_config, validate_config
from galssl.data import AsinhNormalise
from galssl.errors import ConfigError, DataError
from galssl.finetune.choose import choose_best_method
from galssl.finetune.module import EncoderFeatures, FinetuneModule
from galssl.finetune.settings import FinetuneSettings
from galssl.finetune.tasks import ClassTask, PhotozTask
from galssl.methods import create_method
from galssl.metric_table import METRIC_COLUMNS
from galssl.shards import ShardRow, shard_schema, write_shard

REPO = Path(__file__).resolve().parents[1]
BANDS = ["g", "r", "i"]
SIZE, CROP = 16, 12
SPLITS = {"train": 60, "val": 24, "test": 36}


def planted_sky(root: Path) -> dict[str, str]:
    """Tiny shards where the class is the band a central blob is bright in (rotation-invariant colour), and the
    redshift dims the blob; labels table and manifest beside them."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:SIZE, :SIZE] - (SIZE - 1) / 2
    blob = np.exp(-(xx ** 2 + yy ** 2) / (2 * 2.0 ** 2))
    rows, labels = [], []
    for split, count in SPLITS.items():
        for index in range(count):
            object_id = f"{split}{index:03d}"
            klass, z = index % 3, float(rng.uniform(0.02, 0.38))
            image = 0.05 * rng.normal(size=(3, SIZE, SIZE))
            image += blob * (1.0 - 1.5 * z) * np.where(np.arange(3) == klass, 5.0, 1.0)[:, None, None]
            rows.append(ShardRow(object_id, 180.0 + index / 100, 0.0, "sdss", split, image.astype(np.float32),
                                 np.zeros(3), np.ones(3), np.zeros(3), np.full(3, 0.05)))
            labels.append({"object_id": object_id, "galaxy10_class": klass, "redshift": z})
    schema = shard_schema(BANDS, SIZE, 0.396)
    shards = [str(root / f"shard-{i:05d}.parquet") for i in range(2)]
    for i, path in enumerate(shards):
        write_shard(path, rows[i::2], schema)
    pd.DataFrame(labels).to_parquet(root / "labels.parquet")
    manifest = {"bands": BANDS, "image_shape": [3, SIZE, SIZE],
                "band_statistics": {band: {"sky_mad": 0.05, "sky_median": 0.0} for band in BANDS}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return {"shards": shards, "labels": str(root / "labels.parquet"), "manifest": str(root / "manifest.json")}


@pytest.fixture(scope="module")
def sky(tmp_path_factory):
    return planted_sky(tmp_path_factory.mktemp("planted"))


def tiny_checkpoint(path: Path, method: str = "simclr") -> Path:
    torch.manual_seed(0)
    encoder = create_method(method, in_chans=3, img_size=CROP, config={})
    save_encoder(path, encoder, {"method": method, "in_chans": 3, "img_size": CROP, "config": {}, "bands": BANDS})
    return path


def make_module(sky, task_name: str = "classes", **settings) -> FinetuneModule:
    torch.manual_seed(0)
    method = create_method("simclr", in_chans=3, img_size=CROP, config={})
    features = EncoderFeatures(method)
    if task_name == "classes":
        task = ClassTask.load(sky["labels"], "galaxy10_class")
    else:
        task = PhotozTask.load(sky["labels"], PhotozSettings(n_bins=40))
    train_ids = task.known_ids(sky["shards"], "train")
    return FinetuneModule(features, task.head(features.embedding_dim, train_ids), task,
                          FinetuneSettings(**settings), steps_per_epoch=4, crop=CROP,
                          normalise=AsinhNormalise([0.05] * 3))


def test_encoder_learning_rate_is_the_ratio_times_the_head_learning_rate(sky):
    module = make_module(sky, head_lr=0.004, encoder_lr_ratio=0.25, warmup_epochs=1.0)
    optimisers = module.configure_optimizers()
    optimiser, scheduler = optimisers["optimizer"], optimisers["lr_scheduler"]["scheduler"]
    groups = {group["name"]: group for group in optimiser.param_groups}
    assert groups["head"]["initial_lr"] == 0.004 and groups["encoder"]["initial_lr"] == 0.25 * 0.004
    head = {id(p) for p in module.head.parameters()}
    encoder = {id(p) for p in module.features.parameters()}
    assert {id(p) for p in groups["head"]["params"]} == head and {id(p) for p in groups["encoder"]["params"]} == encoder
    for _ in range(6):  # through warm-up and into the cosine decay: the ratio holds at every step
        assert groups["encoder"]["lr"] == pytest.approx(0.25 * groups["head"]["lr"], rel=1e-12)
        optimiser.step()
        scheduler.step()
    assert FinetuneSettings(head_lr=0.002).encoder_lr == pytest.approx(0.0002)


@pytest.mark.parametrize("task_name", ["classes", "photoz"])
def test_a_finetuning_step_lowers_the_loss_on_a_tiny_batch(sky, task_name):
    module = make_module(sky, task_name, head_lr=0.01, warmup_epochs=0.0)
    task = module.task
    ids = task.known_ids(sky["shards"], "train")[:8]
    from galssl.data import ShardDataset, collate

    batch = collate(list(ShardDataset(sky["shards"], splits=("train",), object_ids=ids, **task.dataset_labels())))
    images = module.normalise(batch["image"][..., 2:14, 2:14])
    optimiser = module.configure_optimizers()["optimizer"]
    module.train()
    losses = []
    for _ in range(3):
        loss = task.loss(module(images), batch)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    module.eval()
    with torch.no_grad():
        after = float(task.loss(module(images), batch))
    assert after < losses[0] and losses[-1] < losses[0]


def test_mae_features_are_its_embedding_with_gradients():
    torch.manual_seed(0)
    mae = create_method("mae", in_chans=3, img_size=16, config={"backbone_kwargs": {"embed_dim": 32, "depth": 1,
                                                                                    "num_heads": 2}})
    images = torch.randn(4, 3, 16, 16)
    features = EncoderFeatures(mae).eval()
    out = features(images)
    assert out.requires_grad and torch.allclose(out, mae.embed(images), atol=1e-6)


def test_finetuning_beats_chance_on_a_planted_dataset_and_writes_tables_and_figures(sky, tmp_path, capsys):
    from PIL import Image

    from galssl.cli import main

    ckpt = tiny_checkpoint(tmp_path / "simclr" / "encoder.ckpt")
    common = ["--survey", "sdss", "--survey-config", json.dumps({"provider": "mock", "instrument": "sdss"}),
              "--ckpts", str(ckpt), "--shards", *sky["shards"], "--manifest", sky["manifest"], "--labels",
              sky["labels"], "--seed", "3", "--pretrain", json.dumps({"augment": {"jitter_crop": {"crop_size": CROP,
                                                                                                   "max_shift": 2}}})]
    settings = json.dumps({"epochs": 6, "batch_size": 16, "head_lr": 0.01, "patience": 6})
    out = tmp_path / "finetune" / "simclr" / "classes"
    main(["finetune", *common, "--task", "classes", "--finetune", settings, "--out-dir", str(out)])
    table = pd.read_parquet(out / "metrics.parquet")
    assert list(table.columns) == METRIC_COLUMNS
    assert set(table["method"]) == {"simclr"} and set(table["task"]) == {"finetune_classes"}
    assert set(table["n_labels"]) == {60} and set(table["split"]) == {"val", "test"}
    test = table[table["split"] == "test"].set_index("metric")["value"]
    assert test["accuracy"] > 0.6 and test["macro_f1"] > 0.5  # chance: 1/3
    assert test["balanced_accuracy"] > 0.5 and table["metric"].nunique() == 3  # accuracy, balanced accuracy, macro F1
    predictions = pd.read_parquet(out / "predictions.parquet")
    assert len(predictions) == SPLITS["test"] and set(predictions["probe"]) == {"finetune"}
    assert not (out / "best").exists() and not (out / "checkpoints").exists()
    log = pd.read_csv(out / "metrics.csv")
    assert {"train/loss", "val/loss", "val/accuracy", "train/lr", "train/lr_encoder"} <= set(log.columns)
    ratio = (log["train/lr_encoder"] / log["train/lr"]).dropna()
    assert np.allclose(ratio, 0.1)

    photoz = tmp_path / "finetune" / "simclr" / "photoz"
    main(["finetune", *common, "--task", "photoz", "--photoz", json.dumps({"n_bins": 40}), "--finetune",
          json.dumps({"epochs": 2, "batch_size": 16, "n_labels": 30}), "--out-dir", str(photoz)])
    table = pd.read_parquet(photoz / "metrics.parquet")
    assert {"bias", "sigma_mad", "eta", "crps"} <= set(table["metric"]) and set(table["n_labels"]) == {30}
    predictions = pd.read_parquet(photoz / "predictions.parquet")
    assert list(predictions.columns) == ["object_id", "z_spec", "z_phot", "pit", "crps"]
    assert predictions["z_phot"].between(0.0, 0.4).all()
    for verb, args, name in (("plot-training", ["--metrics", str(out / "metrics.csv")], "curves.png"),
                             ("plot-training", ["--metrics", str(photoz / "metrics.csv")], "photoz_curves.png"),
                             ("plot-photoz", ["--predictions", str(photoz / "predictions.parquet")], "photoz.png"),
                             ("plot-confusion", ["--predictions", str(out / "predictions.parquet"), "--labels",
                                                 sky["labels"]], "confusion.png")):
        main([verb, *args, "--out", str(tmp_path / name)])
        assert Image.open(tmp_path / name).size[0] > 400
    assert "finetune_classes test: accuracy" in capsys.readouterr().out


def test_finetune_picks_the_checkpoint_the_choice_names_and_refuses_a_missing_one(sky, tmp_path, capsys):
    from galssl.cli import main
    from galssl.cli.finetune import chosen_checkpoint

    choice = tmp_path / "choice.json"
    choice.write_text(json.dumps({"best": "mae"}))
    paths = [f"results/sdss/{m}/encoder.ckpt" for m in ("simclr", "moco", "mae")]
    assert chosen_checkpoint(paths, str(choice), None) == ("results/sdss/mae/encoder.ckpt", "mae")
    assert chosen_checkpoint(paths[:1], None, None) == (paths[0], "simclr")
    with pytest.raises(DataError, match="chose 'mae'"):
        chosen_checkpoint(paths[:2], str(choice), None)
    with pytest.raises(SystemExit):
        main(["finetune", "--survey", "sdss", "--survey-config", "{}", "--ckpts", *paths[:2], "--task", "classes",
              "--shards", *sky["shards"], "--manifest", sky["manifest"], "--labels", sky["labels"], "--seed", "0",
              "--out-dir", str(tmp_path / "x")])
    assert "give one checkpoint" in capsys.readouterr().err


def probe_table(method: str, val: float, test: float) -> pd.DataFrame:
    rows = []
    for split, value in (("val", val), ("test", test)):
        for task, shift in (("classes_logistic", 0.0), ("classes_knn", 0.3)):
            rows.append({"method": method, "task": task, "n_labels": 100, "seed": 0, "split": split,
                         "metric": "accuracy", "value": value + shift})
    return pd.DataFrame(rows)


def test_best_is_the_highest_val_score_of_the_chosen_probe(tmp_path, capsys):
    from galssl.cli import main

    table = pd.concat([probe_table("simclr", 0.50, 0.95), probe_table("moco", 0.70, 0.10),
                       probe_table("mae", 0.60, 0.20), probe_table("supervised", 0.99, 0.99)])
    best, scores = choose_best_method(table, ["simclr", "moco", "mae"])
    assert best == "moco" and scores == {"mae": 0.6, "moco": 0.7, "simclr": 0.5}  # val decides, never test
    tied = pd.concat([probe_table("simclr", 0.7, 0.0), probe_table("moco", 0.7, 0.0)])
    assert choose_best_method(tied, ["simclr", "moco"])[0] == "moco"  # ties: first name in sorted order
    paths = []
    for method in ("simclr", "moco", "mae"):
        paths.append(str(tmp_path / f"{method}.parquet"))
        table[table["method"] == method].to_parquet(paths[-1])
    main(["finetune-choose", "--tables", *paths, "--candidates", "simclr", "moco", "mae", "--out",
          str(tmp_path / "choice.json")])
    choice = json.loads((tmp_path / "choice.json").read_text())
    assert choice["best"] == "moco" and choice["split"] == "val" and choice["probe"] == "logistic"
    with pytest.raises(DataError, match="no val accuracy of probe classes_mlp for method 'mae'"):
        choose_best_method(table, ["mae"], probe="mlp")
    table.drop(columns=["split"]).to_parquet(tmp_path / "broken.parquet")
    with pytest.raises(SystemExit):
        main(["finetune-choose", "--tables", str(tmp_path / "broken.parquet"), "--candidates", "simclr", "--out",
              str(tmp_path / "x.json")])
    err = capsys.readouterr().err
    assert "lacks column(s) split" in err and len(err.strip().splitlines()) == 1


def test_settings_skip_untrained_methods_and_config_errors_name_the_key():
    assert FinetuneSettings().slots(["simclr", "supervised"]) == ["best", "supervised"]
    assert FinetuneSettings().slots(["simclr", "mae"]) == ["best"]  # no supervised baseline trained
    assert FinetuneSettings().slots(["supervised"]) == ["supervised"]  # nothing self-supervised to choose from
    assert FinetuneSettings(methods=("mae", "best")).slots(["mae", "moco"]) == ["mae", "best"]
    config = load_config(REPO / "config" / "config.yaml")
    assert config["finetune"]["encoder_lr_ratio"] == 0.1 and config["finetune"]["methods"] == ["best", "supervised"]
    for change, message in (({"encoder_lr_ratio": -1}, "finetune.encoder_lr_ratio must be >= 0"),
                            ({"methods": ["byol"]}, "finetune.methods[0] must be one of"),
                            ({"colour": 1}, "unknown key 'colour' in finetune"),
                            ({"select_probe": "mlp"}, "finetune.select_probe 'mlp' is not fitted")):
        bad = {**config, "finetune": {**config["finetune"], **change},
               "probes": {**config["probes"], "classifiers": ["logistic", "knn"]}}
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
            validate_config(bad)
    with pytest.raises(ConfigError, match="finetune.tasks has 'morphology'"):
        FinetuneSettings.from_section({"tasks": ["morphology"]})


def test_class_scores_show_a_majority_guess_for_what_it_is():
    # 90/10 test labels and logits that always favour class 0: accuracy 0.9, balanced accuracy 0.5, macro F1 < 0.5.
    truth = np.array([0] * 90 + [1] * 10)
    logits = np.tile([2.0, -1.0], (100, 1))
    task = ClassTask("labels.parquet", "galaxy10_class", pd.Series([0, 1], index=["a", "b"]))
    values, predictions = task.scores(logits, truth, [f"g{i}" for i in range(100)])
    assert values["accuracy"] == pytest.approx(0.9) and values["balanced_accuracy"] == pytest.approx(0.5)
    assert values["macro_f1"] == pytest.approx(0.9 / 1.9) and (predictions["predicted_class"] == 0).all()


def test_a_missing_label_column_names_the_config_key(sky):
    with pytest.raises(DataError, match="set labels.class_column"):
        ClassTask.load(sky["labels"], "gz_class")
    with pytest.raises(DataError, match="set labels.redshift_column"):
        PhotozTask.load(sky["labels"], PhotozSettings(redshift_column="z_spec"))


def test_schema_defaults_are_the_dataclass_defaults():
    from dataclasses import asdict

    from galssl.config import load_schema

    schema = load_schema()["properties"]["finetune"]["properties"]
    defaults = asdict(FinetuneSettings())
    assert set(schema) == set(defaults)
    for key, value in defaults.items():
        assert schema[key]["default"] == (list(value) if isinstance(value, tuple) else value), key
