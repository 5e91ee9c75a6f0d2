"""The torch harness's `fit` against the textbook loop that reads the loss with
`.item()` after every step (the naive baseline), on the same model and data.

Both run the five steps on batches already on the device, so the difference is
the loop itself: `.item()` makes the CPU wait for the GPU every step, while
`fit` reads the device once per epoch (and adds a little bookkeeping per step).
On a CPU there is nothing to wait for, and the ratio shows that bookkeeping.
"""
import torch
from torch import nn

from lessons_lib.devices import pick_device
from lessons_lib.harness.torch import fit

from .timing import side_by_side

REPEATS = 11  # one repeat is ~0.15 s; 5 left the median at the mercy of a shared CPU
EPOCHS = 3
SIZES = {  # samples, features, hidden, classes, batch size
    "cpu": (8192, 32, 64, 10, 64),
    "cuda": (65536, 256, 512, 10, 256),
    "mps": (16384, 128, 256, 10, 128),
}


def _problem(device, size="full"):
    n, features, hidden, classes, batch = SIZES[device.type]
    if size == "tiny":
        n = 4 * batch
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, features, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    batches = [(X[i:i + batch].to(device), y[i:i + batch].to(device)) for i in range(0, n, batch)]

    def model():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                             nn.ReLU(), nn.Linear(hidden, classes)).to(device)

    return batches, model


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _naive(model, batches, epochs):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        total = 0.0
        for x, y in batches:
            pred = model(x)
            loss = loss_fn(pred, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()  # the per-step host read
    return total / len(batches)


def _ours(model, batches, epochs, device, amp):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    history = fit(model, batches, loss=nn.CrossEntropyLoss(), optimizer=optimizer, epochs=epochs,
                  device=device, amp=amp, progress=False)
    return history[-1]["train_loss"]


def run(size="full", repeats=None):
    device = pick_device("auto")
    batches, model = _problem(device, size)
    epochs = EPOCHS if size == "full" else 1
    repeats = repeats or (REPEATS if size == "full" else 2)
    naive = lambda: _naive(model(), batches, epochs)  # noqa: E731
    contenders = {"fit": lambda: _ours(model(), batches, epochs, device, amp=False)}
    if device.type == "cuda":
        contenders["fit_amp"] = lambda: _ours(model(), batches, epochs, device, amp="auto")
    naive(), [train() for train in contenders.values()]  # warm up: allocator, lazy imports
    sync = lambda: _sync(device)  # noqa: E731
    results = {name: side_by_side(train, naive, repeats=repeats, sync=sync)
               for name, train in contenders.items()}
    steps = epochs * len(batches)
    return {"torch_harness_overhead": results["fit"]["ratio"],
            "torch_harness": {"device": str(device), "device_name": _device_name(device),
                              "steps": steps, "batch_size": SIZES[device.type][4],
                              "epoch_time_ratio": results,
                              "fit_steps_per_s": round(steps / results["fit"]["ours_ms"] * 1e3, 1),
                              "naive_steps_per_s":
                                  round(steps / results["fit"]["reference_ms"] * 1e3, 1)}}


def _device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return device.type


def describe(figures):
    h = figures["torch_harness"]
    lines = [f"torch harness fit / the textbook loop (.item() every step), epoch time; "
             f"device {h['device']} ({h['device_name']}), {h['steps']} steps of batch "
             f"{h['batch_size']}; goal <= 1.03 on a CPU, <= 1.0 on a GPU"]
    goal = 1.03 if h["device"] == "cpu" else 1.0
    for name, r in h["epoch_time_ratio"].items():
        mark = "✓" if r["ratio"] <= goal else "✗"
        lines.append(f"  {name:<8}{r['ratio']:>6.3f} {mark} [{r['spread'][0]:.3f}, "
                     f"{r['spread'][1]:.3f}] over {r['repeats']} repeats   "
                     f"({h['fit_steps_per_s']:.0f} vs {h['naive_steps_per_s']:.0f} steps/s)")
    return "\n".join(lines)
