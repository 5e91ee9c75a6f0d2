"""lessons_lib.regularization: the measurements lesson 10 shows."""
import numpy as np
import pytest
import torch
from sklearn.linear_model import Lasso, Ridge

from lessons_lib import data
from lessons_lib import regularization as reg


def test_bootstrap_refits_on_resamples_reproducibly():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3))
    y = x @ np.array([1.0, 0.0, -2.0]) + 0.1 * rng.normal(size=50)
    a = reg.bootstrap_coefficients(Ridge(alpha=1.0), x, y, resamples=5, seed=1)
    b = reg.bootstrap_coefficients(Ridge(alpha=1.0), x, y, resamples=5, seed=1)
    assert a.shape == (5, 3) and np.array_equal(a, b)
    assert not np.allclose(a[0], a[1])               # different resamples, different fits
    with pytest.raises(ValueError):
        reg.bootstrap_coefficients(Ridge(), x, y, resamples=1)


def test_stability_measures_on_hand_made_coefficients():
    coefs = np.array([[1.0, 0.0, 0.5], [1.0, 0.2, -0.5], [1.0, 0.0, 0.5], [1.0, 0.0, 0.5]])
    out = reg.stability(coefs, np.array([1.0, 0.0, 0.5]), top=1)
    assert out["mean zeros"] == 0.75
    assert out["in doubt"] == 1                       # feature 1: chosen in 1 of 4
    assert out["sign flips"] == 1                     # feature 2 takes both signs
    assert out["top-1 agreement"] == 1.0


def test_l1_is_sparse_and_l2_is_not_on_diabetes():
    split = data.diabetes()
    table = reg.penalty_table({"L1": Lasso(alpha=0.05), "L2": Ridge(alpha=30.0)},
                              split.x_train, split.y_train, split.x_test, split.y_test,
                              resamples=20)
    zeros = table.row(measure="exact zeros")
    assert zeros["L1"] > 0 and zeros["L2"] == 0
    assert table.row(measure="in doubt")["L2"] == 0
    assert [row["measure"] for row in table][:4] == ["exact zeros", "‖w‖₁", "‖w‖₂", "val MSE"]


@pytest.mark.parametrize("options, kinds", [
    ({}, ["Linear", "ReLU", "Linear"]),
    ({"batchnorm": True}, ["Linear", "BatchNorm1d", "ReLU", "Linear"]),
    ({"batchnorm": True, "dropout": 0.5}, ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]),
])
def test_small_net_is_the_classic_model(options, kinds):
    net = reg.small_net(**options)
    assert [type(m).__name__ for m in net] == kinds
    assert net[0].in_features == 10 and net[0].out_features == 20 and net[-1].out_features == 1
    assert torch.equal(reg.small_net(**options)[0].weight, net[0].weight)   # seeded
    with pytest.raises(ValueError):
        reg.small_net(dropout=1.0)


def test_he_init_has_the_he_variance_and_biases_start_at_zero():
    net = reg.deep_mlp(3, width=256, inputs=256, init="he")
    weight = net.blocks[0][0].weight
    assert abs(weight.std().item() / np.sqrt(2 / 256) - 1) < 0.02
    assert net.blocks[0][0].bias.abs().max() == 0
    small = reg.deep_mlp(2, width=256, inputs=256, init="small")
    assert abs(small.blocks[0][0].weight.std().item() / 0.01 - 1) < 0.02
    with pytest.raises(ValueError):
        reg.deep_mlp(2, init="lecun")


def test_layer_statistics_see_vanishing_and_residual_blocks_run_once():
    x, y = torch.randn(64, 64), torch.randint(0, 10, (64,))
    loss = torch.nn.CrossEntropyLoss()
    small = reg.layer_statistics(reg.deep_mlp(10, init="small"), x, y, loss)
    he = reg.layer_statistics(reg.deep_mlp(10, init="he"), x, y, loss)
    assert len(he) == 10 and small.column("activation_std")[-1] < 1e-10
    assert 0.1 < he.column("activation_std")[-1] / he.column("activation_std")[0] < 10
    net = reg.deep_mlp(4, init="he", residual=True)
    assert len(reg.layer_statistics(net, x, y, loss)) == 4    # one row per block
    assert all(p.grad is None for p in net.parameters())     # gradients cleared


def test_mean_loss_weights_batches_by_size_in_eval_mode():
    net = reg.small_net(dropout=0.5)
    x, y = torch.randn(10, 10), torch.randn(10, 1)
    batches = [(x[:7], y[:7]), (x[7:], y[7:])]
    net.train()
    with torch.no_grad():
        net.eval()
        expected = torch.nn.functional.mse_loss(net(x), y).item()
        net.train()
    assert np.isclose(reg.mean_loss(net, batches, torch.nn.MSELoss()), expected, rtol=1e-6)
    assert net.training                                         # mode restored


def test_stable_learning_rates_counts_divergence():
    x = np.random.default_rng(0).normal(size=(64, 10)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    batches = lambda: data.torch_loader(x, y, batch_size=16, seed=0, drop_last=True)
    table = reg.stable_learning_rates(lambda seed: reg.small_net(seed=seed), batches,
                                      loss=torch.nn.MSELoss(), lrs=[0.01, 100.0],
                                      epochs=3, seeds=(0, 1), device="cpu")
    assert list(table.column("stable")) == [2, 0] and list(table.column("runs")) == [2, 2]
    assert table.row(lr=100.0)["worst loss"] is None
    assert reg.largest_stable(table) == 0.01
