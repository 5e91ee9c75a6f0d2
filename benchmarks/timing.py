"""Side-by-side timing: A and B alternate, so load on a shared machine hits both alike.

An A/A control (the reference run once more, as a third contender, and timed
against itself) shows how far this machine's noise alone moves a ratio: a
ratio of ours closer to 1 than the control's is not a measured difference."""
import statistics
import time


def rotating(contenders, *, repeats, sync=lambda: None):
    """Call each of `contenders` ({name: zero-argument function}) once per repeat,
    `repeats` times, the order rotating every repeat (two contenders swap), so
    that over n repeats (n contenders) each runs in every place once. Returns
    {name: [(seconds, result), ...]}, one pair per repeat."""
    names = list(contenders)
    runs = {name: [] for name in names}
    for repeat in range(repeats):
        turn = repeat % len(names)
        for name in names[turn:] + names[:turn]:
            sync()
            started = time.perf_counter()
            result = contenders[name]()
            sync()
            runs[name].append((time.perf_counter() - started, result))
    return runs


def device_sync(device):
    """Wait for `device`'s queued work (CUDA, MPS), so that a clock read after it
    covers that work; nothing on a CPU. For `rotating`'s `sync=`."""
    import torch
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def ratio(ours, reference):
    """Median of `ours` over median of `reference` (seconds, one per repeat), with
    the repeat count and the spread: the lowest and highest per-repeat ratio."""
    per_repeat = [a / b for a, b in zip(ours, reference)]
    ours_s, reference_s = statistics.median(ours), statistics.median(reference)
    return {"ratio": round(ours_s / reference_s, 3), "repeats": len(ours),
            "spread": [round(min(per_repeat), 3), round(max(per_repeat), 3)],
            "ours_ms": round(ours_s * 1e3, 3), "reference_ms": round(reference_s * 1e3, 3)}


def against_reference(runs, name, pick):
    """`ratio` of contender `name` to the one named "reference" in `rotating`'s
    runs, on `pick(run)` of each repeat's (seconds, result)."""
    return ratio(*([pick(run) for run in runs[k]] for k in (name, "reference")))


def side_by_side(ours, reference, *, repeats, calls=1, sync=lambda: None):
    """The time of `calls` calls of `ours` against as many of `reference`: `ratio`
    of the per-call times, the two taking turns (`rotating`)."""
    def times(fn):
        return lambda: [fn() for _ in range(calls)]
    runs = rotating({"ours": times(ours), "reference": times(reference)}, repeats=repeats,
                    sync=sync)
    return against_reference(runs, "ours", lambda run: run[0] / calls)
