"""The shipped pretrained checkpoints: hash-checked, small, and they load into models of the right shapes."""
import shutil

import pytest
import torch

from tutorial_lib import metrics, pretrained
from tutorial_lib.checkpoints import save_checkpoint


def test_unknown_name_is_a_clear_error():
    with pytest.raises(ValueError, match="choose one of"):
        pretrained.pretrained_path("stylegan")


def test_to_storage_halves_floats_and_keeps_the_rest():
    module = torch.nn.BatchNorm1d(3)
    state = pretrained.to_storage(module)
    assert state["weight"].dtype == torch.float16 and state["num_batches_tracked"].dtype == torch.long
    assert torch.equal(state["running_var"].float(), module.running_var)


SHIPPED = [name for name in pretrained.PRETRAINED if pretrained.pretrained_path(name).is_file()]
MIB = 1024 * 1024


def test_every_shipped_file_is_under_2_mib_and_hashed():
    """No tracked file over 2 MiB (the house rule); every asset's SHA-256 is recorded, and nothing else is."""
    files = sorted(p for p in metrics.ASSETS.iterdir() if p.name != metrics.SHA256SUMS.name)
    assert files and all(p.stat().st_size < 2 * MIB for p in files), [(p.name, p.stat().st_size) for p in files]
    recorded = {line.split()[1] for line in metrics.SHA256SUMS.read_text().splitlines()}
    assert recorded == {p.name for p in files}
    assert all(metrics.sha256(p) == metrics.recorded_sha256(p.name) for p in files)


