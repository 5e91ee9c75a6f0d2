"""lessons_lib.vision: the measurements lesson 11 shows (never the network)."""
import numpy as np
import pytest
import torch

from lessons_lib import data, vision


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_load_images_falls_back_to_digits_without_touching_the_network(monkeypatch, tmp_path,
                                                                      capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))     # an empty cache
    monkeypatch.setattr(data, "_keras_load", lambda *a, **k: pytest.fail("network used"))
    split = vision.load_images(n_train=100, n_test=50)
    assert "digits" in capsys.readouterr().out
    assert split.x_train.shape == (100, 1, 8, 8) and len(split.x_test) == 50
    assert split.source.startswith("digits")
    keras_layout = vision.load_images(n_train=10, layout="keras")
    assert keras_layout.x_train.shape == (10, 8, 8, 1)


def test_load_images_with_download_reports_a_failed_download(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("no network here")
    monkeypatch.setattr(data, "_keras_load", offline)
    split = vision.load_images(n_train=20, download=True)
    assert "no network here" in capsys.readouterr().out and len(split.x_train) == 20


@pytest.mark.parametrize("channels, size, flat", [(1, 8, 256), (3, 32, 4096), (1, 7, 64)])
def test_tutorial_cnn_adapts_to_the_image_size(channels, size, flat):
    model = vision.tutorial_cnn(channels, size)
    assert model[9].in_features == flat
    assert model(torch.zeros(3, channels, size, size)).shape == (3, 10)
    flow = vision.shape_flow(model, (channels, size, size))
    assert flow.startswith(f"({channels}, {size}, {size})") and f"flatten ({flat},)" in flow
    with pytest.raises(ValueError):
        vision.tutorial_cnn(1, 3)


def test_tutorial_cnn_is_seeded():
    a, b = vision.tutorial_cnn(seed=1), vision.tutorial_cnn(seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a[0].weight, vision.tutorial_cnn(seed=2)[0].weight)


def test_tutorial_cnn_is_channels_last_and_computes_what_the_default_layout_does():
    """The layout is a speed choice only: forward and gradients match the same
    weights in the contiguous layout (float64, train mode, the same dropout)."""
    fast = vision.tutorial_cnn(3, 16, seed=0).double()
    plain = vision.tutorial_cnn(3, 16, seed=0).double().to(memory_format=torch.contiguous_format)
    assert all(m.weight.is_contiguous(memory_format=torch.channels_last)
               for m in vision.conv_layers(fast))
    assert not fast[0].weight.is_contiguous()
    assert plain[0].weight.is_contiguous()
    x = torch.randn(8, 3, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    losses = []
    for model in (fast, plain):
        torch.manual_seed(1)                                  # the same dropout mask
        out = model(x)
        losses.append(out.square().mean())
        losses[-1].backward()
    assert fast[4](fast[:4](x)).is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-12, atol=0)
    for p, q in zip(fast.parameters(), plain.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-10, atol=1e-12)


def test_keras_model_has_the_same_parameter_count_and_torch_batchnorm_settings():
    model = vision.keras_tutorial_cnn(1, 8)
    assert vision.parameter_count(model) == vision.parameter_count(vision.tutorial_cnn(1, 8))
    norms = [layer for layer in model.layers if "batch_normalization" in layer.name]
    assert len(norms) == 2
    assert all(n.momentum == 0.9 and n.epsilon == 1e-5 for n in norms)


def test_augment_shifts_within_one_pixel_and_flips_when_asked():
    x = np.zeros((50, 1, 5, 5), dtype=np.float32)
    x[:, 0, 2, 2] = 1.0                                  # one pixel in the middle
    out = vision.augment(x, np.random.default_rng(0), shift=1)
    assert out.shape == x.shape and x[:, 0, 2, 2].all()  # the input is unchanged
    rows, cols = np.nonzero(out[:, 0].sum(axis=0))
    assert set(rows) <= {1, 2, 3} and set(cols) <= {1, 2, 3} and len(set(rows)) > 1
    assert np.allclose(out.sum(axis=(1, 2, 3)), 1.0)     # moved, not lost
    edge = np.zeros((40, 1, 3, 3), dtype=np.float32)
    edge[:, 0, 1, 0] = 1.0
    flipped = vision.augment(edge, np.random.default_rng(0), shift=0, flip=True)
    assert 0 < flipped[:, 0, 1, 2].sum() < 40            # some flipped, some not
    as_tensor = vision.augment(torch.from_numpy(x), np.random.default_rng(0))
    assert isinstance(as_tensor, torch.Tensor) and np.array_equal(as_tensor.numpy(), out)


def test_augmented_loader_gives_new_shifts_every_epoch():
    split = data.digits()
    loader = vision.AugmentedLoader(
        data.torch_loader(split.x_train[:64], split.y_train[:64], 64, shuffle=False), seed=0)
    first, second = next(iter(loader))[0], next(iter(loader))[0]
    assert len(loader) == 1 and not torch.equal(first, second)


def test_epochs_to_target():
    assert vision.epochs_to([0.5, 0.8, 0.96, 0.9], 0.95) == 3
    assert vision.epochs_to([0.5, 0.8], 0.95) is None


def _tiny_runs():
    split = data.digits()
    x, y = split.x_train[:256], split.y_train[:256]
    val = data.torch_loader(split.x_test, split.y_test, 512, shuffle=False)
    recipes = {"adam": lambda m, steps: (torch.optim.Adam(m.parameters(), lr=2e-3), None),
               "sgd": lambda m, steps: (torch.optim.SGD(m.parameters(), lr=1e-3), None)}
    models = {}
    runs = vision.compare_recipes(
        recipes, lambda seed: vision.tutorial_cnn(seed=seed),
        lambda seed: data.torch_loader(x, y, 64, seed=seed), val, epochs=2, seeds=(0, 1),
        loss=torch.nn.CrossEntropyLoss(), models=models, device="cpu", amp=False)
    return runs, models, val


def test_compare_recipes_summarize_and_bands():
    runs, models, val = _tiny_runs()
    assert set(runs) == {"adam", "sgd"} and all(len(h) == 2 for h in runs.values())
    assert len(models["adam"]) == 2
    table = vision.summarize(runs, target=0.5)
    adam = table.row(recipe="adam")
    finals = [h["val_accuracy"][-1] for h in runs["adam"]]
    assert np.isclose(adam["val acc mean"], np.mean(finals))
    assert np.isclose(adam["± std"], np.std(finals, ddof=1))
    assert adam["min"] <= adam["val acc mean"] <= adam["max"]
    assert adam["val acc mean"] > table.row(recipe="sgd")["val acc mean"]
    truth, predicted = vision.predictions(models["adam"][0], val)
    assert np.isclose(np.mean(truth == predicted), runs["adam"][0]["val_accuracy"][-1])
    fig = vision.plot_bands(runs, target=0.5)
    assert len(fig.axes[0].lines) == 3                      # two means and the target
    # the same seed gives the same run: the comparison is reproducible
    again, _, _ = _tiny_runs()
    assert again["adam"][1]["val_accuracy"] == runs["adam"][1]["val_accuracy"]


def test_batch_norm_makes_the_first_conv_scale_invariant():
    split = data.digits()
    x, y = torch.from_numpy(split.x_train[:64]), torch.from_numpy(split.y_train[:64])
    model = vision.tutorial_cnn()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    gap = vision.scale_invariance_gap(model, x, y, torch.nn.CrossEntropyLoss(), factor=10.0)
    assert abs(gap["loss"] - gap["loss scaled"]) < 1e-4
    assert np.isclose(gap["grad norm scaled"], gap["grad norm"] / 10, rtol=0.01)  # ε
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_weight_norm_logger_and_effective_lr():
    from lessons_lib.harness import torch as harness
    split = data.digits()
    model = vision.tutorial_cnn()
    logger = vision.WeightNormLogger(model)
    start = vision.conv_weight_norm(model)
    harness.fit(model, data.torch_loader(split.x_train[:128], split.y_train[:128], 64),
                loss=torch.nn.CrossEntropyLoss(), epochs=2, callbacks=[logger],
                optimizer=torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                device="cpu", amp=False, progress=False, seed=0)
    assert len(logger.norms) == 3 and logger.norms[0] == start
    assert logger.norms[-1] > logger.norms[0]          # no decay: the norm grows
    assert np.allclose(vision.effective_lr(0.1, [2.0, 4.0]), [0.025, 0.00625])


def test_augmentation_grid_rows_gap_and_figure():
    split = data.digits()
    x, y = split.x_train[:128], split.y_train[:128]
    val = data.torch_loader(split.x_test[:100], split.y_test[:100], 512, shuffle=False)
    clean = data.torch_loader(x, y, 512, shuffle=False)
    recipe = lambda m, steps: (torch.optim.Adam(m.parameters(), lr=2e-3), None)
    grid = vision.augmentation_grid(
        recipe, lambda seed: vision.tutorial_cnn(seed=seed),
        lambda seed: data.torch_loader(x, y, 64, seed=seed), val, epochs=(1, 2),
        seeds=(0, 1), loss=torch.nn.CrossEntropyLoss(), train_eval=clean,
        device="cpu", amp=False)
    assert [(r["augmentation"], r["epochs"]) for r in grid] == [
        ("off", 1), ("off", 2), ("on", 1), ("on", 2)]
    for row in grid:
        assert row["min"] <= row["val acc mean"] <= row["max"]
        assert np.isclose(row["gap"], row["train acc"] - row["val acc mean"])
    # augmentation changes what the model sees: the runs differ
    assert grid.row(augmentation="on", epochs=2)["train acc"] != \
        grid.row(augmentation="off", epochs=2)["train acc"]
    # the "off" cells are exactly the plain comparison of the same recipe
    plain = vision.compare_recipes(
        {"r": recipe}, lambda seed: vision.tutorial_cnn(seed=seed),
        lambda seed: data.torch_loader(x, y, 64, seed=seed), val, epochs=2, seeds=(0, 1),
        loss=torch.nn.CrossEntropyLoss(), device="cpu", amp=False)["r"]
    assert np.isclose(grid.row(augmentation="off", epochs=2)["val acc mean"],
                      np.mean([h["val_accuracy"][-1] for h in plain]))
    fig = vision.plot_grid(grid)
    assert len(fig.axes) == 2 and len(fig.axes[1].lines) == 3   # two gaps and zero
    model = vision.tutorial_cnn()
    truth, predicted = vision.predictions(model, clean)
    assert vision.accuracy(model, clean) == np.mean(truth == predicted)
