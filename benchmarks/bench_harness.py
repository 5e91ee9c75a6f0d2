"""The torch harness's `fit` against the textbook loop that reads the loss with
`.item()` after every step (the naive baseline), on the same model and data.

Both run the five steps on batches already on the device, so the difference is
the loop itself: `.item()` makes the CPU wait for the GPU every step, while
`fit` reads the device once per epoch (and adds a little bookkeeping per step).
On a CPU there is nothing to wait for, and the ratio shows that bookkeeping.

Two figures, the two alternating over several repeats:

- the epoch time (the headline, what the goal is about): each epoch after the
  first, timed from its start to its figures (fit: History's "seconds", which
  span the whole epoch: the weights' snapshot, the steps, the one read of the
  losses and the finiteness check; the textbook loop: a clock around its epoch);
  the ratio is of the medians of those epochs.
- the whole run, set-up included: `fit`'s once-per-call checks (a first
  forward pass, the labels' range) and its first epoch.

The textbook loop also runs a second time in each repeat, as an A/A control:
its epoch ratio against the first is what noise alone gives on this machine.
"""
import statistics
import time

import torch
from torch import nn

from lessons_lib.devices import pick_device
from lessons_lib.harness.torch import fit

from .timing import against_reference, device_sync, rotating

REPEATS = 31  # one repeat is ~0.5 s; with 11, single repeats strayed 0.73-1.41 and the median ±0.05
EPOCHS = 4
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


def _naive(model, batches, epochs):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    seconds = []
    for _ in range(epochs):
        started = time.perf_counter()
        total = 0.0
        for x, y in batches:
            pred = model(x)
            loss = loss_fn(pred, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()  # the per-step host read
        seconds.append(time.perf_counter() - started)
    return seconds


def _ours(model, batches, epochs, device, amp):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    history = fit(model, batches, loss=nn.CrossEntropyLoss(), optimizer=optimizer, epochs=epochs,
                  device=device, amp=amp, progress=False)
    return [row["seconds"] for row in history]


def run(size="full", repeats=None):
    device = pick_device("auto")
    batches, model = _problem(device, size)
    epochs = EPOCHS if size == "full" else 2
    repeats = repeats or (REPEATS if size == "full" else 2)
    naive = lambda: _naive(model(), batches, epochs)  # noqa: E731
    contenders = {"fit": lambda: _ours(model(), batches, epochs, device, amp=False)}
    if device.type == "cuda":
        contenders["fit_amp"] = lambda: _ours(model(), batches, epochs, device, amp="auto")
    naive(), [train() for train in contenders.values()]  # warm up: allocator, lazy imports
    runs = rotating({**contenders, "reference": naive, "control": naive}, repeats=repeats,
                    sync=lambda: device_sync(device))
    whole_ratio = {name: against_reference(runs, name, lambda run: run[0])
                   for name in contenders}
    epoch_ratio = {name: against_reference(runs, name, lambda run: statistics.median(run[1][1:]))
                   for name in [*contenders, "control"]}
    control = epoch_ratio.pop("control")
    steps = len(batches)  # per epoch
    return {"torch_harness_overhead": epoch_ratio["fit"]["ratio"],
            "torch_harness": {"device": str(device), "device_name": _device_name(device),
                              "steps_per_epoch": steps, "epochs": epochs,
                              "batch_size": SIZES[device.type][4],
                              "epoch_time_ratio": epoch_ratio, "whole_run_ratio": whole_ratio,
                              "control": control,
                              "fit_steps_per_s":
                                  round(steps / epoch_ratio["fit"]["ours_ms"] * 1e3, 1),
                              "naive_steps_per_s":
                                  round(steps / epoch_ratio["fit"]["reference_ms"] * 1e3, 1)}}


def _device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return device.type


def describe(figures):
    h = figures["torch_harness"]
    lines = [f"torch harness fit / the textbook loop (.item() every step); device {h['device']} "
             f"({h['device_name']}), {h['epochs']} epochs of {h['steps_per_epoch']} steps of "
             f"batch {h['batch_size']}; goal <= 1.03 on a CPU, <= 1.0 on a GPU"]
    goal = 1.03 if h["device"] == "cpu" else 1.0
    for name, r in h["epoch_time_ratio"].items():
        mark = "✓" if r["ratio"] <= goal else "✗"
        w = h["whole_run_ratio"][name]
        lines.append(f"  {name:<8} epoch {r['ratio']:.3f} {mark} [{r['spread'][0]:.3f}, "
                     f"{r['spread'][1]:.3f}] over {r['repeats']} repeats ({r['ours_ms']:.1f} ms "
                     f"vs {r['reference_ms']:.1f} ms: {h['fit_steps_per_s']:.0f} vs "
                     f"{h['naive_steps_per_s']:.0f} steps/s)\n"
                     f"           whole run, set-up included {w['ratio']:.3f} "
                     f"[{w['spread'][0]:.3f}, {w['spread'][1]:.3f}]")
    c = h["control"]
    lines.append(f"  A/A control, the textbook loop / itself again, epoch {c['ratio']:.3f} "
                 f"[{c['spread'][0]:.3f}, {c['spread'][1]:.3f}]: what noise alone gives here")
    return "\n".join(lines)