@pytest.mark.skipif(not SHIPPED, reason="no pretrained checkpoint shipped yet (scripts/train_pretrained.py)")
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint_is_small_hashed_and_loads(name):
    path = pretrained.pretrained_path(name)
    assert path.stat().st_size < 2 * MIB  # float16 weights; an averaged model's live weights have their own file
    assert metrics.sha256(path) == metrics.recorded_sha256(path.name)
    model, info = pretrained.load_pretrained(name)
    assert not model.training and info["wall_time"] > 0 and info["steps"] > 0
    assert info.get("budget") or info["budget_s"] > 0  # a step/epoch budget, or (older records) a wall-clock one
    images = pretrained.generate(model, 5, seed=0)
    assert images.shape == (5, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    assert torch.equal(images, pretrained.generate(model, 5, seed=0))  # seeded
    live = pretrained.live_path(path)
    assert live.is_file() == bool(info.get("ema")), "the averaged models, and only they, ship their live weights"
    if info.get("ema"):
        raw, raw_info = pretrained.load_pretrained(name, raw=True)
        assert raw_info == info and type(raw) is type(model)
        assert not torch.equal(pretrained.generate(raw, 5, seed=0), images)  # other weights, same record


@pytest.mark.skipif(not any(pretrained.live_path(pretrained.pretrained_path(n)).is_file() for n in SHIPPED),
                    reason="no averaged model shipped")
def test_live_weights_of_another_run_or_missing_fail_loudly(tmp_path, monkeypatch):
    name = next(n for n in SHIPPED if pretrained.live_path(pretrained.pretrained_path(n)).is_file())
    target = tmp_path / f"{name}.pt"
    shutil.copy(pretrained.pretrained_path(name), target)
    monkeypatch.setattr(metrics, "SHA256SUMS", tmp_path / "SHA256SUMS")
    monkeypatch.setattr(pretrained, "pretrained_path", lambda _: target)
    metrics.record_sha256(target)
    with pytest.raises(FileNotFoundError, match="train_pretrained.py"):
        pretrained.load_pretrained(name, raw=True)
    live = torch.load(pretrained.live_path(pretrained.ASSETS / f"{name}.pt"), weights_only=True)
    save_checkpoint(pretrained.live_path(target), **(live | {"steps": live["steps"] + 1}))  # another run's weights
    metrics.record_sha256(pretrained.live_path(target))
    with pytest.raises(RuntimeError, match="another training run"):
        pretrained.load_pretrained(name, raw=True)
    assert pretrained.load_pretrained(name)[1]["steps"] == live["steps"]  # the averaged weights still load


AVERAGED = [n for n in SHIPPED if pretrained.live_path(pretrained.pretrained_path(n)).is_file()]


@pytest.fixture
def averaged(tmp_path, monkeypatch):
    """(name, model, info as train_recipe returns it, with "raw_state") of a shipped averaged model; then every
    asset path and SHA256SUMS point into tmp_path (nothing shipped is written)."""
    if not AVERAGED:
        pytest.skip("no averaged model shipped")
    name = AVERAGED[-1]
    model, info = pretrained.load_pretrained(name)
    info = dict(info, raw_state=pretrained.to_storage(pretrained.load_pretrained(name, raw=True)[0]))
    monkeypatch.setattr(metrics, "SHA256SUMS", tmp_path / "SHA256SUMS")
    monkeypatch.setattr(pretrained, "pretrained_path", lambda n: tmp_path / f"{n}.pt")
    return name, model, info


def test_saving_without_averaging_over_an_averaged_model_forgets_the_live_file_and_its_hash(averaged, tmp_path):
    name, model, info = averaged
    pretrained.save_pretrained(name, model, info)
    assert {line.split()[1] for line in metrics.SHA256SUMS.read_text().splitlines()} == {f"{name}.pt", f"{name}_live.pt"}
    plain = {k: v for k, v in info.items() if k not in ("ema", "raw_state")}
    pretrained.save_pretrained(name, model, plain)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["SHA256SUMS", f"{name}.pt"]
    assert metrics.SHA256SUMS.read_text() == f"{metrics.sha256(tmp_path / f'{name}.pt')}  {name}.pt\n"  # no stale line


def test_save_refuses_an_averaged_record_without_its_live_weights(averaged, tmp_path):
    """Re-saving what load_pretrained returned (ema, no raw_state) would lose the live weights: refused, nothing
    written; raw_state without ema likewise."""
    name, model, info = averaged
    pretrained.save_pretrained(name, model, info)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    loaded_info = pretrained.load_pretrained(name)[1]
    with pytest.raises(ValueError, match=r"'ema' but no 'raw_state'.*load_pretrained\(name, raw=True\)"):
        pretrained.save_pretrained(name, model, loaded_info)
    with pytest.raises(ValueError, match="'raw_state' but no 'ema'"):
        pretrained.save_pretrained(name, model, {k: v for k, v in info.items() if k != "ema"}, path=tmp_path / "x.pt")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert pretrained.load_pretrained(name, raw=True)[1]["steps"] == info["steps"]


def test_save_to_a_path_of_ones_own(averaged, tmp_path, monkeypatch):
    """path= expands ~ (a stale live file there is found), keeps a file it did not write, and refuses bytes."""
    name, model, info = averaged
    plain = {k: v for k, v in info.items() if k not in ("ema", "raw_state")}
    monkeypatch.setenv("HOME", str(tmp_path))
    pretrained.save_pretrained(name, model, info, path="~/runs/m.pt")
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["m.pt", "m_live.pt"]
    pretrained.save_pretrained(name, model, plain, path="~/runs/m.pt")  # the live file of the earlier run goes
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["m.pt"]
    (tmp_path / "runs" / "m_live.pt").write_text("notes of the learner's own")
    pretrained.save_pretrained(name, model, plain, path=tmp_path / "runs" / "m.pt")
    assert (tmp_path / "runs" / "m_live.pt").read_text() == "notes of the learner's own"
    assert not metrics.SHA256SUMS.exists()  # path=: nothing recorded
    with pytest.raises(TypeError, match="must be a str or a pathlib.Path"):
        pretrained.save_pretrained(name, model, plain, path=bytes(tmp_path / "m.pt"))


def test_live_file_of_another_network_or_a_whole_checkpoint_is_refused(averaged, tmp_path):
    name, model, info = averaged
    pretrained.save_pretrained(name, model, info)
    live = pretrained.live_path(tmp_path / f"{name}.pt")
    run = {key: info[key] for key in pretrained._RUN_KEYS}
    other = next(n for n in pretrained.PRETRAINED if n != name)  # another network, with this run's record
    save_checkpoint(live, model=torch.load(pretrained.ASSETS / f"{other}.pt", weights_only=True)["model"], **run)
    metrics.record_sha256(live)
    with pytest.raises(RuntimeError, match=f"{live.name} does not go with {name}.pt: it holds the weights of "
                                           "another network.*Git checkout both"):
        pretrained.load_pretrained(name, raw=True)
    shutil.copy(tmp_path / f"{name}.pt", live)  # the averaged checkpoint itself, hash recorded: not live weights
    metrics.record_sha256(live)
    with pytest.raises(RuntimeError, match="is not a live-weights file"):
        pretrained.load_pretrained(name, raw=True)


def test_errors_name_the_command_that_regenerates_that_model(averaged, tmp_path, monkeypatch):
    name, model, info = averaged
    pretrained.save_pretrained(name, model, info)
    live = pretrained.live_path(tmp_path / f"{name}.pt")
    metrics.SHA256SUMS.write_text(metrics.SHA256SUMS.read_text().replace(f"  {live.name}", "  other.pt"))
    with pytest.raises(FileNotFoundError, match=f"No SHA-256 recorded for '{live.name}'.*"
                                                f"python scripts/train_pretrained.py --only {name}"):
        pretrained.load_pretrained(name, raw=True)
    live.unlink()
    with pytest.raises(FileNotFoundError, match=f"{live.name} is missing.*train_pretrained.py --only {name}`"):
        pretrained.load_pretrained(name, raw=True)
    with pytest.raises(FileNotFoundError, match="train_conditional.py --only cgan`"):
        pretrained.load_pretrained("cgan")


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


@pytest.mark.parametrize("name", ["beta_vae", "dcgan", "vae"])
def test_recipe_trains_under_its_budget_and_ships_round_trip(name, mnist_available, tmp_path, monkeypatch):
    model, info = pretrained.train_recipe(name, budget_s=1.5, limit=512)
    assert info["steps"] > 0 and 1.5 <= info["wall_time"] < 15 and info["budget_s"] == 1.5
    assert info["kind"] == pretrained.RECIPES[name]["kind"] and not model.training
    assert info["recipe"]["binarize"] == pretrained.DATA["binarize"] and info["budget"] == pretrained.RECIPES[name]["budget"]
    target = tmp_path / f"{name}.pt"
    monkeypatch.setattr(metrics, "SHA256SUMS", tmp_path / "SHA256SUMS")
    monkeypatch.setattr(pretrained, "pretrained_path", lambda _: target)
    save_checkpoint(pretrained.live_path(target), model={}, steps=1, seed=0, wall_time=1.0)  # of an earlier run
    pretrained.save_pretrained(name, model, info, path=target)
    assert pretrained.live_path(target).is_file() == bool(pretrained.RECIPES[name].get("ema"))
    for path in (target, pretrained.live_path(target)):
        if path.is_file():
            metrics.record_sha256(path)  # recorded in the temporary SHA256SUMS, not the shipped one
    loaded, loaded_info = pretrained.load_pretrained(name)
    assert loaded_info["steps"] == info["steps"] and len(loaded_info["history"]) == len(info["history"])
    # float16 storage: the reloaded model generates what the trained one does, to half precision
    assert torch.allclose(pretrained.generate(loaded, 4, seed=1), pretrained.generate(model, 4, seed=1), atol=2e-2)
    if pretrained.RECIPES[name].get("ema"):  # averaged weights ship; the live ones come with raw=True
        raw, _ = pretrained.load_pretrained(name, raw=True)
        assert info["ema"] == pretrained.EMA_DECAY and type(raw) is type(loaded)
        assert all(torch.equal(raw.state_dict()[k], v.to(raw.state_dict()[k].dtype)) for k, v in info["raw_state"].items())
        assert not torch.equal(pretrained.generate(raw, 4, seed=1), pretrained.generate(loaded, 4, seed=1))
    else:
        with pytest.raises(ValueError, match="without weight averaging"):
            pretrained.load_pretrained(name, raw=True)


def test_generate_and_train_recipe_reject_bad_input():
    model = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="positive integer"):
        pretrained.generate(model, 0)
    with pytest.raises(ValueError, match="budget_s"):
        pretrained.train_recipe("vae", budget_s=0)
    with pytest.raises(ValueError, match="choose one of"):
        pretrained.train_recipe("stylegan", budget_s=1)


