"""Our `to_keras` optimizer step against Keras's built-in, for every optimizer.

The same four variables as bench_torch_step (~1M parameters), the same
gradients every step; both optimizers' `apply` run inside one
`tf.function(jit_compile=True)` each, as `model.fit` runs them by default.
Each optimizer in its Keras flavor (Keras's defaults and conventions).
"""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from lessons_lib import optim  # noqa: E402

from .bench_torch_step import SHAPES  # noqa: E402
from .timing import side_by_side  # noqa: E402


def _step(optimizer, size, jit):
    import keras
    import numpy as np
    import tensorflow as tf
    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.standard_normal(s).astype("float32")) for s in SHAPES[size]]
    grads = [tf.constant(rng.standard_normal(s).astype("float32") * 1e-2) for s in SHAPES[size]]

    @tf.function(jit_compile=jit)
    def step():
        optimizer.apply(grads, variables)

    return step


def run(size="full", repeats=None):
    repeats = repeats or (9 if size == "full" else 3)
    calls = 10 if size == "full" else 2
    results = {}
    for name, cls in optim.REGISTRY.items():
        rule = cls(flavor="keras")
        jit = size == "full"  # tiny: a check that it runs, without XLA compiles
        ours, reference = (_step(rule.to_keras(), size, jit),
                           _step(rule.keras_reference(), size, jit))
        for _ in range(3):  # warm up: trace and compile
            ours(), reference()
        results[name] = side_by_side(ours, reference, repeats=repeats, calls=calls)
    return {"keras_step_ratio": {n: r["ratio"] for n, r in results.items()},
            "keras_step": results}


def describe(figures):
    lines = ["our to_keras step / Keras's built-in step, same variables, XLA "
             "(ratio of medians [lowest, highest per repeat]); goal <= 1.2"]
    for name, r in figures["keras_step"].items():
        mark = "✓" if r["ratio"] <= 1.2 else "✗"
        lines.append(f"  {name:<10}{r['ratio']:>6.2f} {mark} [{r['spread'][0]:.2f}, "
                     f"{r['spread'][1]:.2f}]   {r['ours_ms']:.3f} ms vs {r['reference_ms']:.3f} ms")
    lines.append(f"  {next(iter(figures['keras_step'].values()))['repeats']} repeats")
    return "\n".join(lines)
