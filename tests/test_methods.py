"""Pretraining methods: registry and settings errors, one-batch optimisation, MAE masking, MoCo momentum and queue,
supervised label masking, embeddings, local backbone weights. Tiny models on 32 px, 5-band cutouts (CPU)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from galssl.errors import ConfigError, DataError
from galssl.methods import METHODS, create_backbone, create_method
from galssl.methods.mae import normalise_patches, random_patch_mask
from galssl.methods.moco import info_nce, momentum_at
from galssl.methods.supervised import masked_class_loss, masked_vote_loss

IN_CHANS, IMG_SIZE, BATCH = 5, 32, 8
TINY_VIT = {"embed_dim": 64, "depth": 2, "num_heads": 2}
CONFIGS = {
    "moco": {"projection_hidden_dim": 64, "projection_dim": 32, "queue_size": 256},
    "simclr": {"projection_hidden_dim": 64, "projection_dim": 32},
    "mae": {"backbone_kwargs": TINY_VIT, "decoder_dim": 32, "decoder_depth": 1, "decoder_heads": 2},
    "supervised": {"n_classes": 4},
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Single-threaded torch: tiny models gain nothing from threads and stall badly when cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_method(name: str, **overrides):
    torch.manual_seed(0)
    return create_method(name, in_chans=IN_CHANS, img_size=IMG_SIZE, config={**CONFIGS[name], **overrides})


def make_batch(seed: int = 1) -> dict:
    generator = torch.Generator().manual_seed(seed)
    image = torch.randn(BATCH, IN_CHANS, IMG_SIZE, IMG_SIZE, generator=generator)
    views = [image + 0.3 * torch.randn(image.shape, generator=generator), torch.flip(image, dims=[-1])]
    label = torch.tensor([0, 1, 2, 3, -1, 1, -1, 0])
    target = torch.rand(BATCH, 37, generator=generator)
    return {"image": image, "views": views, "label": label, "target": target}


# --- registry and settings -------------------------------------------------------------------------------------


def test_registry_names_every_method():
    assert METHODS == ("moco", "simclr", "mae", "supervised")


def test_unknown_method_lists_the_names():
    with pytest.raises(ConfigError, match="byol.*moco, simclr, mae, supervised"):
        create_method("byol", in_chans=IN_CHANS, img_size=IMG_SIZE, config={})


@pytest.mark.parametrize("name, config, key", [
    ("moco", {"queue": 10}, "unknown key 'queue' in pretrain.method_config.moco"),
    ("mae", {"mask_ratio": 1.5}, "pretrain.method_config.mae.mask_ratio"),
    ("simclr", {"temperature": "warm"}, "pretrain.method_config.simclr.temperature"),
    ("supervised", {"target": "redshift"}, "pretrain.method_config.supervised.target"),
    ("moco", {"momentum_schedule": "linear"}, "pretrain.method_config.moco.momentum_schedule"),
    ("simclr", {"backbone": "not_a_model"}, "pretrain.method_config.simclr.backbone"),
    ("mae", {"backbone": "resnet18"}, "pretrain.method_config.mae.backbone"),
    ("simclr", {"backbone_kwargs": {"pretrained": True}}, "pretrain.method_config.simclr.backbone_kwargs"),
])
def test_bad_settings_name_the_key(name, config, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        create_method(name, in_chans=IN_CHANS, img_size=IMG_SIZE, config=config)


def test_settings_are_frozen_and_filled_with_defaults():
    method = make_method("moco")
    assert method.config.queue_size == 256 and method.config.temperature == 0.2
    assert method.config.momentum_schedule == "cosine"
    with pytest.raises(dataclasses.FrozenInstanceError):
        method.config.queue_size = 1


def test_vit_backbone_is_rebuilt_for_the_cutout():
    model, dim = create_backbone("vit_tiny_patch16_224", IN_CHANS, IMG_SIZE, patch_size=8, **TINY_VIT)
    assert dim == 64 and model.patch_embed.num_patches == (IMG_SIZE // 8) ** 2
    assert model(torch.zeros(2, IN_CHANS, IMG_SIZE, IMG_SIZE)).shape == (2, 64)
    with pytest.raises(ConfigError, match="not a multiple"):
        create_backbone("vit_tiny_patch16_224", IN_CHANS, 36, patch_size=8)


# --- optimisation and embeddings -------------------------------------------------------------------------------


def evaluate_loss(method, batch) -> float:
    """Training-mode loss without a gradient (no queue update) with the same masks every time."""
    if method.name == "mae":
        method.generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        return float(method.training_loss(batch)[0])


@pytest.mark.parametrize("name", METHODS)
def test_five_steps_lower_the_loss_on_a_fixed_batch(name):
    method = make_method(name)
    method.train()
    batch = make_batch()
    queue = method.queue.bank.clone() if name == "moco" else None
    initial = evaluate_loss(method, batch)
    optimizer = torch.optim.Adam([p for p in method.parameters() if p.requires_grad], lr=1e-3)
    for step in range(5):
        if name == "mae":
            method.generator = torch.Generator().manual_seed(3)
        loss, logs = method.training_loss(batch)
        assert math.isfinite(float(loss.detach())) and all(isinstance(value, float) for value in logs.values())
        optimizer.zero_grad()
        loss.backward()
        if step == 0:  # DDP needs a gradient for every trainable parameter
            assert [n for n, p in method.named_parameters() if p.requires_grad and p.grad is None] == []
        optimizer.step()
        method.on_train_batch_end(step, 5)
    if name == "moco":  # same negatives as the first measurement: the batch's own keys are now in the queue
        method.queue.bank.copy_(queue)
    assert evaluate_loss(method, batch) < initial


@pytest.mark.parametrize("name", METHODS)
def test_embed_is_deterministic_float32_and_restores_the_mode(name):
    method = make_method(name)
    method.train()
    images = make_batch()["image"]
    first, second = method.embed(images), method.embed(images)
    assert first.shape == (BATCH, method.embedding_dim) and first.dtype == torch.float32
    assert torch.equal(first, second) and not first.requires_grad
    assert method.training and method.encoder.training
    assert isinstance(method.name, str) and method.n_views in (0, 1, 2)


@pytest.mark.parametrize("name", METHODS)
def test_state_dict_rebuilds_the_method(name):
    trained = make_method(name)
    trained.training_loss(make_batch())
    rebuilt = create_method(name, in_chans=IN_CHANS, img_size=IMG_SIZE, config=trained.config.to_dict())
    rebuilt.load_state_dict(trained.state_dict(), strict=True)
    images = make_batch()["image"]
    assert torch.equal(rebuilt.embed(images), trained.embed(images))


# --- MAE --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mask_ratio", [0.75, 0.9])
def test_mae_hides_exactly_the_ratio_and_encodes_visible_tokens_only(mask_ratio):
    method = make_method("mae", mask_ratio=mask_ratio)
    n_patches = (IMG_SIZE // 8) ** 2
    n_masked = round(mask_ratio * n_patches)
    seen = []
    hook = method.encoder.vit.blocks[0].register_forward_pre_hook(lambda module, args: seen.append(args[0].shape))
    method.training_loss(make_batch())
    hook.remove()
    assert seen == [torch.Size([BATCH, n_patches - n_masked + 1, 64])]
    keep, mask = random_patch_mask(BATCH, n_patches, mask_ratio, torch.Generator().manual_seed(0))
    assert mask.shape == (BATCH, n_masked) and keep.shape == (BATCH, n_patches - n_masked)
    union = torch.sort(torch.cat([keep, mask], dim=1), dim=1).values
    assert torch.equal(union, torch.arange(n_patches).expand(BATCH, -1))


def test_mae_masks_are_reproducible_from_a_generator():
    first = random_patch_mask(4, 16, 0.75, torch.Generator().manual_seed(5))
    second = random_patch_mask(4, 16, 0.75, torch.Generator().manual_seed(5))
    assert all(torch.equal(a, b) for a, b in zip(first, second))


def test_mae_reconstruction_in_image_space():
    method = make_method("mae")
    images = make_batch()["image"]
    masked, reconstruction, mask = method.reconstruct(images, torch.Generator().manual_seed(2))
    again = method.reconstruct(images, torch.Generator().manual_seed(2))
    assert masked.shape == reconstruction.shape == images.shape and mask.shape == (BATCH, 1, IMG_SIZE, IMG_SIZE)
    assert torch.equal(reconstruction, again[1]) and torch.equal(mask, again[2])
    assert float(mask.float().mean()) == pytest.approx(12 / 16)
    visible = ~mask.expand_as(images)
    assert torch.equal(reconstruction[visible], images[visible]) and torch.all(masked[~visible] == 0)


def test_norm_pix_target_has_zero_mean_unit_variance_per_patch():
    patches = torch.tensor([[[1.0, 2.0, 3.0, 4.0]]])
    normalised = normalise_patches(patches)
    assert torch.allclose(normalised, (patches - 2.5) / math.sqrt(5 / 3 + 1e-6))


# --- MoCo -------------------------------------------------------------------------------------------------------


def test_moco_momentum_encoder_follows_and_queue_fills():
    method = make_method("moco", momentum_schedule="fixed", momentum=0.9)
    assert not any(p.requires_grad for p in method.encoder_momentum.parameters())
    optimizer = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.5)
    loss, logs = method.training_loss(make_batch())
    assert int(method.queue.bank_ptr) == 2 * BATCH and logs["queue_fill"] == pytest.approx(2 * BATCH / 256)
    assert torch.allclose(method.queue.bank[:2 * BATCH].norm(dim=1), torch.ones(2 * BATCH))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

    def distance() -> float:
        pairs = zip(method.encoder.parameters(), method.encoder_momentum.parameters())
        return sum(float((online - ema).detach().pow(2).sum()) for online, ema in pairs)

    before = distance()
    assert before > 0
    method.on_train_batch_end(0, 10)
    assert distance() == pytest.approx(0.81 * before, rel=1e-4)  # (1 - m)² shrink towards the online encoder
    method.eval()
    method.training_loss(make_batch())
    assert int(method.queue.bank_ptr) == 2 * BATCH  # evaluation leaves the queue alone


def test_momentum_schedule():
    assert momentum_at(0, 100, 0.99, "cosine") == pytest.approx(0.99)
    assert momentum_at(50, 100, 0.99, "cosine") == pytest.approx(0.995)
    assert momentum_at(100, 100, 0.99, "cosine") == pytest.approx(1.0)
    assert momentum_at(70, 100, 0.999, "fixed") == 0.999


def test_info_nce_by_hand():
    query = torch.tensor([[1.0, 0.0]])
    key = torch.tensor([[1.0, 0.0]])
    negatives = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])
    expected = -math.log(math.exp(1 / 0.5) / (math.exp(1 / 0.5) + math.exp(0) + math.exp(-1 / 0.5)))
    assert float(info_nce(query, key, negatives, 0.5)) == pytest.approx(expected)


# --- supervised -------------------------------------------------------------------------------------------------


def test_masked_losses_by_hand():
    logits = torch.tensor([[0.0, 0.0], [5.0, -5.0]])
    loss, n_known = masked_class_loss(logits, torch.tensor([1, -1]))
    assert n_known == 1 and float(loss) == pytest.approx(math.log(2))
    loss, n_known = masked_vote_loss(torch.zeros(2, 2), torch.tensor([[0.25, float("nan")], [float("nan")] * 2]))
    assert n_known == 1 and float(loss) == pytest.approx(math.log(2))
    loss, n_known = masked_class_loss(logits.requires_grad_(), torch.tensor([-1, -1]))
    assert n_known == 0 and float(loss.detach()) == 0.0
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


@pytest.mark.parametrize("target", ["class", "votes"])
def test_supervised_ignores_unknown_labels(target):
    method = make_method("supervised", target=target, augment=False).eval()  # eval: no batch-norm coupling
    batch = make_batch()
    batch["target"][4] = float("nan")
    batch["target"][6, :10] = float("nan")
    batch["image"].requires_grad_(True)
    loss, logs = method.training_loss(batch)
    assert math.isfinite(float(loss.detach())) and 0 < logs["labelled_fraction"] < 1
    loss.backward()
    per_image = batch["image"].grad.abs().flatten(1).sum(1)
    unknown = [4, 6] if target == "class" else [4]
    assert all(float(per_image[i]) == 0 for i in unknown) and float(per_image[0]) > 0


def test_supervised_trains_on_one_augmented_view():
    assert make_method("supervised").n_views == 1 and make_method("supervised", augment=False).n_views == 0
    with pytest.raises(ValueError, match="augmented views"):
        make_method("supervised").train().training_loss({"image": make_batch()["image"],
                                                         "label": torch.zeros(BATCH, dtype=torch.long)})


# --- local weights ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_backbone_loads_local_weights(tmp_path, suffix):
    torch.manual_seed(4)
    source, _ = create_backbone("resnet18", IN_CHANS, IMG_SIZE)
    path = tmp_path / f"encoder{suffix}"
    state = {key: value.contiguous() for key, value in source.state_dict().items()}
    if suffix == ".safetensors":
        from safetensors.torch import save_file
        save_file(state, str(path))
    else:  # a galssl-style checkpoint: tensors under "encoder." inside a "state_dict" entry
        torch.save({"state_dict": {f"encoder.{key}": value for key, value in state.items()}}, path)
    method = create_method("simclr", in_chans=IN_CHANS, img_size=IMG_SIZE, config={"weights": str(path)})
    assert all(torch.equal(value, method.encoder.state_dict()[key]) for key, value in state.items())


def test_backbone_weights_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        create_backbone("resnet18", IN_CHANS, IMG_SIZE, weights=tmp_path / "missing.pt")
    source, _ = create_backbone("resnet18", 3, IMG_SIZE)
    torch.save(source.state_dict(), tmp_path / "rgb.pt")
    with pytest.raises(DataError, match="does not fit"):
        create_backbone("resnet18", IN_CHANS, IMG_SIZE, weights=tmp_path / "rgb.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="cannot be read"):
        create_backbone("resnet18", IN_CHANS, IMG_SIZE, weights=tmp_path / "junk.pt")
