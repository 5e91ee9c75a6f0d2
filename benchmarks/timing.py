"""Side-by-side timing: A and B alternate, so load on a shared machine hits both alike."""
import statistics
import time


def side_by_side(ours, reference, *, repeats, calls=1, sync=lambda: None):
    """Median time of `ours` over the median time of `reference` (both zero-argument).

    Each repeat times `calls` calls of one, then of the other (the order swaps
    every repeat). Returns the ratio of medians, the repeat count and the
    spread: the lowest and highest per-repeat ratio.
    """
    times = {"ours": [], "reference": []}
    for repeat in range(repeats):
        pair = [("ours", ours), ("reference", reference)]
        for name, fn in (pair if repeat % 2 == 0 else pair[::-1]):
            sync()
            started = time.perf_counter()
            for _ in range(calls):
                fn()
            sync()
            times[name].append((time.perf_counter() - started) / calls)
    per_repeat = [a / b for a, b in zip(times["ours"], times["reference"])]
    ours_s, reference_s = (statistics.median(times[k]) for k in ("ours", "reference"))
    return {"ratio": round(ours_s / reference_s, 3), "repeats": repeats,
            "spread": [round(min(per_repeat), 3), round(max(per_repeat), 3)],
            "ours_ms": round(ours_s * 1e3, 3), "reference_ms": round(reference_s * 1e3, 3)}