def test_the_budget_is_counted_in_steps_and_scaled(mnist_available):
    """scale trains that share of the recipe's budget, exactly (not a wall-clock cut)."""
    model, info = pretrained.train_recipe("dcgan", scale=20 / pretrained.BUDGET["gan"]["steps"], limit=512)
    assert info["steps"] == 20 and info["budget"] == {"steps": 20} and info["ema"] == 0.999
    _, vae_info = pretrained.train_recipe("vae", scale=1 / pretrained.BUDGET["vae"]["epochs"], limit=256)
    assert vae_info["epochs"] == 1 and vae_info["budget"] == {"epochs": 1}
    with pytest.raises(ValueError, match="scale"):
        pretrained.train_recipe("vae", scale=0)


def test_every_model_trains_on_the_same_data_and_every_kind_has_a_builder_and_trainer():
    assert {recipe["binarize"] for recipe in pretrained.RECIPES.values()} == {pretrained.DATA["binarize"]}
    assert set(pretrained.RECIPES) == set(pretrained.PRETRAINED)
    for recipe in pretrained.RECIPES.values():
        assert recipe["kind"] in pretrained.BUILDERS and recipe["kind"] in pretrained.TRAINERS
    with pytest.raises(ValueError, match="expected one of"):
        pretrained.build("flow", {})


@pytest.mark.parametrize("name", sorted(pretrained.PRETRAINED))
def test_every_shipped_model_was_trained_by_its_current_recipe(name):
    """A recipe changed without `make pretrained` leaves a stale asset: its record no longer matches."""
    _, info = pretrained.load_pretrained(name)
    recipe = pretrained.RECIPES[name]
    assert info["budget"] == recipe["budget"] and info["recipe"]["binarize"] == recipe["binarize"]
    unit, count = next(iter(recipe["budget"].items()))
    assert info[unit] == count and 0 < info["wall_time"] < 1800, "trained within 30 minutes on 2 cores"


