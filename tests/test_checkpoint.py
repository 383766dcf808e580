"""Encoder checkpoints carry a content hash that is verified on load: corruption is an error, never new weights."""

from __future__ import annotations

import pytest
import torch

from galssl.checkpoint import FORMAT, content_hash, load_encoder, read_checkpoint, save_encoder
from galssl.errors import DataError
from galssl.methods import create_method

RECIPE = {"method": "simclr", "in_chans": 3, "img_size": 16, "config": {}, "survey": "test"}


@pytest.fixture()
def checkpoint(tmp_path):
    torch.manual_seed(0)
    method = create_method("simclr", in_chans=3, img_size=16)
    path = tmp_path / "encoder.ckpt"
    save_encoder(path, method, RECIPE)
    return path, method


def test_round_trip_gives_the_same_weights(checkpoint):
    path, method = checkpoint
    loaded, recipe = load_encoder(path)
    assert recipe == RECIPE
    for key, value in method.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    assert read_checkpoint(path)["format"] == FORMAT


def test_hash_changes_with_one_weight_and_with_the_recipe(checkpoint):
    path, method = checkpoint
    state = {k: v.clone() for k, v in method.state_dict().items()}
    before = content_hash(RECIPE, state)
    name = next(k for k, v in state.items() if v.is_floating_point() and v.numel())
    state[name].view(-1)[0] += 1e-6
    assert content_hash(RECIPE, state) != before
    assert content_hash({**RECIPE, "seed": 1}, method.state_dict()) != before


def test_flipped_bytes_in_the_tensor_data_are_refused(checkpoint):
    path, _ = checkpoint
    data = bytearray(path.read_bytes())
    # Flip bytes well inside the file (tensor storage sits after the pickled header) but not in the zip directory.
    start = len(data) // 3
    for offset in range(start, start + 400):
        data[offset] ^= 0x5A
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"checkpoint .*encoder.ckpt: .*(hash mismatch|not a readable)"):
        load_encoder(path)


def test_edited_payload_is_refused_with_a_hash_mismatch(checkpoint):
    path, _ = checkpoint
    payload = torch.load(path, weights_only=True)
    first = next(iter(payload["state_dict"]))
    payload["state_dict"][first] = payload["state_dict"][first] + 1
    torch.save(payload, path)
    with pytest.raises(DataError, match="content hash mismatch, the file is corrupt; delete it and rerun"):
        load_encoder(path)


def test_recipe_without_method_is_one_clear_error(checkpoint):
    path, _ = checkpoint
    payload = torch.load(path, weights_only=True)
    del payload["recipe"]["method"]
    torch.save(payload, path)
    with pytest.raises(DataError, match="its recipe lacks method"):
        load_encoder(path)


def test_version_one_checkpoints_still_load(checkpoint, tmp_path):
    path, method = checkpoint
    payload = torch.load(path, weights_only=True)
    old = tmp_path / "old.ckpt"
    torch.save({"format": "galssl-encoder-v1", "recipe": payload["recipe"], "state_dict": payload["state_dict"]}, old)
    loaded, _ = load_encoder(old)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in method.state_dict().items())
