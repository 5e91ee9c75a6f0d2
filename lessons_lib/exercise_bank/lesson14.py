"""Lesson 14 · Optimization at scale.

1. scaled_lr: the linear scaling rule, η = η₀ · B / B₀.
2. allreduce_bytes: what each rank sends in a ring all-reduce, 2(N − 1)/N · P · b.
3. adam_state_bytes: the bytes Adam keeps for P float32 parameters, sharded over N ranks.
"""
from .. import exercises
from . import Exercise, WrongAnswer

LR_CASES = [(0.1, 32, 256), (0.05, 4, 64), (1e-3, 256, 128), (0.2, 64, 64), (0.01, 8, 1024)]
RING_CASES = [(1_000_000, 2, 4), (1_000_000, 8, 4), (25_000, 4, 2), (10, 1, 4), (5_000, 16, 4)]
ADAM_CASES = [(1_000_000, 1), (1_000_000, 4), (7_000_000_000, 8), (12_345, 2), (100, 1)]


def _lr_reference(base_lr, base_batch, batch):
    return base_lr * batch / base_batch


def _ring_reference(params, ranks, bytes_per_value):
    return 2 * (ranks - 1) / ranks * params * bytes_per_value


def _adam_reference(params, ranks):
    return 2 * 4 * params / ranks


def _named(name, student):
    student.__name__ = name
    return student


def check_scaled_lr(scaled_lr):
    return exercises.check_function(
        scaled_lr, _lr_reference, LR_CASES,
        mistakes=[(lambda lr, b0, b: lr * b0 / b,
                   "the ratio is upside down: a bigger batch gets a bigger learning rate."),
                  (lambda lr, b0, b: lr * (b / b0) ** 0.5,
                   "that is the square-root rule (suggested for Adam); the linear rule "
                   "scales η in proportion to B."),
                  (lambda lr, b0, b: lr * b,
                   "divide by the base batch size B₀: η₀ belongs to B₀, not to B = 1.")],
        hint="k times the batch averages k times as many gradients: take a k times larger "
             "step, η = η₀ · B / B₀.")


def check_allreduce_bytes(allreduce_bytes):
    return exercises.check_function(
        allreduce_bytes, _ring_reference, RING_CASES,
        mistakes=[(lambda p, n, b: p * b,
                   "each rank sends its chunks twice over (reduce-scatter, then all-gather), "
                   "2(N − 1) chunks of P/N values."),
                  (lambda p, n, b: (n - 1) / n * p * b,
                   "that is one phase only (reduce-scatter); the all-gather sends as much "
                   "again."),
                  (lambda p, n, b: 2 * (n - 1) * p * b,
                   "each message is one chunk of P/N values, not the whole gradient."),
                  (lambda p, n, b: 2 * (n - 1) / n * p,
                   "multiply by the bytes per value (4 for float32, 2 for bf16/fp16).")],
        hint="the ring cuts the gradient into N chunks; each rank sends N − 1 chunks to "
             "add them up and N − 1 more to hand out the sums.")


def check_adam_state_bytes(adam_state_bytes):
    return exercises.check_function(
        adam_state_bytes, _adam_reference, ADAM_CASES,
        mistakes=[(lambda p, n: 4 * p / n,
                   "Adam keeps two float32 tensors per parameter: m and v."),
                  (lambda p, n: 2 * 4 * p,
                   "ZeRO shards the state: each of the N ranks keeps 1/N of it."),
                  (lambda p, n: 2 * p / n,
                   "count bytes, not values: a float32 takes 4 bytes."),
                  (lambda p, n: 3 * 4 * p / n,
                   "the parameters themselves are not optimizer state: m and v only.")],
        hint="m and v have the shape of the parameters, float32 each, split over N ranks.")


EXERCISES = [
    Exercise(lesson="14", number=1, name="scaled_lr", kind="function", check=check_scaled_lr,
             wrong_answers=(
                 WrongAnswer("ratio upside down", _named(
                     "scaled_lr", lambda base_lr, base_batch, batch: base_lr * base_batch / batch),
                     says="upside down"),
                 WrongAnswer("square-root rule", _named(
                     "scaled_lr", lambda base_lr, base_batch, batch:
                     base_lr * (batch / base_batch) ** 0.5), says="square-root"),
                 WrongAnswer("forgot B₀", _named(
                     "scaled_lr", lambda base_lr, base_batch, batch: base_lr * batch),
                     says="base batch"),
             ),
             leaks=("base_lr * batch / base_batch", "_lr_reference")),
    Exercise(lesson="14", number=2, name="allreduce_bytes", kind="function",
             check=check_allreduce_bytes,
             wrong_answers=(
                 WrongAnswer("the whole gradient once", _named(
                     "allreduce_bytes", lambda params, ranks, b: params * b), says="twice"),
                 WrongAnswer("one phase only", _named(
                     "allreduce_bytes", lambda params, ranks, b: (ranks - 1) / ranks * params * b),
                     says="one phase"),
                 WrongAnswer("whole gradient per message", _named(
                     "allreduce_bytes", lambda params, ranks, b: 2 * (ranks - 1) * params * b),
                     says="one chunk"),
                 WrongAnswer("values, not bytes", _named(
                     "allreduce_bytes", lambda params, ranks, b: 2 * (ranks - 1) / ranks * params),
                     says="bytes per value"),
             ),
             leaks=("2 * (ranks - 1) / ranks", "_ring_reference")),
    Exercise(lesson="14", number=3, name="adam_state_bytes", kind="function",
             check=check_adam_state_bytes,
             wrong_answers=(
                 WrongAnswer("one tensor", _named("adam_state_bytes",
                                                  lambda params, ranks: 4 * params / ranks),
                             says="m and v"),
                 WrongAnswer("not sharded", _named("adam_state_bytes",
                                                   lambda params, ranks: 8 * params),
                             says="1/N"),
                 WrongAnswer("values, not bytes", _named("adam_state_bytes",
                                                         lambda params, ranks: 2 * params / ranks),
                             says="4 bytes"),
                 WrongAnswer("counted the parameters too", _named(
                     "adam_state_bytes", lambda params, ranks: 12 * params / ranks),
                     says="not optimizer state"),
             ),
             leaks=("2 * 4 * params / ranks", "8 * params / ranks", "_adam_reference")),
]
