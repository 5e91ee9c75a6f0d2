"""Data parallelism, gradient accumulation and activation checkpointing in
`harness.torch.fit`: each proven equal to the plain single-process run.

The `distributed` tests launch real process groups (torchrun, gloo on the CPU);
they run everywhere, GPU or not, and are never skipped."""
import os
import subprocess
import sys

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
    assert_same_weights(saved["weights"], net.state_dict(), atol=1e-5)  # weights ~1, float32
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
    assert_same_weights(torch.load(out)["weights"], net.state_dict(), atol=1e-5)


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
    assert not distributed.active() and distributed.setup() is None   # not under torchrun
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
    # Plainly each Linear keeps its input: 13 tensors of 256×64. In ⌈√24⌉ = 5 segments
    # (4 of 4 modules, the last of 8, which checkpoint_sequential runs plainly) 9 stay.
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


# -- tf.distribute ------------------------------------------------------------------

@pytest.mark.distributed
@pytest.mark.keras
def test_mirrored_strategy_over_two_logical_cpus_trains_like_one_device():
    import json
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "lessons_lib.mirrored_example"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result["replicas"] == 2
    assert result["loss_mirrored"] == pytest.approx(result["loss_single"], rel=1e-5)
    assert result["loss_single"][-1] < 0.95 * result["loss_single"][0]      # it trained
    assert result["max_weight_gap"] < 1e-5                                  # float32 round-off


@pytest.mark.keras
def test_keras_fit_refuses_a_model_built_outside_the_strategy():
    import keras
    import numpy as np
    import tensorflow as tf

    from lessons_lib.harness import keras as keras_harness

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    x = np.zeros((8, 2), "float32")
    with pytest.raises(ValueError, match="strategy.scope"):
        keras_harness.fit(model, (x, x[:, :1]), loss="mse", optimizer="sgd", epochs=1,
                          strategy=tf.distribute.MirroredStrategy(["/cpu:0"]), progress=False)
    with pytest.raises(ValueError, match="strategy='mirrored'"):
        keras_harness.fit(model, (x, x[:, :1]), loss="mse", optimizer="sgd", epochs=1,
                          strategy="mirrored", progress=False)


# -- Ray Tune -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def local_ray():
    import psutil     # installed with ipykernel; never skip these tests

    from lessons_lib import tuning
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with tuning.local_ray(num_cpus=2) as ray:
        yield ray
    assert not ray.is_initialized()
    leftover = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    psutil.wait_procs(leftover, timeout=10)
    assert not [p for p in leftover if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.distributed
def test_ray_tune_with_asha_returns_the_best_configuration(local_ray):
    from lessons_lib import tuning
    results = tuning.ray_search(budget=8, epochs=4, seed=0, params={"momentum": 0.9})
    trials = tuning.ray_trials(results)
    assert len(trials) == 8 and not results.errors
    best = results.get_best_result().config
    finished = [t for t in trials if t["epochs"] == 4]
    assert best["lr"] == min(finished, key=lambda t: t["loss"])["lr"]
    assert 1e-4 <= best["lr"] <= 10
    assert any(t["epochs"] < 4 for t in trials)          # ASHA stopped some early
    # The winner's loss is what the trial function gives for its config.
    assert min(t["loss"] for t in finished) == pytest.approx(
        tuning.train_and_validate({"lr": best["lr"], "momentum": 0.9}, epochs=4), rel=1e-12)


@pytest.mark.distributed
def test_optuna_and_ray_tune_agree_on_the_best_learning_rate(local_ray):
    import optuna

    from lessons_lib import tuning
    grid = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
    params = {"momentum": 0.9}
    ray_results = tuning.ray_search(grid={"lr": grid}, epochs=3, scheduler=None, params=params)
    study = optuna.create_study(sampler=optuna.samplers.GridSampler({"lr": grid}))
    study.optimize(tuning.optuna_objective({"lr": (grid[0], grid[-1], "log")}, params=params,
                                           epochs=3), n_trials=len(grid))
    by_ray = {t["lr"]: t["loss"] for t in tuning.ray_trials(ray_results)}
    by_optuna = {t.params["lr"]: t.value for t in study.trials}
    assert by_ray == pytest.approx(by_optuna, rel=1e-12)           # the same losses...
    assert ray_results.get_best_result().config["lr"] == study.best_params["lr"]   # ...and winner
    assert study.best_params["lr"] not in (grid[0], grid[-1])       # an interior optimum


@pytest.mark.distributed
def test_local_ray_starts_with_token_auth_and_prints_nothing(tmp_path):
    """Left unset, Ray logs 'Token authentication is enabled for this Ray cluster'
    to stderr on every start: onto lesson 14's slide. Set after Ray is imported,
    the driver and the cluster disagree and the start fails. A fresh home: no
    token yet, so Ray makes one."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}
    done = subprocess.run(
        [sys.executable, "-c", "from lessons_lib import tuning\n"
         "with tuning.local_ray(num_cpus=1) as ray:\n"
         "    print(ray.get(ray.remote(lambda: 6 * 7).remote()))"],
        env={**env, "HOME": str(tmp_path)}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "42"
    assert "Token authentication" not in done.stderr, done.stderr
    assert (tmp_path / ".ray" / "auth_token").exists(), "the cluster ran with a token"


def test_local_ray_starts_no_idle_workers_and_leaves_a_running_ray_alone(monkeypatch):
    """Tune's trials carry a runtime_env, so they never run in workers started ahead;
    those would only slow the start (lesson 14: init 7.5 -> 5.4 s without them)."""
    from types import SimpleNamespace

    from lessons_lib import tuning
    calls = []
    fake = SimpleNamespace(init=lambda **options: calls.append(options),
                           is_initialized=lambda: bool(calls),
                           shutdown=lambda: calls.append("down"))
    monkeypatch.setattr(tuning, "_ray", lambda: (fake, None))
    with tuning.local_ray(num_cpus=3):
        with tuning.local_ray():           # inside a running Ray: no second start
            pass
    assert calls[0]["num_cpus"] == 3
    assert calls[0]["_system_config"] == {"prestart_worker_first_driver": False}
    assert calls[1:] == ["down"]


def test_ray_search_checks_its_arguments():
    from lessons_lib import tuning
    with pytest.raises(ValueError, match="scheduler='hyperband'"):
        tuning.ray_search(budget=2, scheduler="hyperband")
    with pytest.raises(ValueError, match="budget=None"):
        tuning.ray_search()
