"""Lesson 11 · Image classification.

1. flat_features: the inputs of the tutorial CNN's first dense layer for a square image.
2. grad_ratio (predict, then measure): how the gradient of a conv weight in front of
   BatchNorm changes when that weight is multiplied by 4.
"""
from .. import exercises
from . import Exercise, WrongAnswer

FLAT_CASES = [(8,), (32,), (28,), (7,), (64,), (4,)]
GRAD_FACTOR = 4.0


def _flat_reference(image_size):
    """Two 2×2 max-pools (each rounds down), 64 channels at the end."""
    side = image_size // 2 // 2
    return 64 * side * side


def check_flat_features(flat_features):
    return exercises.check_function(
        flat_features, _flat_reference, FLAT_CASES,
        mistakes=[(lambda s: 64 * s * s,
                   "you kept the full image size: each of the two max-pools halves the "
                   "height and the width."),
                  (lambda s: 64 * (s // 2) ** 2,
                   "there are two pools, not one: the side shrinks by 4 in all."),
                  (lambda s: 32 * (s // 4) ** 2,
                   "32 is the first block's channel count; the second block has 64 channels."),
                  (lambda s: 64 * (s / 4) ** 2,
                   "a pool rounds down (7 → 3 → 1): use integer division, not /.")],
        hint="padding 1 keeps the size through each 3×3 conv; each 2×2 pool halves "
             "it, rounding down; multiply by the channels of the last block.")


def check_grad_ratio(grad_ratio):
    return exercises.check_value(
        grad_ratio, 1 / GRAD_FACTOR, name="grad_ratio", rtol=0.01,
        mistakes=[(1.0, "the loss does not change, but the gradient does: it gets smaller "
                        "as the weight grows."),
                  (GRAD_FACTOR, "upside down: divide the gradient norm after the scaling by "
                                "the one before, and it shrinks."),
                  (1 / GRAD_FACTOR ** 2,
                   "that is the factor of the effective step η/‖w‖²; the gradient itself "
                   "shrinks by 1/4 only."),
                  (0.0, "the gradient does not vanish: the conv still shapes the output, "
                        "only its overall scale does not matter.")],
        hint="compute the gradient norm of the first conv's weight, scale the weight by 4 "
             "(under torch.no_grad), compute it again, and divide after by before.")


EXERCISES = [
    Exercise(lesson="11", number=1, name="flat_features", kind="function",
             check=check_flat_features,
             wrong_answers=(
                 WrongAnswer("forgot the pools", lambda s: 64 * s * s, says="halves"),
                 WrongAnswer("one pool only", lambda s: 64 * (s // 2) ** 2, says="two pools"),
                 WrongAnswer("the first block's channels",
                             lambda s: 32 * (s // 4) ** 2, says="64 channels"),
                 WrongAnswer("true division", lambda s: 64 * (s / 4) ** 2, says="rounds down"),
                 WrongAnswer("no channels at all", lambda s: (s // 4) ** 2),
             ),
             leaks=("64 * (image_size // 4) ** 2", "(image_size // 4) ** 2 * 64",
                    "_flat_reference")),
    Exercise(lesson="11", number=2, name="grad_ratio", kind="value", check=check_grad_ratio,
             wrong_answers=(
                 WrongAnswer("the loss is the same, so the gradient too", 1.0,
                             says="gets smaller"),
                 WrongAnswer("after and before swapped", 4.0, says="upside down"),
                 WrongAnswer("the effective step's factor", 1 / 16, says="effective step"),
                 WrongAnswer("thinks the gradient vanishes", 0.0, says="does not vanish"),
                 WrongAnswer("not filled in", ...),
             ),
             leaks=("grad_ratio = 0.25", "grad_ratio = 1 / 4", "GRAD_FACTOR")),
]
