"""lessons_lib.text: the lesson-12 sentiment models and gradient measurements."""
import numpy as np
import pytest
import torch

from lessons_lib import data, text
from lessons_lib.harness import torch as harness

X = np.array([[0, 0, 5, 6, 7], [0, 9, 8, 7, 6], [4, 5, 6, 7, 8], [0, 0, 0, 0, 3]])


def test_to_post_padding_keeps_order_and_moves_zeros():
    out = text.to_post_padding(X)
    assert isinstance(out, np.ndarray)
    assert out.tolist() == [[5, 6, 7, 0, 0], [9, 8, 7, 6, 0], [4, 5, 6, 7, 8],
                            [3, 0, 0, 0, 0]]
    assert torch.equal(text.to_post_padding(torch.as_tensor(X)), torch.as_tensor(out))
    assert np.array_equal(text.to_post_padding(out), out)   # already post: unchanged
    assert text.lengths(X).tolist() == [3, 4, 5, 1]


def test_packed_model_ignores_padding_and_unpacked_does_not():
    packed = text.SentimentLSTM(20, embed_dim=8, hidden=6).eval()
    naive = text.SentimentLSTM(20, embed_dim=8, hidden=6, packed=False).eval()
    for model, moves in ((packed, False), (naive, True)):
        predict = text.torch_logits(model)
        shift = text.padding_shift(predict, X, extras=(0, 7))
        assert shift[0] == 0.0
        assert (shift[7] > 1e-6) == moves
    # zeros at the end: the same as zeros in front for the packed model
    probs = text.positive_probability(text.torch_logits(packed), X)
    post = text.positive_probability(text.torch_logits(packed), text.to_post_padding(X))
    assert np.allclose(probs, post, atol=1e-6)


def test_model_sizes_and_seed():
    a, b = text.SentimentLSTM(30, seed=3), text.SentimentLSTM(30, seed=3)
    assert a.embedding.weight.shape == (30, text.TUTORIAL["embed_dim"])
    assert a.lstm.hidden_size == text.TUTORIAL["hidden"] and a.head.out_features == 2
    assert torch.equal(a.head.weight, b.head.weight)
    assert a(torch.as_tensor(X)).shape == (4, 2)


def test_keras_mask_zero_ignores_padding():
    for mask, moves in ((True, False), (False, True)):
        model = text.keras_model(20, embed_dim=8, hidden=6, mask_zero=mask)
        shift = text.padding_shift(lambda x: model(x, training=False).numpy(), X,
                                   extras=(7,))
        assert (shift[7] > 1e-6) == moves


def test_positive_probability_is_a_softmax():
    logits = np.array([[0.0, 0.0], [0.0, np.log(3.0)], [1000.0, 0.0]])
    assert np.allclose(text.positive_probability(lambda x: logits, None), [0.5, 0.75, 0.0])


def _tiny_run(callback, steps_data=64):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 20, size=(steps_data, 6))
    y = rng.integers(0, 2, size=steps_data)
    model = text.SentimentLSTM(20, embed_dim=8, hidden=6)
    harness.fit(model, data.torch_loader(x, y, batch_size=16, seed=0),
                loss=torch.nn.CrossEntropyLoss(),
                optimizer=torch.optim.SGD(model.parameters(), lr=0.1), epochs=2,
                device="cpu", amp=False, progress=False, seed=0, callbacks=[callback])
    return model


def test_raw_grad_norm_records_before_clipping_and_clips():
    watch = text.RawGradNorm()
    _tiny_run(watch)
    assert len(watch.norms) == 8 and all(n > 0 for n in watch.norms)
    assert watch.clipped_share() == 0.0
    limit = float(np.median(watch.norms))
    clipper = text.RawGradNorm(limit)

    class After(text.Callback):
        def __init__(self):
            self.norms = []

        def on_before_step(self, state):
            grads = [p.grad for p in state.model.parameters() if p.grad is not None]
            self.norms.append(float(torch.linalg.vector_norm(
                torch.stack([torch.linalg.vector_norm(g) for g in grads]))))

    after = After()
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 20, size=(64, 6)), rng.integers(0, 2, size=64)
    model = text.SentimentLSTM(20, embed_dim=8, hidden=6)
    harness.fit(model, data.torch_loader(x, y, batch_size=16, seed=0),
                loss=torch.nn.CrossEntropyLoss(),
                optimizer=torch.optim.SGD(model.parameters(), lr=0.1), epochs=2,
                device="cpu", amp=False, progress=False, seed=0,
                callbacks=[clipper, after])
    assert clipper.norms[0] == pytest.approx(watch.norms[0], rel=1e-6)
    assert max(after.norms) <= limit * (1 + 1e-5)
    raw = np.array(clipper.norms)
    assert np.allclose(np.array(after.norms)[raw <= limit], raw[raw <= limit], rtol=1e-5)
    assert clipper.clipped_share() == pytest.approx(np.mean(raw > limit))


