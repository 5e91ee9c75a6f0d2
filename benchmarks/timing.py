"""Side-by-side timing: A and B alternate, so load on a shared machine hits both alike."""
import statistics
import time


def alternating(ours, reference, *, repeats, sync=lambda: None):
    """Call `ours` and `reference` (zero-argument) in turn, `repeats` times each,
    the order swapping every repeat. Returns {"ours": [(seconds, result), ...],
    "reference": [...]}, one pair per repeat."""
    runs = {"ours": [], "reference": []}
    for repeat in range(repeats):
        pair = [("ours", ours), ("reference", reference)]
        for name, fn in (pair if repeat % 2 == 0 else pair[::-1]):
            sync()
            started = time.perf_counter()
            result = fn()
            sync()
            runs[name].append((time.perf_counter() - started, result))
    return runs


def ratio(ours, reference):
    """Median of `ours` over median of `reference` (seconds, one per repeat), with
    the repeat count and the spread: the lowest and highest per-repeat ratio."""
    per_repeat = [a / b for a, b in zip(ours, reference)]
    ours_s, reference_s = statistics.median(ours), statistics.median(reference)
    return {"ratio": round(ours_s / reference_s, 3), "repeats": len(ours),
            "spread": [round(min(per_repeat), 3), round(max(per_repeat), 3)],
            "ours_ms": round(ours_s * 1e3, 3), "reference_ms": round(reference_s * 1e3, 3)}


def side_by_side(ours, reference, *, repeats, calls=1, sync=lambda: None):
    """The time of `calls` calls of `ours` against as many of `reference`: `ratio`
    of the per-call times, measured `alternating`ly."""
    def times(fn):
        return lambda: [fn() for _ in range(calls)]
    runs = alternating(times(ours), times(reference), repeats=repeats, sync=sync)
    return ratio(*([seconds / calls for seconds, _ in runs[k]] for k in ("ours", "reference")))
