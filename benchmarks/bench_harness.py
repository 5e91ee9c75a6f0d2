"""The torch harness's `fit` against the textbook loop that reads the loss with
`.item()` after every step (the naive baseline), on the same model and data.

Both run the five steps on batches already on the device, so the difference is
the loop itself: `.item()` makes the CPU wait for the GPU every step, while
`fit` reads the device once per epoch (and adds a little bookkeeping per step).
On a CPU there is nothing to wait for, and the ratio shows that bookkeeping.
"""
import statistics
import time

import torch
from torch import nn

from lessons_lib.devices import pick_device
from lessons_lib.harness.torch import fit

REPEATS = 5
EPOCHS = 3
SIZES = {  # samples, features, hidden, classes, batch size
    "cpu": (8192, 32, 64, 10, 64),
    "cuda": (65536, 256, 512, 10, 256),
    "mps": (16384, 128, 256, 10, 128),
}


def _problem(device):
    n, features, hidden, classes, batch = SIZES[device.type]
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


def _steps_per_second(train, device, steps):
    _sync(device)
    started = time.perf_counter()
    train()
    _sync(device)
    return steps / (time.perf_counter() - started)


def run():
    device = pick_device("auto")
    batches, model = _problem(device)
    steps = EPOCHS * len(batches)
    contenders = {"naive": lambda: _naive(model(), batches, EPOCHS),
                  "fit": lambda: _ours(model(), batches, EPOCHS, device, amp=False)}
    if device.type == "cuda":
        contenders["fit_amp"] = lambda: _ours(model(), batches, EPOCHS, device, amp="auto")
    for train in contenders.values():  # warm up: allocator, kernels, lazy imports
        train()
    rates = {name: [] for name in contenders}
    for _ in range(REPEATS):  # interleaved, so that load on the machine hits all alike
        for name, train in contenders.items():
            rates[name].append(_steps_per_second(train, device, steps))
    figures = {"device": str(device), "device_name": _device_name(device),
               "steps": steps, "batch_size": SIZES[device.type][4], "repeats": REPEATS}
    for name, values in rates.items():
        # The best run: on a shared machine, slower runs measure the neighbours.
        figures[f"{name}_steps_per_s"] = round(max(values), 1)
        figures[f"{name}_steps_per_s_median"] = round(statistics.median(values), 1)
    for name in rates:
        if name != "naive":
            figures[f"{name}_over_naive"] = round(
                figures[f"{name}_steps_per_s"] / figures["naive_steps_per_s"], 3)
    return figures


def _device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return device.type


def describe(figures):
    lines = [f"device {figures['device']} ({figures['device_name']}), {figures['steps']} steps "
             f"of batch {figures['batch_size']}, best of {figures['repeats']} "
             "(median in brackets)"]
    labels = {"naive": "naive loop (.item() per step)", "fit": "harness fit",
              "fit_amp": "harness fit, amp='auto'"}
    for name, label in labels.items():
        if f"{name}_steps_per_s" not in figures:
            continue
        line = (f"  {label:<30}{figures[f'{name}_steps_per_s']:>10.1f} steps/s "
                f"({figures[f'{name}_steps_per_s_median']:.1f})")
        if name != "naive":
            line += f"   x{figures[f'{name}_over_naive']:.2f} the naive loop"
        lines.append(line)
    return "\n".join(lines)
