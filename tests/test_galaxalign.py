"""GalaxAlign: contrastive loss, stages and ablations, symbols, zero-shot, config errors, and one tiny run from
shards to zero-shot metrics. Tiny random open_clip models only; nothing is downloaded."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from galssl.config import validate_config
from galssl.errors import ConfigError, DataError
from galssl.evaluate.labelled import LabelledEmbeddings
from galssl.evaluate.zero_shot import zero_shot_predict, zero_shot_tables
from galssl.methods import create_method
from galssl.methods.clip_model import create_clip, custom_clip_config, named_clip_config, tokenize
from galssl.methods.galaxalign import contrastive_loss
from galssl.methods.prompts import class_prompts, prompt
from galssl.symbols import SYMBOLS, draw_symbol, write_symbol_png

TINY = {"embed_dim": 16, "patch_size": 8, "vision_width": 16, "vision_layers": 1, "vision_head_width": 8,
        "text_width": 16, "text_layers": 1, "text_heads": 2, "context_length": 24, "stage1_epochs": 1,
        "stage2_epochs": 1}
FOUR = ["round_smooth", "cigar_shaped_smooth", "edge_on_with_bulge", "unbarred_loose_spiral"]


def tiny(method: str = "galaxalign", in_chans: int = 3, img_size: int = 16, **config):
    torch.manual_seed(0)
    return create_method(method, in_chans=in_chans, img_size=img_size, config={**TINY, **config})


def toy_batch(n: int = 12, in_chans: int = 3, size: int = 16, n_classes: int = 10) -> dict:
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(n, in_chans, size, size, generator=generator)
    label = torch.arange(n) % n_classes
    label[0] = -1  # an unlabelled object is left out of the loss
    return {"image": images, "views": [images + 0.1], "label": label}


def test_contrastive_loss_equals_a_hand_computed_value():
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    b = torch.tensor([[3.0, 0.0], [1.0, 1.0]])
    c = 1 / math.sqrt(2)  # cos(a_0, b_1) = cos(a_1, b_1); cos(a_0, b_0) = 1, cos(a_1, b_0) = 0
    e2, ec = math.exp(2), math.exp(2 * c)  # logits at scale 2: [[2, 2c], [0, 2c]]
    rows = -math.log(e2 / (e2 + ec)) - math.log(ec / (1 + ec))  # a -> b, targets 0 and 1
    columns = -math.log(e2 / (e2 + 1)) - math.log(ec / (ec + ec))  # b -> a: logits [[2, 0], [2c, 2c]]
    expected = 0.5 * (rows / 2 + columns / 2)
    assert float(contrastive_loss(a, b, 2.0)) == pytest.approx(expected, rel=1e-6)
    # Unique groups are plain CLIP.
    assert float(contrastive_loss(a, b, 2.0, torch.tensor([0, 1]))) == pytest.approx(expected, rel=1e-6)
    # One group: each row's target spreads evenly over both columns.
    rows = (-0.5 * math.log(e2 / (e2 + ec)) - 0.5 * math.log(ec / (e2 + ec))
            - 0.5 * math.log(1 / (1 + ec)) - 0.5 * math.log(ec / (1 + ec)))
    columns = -0.5 * math.log(e2 / (e2 + 1)) - 0.5 * math.log(1 / (e2 + 1)) - math.log(0.5)
    grouped = float(contrastive_loss(a, b, 2.0, torch.tensor([7, 7])))
    assert grouped == pytest.approx(0.5 * (rows / 2 + columns / 2), rel=1e-6)


def test_stage2_symbol_encoder_starts_as_an_exact_copy_of_the_stage1_image_encoder():
    method = tiny(in_chans=5)
    batch = toy_batch(in_chans=5)
    optimizer = torch.optim.Adam(method.parameters(), lr=1e-2)
    before = {k: v.clone() for k, v in method.symbol_encoder.state_dict().items()}
    for step in range(1, 3):  # stage 1: the shared image encoder learns, the idle symbol encoder does not
        loss, logs = method.training_loss(batch)
        assert set(logs) >= {"loss_image_text", "loss_symbol_text"} and "loss_image_symbol" not in logs
        optimizer.zero_grad()
        loss.backward()
        assert all(p.grad is not None and not p.grad.any() for p in method.symbol_encoder.parameters())
        optimizer.step()
        method.on_train_batch_end(step, total_steps=6)
        assert int(method.stage) == 1
    image_state = method.clip.visual.state_dict()
    assert all(torch.equal(before[k], v) for k, v in method.symbol_encoder.state_dict().items())
    assert not all(torch.equal(before[k], image_state[k]) for k in before)
    method.on_train_batch_end(3, total_steps=6)
    assert int(method.stage) == 2  # 1 of 2 epochs in stage 1: stage 2 starts after step 6 * 1 // 2 = 3
    copied = method.symbol_encoder.state_dict()
    assert all(torch.equal(copied[k], image_state[k]) for k in image_state)
    restarted = method.pop_restarted_parameters()
    assert {id(p) for p in restarted} == {id(p) for p in method.symbol_encoder.parameters()}
    assert method.pop_restarted_parameters() == []
    loss, logs = method.training_loss(batch)
    assert {"loss_image_text", "loss_symbol_text", "loss_image_symbol"} <= set(logs) and logs["stage"] == 2.0
    state = method.state_dict()
    assert int(state["stage"]) == 2 and "prompt_tokens" not in state and "symbols" not in state


def test_a_training_step_lowers_the_loss():
    method = tiny()
    batch = toy_batch()
    optimizer = torch.optim.Adam(method.parameters(), lr=3e-3)
    method.eval()
    start = float(method.training_loss(batch)[0].detach())
    method.train()
    for _ in range(5):
        loss, _ = method.training_loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    method.eval()
    assert float(method.training_loss(batch)[0].detach()) < start - 0.05


def test_a_batch_without_labels_gives_zero_loss_that_still_backpropagates():
    method = tiny()
    batch = toy_batch()
    batch["label"][:] = -1
    loss, logs = method.training_loss(batch)
    loss.backward()
    assert float(loss) == 0.0 and logs["labelled_fraction"] == 0.0
    batch["label"][:] = 12
    with pytest.raises(ValueError, match="classes"):
        method.training_loss(batch)


def test_ablations_are_method_names_sharing_the_model_with_their_own_losses():
    batch = toy_batch()
    expected = {"galaxalign_nosymbols": {"loss_image_text"},
                "galaxalign_stage1": {"loss_image_text", "loss_symbol_text"},
                "galaxalign_stage2": {"loss_image_text", "loss_symbol_text", "loss_image_symbol"}}
    for name, losses in expected.items():
        method = tiny(name)
        assert method.name == name and method.planned_epochs == 2 and type(method).__name__ == "GalaxAlign"
        loss, logs = method.training_loss(batch)
        assert {key for key in logs if key.startswith("loss_")} == losses
        loss.backward()  # DDP needs a gradient for every trainable parameter
        assert [n for n, p in method.named_parameters() if p.requires_grad and p.grad is None] == []
        method.on_train_batch_end(4, total_steps=4)  # only the full method changes stage
        assert int(method.stage) == (2 if name == "galaxalign_stage2" else 1)
    stage2 = tiny("galaxalign_stage2")
    image_state = stage2.clip.visual.state_dict()
    assert all(torch.equal(v, image_state[k]) for k, v in stage2.symbol_encoder.state_dict().items())
    assert tiny("galaxalign_nosymbols").symbol_encoder is None and tiny("galaxalign_stage1").symbol_encoder is None
    # An ablation may drop the stage galaxalign itself needs.
    assert tiny("galaxalign_stage1", stage2_epochs=0).planned_epochs == 1


def test_symbols_are_deterministic_with_the_right_shapes():
    def axis_ratio(image: np.ndarray) -> float:
        y, x = np.mgrid[: image.shape[0], : image.shape[1]]
        weight = image / image.sum()
        mx, my = (weight * x).sum(), (weight * y).sum()
        cov = np.array([[(weight * (x - mx) ** 2).sum(), (weight * (x - mx) * (y - my)).sum()],
                        [(weight * (x - mx) * (y - my)).sum(), (weight * (y - my) ** 2).sum()]])
        small, large = np.linalg.eigvalsh(cov)
        return float(np.sqrt(large / small))

    symbols = {name: draw_symbol(name, 64) for name in SYMBOLS}
    for name, image in symbols.items():
        assert image.shape == (64, 64) and image.dtype == np.float32 and 0 <= image.min() and image.max() <= 1
        assert image.max() > 0.9 and np.array_equal(image, draw_symbol(name, 64))
    ratios = {name: axis_ratio(image) for name, image in symbols.items()}
    assert ratios["round_smooth"] < 1.05
    assert 1.3 < ratios["in_between_round_smooth"] < ratios["cigar_shaped_smooth"] < ratios["edge_on_without_bulge"]
    assert ratios["edge_on_without_bulge"] > 8 and ratios["edge_on_with_bulge"] > 2.5  # elongated disks
    assert ratios["edge_on_with_bulge"] < ratios["edge_on_without_bulge"]  # the bulge rounds the light
    # A tightly wound spiral has more arm crossings along a ray than a loose one; the merger has two nuclei.
    def crossings(image: np.ndarray) -> int:
        ray = image[32, 40:] > 0.5
        return int(np.sum(ray[1:] & ~ray[:-1]) + ray[0])
    assert crossings(symbols["unbarred_tight_spiral"]) > crossings(symbols["unbarred_loose_spiral"])
    merging = symbols["merging"]
    # The merger has two nuclei: the centres of its blobs, at (x, y) = (-0.2, -0.1) and (0.28, 0.14) (unit coordinates).
    nuclei = [merging[int(32 - y * 32), int(32 + x * 32)] for x, y in ((-0.2, -0.1), (0.28, 0.14))]
    assert min(nuclei) > 0.9 and merging[32 - 4, 32 + 2] < max(nuclei)


def test_symbol_pngs_and_the_overview_figure(tmp_path):
    from PIL import Image

    from galssl.cli import main

    main(["draw-symbols", "--out-dir", str(tmp_path / "symbols"), "--overview", str(tmp_path / "symbols/overview.png"),
          "--size", "48"])
    for name in SYMBOLS:
        png = np.asarray(Image.open(tmp_path / "symbols" / f"{name}.png"))
        assert png.shape == (48, 48) and np.abs(png / 255.0 - draw_symbol(name, 48)).max() <= 0.5 / 255 + 1e-6
    assert Image.open(tmp_path / "symbols/overview.png").size[0] > 600
    write_symbol_png("merging", tmp_path / "again.png", 48)
    assert (tmp_path / "again.png").read_bytes() == (tmp_path / "symbols/merging.png").read_bytes()


def test_prompts_and_the_offline_tokenizer():
    assert prompt("A picture of {a} {name}.", "edge_on_with_bulge") == "A picture of an edge-on galaxy with a bulge."
    assert prompt("A picture of {a} {name}.", "barred_spiral") == "A picture of a barred spiral galaxy."
    assert prompt("A picture of {a} {name}.", "in_between_round_smooth").startswith("A picture of an in-between")
    rows = class_prompts(FOUR, ["{name}", "A photo of {a} {name}."])
    assert len(rows) == 2 and len(rows[0]) == 4
    tokens = tokenize(rows[1], 24)
    assert tokens.shape == (4, 24) and tokens.dtype == torch.int64 and int(tokens[0, 0]) == 49406
    with pytest.raises(ConfigError, match="context_length"):
        tokenize(["a very long prompt " * 10], 16)


def test_zero_shot_on_planted_separable_data_beats_chance():
    rng = np.random.default_rng(0)
    class_text = rng.normal(size=(4, 16))
    true = np.arange(200) % 4
    vectors = (class_text[true] + rng.normal(scale=1.5, size=(200, 16))).astype(np.float32)
    predicted, similarity = zero_shot_predict(vectors, class_text)
    assert similarity.shape == (200, 4) and np.mean(predicted == true) > 0.6
    data = LabelledEmbeddings("galaxalign", np.array([f"g{i}" for i in range(200)]), vectors,
                              np.array(["test"] * 150 + ["train"] * 50),
                              pd.DataFrame({"galaxy10_class": true}))
    result = zero_shot_tables(data, class_text, "galaxy10_class", ["a", "b", "c", "d"], seed=3)
    assert list(result.metrics.columns) == ["method", "task", "n_labels", "seed", "split", "metric", "value"]
    assert set(result.metrics["metric"]) == {"accuracy", "balanced_accuracy", "macro_f1"}
    assert set(result.metrics["task"]) == {"zero_shot"}
    assert (result.metrics["value"] > 0.5).all() and result.summary["n_galaxies"] == 150
    matrix = result.similarity.pivot(index="true_class", columns="prompt_class", values="mean_cosine").to_numpy()
    assert (matrix.argmax(axis=1) == np.arange(4)).all()
    with pytest.raises(DataError, match="dimensions"):
        zero_shot_predict(vectors, class_text[:, :8])


def test_a_trained_tiny_model_classifies_planted_images_zero_shot_above_chance():
    # Planted: each galaxy image is its class's symbol plus noise, so text prompts can be aligned with images.
    method = tiny(classes=FOUR, input_size=None)
    generator = torch.Generator().manual_seed(5)
    label = torch.arange(64) % 4
    images = method.symbols[label] + 0.3 * torch.randn(64, 3, 16, 16, generator=generator)
    batch = {"image": images, "views": [images], "label": label}
    predicted, _ = zero_shot_predict(method.embed(images).numpy(), method.class_text_embeddings().numpy())
    assert np.mean(predicted == label.numpy()) <= 0.5  # untrained
    optimizer = torch.optim.Adam(method.parameters(), lr=3e-3)
    for _ in range(30):
        loss, _ = method.training_loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    predicted, _ = zero_shot_predict(method.embed(images).numpy(), method.class_text_embeddings().numpy())
    assert np.mean(predicted == label.numpy()) > 0.5  # chance is 0.25


def test_local_weights_are_loaded_and_widened_to_the_bands(tmp_path):
    config = custom_clip_config(embed_dim=16, input_size=16, patch_size=8, vision_width=16, vision_layers=1,
                                vision_head_width=8, text_width=16, text_layers=1, text_heads=2, context_length=24)
    torch.manual_seed(3)
    source = create_clip(config, in_chans=3)
    torch.save(source.state_dict(), tmp_path / "clip.pt")
    method = tiny(weights=str(tmp_path / "clip.pt"))
    loaded = method.clip.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in source.state_dict().items())  # logit scale too
    widened = tiny(in_chans=5, weights=str(tmp_path / "clip.pt")).clip.visual.conv1.weight
    assert widened.shape[1] == 5 and torch.allclose(widened[:, 3], source.visual.conv1.weight[:, 0] * 3 / 5)
    with pytest.raises(DataError, match="does not fit"):
        tiny(weights=str(tmp_path / "clip.pt"), vision_width=32)
    with pytest.raises(ConfigError, match="does not exist"):
        tiny(weights=str(tmp_path / "missing.pt"))
    assert named_clip_config("ViT-B-32", 64, "x")["vision_cfg"]["image_size"] == 64
    with pytest.raises(ConfigError, match="pretrain.method_config.galaxalign.architecture"):
        tiny(architecture="ViT-Nope")


@pytest.mark.parametrize("config, field", [
    ({"stage2_epochs": 0}, "galaxalign.stage2_epochs"),
    ({"classes": ["round_smooth", "spiral"]}, "galaxalign.classes"),
    ({"templates": ["A picture"]}, "galaxalign.templates"),
    ({"vision_width": 20}, "galaxalign.vision_width"),
    ({"init_temperature": 5}, "galaxalign.init_temperature"),
    ({"colour": 1}, "unknown key 'colour' in pretrain.method_config.galaxalign"),
    ({"stage1_epochs": "two"}, "galaxalign.stage1_epochs"),
])
def test_bad_settings_name_the_field(config, field):
    pattern = field if field.startswith("unknown key") else f"pretrain.method_config.{field}"
    with pytest.raises(ConfigError, match=pattern):
        tiny(**config)


def test_the_config_schema_checks_galaxalign_keys_before_any_job():
    from pathlib import Path

    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "config.yaml").read_text())
    config["pretrain"]["methods"] += ["galaxalign", "galaxalign_stage2"]
    validate_config(config)
    config["pretrain"]["method_config"]["galaxalign_stage2"] = {"epochs": 3}
    with pytest.raises(ConfigError, match="unknown key 'epochs' in pretrain.method_config.galaxalign_stage2"):
        validate_config(config)
    config["pretrain"]["method_config"]["galaxalign_stage2"] = {"stage1_epochs": -1}
    with pytest.raises(ConfigError, match="pretrain.method_config.galaxalign_stage2.stage1_epochs must be >= 0"):
        validate_config(config)
    config["pretrain"]["methods"] += ["galaxalign_typo"]
    with pytest.raises(ConfigError, match="pretrain.methods"):
        validate_config(config)


SECTION = {"provider": "mock", "instrument": "sdss", "bands": ["g", "r", "i"], "pixel_scale_arcsec": 0.396,
           "cutout_size": 32}


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    from galssl.ingest import SurveySpec, ingest_shard, write_manifest
    from galssl.mocksky.catalog import labels_table
    from galssl.providers import ProviderContext, create_provider

    root = tmp_path_factory.mktemp("galaxalign")
    provider = create_provider(SECTION, ProviderContext("sdss", 3, str(root / "cache"), {"n_objects": 40}))
    catalog = provider.sky.catalog()
    catalog["split"] = [("val", "test", "train", "train", "train")[i % 5] for i in range(len(catalog))]
    catalog[["object_id", "ra", "dec", "split"]].to_parquet(root / "catalog.parquet")
    spec = SurveySpec.from_section("sdss", SECTION)
    ingest_shard(catalog, spec, provider, 0, 40, 3, str(root / "shard-00000.parquet"), str(root / "failures.parquet"))
    write_manifest(spec, [str(root / "shard-00000.parquet")], [str(root / "failures.parquet")],
                   str(root / "manifest.json"), str(root / "failures-all.parquet"), "test")
    labels_table(provider.sky).to_parquet(root / "labels.parquet")
    return root


def test_galaxalign_trains_from_shards_and_its_zero_shot_metrics_and_figures_follow(shards, tmp_path):
    from PIL import Image

    from galssl.checkpoint import load_encoder
    from galssl.cli import main
    from galssl.pretrain import PretrainInputs, run_pretraining

    section = {"epochs": 5, "batch_size": 8, "checkpoint_every_n_steps": 50, "probe_train_size": 10,
               "probe_val_size": 10, "warmup_epochs": 0.5, "early_stopping_patience": 10,
               "augment": {"jitter_crop": {"crop_size": 24, "max_shift": 2}},
               "method_config": {"galaxalign": {**TINY, "stage1_epochs": 2, "stage2_epochs": 1}}}
    out = tmp_path / "galaxalign"
    inputs = PretrainInputs(survey="sdss", method="galaxalign", shards=[str(shards / "shard-00000.parquet")],
                            manifest=str(shards / "manifest.json"), labels=str(shards / "labels.parquet"),
                            section=section, seed=3, out_dir=out)
    run_pretraining(inputs)
    method, recipe = load_encoder(out / "encoder.ckpt")
    steps_per_epoch = -(-24 // 8)  # 24 train objects
    assert recipe["pretrained"] is False and recipe["global_step"] == 3 * steps_per_epoch  # stage epochs, not 5
    assert int(method.stage) == 2 and method.embedding_dim == 16
    # Only epochs early stopping could end the run at are candidates for the kept weights: from the first of stage 2.
    assert recipe["kept"]["epoch"] == 2 and recipe["kept"]["monitor"] == "val/loss"
    log = pd.read_csv(out / "metrics.csv")
    stages = log.dropna(subset=["train/stage"])
    assert set(stages["train/stage"]) == {1.0, 2.0} and stages["train/loss_image_symbol"].notna().any()
    stage_steps = stages.groupby("train/stage")["step"]
    assert stage_steps.max()[1.0] < stage_steps.min()[2.0]

    common = ["--shards", str(shards / "shard-00000.parquet"), "--manifest", str(shards / "manifest.json")]
    main(["embed", "--ckpt", str(out / "encoder.ckpt"), *common, "--out", str(out / "embeddings.parquet")])
    outputs = {name: str(out / "zero_shot" / name) for name in
               ("metrics.parquet", "predictions.parquet", "similarity.parquet", "summary.json")}
    main(["zero-shot", "--ckpt", str(out / "encoder.ckpt"), "--embeddings", str(out / "embeddings.parquet"),
          "--catalog", str(shards / "catalog.parquet"), "--labels", str(shards / "labels.parquet"), "--seed", "3",
          "--metrics-out", outputs["metrics.parquet"], "--predictions-out", outputs["predictions.parquet"],
          "--similarity-out", outputs["similarity.parquet"], "--summary-out", outputs["summary.json"]])
    metrics = pd.read_parquet(outputs["metrics.parquet"])
    assert metrics[["method", "task", "n_labels", "seed", "split"]].drop_duplicates().values.tolist() == [
        ["galaxalign", "zero_shot", 0, 3, "test"]]
    assert set(metrics["metric"]) == {"accuracy", "balanced_accuracy", "macro_f1"}
    assert metrics["value"].between(0, 1).all()
    summary = json.loads((out / "zero_shot" / "summary.json").read_text())
    assert summary["pretrained"] is False and summary["final_stage"] == 2 and summary["n_galaxies"] >= 5
    predictions = pd.read_parquet(outputs["predictions.parquet"])
    assert len(predictions) == summary["n_galaxies"] and not predictions["pretrained"].any()
    main(["plot-zero-shot", "--predictions", outputs["predictions.parquet"], "--similarity",
          outputs["similarity.parquet"], "--summary", outputs["summary.json"], "--title", "sdss / galaxalign",
          "--confusion-out", str(tmp_path / "confusion.png"), "--similarity-out", str(tmp_path / "similarity.png")])
    assert all(Image.open(tmp_path / f"{name}.png").size[0] > 300 for name in ("confusion", "similarity"))
    from galssl.metric_table import concat_metric_tables

    assert set(concat_metric_tables([outputs["metrics.parquet"]])["task"]) == {"zero_shot"}


def test_the_workflow_runs_galaxalign_only_when_listed_and_its_zero_shot_rows_join_the_metrics_table(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    assert not [m for m in config["pretrain"]["methods"] if m.startswith("galaxalign")]  # opt-in (CPU cost)
    assert "galaxalign" in config["pretrain"]["method_config"]  # ... with default settings ready
    config["pretrain"]["methods"] += ["galaxalign", "galaxalign_stage1"]
    config["pretrain"]["method_config"]["galaxalign_stage1"] = {"lr": 0.0005}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run([str(Path(sys.executable).with_name("snakemake")), "--snakefile", str(repo / "Snakefile"),
                             "-d", str(tmp_path), "--configfile", str(tmp_path / "config.yaml"), "-n", "-p",
                             "results/sdss/metrics.parquet", "results/sdss/galaxalign_stage1/zero_shot/similarity.png",
                             "results/symbols/overview.png"], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    concat = next(line for line in result.stdout.splitlines() if "--out results/sdss/metrics.parquet" in line)
    for method in ("galaxalign", "galaxalign_stage1"):
        assert f"results/sdss/{method}/zero_shot/metrics.parquet" in concat
        assert f"results/sdss/{method}/probes/metrics.parquet" in concat  # the usual downstream stages too
    assert "galssl draw-symbols" in result.stdout and "galssl plot-zero-shot" in result.stdout
    # The ablation trains with galaxalign's settings overridden by its own.
    pretrain = next(line for line in result.stdout.splitlines() if "--method galaxalign_stage1" in line)
    assert '"lr": 0.0005' in pretrain and '"stage1_epochs": 2' in pretrain


def test_early_stopping_cannot_end_the_run_before_stage_2_trains(tmp_path):
    from galssl.train import TrainSettings, make_trainer

    model = tiny(stage1_epochs=3, stage2_epochs=2)
    assert model.planned_epochs == 5 and model.min_epochs == 4
    assert tiny("galaxalign_stage1", stage1_epochs=3, stage2_epochs=0).min_epochs == 3
    trainer, _ = make_trainer(tmp_path, TrainSettings(epochs=5), [], min_epochs=model.min_epochs)
    assert trainer.fit_loop.min_epochs == 4 and trainer.fit_loop.max_epochs == 5
