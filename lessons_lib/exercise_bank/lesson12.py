"""Lesson 12 · A sentiment RNN.

1. to_post_padding: pre-padded rows with the zeros moved to the end, as packing needs.
2. touched (predict, then measure): the share of embedding rows that get a non-zero
   gradient from one batch, the first 32 training sentences.
"""
import numpy as np

from .. import exercises, text
from . import Exercise, WrongAnswer, switched_off

POST_CASES = [
    (np.array([[0, 0, 5, 6, 7]]),),
    (np.array([[0, 0, 3, 4, 2], [0, 9, 8, 7, 6], [4, 5, 6, 7, 8]]),),
    (np.array([[0, 0, 0, 0, 11, 12], [0, 13, 14, 15, 16, 17]]),),
    (np.array([[0, 0, 0, 2, 3, 4, 5], [0, 0, 0, 0, 0, 6, 7], [0, 8, 9, 10, 11, 12, 13]]),),
]
WRITE_IT = ("text.to_post_padding is the library's answer, switched off for this check: "
            "move the zeros yourself.")
BATCH = 32


def _first_batch():
    from .. import data
    split = data.sentiment()
    return split.x_train[:BATCH], split.vocab_size


def _touched_reference():
    x, vocab_size = _first_batch()
    words = np.unique(x)
    return len(words[words != 0]) / vocab_size


def check_to_post_padding(to_post_padding):
    with switched_off(text, "to_post_padding", WRITE_IT) as reference:
        return exercises.check_function(
            to_post_padding, lambda x: reference(np.array(x)), POST_CASES,
            mistakes=[(_reversed,
                       "you reversed the row: the words must keep their order, only the "
                       "zeros move."),
                      (_roll_first_row,
                       "every row has its own number of zeros: shift each row by its own "
                       "count, not by the first row's."),
                      (_roll_wrong_way,
                       "the row was shifted the wrong way round: the first real word must "
                       "become the first entry."),
                      (_sorted,
                       "sorting moves the zeros but also reorders the words: keep their order.")],
            hint="in each row, take the non-zero tokens in their order, then fill the rest "
                 "with zeros.")


def check_touched(touched):
    x, vocab_size = _first_batch()
    words = np.unique(x)
    right = _touched_reference()
    return exercises.check_value(
        touched, right, name="touched", rtol=1e-6,
        mistakes=[(len(words) / vocab_size,
                   "row 0 is the padding (padding_idx=0): it never gets a gradient, so do "
                   "not count it."),
                  (len(words[words != 0]),
                   "that is the number of rows; the question asks for their share of the "
                   "vocabulary."),
                  (np.count_nonzero(x) / vocab_size,
                   "that counts tokens; a word used many times is still one row: count "
                   "distinct rows."),
                  (1.0, "not every row: a batch of 32 sentences does not use every word.")],
        hint="one backward pass on the first 32 training sentences, then count the rows of "
             "model.embedding.weight.grad that are not all zero, divided by the number of rows.")


# -- typical wrong answers, written as a student would --------------------------

def _named(name, student):
    student.__name__ = name
    return student


def _reversed(x):
    return np.asarray(x)[:, ::-1]


def _roll_first_row(x):
    x = np.asarray(x)
    return np.roll(x, -int(np.sum(x[0] == 0)), axis=1)


def _roll_wrong_way(x):
    return np.array([np.roll(row, int(np.sum(row == 0))) for row in np.asarray(x)])


def _sorted(x):
    return -np.sort(-np.asarray(x), axis=1)


def _calls_the_library(x):
    return text.to_post_padding(x)


EXERCISES = [
    Exercise(lesson="12", number=1, name="to_post_padding", kind="function",
             check=check_to_post_padding,
             wrong_answers=(
                 WrongAnswer("reversed each row", _named("to_post_padding", _reversed),
                             says="reversed"),
                 WrongAnswer("shifted every row by the first row's zeros",
                             _named("to_post_padding", _roll_first_row), says="own count"),
                 WrongAnswer("rolled the wrong way", _named("to_post_padding", _roll_wrong_way),
                             says="wrong way"),
                 WrongAnswer("sorted each row", _named("to_post_padding", _sorted),
                             says="order"),
                 WrongAnswer("called the library", _named("to_post_padding",
                                                          _calls_the_library),
                             says="switched off"),
             ),
             leaks=("row[row != 0]", "x[i][x[i] != 0]", "argsort((x == 0)", "stable=True",
                    "_reversed", "np.roll(row, -")),
    Exercise(lesson="12", number=2, name="touched", kind="value", check=check_touched,
             wrong_answers=(
                 WrongAnswer("counted the padding row", 50 / 58, says="padding"),
                 WrongAnswer("the number of rows, not the share", 49, says="share"),
                 WrongAnswer("counted tokens", 191 / 58, says="distinct rows"),
                 WrongAnswer("predicted every row, never measured", 1.0, says="every word"),
             ),
             leaks=("np.unique(", "_touched_reference", ".abs().sum(dim=1) > 0",
                    "!= 0).any(")),
]
