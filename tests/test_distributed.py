"""Data parallelism, gradient accumulation and activation checkpointing in
`harness.torch.fit`: each proven equal to the plain single-process run.

The `distributed` tests launch real process groups (torchrun, gloo on the CPU);
they run everywhere, GPU or not, and are never skipped."""
import os

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lessons_lib import ddp_example
from lessons_lib.harness import distributed, recompute
from lessons_lib.harness import torch as harness

MODULE = "lessons_lib.ddp_example"


def launch(*args, env=None):
    return distributed.torchrun(MODULE, *args, nproc=2, timeout=90, env=env)


def assert_same_weights(a, b, atol):
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=atol, msg=name)


@pytest.mark.distributed
def test_two_ranks_equal_one_process_on_the_combined_batch(tmp_path):
    out = tmp_path / "ddp.pt"
    run = launch("--out", out, "--batch", 8)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("final train loss") == 1      # only rank 0 prints
    saved = torch.load(out)
    assert saved["world_size"] == 2
    net, history = ddp_example.single_process(16)
    assert_same_weights(saved["weights"], net.state_dict(), atol=1e-6)
    for ddp_row, row in zip(saved["history"], history.rows, strict=True):
        assert ddp_row["train_loss"] == pytest.approx(row["train_loss"], rel=1e-6)
        assert ddp_row["lr"] == pytest.approx(row["lr"], rel=1e-12)
    # ...and it trained: not a pair of untouched models that agree trivially.
    assert history.rows[-1]["train_loss"] < 0.95 * history.rows[0]["train_loss"]


@pytest.mark.distributed
def test_two_ranks_accumulating_equal_one_process_on_the_combined_batch(tmp_path):
    out = tmp_path / "ddp_acc.pt"
    run = launch("--out", out, "--batch", 4, "--accumulate", 2)  # 2 ranks × 4 × 2 = 16
    assert run.returncode == 0, run.stderr[-3000:]
    net, _ = ddp_example.single_process(16)
    assert_same_weights(torch.load(out)["weights"], net.state_dict(), atol=1e-6)


@pytest.mark.distributed
def test_ddp_run_killed_and_resumed_equals_the_uninterrupted_one(tmp_path):
    whole, resumed, checkpoint = tmp_path / "whole.pt", tmp_path / "resumed.pt", tmp_path / "ck.pt"
    assert launch("--out", whole, "--epochs", 5).returncode == 0
    killed = launch("--out", resumed, "--epochs", 5, "--checkpoint", checkpoint, "--kill-at", 3)
    assert killed.returncode != 0 and not resumed.exists()          # it really crashed
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 2   # after epoch 2's save
    run = launch("--out", resumed, "--epochs", 5, "--checkpoint", checkpoint)
    assert run.returncode == 0, run.stderr[-3000:]
    a, b = torch.load(whole), torch.load(resumed)
    assert_same_weights(a["weights"], b["weights"], atol=0)
    assert [r["train_loss"] for r in a["history"]] == [r["train_loss"] for r in b["history"]]


@pytest.mark.distributed
def test_divergence_stops_every_rank_with_the_same_message(tmp_path):
    out = tmp_path / "nan.pt"
    run = launch("--out", out, "--lr", 1e25)   # float32 overflows
    assert run.returncode != 0 and not out.exists()
    messages = [(tmp_path / f"nan.pt.rank{r}.txt").read_text() for r in (0, 1)]
    assert messages[0] == messages[1]
    assert "NaN or infinite at epoch 1" in messages[0] and "try lr <=" in messages[0]


def test_without_torchrun_the_helpers_are_no_ops():
    loader = DataLoader(ddp_example.problem(), batch_size=8)
    module = torch.nn.Linear(2, 1)
    assert not distributed.launched() or "WORLD_SIZE" in os.environ
    assert distributed.world_size() == 1 and distributed.rank() == 0 and distributed.is_main()
    assert distributed.shard(loader) is loader
    assert distributed.wrap(module, torch.device("cpu")) is module
    values = torch.tensor([1.0, 2.0])
    assert distributed.mean_over_ranks(values) is values


# -- gradient accumulation ----------------------------------------------------------

def regression(samples=96, features=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, features, generator=g, dtype=torch.float64)
    return TensorDataset(x, torch.sin(x.sum(1, keepdim=True)))


def mlp(batch_norm=False):
    torch.manual_seed(0)
    layers = [torch.nn.Linear(6, 16)] + ([torch.nn.BatchNorm1d(16)] if batch_norm else [])
    return torch.nn.Sequential(*layers, torch.nn.Tanh(), torch.nn.Linear(16, 1)).double()


def trained(batch, accumulate=1, batch_norm=False, samples=96, **options):
    net = mlp(batch_norm)
    harness.fit(net, DataLoader(regression(samples), batch_size=batch), loss=torch.nn.MSELoss(),
                optimizer=torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9), epochs=3,
                progress=False, device="cpu", accumulate=accumulate, **options)
    return net.state_dict()


@pytest.mark.parametrize("samples", [96, 90])   # 90: a shorter last batch and group
def test_accumulating_k_batches_equals_one_batch_k_times_larger(samples):
    big = trained(32, samples=samples)
    accumulated = trained(8, accumulate=4, samples=samples)
    assert_same_weights(big, accumulated, atol=1e-12)
    assert any((big[k] - trained(8, samples=samples)[k]).abs().max() > 1e-3 for k in big)


def test_with_batch_norm_accumulation_is_not_a_larger_batch():
    big, accumulated = trained(32, batch_norm=True), trained(8, accumulate=4, batch_norm=True)
    gap = max((big[k].double() - accumulated[k].double()).abs().max().item() for k in big)
    assert gap > 1e-3     # batch statistics come from 8 samples, not 32


# -- activation checkpointing -------------------------------------------------------

def deep(layers=12, width=64):
    torch.manual_seed(0)
    blocks = [m for _ in range(layers) for m in (torch.nn.Linear(width, width), torch.nn.Tanh())]
    return torch.nn.Sequential(*blocks)


def test_activation_checkpointing_gives_the_same_weights():
    plain = trained(16)
    checkpointed = trained(16, activation_checkpointing=True)
    assert_same_weights(plain, checkpointed, atol=0)


def test_activation_checkpointing_keeps_fewer_activations():
    x = torch.randn(256, 64)
    plain = recompute.saved_activation_bytes(deep(), x)
    kept = recompute.saved_activation_bytes(recompute.ActivationCheckpointed(deep()), x)
    # 24 modules keep ~2 tensors each plainly; ⌈√24⌉ = 5 segments keep their inputs
    # and the last segment's activations.
    assert kept < 0.75 * plain
    grads = []
    for net in (deep(), recompute.ActivationCheckpointed(deep())):
        net(x).pow(2).mean().backward()
        grads.append([p.grad for p in net.parameters()])
    for a, b in zip(*grads):
        assert torch.equal(a, b)


@pytest.mark.parametrize("options, words", [
    ({"accumulate": 0}, "accumulate=0"), ({"accumulate": 1.5}, "accumulate=1.5"),
    ({"activation_checkpointing": "yes"}, "activation_checkpointing='yes'"),
    ({"activation_checkpointing": 99}, "segments=99"),
])
def test_bad_scale_options_are_refused_by_name(options, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        trained(16, **options)


def test_activation_checkpointing_needs_a_sequential_model():
    with pytest.raises(ValueError, match="nn.Sequential"):
        recompute.ActivationCheckpointed(torch.nn.Linear(2, 2))