def test_the_vae_and_the_dcgan_share_one_network_and_one_optimizer():
    """Notebook 06's controlled comparison: only the objective differs between "vae" and "dcgan"."""
    from tutorial_lib.gan import DCGANDiscriminator, DCGANGenerator

    vae_recipe, gan_recipe = pretrained.RECIPES["vae"], pretrained.RECIPES["dcgan"]
    vae = pretrained.build("vae", vae_recipe["config"])
    generator = pretrained.build("gan", gan_recipe["config"])
    assert isinstance(vae.decoder, DCGANGenerator) and vae.decoder.config == generator.config
    critic = DCGANDiscriminator(**gan_recipe["critic"])
    assert [p.shape for p in vae.encoder.parameters()] == [p.shape for p in critic.net[:-1].parameters()]
    assert vae_recipe["batch_size"] == gan_recipe["batch_size"] and vae_recipe["ema"] == gan_recipe["ema"]
    assert vae_recipe["train"]["lr"] == gan_recipe["train"]["lr_g"] == gan_recipe["train"]["lr_d"]
    assert tuple(vae_recipe["train"]["betas"]) == tuple(gan_recipe["train"]["betas"])
    assert vae_recipe["binarize"] == gan_recipe["binarize"]


def test_the_bernoulli_loss_on_grey_digits_is_the_expected_loss_on_coin_flipped_ones():
    """Why a VAE trained on grey digits still models binary ones: the Bernoulli log-likelihood is linear in x, so
    log p(grey | logits) = E[log p(x_b | logits)] over x_b ~ Bernoulli(grey), checked here by Monte Carlo."""
    from tutorial_lib.vae import bernoulli_log_likelihood

    g = torch.Generator().manual_seed(0)
    grey = torch.rand(1, 1, 28, 28, generator=g, dtype=torch.float64)
    logits = torch.randn(1, 1, 28, 28, generator=g, dtype=torch.float64)
    draws = torch.bernoulli(grey.expand(20_000, 1, 28, 28), generator=g)
    monte_carlo = bernoulli_log_likelihood(logits.expand_as(draws), draws)
    exact = float(bernoulli_log_likelihood(logits, grey))
    assert abs(float(monte_carlo.mean()) - exact) < 4 * float(monte_carlo.std()) / 20_000 ** 0.5


def test_recalibrated_batch_norm_matches_the_statistics_of_its_own_samples():
    from tutorial_lib.gan import DCGANGenerator

    torch.manual_seed(0)
    generator = DCGANGenerator(latent_dim=8, width=4)
    generator.project[1].running_mean.fill_(5.0)  # stale statistics, as an averaged generator has
    pretrained.recalibrate_batch_norm(generator, batches=4, batch_size=64, seed=1)
    noise = torch.Generator().manual_seed(1)
    z = torch.cat([torch.randn(64, 8, generator=noise) for _ in range(4)])
    with torch.no_grad():
        pre = generator.project[0](z)  # the linear layer's output feeds the first batch norm
    assert torch.allclose(generator.project[1].running_mean, pre.mean(dim=0), atol=1e-5)
    assert not generator.training


def test_yours_round_trip_and_refusals(tmp_path, monkeypatch):
    from tutorial_lib import pretrained
    from tutorial_lib.gan import DCGANGenerator
    from tutorial_lib.vae import VAE

    with pytest.raises(ValueError, match="Unknown model"):
        pretrained.yours_path("vae_gan")
    assert pretrained.yours_path("dcgan").name == "yours-dcgan-fast.pt"  # tests run in fast mode
    monkeypatch.setattr(pretrained, "yours_path", lambda name: tmp_path / f"yours-{name}.pt")
    assert pretrained.load_yours("dcgan") is None  # not trained yet: nothing, no error
    torch.manual_seed(0)
    g = DCGANGenerator(latent_dim=8, width=4)
    g.train()
    g(torch.randn(16, 8))  # batch-norm statistics away from their start
    pretrained.save_yours("dcgan", g.eval(), {"steps": 3})
    loaded, info = pretrained.load_yours("dcgan")
    z = torch.randn(5, 8)
    assert info == {"steps": 3} and torch.equal(loaded(z), g(z)) and not loaded.training
    vae = VAE(latent_dim=4, arch="conv", channels=4)
    pretrained.save_yours("conv_vae", vae)
    assert torch.equal(pretrained.load_yours("conv_vae")[0].decode(z[:, :4]), vae.eval().decode(z[:, :4]))
    with pytest.raises(TypeError, match="needs a DCGANGenerator"):
        pretrained.save_yours("dcgan", vae)
