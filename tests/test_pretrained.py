"""The shipped pretrained checkpoints: hash-checked, small, and they load into models of the right shapes."""
import shutil

import pytest
import torch

from tutorial_lib import metrics, pretrained


def test_unknown_name_is_a_clear_error():
    with pytest.raises(ValueError, match="choose one of"):
        pretrained.pretrained_path("stylegan")


def test_to_storage_halves_floats_and_keeps_the_rest():
    module = torch.nn.BatchNorm1d(3)
    state = pretrained.to_storage(module)
    assert state["weight"].dtype == torch.float16 and state["num_batches_tracked"].dtype == torch.long
    assert torch.equal(state["running_var"].float(), module.running_var)


SHIPPED = [name for name in pretrained.PRETRAINED if pretrained.pretrained_path(name).is_file()]


@pytest.mark.skipif(not SHIPPED, reason="no pretrained checkpoint shipped yet (scripts/train_pretrained.py)")
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint_is_small_hashed_and_loads(name):
    path = pretrained.pretrained_path(name)
    assert path.stat().st_size < 2_000_000
    assert metrics.sha256(path) == metrics.recorded_sha256(path.name)
    model, info = pretrained.load_pretrained(name)
    assert not model.training and info["wall_time"] > 0 and info["budget_s"] > 0
    images = pretrained.generate(model, 5, seed=0)
    assert images.shape == (5, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    assert torch.equal(images, pretrained.generate(model, 5, seed=0))  # seeded


@pytest.mark.skipif(not SHIPPED, reason="no pretrained checkpoint shipped yet (scripts/train_pretrained.py)")
def test_corrupted_checkpoint_fails_loudly(tmp_path, monkeypatch):
    name = SHIPPED[0]
    copy = tmp_path / f"{name}.pt"
    shutil.copy(pretrained.pretrained_path(name), copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 3] ^= 0x01
    copy.write_bytes(bytes(data))
    monkeypatch.setattr(pretrained, "pretrained_path", lambda _: copy)
    with pytest.raises(RuntimeError, match="CORRUPT") as error:
        pretrained.load_pretrained(name)
    assert "train_pretrained.py" in str(error.value)


@pytest.mark.parametrize("name", ["beta_vae", "dcgan_sn"])
def test_recipe_trains_under_its_budget_and_ships_round_trip(name, mnist_available, tmp_path, monkeypatch):
    model, info = pretrained.train_recipe(name, budget_s=1.5, limit=512)
    assert info["steps"] > 0 and 1.5 <= info["wall_time"] < 15 and info["budget_s"] == 1.5
    assert info["kind"] == pretrained.RECIPES[name]["kind"] and not model.training
    target = tmp_path / f"{name}.pt"
    monkeypatch.setattr(metrics, "SHA256SUMS", tmp_path / "SHA256SUMS")
    monkeypatch.setattr(pretrained, "pretrained_path", lambda _: target)
    pretrained.save_pretrained(name, model, info, path=target)
    metrics.record_sha256(target)  # recorded in the temporary SHA256SUMS, not the shipped one
    loaded, loaded_info = pretrained.load_pretrained(name)
    assert loaded_info["steps"] == info["steps"] and len(loaded_info["history"]) == len(info["history"])
    # float16 storage: the reloaded model generates what the trained one does, to half precision
    assert torch.allclose(pretrained.generate(loaded, 4, seed=1), pretrained.generate(model, 4, seed=1), atol=2e-2)


def test_generate_and_train_recipe_reject_bad_input():
    model = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="positive integer"):
        pretrained.generate(model, 0)
    with pytest.raises(ValueError, match="budget_s"):
        pretrained.train_recipe("vae", budget_s=0)
    with pytest.raises(ValueError, match="choose one of"):
        pretrained.train_recipe("stylegan", budget_s=1)
