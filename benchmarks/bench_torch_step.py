"""Our `to_torch` step against torch.optim's default step, for every optimizer.

~1M parameters in 4 tensors (two linear layers' weights and biases), the same
gradients every step. Every backend of the adapter is timed ("single": one
rule call per tensor, "foreach": one per group, "compiled": inductor, and
"auto", the default, which picks one of them); `scratch_step_ratio` is the
default backend's, what `opt.to_torch(params)` gives a user, or the one asked for.
"""
import torch

from lessons_lib import optim

from .timing import side_by_side

SHAPES = {"full": [(512, 1024), (512,), (1024, 512), (1024,)],   # 1,050,112 parameters
          "tiny": [(8, 4), (8,), (4, 8), (4,)]}
BACKENDS = ("auto", "single", "foreach", "compiled")


def _params(shapes):
    g = torch.Generator().manual_seed(0)
    params = [torch.randn(s, generator=g).requires_grad_() for s in shapes]
    for p in params:
        p.grad = torch.randn(p.shape, generator=g) * 1e-2
    return params


def run(size="full", backends=None, headline="auto", repeats=None):
    # tiny: a check that it runs, without eleven compiles ("auto" is "single" there)
    backends = backends or (BACKENDS if size == "full" else ("auto", "single", "foreach"))
    repeats = repeats or (9 if size == "full" else 3)
    calls = 10 if size == "full" else 2
    by_backend = {}
    for name, cls in optim.REGISTRY.items():
        rule = cls()
        reference = rule.torch_reference(_params(SHAPES[size]))
        for backend in backends:
            ours = rule.to_torch(_params(SHAPES[size]), backend=backend)
            for _ in range(3):  # warm up (and compile: "auto" compiles at this size)
                ours.step(), reference.step()
            by_backend.setdefault(backend, {})[name] = side_by_side(
                ours.step, reference.step, repeats=repeats, calls=calls)
    headline = headline if headline in by_backend else backends[0]
    return {"scratch_step_ratio": {n: r["ratio"] for n, r in by_backend[headline].items()},
            "scratch_step": {"backend": headline,
                             "parameters": sum(p.numel() for p in _params(SHAPES[size])),
                             "by_backend": by_backend}}


def describe(figures):
    detail = figures["scratch_step"]
    lines = [f"our to_torch step / torch.optim default step, {detail['parameters']:,} parameters "
             "in 4 tensors (ratio of medians [lowest, highest per repeat]); goal <= 1.2"]
    backends = list(detail["by_backend"])
    lines.append("  " + f"{'':<10}" + "".join(f"{b:>24}" for b in backends))
    for name in figures["scratch_step_ratio"]:
        cells = []
        for b in backends:
            r = detail["by_backend"][b][name]
            mark = "✓" if r["ratio"] <= 1.2 else "✗"
            cells.append(f"{r['ratio']:>6.2f} {mark} [{r['spread'][0]:.2f}, {r['spread'][1]:.2f}]")
        lines.append(f"  {name:<10}" + "".join(f"{c:>24}" for c in cells))
    first = next(iter(detail["by_backend"].values()))
    repeats = next(iter(first.values()))["repeats"]
    lines.append(f"  headline backend: {detail['backend']}; {repeats} repeats")
    return "\n".join(lines)
