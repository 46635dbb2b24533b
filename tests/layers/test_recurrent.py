"""SimpleRNN, LSTM, GRU and Bidirectional against Keras 3 with identical weights.

Keras compiles one ``lax.scan`` per eager call (seconds on a small CPU), so each parity case makes a
single Keras call that exercises several features at once: ``return_state`` always, an ``initial_state``
and a padded ``mask`` in most cases. The mask has a fully unmasked row and rows with trailing padding.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerasish
from kerasish.backend import StatelessScope
from kerasish.errors import ConfigError, InputError
from kerasish.layers import recurrent
from kerasish.layers.recurrent import GRU, LSTM, RNN, Bidirectional, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell

from .helpers import assert_close, keras, random_weights, run_layer_test

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

CUSTOM = {c.__name__: c for c in (SimpleRNN, LSTM, GRU, RNN, Bidirectional, SimpleRNNCell, LSTMCell, GRUCell)}
B, T, F, U = 3, 5, 4, 3
X = np.random.default_rng(0).standard_normal((B, T, F)).astype("float32")
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 0, 0, 0]], bool)
N_STATES = {SimpleRNN: 1, LSTM: 2, GRU: 1}


def _states(n: int, seed: int = 5, units: int = U):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((B, units)).astype("float32") for _ in range(n)]


def _twins(ours, theirs, seed: int = 1):
    """Build both on (B, T, F) (without running a scan) and give them the same random weights."""
    theirs.build((B, T, F))
    ours.compute_output_shape((None, T, F))
    theirs.set_weights(random_weights([(tuple(w.shape), w.name) for w in theirs.weights], seed))
    ours.set_weights(theirs.get_weights())
    return ours, theirs


def _assert_outputs(mine, theirs, what=""):
    mine = list(mine) if isinstance(mine, (list, tuple)) else [mine]
    theirs = list(theirs) if isinstance(theirs, (list, tuple)) else [theirs]
    assert len(mine) == len(theirs), f"{what}: {len(mine)} outputs vs Keras's {len(theirs)}"
    for i, (a, b) in enumerate(zip(mine, theirs)):
        assert np.shape(a) == np.shape(b), f"{what} output {i}: shape {np.shape(a)} vs Keras's {np.shape(b)}"
        assert_close(a, b, f"{what} output {i}")


# -- parity: every layer, with return_state, masks, initial states, both directions ------------------
CASES = [  # return_sequences, go_backwards, mask, initial_state
    (False, False, True, True),
    (True, False, True, False),
    (True, True, True, True),
    (False, True, False, True),
]


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
@pytest.mark.parametrize("return_sequences, go_backwards, masked, with_state", CASES)
def test_parity_with_keras(cls, return_sequences, go_backwards, masked, with_state):
    kwargs = dict(units=U, return_sequences=return_sequences, go_backwards=go_backwards, return_state=True)
    ours, theirs = _twins(cls(**kwargs), getattr(keras.layers, cls.__name__)(**kwargs))
    init = _states(N_STATES[cls]) if with_state else None
    mask = MASK if masked else None
    _assert_outputs(ours(X, initial_state=init, mask=mask), theirs(X, initial_state=init, mask=mask),
                    f"{cls.__name__} {kwargs} mask={masked} initial_state={with_state}")


def test_gru_reset_before_matmul_and_no_bias():
    for kwargs in ({"reset_after": False}, {"reset_after": False, "use_bias": False}):
        kwargs = dict(units=U, return_sequences=True, return_state=True, **kwargs)
        ours, theirs = _twins(GRU(**kwargs), keras.layers.GRU(**kwargs))
        assert [w.shape for w in ours.weights] == [w.shape for w in theirs.weights]
        init = _states(1)
        _assert_outputs(ours(X, initial_state=init, mask=MASK), theirs(X, initial_state=init, mask=MASK),
                        f"GRU {kwargs}")


def test_masked_steps_carry_the_previous_output():
    """Keras 3 (JAX) outputs the previous output at a masked step of a returned sequence, not zeros."""
    layer = LSTM(U, return_sequences=True)
    y = np.asarray(layer(X, mask=MASK))
    assert_close(y[1, 3], y[1, 2], "row 1 step 3 repeats step 2")
    assert_close(y[2, 4], y[2, 1], "row 2 step 4 repeats step 1")
    assert np.abs(y[2, 1]).sum() > 0


def test_lstm_layer_contract():
    """Build, weights, symbolic and computed shapes, config round trip, parity both ways (the shared helper)."""
    run_layer_test(LSTM, {"units": U, "return_sequences": True}, (B, T, F), expected_output_shape=(B, T, U),
                   expected_num_weights=3, custom_objects=CUSTOM)


@pytest.mark.parametrize("cls, kwargs", [
    (GRU, {"units": U, "reset_after": False, "kernel_initializer": "zeros"}),
    (SimpleRNN, {"units": U, "go_backwards": True, "use_bias": False, "kernel_initializer": "zeros"}),
])
def test_gru_and_simple_rnn_layer_contract(cls, kwargs):
    run_layer_test(cls, kwargs, (B, T, F), expected_output_shape=(B, U), custom_objects=CUSTOM)


def test_lstm_initial_bias_has_unit_forget_bias():
    layer = LSTM(U)
    layer(X)
    assert_close(layer.cell.bias.value, np.r_[np.zeros(U), np.ones(U), np.zeros(2 * U)])
    layer = LSTM(U, unit_forget_bias=False)
    layer(X)
    assert_close(layer.cell.bias.value, np.zeros(4 * U))


def test_symbolic_return_state_shapes_match_keras():
    for cls in (LSTM, GRU):
        kw = dict(units=U, return_sequences=True, return_state=True)
        ours = cls(**kw)(kerasish.Input((T, F)))
        theirs = getattr(keras.layers, cls.__name__)(**kw)(keras.Input((T, F)))
        assert [tuple(t.shape) for t in ours] == [tuple(t.shape) for t in theirs]


# -- Bidirectional --------------------------------------------------------------------------------------
@pytest.mark.parametrize("merge_mode, return_sequences", [
    ("concat", True), ("sum", True), ("mul", False), ("ave", True), (None, True), (None, False)])
def test_bidirectional_parity_with_mask(merge_mode, return_sequences):
    ours, theirs = _twins(Bidirectional(LSTM(U, return_sequences=return_sequences), merge_mode=merge_mode),
                          keras.layers.Bidirectional(keras.layers.LSTM(U, return_sequences=return_sequences),
                                                     merge_mode=merge_mode))
    assert [w.name.split("/")[-1] for w in ours.weights] == [w.name for w in theirs.weights]
    assert ours.weights[0].path.startswith("forward_") and ours.weights[3].path.startswith("backward_")
    _assert_outputs(ours(X, mask=MASK), theirs(X, mask=MASK), f"Bidirectional {merge_mode}")


def test_bidirectional_return_state_initial_state_and_gru():
    ours, theirs = _twins(Bidirectional(GRU(U, return_sequences=True, return_state=True)),
                          keras.layers.Bidirectional(keras.layers.GRU(U, return_sequences=True, return_state=True)))
    init = _states(2)
    out = ours(X, initial_state=init, mask=MASK)
    assert len(out) == 3
    _assert_outputs(out, theirs(X, initial_state=init, mask=MASK), "Bidirectional GRU return_state")


def test_bidirectional_config_round_trip_and_shapes():
    layer = Bidirectional(SimpleRNN(U, return_sequences=True), merge_mode="sum",
                          backward_layer=SimpleRNN(U, return_sequences=True, go_backwards=True, activation="relu"))
    y = layer(X)
    restored = recurrent.Bidirectional.from_config(layer.get_config())
    assert restored.get_config() == layer.get_config()
    restored(X)
    restored.set_weights(layer.get_weights())
    assert_close(restored(X), y)
    assert restored.backward_layer.activation is layer.backward_layer.activation
    sym = Bidirectional(LSTM(U, return_state=True), merge_mode=None)(kerasish.Input((T, F)))
    ksym = keras.layers.Bidirectional(keras.layers.LSTM(U, return_state=True), merge_mode=None)(keras.Input((T, F)))
    assert [tuple(t.shape) for t in sym] == [tuple(t.shape) for t in ksym]


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_config_keys_and_regularizers_as_keras(cls):
    kw = dict(units=U, kernel_regularizer="l2", recurrent_constraint="non_neg")
    ours, theirs = cls(**kw), getattr(keras.layers, cls.__name__)(**kw)
    assert set(theirs.get_config()) <= set(ours.get_config())
    assert ours.units == U and ours.dropout == 0.0
    ours(X)
    kernel, recurrent_kernel = ours.weights[:2]
    assert kernel.regularizer is not None and recurrent_kernel.constraint is not None
    assert ours.get_config()["kernel_regularizer"] is not None


def test_activity_regularizer_adds_a_loss():
    layer = GRU(U, activity_regularizer=kerasish.regularizers.L2(0.1), return_sequences=True)
    with StatelessScope({}) as scope:
        y = np.asarray(layer(X))
    assert len(scope.losses) == 1
    assert_close(scope.losses[0], 0.1 * np.sum(np.square(y)) / B)


def test_compute_mask():
    m = jnp.asarray(MASK)
    assert LSTM(U, return_sequences=True).compute_mask(X, m) is m
    assert LSTM(U).compute_mask(X, m) is None
    assert LSTM(U, return_sequences=True, return_state=True).compute_mask(X, m) == [m, None, None]
    assert GRU(U, return_state=True).compute_mask(X, m) == [None, None]
    assert Bidirectional(LSTM(U, return_sequences=True)).compute_mask(X, m) is m
    assert Bidirectional(LSTM(U, return_sequences=True), merge_mode=None).compute_mask(X, m) == [m, m]
    assert Bidirectional(LSTM(U)).compute_mask(X, m) is None
    assert Bidirectional(GRU(U, return_state=True)).compute_mask(X, m) == [None, None, None]


# -- dropout, gradients, scan ------------------------------------------------------------------------------
def _call_in_scope(layer, x, training, key):
    with StatelessScope({}, rng=key, training=training):
        return np.asarray(layer(x, training=training))


def test_dropout_is_a_fixed_mask_per_call_and_identity_at_inference():
    # Linear SimpleRNN without recurrence: output_t = (x_t * input_mask) @ kernel, so a mask fixed across time
    # gives the same output at every step for a constant input.
    layer = SimpleRNN(6, activation=None, use_bias=False, dropout=0.5, recurrent_dropout=0.3,
                      recurrent_initializer="zeros", kernel_initializer="identity", return_sequences=True)
    x = np.ones((4, T, 6), "float32")
    y1 = _call_in_scope(layer, x, True, jax.random.PRNGKey(1))
    y2 = _call_in_scope(layer, x, True, jax.random.PRNGKey(2))
    assert not np.allclose(y1, y2), "dropout must differ between training steps"
    assert_close(y1, np.broadcast_to(y1[:, :1], y1.shape), "the dropout mask is fixed across time steps")
    assert set(np.unique(np.round(y1, 5))) <= {0.0, 2.0} and (y1 == 0).any()
    assert_close(_call_in_scope(layer, x, False, jax.random.PRNGKey(1)), x, "identity at inference")
    assert_close(layer(x), x)
    lstm = LSTM(U, dropout=0.4, recurrent_dropout=0.4)
    ref = np.asarray(lstm(X))
    assert not np.allclose(_call_in_scope(lstm, X, True, jax.random.PRNGKey(3)), ref)
    assert_close(_call_in_scope(lstm, X, False, jax.random.PRNGKey(3)), ref)


def test_gradient_matches_keras():
    ours, theirs = _twins(LSTM(U, return_sequences=True), keras.layers.LSTM(U, return_sequences=True))
    weights = [jnp.asarray(v.value) for v in theirs.trainable_variables]
    non_trainable = [v.value for v in theirs.non_trainable_variables]  # Keras's dropout seed state

    def our_loss(ws):
        with StatelessScope({id(v): w for v, w in zip(ours.weights, ws)}):
            return jnp.sum(jnp.square(ours(X, mask=MASK)))

    def keras_loss(ws):
        y, _ = theirs.stateless_call(ws, non_trainable, X, mask=MASK)
        return jnp.sum(jnp.square(y))

    ours_g, theirs_g = jax.grad(our_loss)(weights), jax.grad(keras_loss)(weights)
    for a, b, name in zip(ours_g, theirs_g, ("kernel", "recurrent_kernel", "bias")):
        assert np.abs(np.asarray(a)).sum() > 0
        assert_close(a, b, f"gradient of {name}", atol=1e-4)


def test_recurrence_is_one_scan():
    def eqn_count(steps):
        layer = LSTM(U)
        jaxpr = jax.make_jaxpr(lambda x: layer(x))(np.zeros((B, steps, F), "float32"))
        text = str(jaxpr)
        assert "scan[" in text
        return len(text.splitlines())

    assert eqn_count(3) == eqn_count(12), "the program must not grow with the number of time steps"


# -- errors ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, match", [
    (lambda: LSTM(0), "units"),
    (lambda: GRU(2.5), "units"),
    (lambda: SimpleRNN(3, dropout=1.5), "dropout"),
    (lambda: LSTM(3, recurrent_dropout=-0.1), "recurrent_dropout"),
    (lambda: LSTM(3, stateful=True), "stateful"),
    (lambda: GRU(3, use_cudnn="maybe"), "use_cudnn"),
    (lambda: LSTM(3, kernel_constraint="nope"), "kernel_constraint"),
    (lambda: Bidirectional(kerasish.layers.Dense(3)), "layer"),
    (lambda: Bidirectional(LSTM(3), merge_mode="max"), "merge_mode"),
    (lambda: Bidirectional(LSTM(3), backward_layer=LSTM(3)), "go_backwards"),
    (lambda: Bidirectional(LSTM(3), backward_layer=LSTM(3, go_backwards=True, return_sequences=True)),
     "return_sequences"),
    (lambda: RNN("lstm"), "cell"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_bad_inputs():
    with pytest.raises(InputError, match="rank 3"):
        LSTM(U)(np.zeros((2, 4), "float32"))
    layer = LSTM(U)
    layer(X)
    with pytest.raises(InputError, match="last dimension"):
        layer(np.zeros((B, T, F + 1), "float32"))
    with pytest.raises(InputError, match="initial state"):
        layer(X, initial_state=_states(1))
    with pytest.raises(InputError, match="mask"):
        layer(X, mask=MASK[:, :3])


# -- the generic RNN wrapper ---------------------------------------------------------------------------------
def test_rnn_wrapper_over_a_cell_matches_the_layer():
    cell_layer = RNN(LSTMCell(U), return_sequences=True)
    layer = LSTM(U, return_sequences=True)
    cell_layer(X)
    layer(X)
    cell_layer.set_weights(layer.get_weights())
    assert_close(cell_layer(X, mask=MASK), layer(X, mask=MASK))
    restored = RNN.from_config(cell_layer.get_config())
    assert type(restored.cell) is LSTMCell
    # A single step of the cell, as Keras's cell API.
    h, (h2, c) = layer.cell(X[:, 0], _states(2))
    assert h.shape == (B, U) and c.shape == (B, U)
    assert_close(h, h2)


# -- in models: masks from Embedding(mask_zero=True), and learning an order-dependent task ----------------------
def _padded_tokens(n, steps, vocab, rng, min_len=2):
    x = rng.integers(1, vocab, (n, steps)).astype("int32")
    lengths = rng.integers(min_len, steps + 1, n)
    lengths[0] = steps  # one row without padding
    x[np.arange(steps)[None, :] >= lengths[:, None]] = 0
    return x


def test_sequential_embedding_mask_zero_lstm_matches_keras():
    vocab = 10
    x = _padded_tokens(4, T + 1, vocab, np.random.default_rng(3))
    model = kerasish.Sequential([kerasish.Input((T + 1,), dtype="int32"),
                                 kerasish.layers.Embedding(vocab, 8, mask_zero=True),
                                 LSTM(U, return_sequences=True)])
    kmodel = keras.Sequential([keras.Input((T + 1,), dtype="int32"), keras.layers.Embedding(vocab, 8, mask_zero=True),
                               keras.layers.LSTM(U, return_sequences=True)])
    model.set_weights(kmodel.get_weights())
    expected = np.asarray(kmodel(x))
    assert_close(model(x), expected, "eager call")
    assert_close(model.predict(x, verbose=0), expected, "predict")


def test_lstm_classifier_learns_token_order():
    """label = token 3 comes before token 7 (both occur once, at random places, in padded sequences)."""
    kerasish.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n, steps, vocab = 1200, 10, 8
    x = rng.integers(1, vocab, (n, steps)).astype("int32")
    x[np.isin(x, (3, 7))] = 1
    lengths = rng.integers(4, steps + 1, n)
    for i, length in enumerate(lengths):
        a, b = rng.choice(length, 2, replace=False)
        x[i, a], x[i, b] = 3, 7
        x[i, length:] = 0
    y = (np.argmax(x == 3, axis=1) < np.argmax(x == 7, axis=1)).astype("float32")
    model = kerasish.Sequential([kerasish.Input((steps,), dtype="int32"),
                                 kerasish.layers.Embedding(vocab, 8, mask_zero=True), LSTM(16),
                                 kerasish.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=kerasish.optimizers.Adam(0.02), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x[:1000], y[:1000], batch_size=50, epochs=6, verbose=0)
    _, accuracy = model.evaluate(x[1000:], y[1000:], verbose=0)
    assert accuracy >= 0.95, f"test accuracy {accuracy}"


def test_the_cached_scan_follows_the_cell_math_not_a_stale_trace():
    """Eager calls share one compiled scan per cell math; changing an activation after a call retraces."""
    a, b = LSTM(U), LSTM(U)
    a(X)
    b(X)
    b.set_weights(a.get_weights())
    assert_close(b(X), a(X), "equal cells, equal weights: one shared trace, the same outputs")
    before = np.asarray(b(X))
    b.cell.activation = kerasish.activations.get("relu")
    after = np.asarray(b(X))
    k = keras.layers.LSTM(U, activation="relu")
    k(X)
    k.set_weights(b.get_weights())
    assert_close(after, k(X), "the new activation is used")
    assert not np.allclose(before, after)