def test_clip_threshold_is_a_percentile():
    norms = np.arange(1, 101, dtype=float)
    assert text.clip_threshold(norms, 95) == pytest.approx(np.percentile(norms, 95))
    assert text.clip_threshold(list(norms), 50) == pytest.approx(50.5)


def test_embedding_rows_touched_counts_the_batch_words():
    x = torch.tensor([[0, 0, 1, 2], [0, 3, 3, 3]])
    y = torch.tensor([0, 1])
    model = text.SentimentLSTM(10, embed_dim=4, hidden=3)
    shares = text.embedding_rows_touched(model, [(x, y)], torch.nn.CrossEntropyLoss())
    assert shares == [pytest.approx(3 / 10)]            # words 1, 2, 3; never the padding
    assert model.embedding.weight.grad is None or not model.embedding.weight.grad.any()


def test_row_frequency():
    batches = [(np.array([[0, 1, 2]]), None), (np.array([[0, 0, 2]]), None)]
    assert text.row_frequency(batches, 4).tolist() == [0.0, 0.5, 1.0, 0.0]


def test_unbalanced_keeps_a_share_of_one_class():
    y = np.array([0] * 50 + [1] * 50)
    x = np.arange(100)[:, None]
    xs, ys = text.unbalanced(x, y, keep=0.1, seed=0)
    assert (ys == 0).sum() == 50 and (ys == 1).sum() == 5
    assert np.array_equal(xs[:, 0], np.sort(xs[:, 0])) and np.all(y[xs[:, 0]] == ys)


def _twins(vocab=20, embed_dim=8, hidden=6):
    model = text.merge_lstm_biases(text.SentimentLSTM(vocab, embed_dim=embed_dim,
                                                      hidden=hidden, dropout=0.0))
    twin = text.copy_torch_to_keras(model, text.keras_model(
        vocab, embed_dim=embed_dim, hidden=hidden, dropout=0.0))
    return model, twin


def test_merge_lstm_biases_keeps_outputs_and_freezes_the_second_bias():
    model = text.SentimentLSTM(20, embed_dim=8, hidden=6).eval()
    before = text.torch_logits(model)(X)
    text.merge_lstm_biases(model)
    assert np.allclose(text.torch_logits(model)(X), before, atol=1e-6)
    assert not model.lstm.bias_hh_l0.requires_grad
    assert float(model.lstm.bias_hh_l0.abs().max()) == 0.0


def test_copied_keras_lstm_gives_torch_outputs():
    model, twin = _twins()
    x = np.random.default_rng(0).integers(1, 20, size=(16, 9))
    x[:, :4] *= np.arange(16)[:, None] % 2          # half the rows padded in front
    torch_out = text.torch_logits(model)(x)
    keras_out = twin(x, training=False).numpy()
    assert np.abs(torch_out - keras_out).max() < 1e-5


def test_same_updates_in_both_frameworks_with_dense_embedding_gradients():
    from lessons_lib import optim
    model, twin = _twins()
    rng = np.random.default_rng(1)
    x = rng.integers(1, 6, size=(48, 7))             # few words: repeated in a batch
    y = rng.integers(0, 2, size=48)
    batches = text.fixed_batches(x, y, 16, epochs=2)
    assert len(batches) == 6 and all(len(b[0]) == 16 for b in batches)
    rule = optim.REGISTRY["rmsprop"](lr=1e-2, flavor="keras")
    trainable = [p for p in model.parameters() if p.requires_grad]
    torch_losses = text.train_steps_torch(model, batches, rule.to_torch(trainable))
    keras_losses = text.train_steps_keras(twin, batches, rule.keras_reference())
    assert np.abs(torch_losses - keras_losses).max() < 1e-5
    assert np.abs(text.torch_logits(model)(x) - twin(x, training=False).numpy()).max() < 1e-5
    # Keras's own sparse embedding gradient squares each occurrence: it drifts
    model, twin = _twins()
    text.train_steps_torch(model, batches, rule.to_torch(
        [p for p in model.parameters() if p.requires_grad]))
    text.train_steps_keras(twin, batches, rule.keras_reference(), dense=False)
    assert np.abs(text.torch_logits(model)(x) - twin(x, training=False).numpy()).max() > 1e-4


def test_padding_changes_the_gradient_only_without_packing():
    split = data.sentiment()
    x, y = split.x_test[:16], split.y_test[:16]
    loss = torch.nn.CrossEntropyLoss()
    packed = text.padding_gradient_shift(text.SentimentLSTM(split.vocab_size, embed_dim=8,
                                                            hidden=8), x, y, loss)
    naive = text.padding_gradient_shift(text.SentimentLSTM(split.vocab_size, embed_dim=8,
                                                           hidden=8, packed=False), x, y, loss)
    assert set(packed) == {10, 50, "at the end"}
    assert max(packed.values()) < 1e-6
    assert naive[10] > 1e-6 and naive["at the end"] > 0.1
