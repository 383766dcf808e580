"""benchmarks/recipe.py: the step budget, the one-factor-at-a-time grid and resume (pure helpers, no training)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RESOLVED = {"batch_size": 128, "lr": 1e-3, "warmup_epochs": 0.5,
            "augment": {"rotation": True, "jitter_crop": {"crop_size": 48, "max_shift": 4},
                        "noise": {"scale": [1.0, 3.0]}, "psf_blur": {"sigma_px": [0.0, 1.0]},
                        "reddening": {"ebv": [0.0, 0.5]}, "rescale": None},
            "method_config": {"simclr": {"temperature": 0.5, "projection_dim": 128, "backbone_kwargs": {}}}}
KNOWN = {"batch_size", "lr", "warmup_epochs", "augment", "method_config.simclr.temperature",
         "method_config.simclr.projection_dim", "method_config.simclr.backbone_kwargs"}
RESNET18 = {"family": "resnet", "layers": [2, 2, 2, 2], "channels": [64, 128, 256, 512]}


@pytest.fixture(scope="module")
def recipe():
    spec = importlib.util.spec_from_file_location("benchmark_recipe", REPO / "benchmarks" / "recipe.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("steps, batch_size, n_train, epochs", [
    (300, 128, 3500, 11),  # 28 steps an epoch (the last one partial): 10.7 epochs
    (300, 32, 3500, 3),    # 110 steps an epoch
    (300, 256, 3500, 21),  # 14 steps an epoch
    (6, 32, 137, 1),       # 5 steps an epoch
    (1, 32, 137, 1),       # never fewer than one epoch
])
def test_epochs_come_closest_to_the_step_budget(recipe, steps, batch_size, n_train, epochs):
    assert recipe.epochs_for_budget(steps, batch_size, n_train) == epochs


def test_budget_section_sets_epochs_turns_early_stopping_off_and_drops_a_method_epochs(recipe):
    section = {"batch_size": 128, "epochs": 10, "method_config": {"simclr": {"epochs": 3, "batch_size": 32}}}
    out = recipe.budget_section(section, "simclr", 300, 3500)
    assert out["epochs"] == 3 and out["early_stopping_patience"] == 3  # the method's batch size of 32 counts
    assert out["method_config"]["simclr"] == {"batch_size": 32}
    assert section["method_config"]["simclr"]["epochs"] == 3  # the input is left as it was


def test_set_dotted_copies_and_creates_levels(recipe):
    section = {"augment": {"noise": None}, "lr": 1e-3}
    out = recipe.set_dotted(section, "augment.noise.scale", [0.5, 1.5])
    assert out["augment"]["noise"] == {"scale": [0.5, 1.5]} and section["augment"]["noise"] is None
    assert recipe.get_dotted(out, "augment.noise.scale") == [0.5, 1.5]
    assert recipe.get_dotted(out, "augment.psf_blur.sigma_px", "absent") == "absent"


def test_set_factor_marks_the_baseline_and_overrides_one_key(recipe):
    settings, why = recipe.factor_settings("lr", RESOLVED, "simclr", KNOWN, RESNET18)
    assert why is None
    assert [(s["label"], s["override"], s["baseline"]) for s in settings] == [
        ("0.0003", {"lr": 3e-4}, False), ("0.001", {}, True), ("0.003", {"lr": 3e-3}, False)]


def test_strength_factor_scales_the_baseline_range_and_zero_switches_it_off(recipe):
    settings, _ = recipe.factor_settings("noise", RESOLVED, "simclr", KNOWN, RESNET18)
    assert [s["override"] for s in settings] == [{"augment.noise": None}, {"augment.noise.scale": [0.5, 1.5]}, {},
                                                 {"augment.noise.scale": [2.0, 6.0]}]
    jitter, _ = recipe.factor_settings("jitter", RESOLVED, "simclr", KNOWN, RESNET18)
    assert [s["override"] for s in jitter] == [{"augment.jitter_crop.max_shift": 0},
                                               {"augment.jitter_crop.max_shift": 2}, {},
                                               {"augment.jitter_crop.max_shift": 8}]


def test_baseline_missing_from_the_grid_is_added(recipe):
    table = {"temperature": ("method_config.{method}.temperature", "set", (0.1, 0.2))}
    settings, _ = recipe.factor_settings("temperature", RESOLVED, "simclr", KNOWN, RESNET18, table=table)
    assert [(s["label"], s["baseline"]) for s in settings] == [("0.5", True), ("0.1", False), ("0.2", False)]
    assert settings[1]["override"] == {"method_config.simclr.temperature": 0.1}


def test_backbone_width_and_depth(recipe):
    width, _ = recipe.factor_settings("width", RESOLVED, "simclr", KNOWN, RESNET18)
    assert width[0]["override"] == {"method_config.simclr.backbone_kwargs": {"channels": [32, 64, 128, 256]}}
    depth, _ = recipe.factor_settings("depth", RESOLVED, "simclr", KNOWN, RESNET18)
    assert depth[2]["override"] == {"method_config.simclr.backbone_kwargs": {"layers": [4, 4, 4, 4]}}
    vit = {"family": "vit", "embed_dim": 192, "depth": 12, "num_heads": 3}
    assert recipe.backbone_override(vit, "width", 0.5) == {"embed_dim": 96}
    assert recipe.backbone_override(vit, "depth", 0.5) == {"depth": 6}
    assert recipe.factor_settings("width", RESOLVED, "simclr", KNOWN, None)[1] == \
        "width scales ResNet or ViT backbones only"


def test_output_stride_keeps_resnet_features_larger(recipe):
    stride, why = recipe.factor_settings("output_stride", RESOLVED, "simclr", KNOWN, RESNET18)
    assert why is None and [s["label"] for s in stride] == ["/32", "/16", "/8"]
    assert [s["baseline"] for s in stride] == [True, False, False]
    assert stride[2]["override"] == {"method_config.simclr.backbone_kwargs": {"output_stride": 8}}
    vit = {"family": "vit", "embed_dim": 192, "depth": 12, "num_heads": 3}
    assert recipe.factor_settings("output_stride", RESOLVED, "simclr", KNOWN, vit)[1] == \
        "output_stride applies to ResNet backbones only"


def test_factors_without_a_key_or_with_the_augmentation_off_are_skipped(recipe):
    settings, why = recipe.factor_settings("queue_size", RESOLVED, "simclr", KNOWN, RESNET18)
    assert settings == []
    assert why == "method_config.simclr.queue_size is not a setting of the pretrain section for simclr"
    _, why = recipe.factor_settings("normalisation", RESOLVED, "simclr", KNOWN, RESNET18)
    assert why.startswith("normalise.softening is not a setting")
    off = recipe.set_dotted(RESOLVED, "augment.noise", None)
    _, why = recipe.factor_settings("noise", off, "simclr", KNOWN, RESNET18)
    assert why == "augment.noise is off in the baseline: nothing to scale"


def test_plan_runs_the_shared_baseline_once_and_resume_skips_finished_trials(recipe):
    def setting(label, keys):
        return {"label": label, "baseline": label == "base", "trial_keys": keys}

    factors = {"lr": {"settings": [setting("low", {"1": "a1", "2": "a2"}), setting("base", {"1": "b1", "2": "b2"})]},
               "noise": {"settings": [setting("base", {"1": "b1", "2": "b2"}), setting("off", {"1": "c1", "2": "c2"})]}}
    plan = recipe.plan_trials(factors, [1, 2], {})
    assert [(seed, name, s["label"]) for seed, name, s in plan] == [
        (1, "lr", "low"), (1, "lr", "base"), (1, "noise", "off"), (2, "lr", "low"), (2, "lr", "base"),
        (2, "noise", "off")]
    done = {"a1": {"error": None}, "b1": {"error": None}, "c1": {"error": "RuntimeError: out of memory"}}
    plan = recipe.plan_trials(factors, [1, 2], done)
    assert [s["trial_keys"][str(seed)] for seed, _, s in plan] == ["c1", "a2", "b2", "c2"]


def test_trial_key_depends_on_seed_section_and_data(recipe):
    key = recipe.trial_key("simclr", 42, 300, {"lr": 1e-3}, "data")
    assert key == recipe.trial_key("simclr", 42, 300, {"lr": 1e-3}, "data")
    assert len({key, recipe.trial_key("simclr", 43, 300, {"lr": 1e-3}, "data"),
                recipe.trial_key("simclr", 42, 300, {"lr": 3e-3}, "data"),
                recipe.trial_key("simclr", 42, 300, {"lr": 1e-3}, "other")}) == 4


def test_summary_is_mean_and_sample_std_over_seeds(recipe):
    def trial(logistic, knn):
        return {"probes": {"logistic": {"test_balanced_accuracy": logistic}, "knn": {"test_balanced_accuracy": knn}},
                "online": {"best_balanced_accuracy": None}, "wall_s": 10.0, "error": None}

    keys = {"1": "k1", "2": "k2", "3": "k3"}
    factors = {"lr": {"settings": [{"label": "0.001", "baseline": True, "trial_keys": keys}]}}
    trials = {"k1": trial(0.4, 0.3), "k2": trial(0.6, 0.3), "k3": {"error": "ValueError: x"}}
    (row,) = recipe.summarise(factors, trials, [1, 2, 3])["lr"]
    assert row["n"] == 2 and row["logistic_balanced_accuracy_mean"] == 0.5
    assert row["logistic_balanced_accuracy_std"] == pytest.approx(0.1414, abs=1e-4)
    assert row["knn_balanced_accuracy_std"] == 0.0 and row["online_best_balanced_accuracy_mean"] is None
