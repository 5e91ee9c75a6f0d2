"""Lesson 11's CNN (`vision.tutorial_cnn`), which is built channels-last, against
the same model in the default contiguous layout: one training step (forward,
backward, Adam), the same weights and batch, at the lesson's two image sizes
(digits 1×8×8, CIFAR-10 3×32×32), batch 64, on the device lessons use.

The plain layout also runs a second time in each repeat, as an A/A control.
"""
import torch

from lessons_lib import vision
from lessons_lib.devices import pick_device

from .timing import against_reference, device_sync, rotating

IMAGES = {"digits": (1, 8), "cifar": (3, 32)}   # channels, side
BATCH = 64


def _step(channels, side, layout, device):
    model = vision.tutorial_cnn(channels, side).to(device)
    if layout == "plain":
        model = model.to(memory_format=torch.contiguous_format)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, channels, side, side, generator=g).to(device)
    y = torch.randint(0, 10, (BATCH,), generator=g).to(device)
    adam, loss = torch.optim.Adam(model.parameters()), torch.nn.CrossEntropyLoss()

    def step():
        adam.zero_grad()
        loss(model(x), y).backward()
        adam.step()
    return step


def run(size="full", repeats=None):
    device = pick_device()
    repeats = repeats or (9 if size == "full" else 2)
    results = {}
    for name, (channels, side) in IMAGES.items():
        calls = {"digits": 40, "cifar": 8}[name] if size == "full" else 2
        steps = {"ours": _step(channels, side, "channels_last", device),
                 "reference": _step(channels, side, "plain", device),
                 "control": _step(channels, side, "plain", device)}
        for step in steps.values():   # warm up: oneDNN picks its kernels on the first calls
            step(), step()
        runs = rotating({k: (lambda s=s: [s() for _ in range(calls)]) for k, s in steps.items()},
                        repeats=repeats, sync=lambda: device_sync(device))
        per_step = lambda run: run[0] / calls   # noqa: E731
        results[name] = {"layout": against_reference(runs, "ours", per_step),
                         "control": against_reference(runs, "control", per_step)}
    return {"cnn_layout_ratio": {n: r["layout"]["ratio"] for n, r in results.items()},
            "cnn_layout": {"device": str(device), **results}}


def describe(figures):
    lines = [f"lesson 11's CNN, channels-last (as built) / contiguous, one Adam training "
             f"step, batch {BATCH}, on {figures['cnn_layout']['device']} "
             "(ratio of medians [lowest, highest per repeat]); below 1 is faster"]
    for name, r in figures["cnn_layout"].items():
        if name == "device":
            continue
        ours, control = r["layout"], r["control"]
        lines.append(f"  {name:<7}{ours['ratio']:>6.2f} [{ours['spread'][0]:.2f}, "
                     f"{ours['spread'][1]:.2f}]   {ours['ours_ms']:.2f} ms vs "
                     f"{ours['reference_ms']:.2f} ms;   A/A control {control['ratio']:.2f}")
    repeats = figures["cnn_layout"]["digits"]["layout"]["repeats"]
    lines.append(f"  {repeats} repeats")
    return "\n".join(lines)
