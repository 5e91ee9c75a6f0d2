"""lessons_lib.scale: lesson 14's measurements, each checked against what it
must equal (exact counts, torch.finfo, a direct computation)."""
import numpy as np
import pytest
import torch

from lessons_lib import data, linear, scale


def test_quantize_blockwise_is_8_bits_plus_a_scale_per_block_and_within_half_a_step():
    t = torch.randn(1000) * torch.logspace(-3, 0, 1000)
    codes, scales, restored = scale.quantize_blockwise(t, block=256)
    assert codes.dtype == torch.int8 and codes.numel() == 1024 and scales.numel() == 4
    assert scale.tensor_bytes([codes, scales]) == 1024 + 4 * 4
    blocks = torch.nn.functional.pad(t, (0, 24)).reshape(4, 256)
    step = blocks.abs().amax(dim=1, keepdim=True) / 127
    error = torch.nn.functional.pad(restored - t, (0, 24)).reshape(4, 256).abs()
    assert torch.all(error <= step / 2 + 1e-7)


def mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.Linear(32, 32))


def test_adam_keeps_two_tensors_per_parameter_and_zero_splits_them():
    params = list(mlp().parameters())
    for p in params:
        p.grad = torch.ones_like(p)
    adam = torch.optim.Adam(params, lr=1e-3)
    adam.step()
    steps = 4 * len(params)                      # one float32 step counter per tensor
    assert scale.state_bytes(adam) == 2 * scale.tensor_bytes(params) + steps
    shards = scale.zero_shard_bytes(mlp().parameters(), 2, lambda p: torch.optim.Adam(p))
    assert sum(shards) == scale.state_bytes(adam)
    assert shards[0] == shards[1]                # two equal layers: one each


def test_optimizer_state_table_ratios():
    table = scale.optimizer_state_table(mlp, ranks=2)
    ratio = {row["optimizer"]: row["× params"] for row in table}
    assert ratio["SGD"] == 0
    assert ratio["SGD + momentum"] == pytest.approx(1)
    assert ratio["Adam"] == pytest.approx(2, abs=0.01)
    assert ratio["Adam, ZeRO-1 over 2 ranks"] == pytest.approx(1, abs=0.01)
    assert ratio["Adafactor"] < 0.5 and ratio["Adam, 8-bit m and v"] < 1


def test_precision_table_matches_finfo_and_flushes_tiny_gradients_in_fp16_only():
    weights = torch.linspace(0.1, 1, 100)
    grads = torch.full((100,), 1e-9)
    table = {row["dtype"]: row for row in scale.precision_table(weights, grads)}
    assert table["float16"]["eps"] == torch.finfo(torch.float16).eps == 2 ** -10
    assert table["bfloat16"]["eps"] == 2 ** -7
    assert table["float16"]["grads_to_zero"] == 1 and table["bfloat16"]["grads_to_zero"] == 0
    assert table["float32"]["weight_roundoff"] == 0
    assert table["bfloat16"]["weight_roundoff"] <= 2 ** -9      # half an ulp, relative


def test_loss_scaling_rescues_underflow_and_too_much_overflows():
    grads = torch.tensor([1e-9, 1e-6, 1e-3])
    rows = scale.loss_scaling(grads, scales=(1, 2 ** 16, 2 ** 30))
    assert rows[0]["underflow"] == pytest.approx(1 / 3)      # 1e-9 -> 0 in fp16
    assert rows[1]["underflow"] == 0 and rows[1]["overflow"] == 0
    assert rows[1]["median_error"] < 2 ** -10
    assert rows[2]["overflow"] == pytest.approx(1 / 3)      # 1e-3 · 2^30 > 65504


def test_noise_scale_trace_matches_the_per_row_gradients():
    split = data.diabetes()
    x, y = split.x_train, split.y_train
    theta = np.zeros(x.shape[1] + 1)
    Z = linear.design_matrix(x)
    per_row = 2 * (Z @ theta - y)[:, None] * Z
    trace = np.mean(np.sum((per_row - per_row.mean(0)) ** 2, axis=1))
    measured = scale.noise_scale(x, y, theta, draws=300)
    assert measured["trace"] == pytest.approx(trace, rel=0.1)
    assert measured["grad_sq"] == pytest.approx(np.sum(per_row.mean(0) ** 2), rel=1e-12)
    assert measured["B_noise"] == pytest.approx(measured["trace"] / measured["grad_sq"])


def test_linear_scaling_base_batch_first_and_ratio_one_there():
    table = scale.linear_scaling([8, 16], base_batch=8, base_lr=0.05, epochs=1)
    assert table[0]["ratio_no_warmup"] == 1 and table[0]["ratio_warmup"] == 1
    assert table[1]["lr"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="batch_sizes must start with base_batch=8"):
        scale.linear_scaling([16, 8], base_batch=8, base_lr=0.05, epochs=1)


def test_scaled_sgd_warmup_ramps_the_learning_rate():
    # One update of a full batch: warmup over 2 steps takes half the step.
    plain = scale.scaled_sgd(1077, 0.5, epochs=1)[0]
    warmed = scale.scaled_sgd(1077, 0.5, epochs=1, warmup_steps=2)[0]
    half = scale.scaled_sgd(1077, 0.25, epochs=1)[0]
    assert warmed == half and warmed != plain


def test_random_plane_centre_is_the_model_and_directions_are_filter_normalised():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))
    x, y = torch.randn(20, 3), torch.randn(20, 1)
    plane = scale.random_plane(net, torch.nn.MSELoss(), x, y, span=1.0, steps=5)
    assert plane.losses.shape == (5, 5)
    with torch.no_grad():
        loss = float(torch.nn.MSELoss()(net(x), y))
    assert plane.losses[2, 2] == pytest.approx(loss, rel=1e-6)
    params = dict(net.named_parameters())
    d1, d2 = scale.random_directions(params, seed=0)
    w = params["0.weight"].detach()
    assert torch.allclose(d1["0.weight"].norm(dim=1), w.norm(dim=1))
    assert torch.count_nonzero(d1["0.bias"]) == 0 and not torch.equal(d1["0.weight"],
                                                                        d2["0.weight"])
    assert plane.plot() is not None


def test_checkpointing_table_keeps_less_for_deep_models():
    table = scale.checkpointing_table([2, 16], width=16, batch=8)
    assert table[1]["memory_ratio"] < 0.6 and table[1]["checkpointed_bytes"] > 0
    # 16 Linears, 6 segments of 5 modules (the last, run plainly, of 7): at most the
    # 13 Linears of the first five segments run twice (29 forwards instead of 16);
    # torch stops a recomputation once the tensors backward needs are back, so fewer.
    assert 1.5 <= table[1]["forwards_ratio"] <= 29 / 16


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_amp_saves_time_and_memory_on_a_gpu():
    wide = lambda: torch.nn.Sequential(torch.nn.Linear(2048, 2048), torch.nn.GELU(),  # noqa: E731
                                       torch.nn.Linear(2048, 2048))
    table = scale.amp_savings(wide, torch.randn(512, 2048), torch.randn(512, 2048))
    assert table[1]["ms_per_step"] < table[0]["ms_per_step"]
    assert table[1]["peak_MiB"] < table[0]["peak_MiB"]
