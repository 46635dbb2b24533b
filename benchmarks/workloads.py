"""Workloads: synthetic data and one model definition per framework (kerasish, Keras 3, flax.nnx).

Every framework gets the same architecture, the same data (from a fixed NumPy seed,
float32 inputs, int32 labels) and the same batch size. Frameworks are imported
lazily inside the builders, so a subprocess that measures Keras never imports
kerasish and vice versa (and ``KERAS_BACKEND`` can be set before Keras loads).

The Keras and kerasish models are built by the *same* functions (``_mlp``,
``_cnn``, ``_resnet20``, ``_transformer``, ``_lstm``), which take a namespace with the
Keras-style ``Input`` / ``layers`` / ``Model`` / ``Sequential`` names: the two
frameworks share that API, so the benchmark compares like with like.
"""

from __future__ import annotations

import dataclasses
import types

import numpy as np

DATA_SEED = 1234


@dataclasses.dataclass(frozen=True)
class Workload:
    """One benchmark workload.

    Args:
        name: the name on the command line.
        task: ``"train"`` (fit), ``"evaluate"`` or ``"predict"``.
        model: key of the architecture (``tiny_mlp``, ``mlp``, ``cnn``, ``resnet20``, ``transformer``, ``lstm``).
        description: one line for the report.
        sample_shape: shape of one input sample.
        num_classes: number of classes (logits per sample).
        batch_size: batch size of every variant.
        samples / quick_samples: dataset size (full run / ``--quick``).
        epochs / quick_epochs: for ``train``, epochs of ``fit`` (the first is the warm-up and is not
            timed); for ``evaluate``/``predict``, calls over the whole dataset (the first is the warm-up).
        accelerator: only in the default workload list when a GPU/TPU is present.
        vocab: for token inputs, the vocabulary size (inputs are int32 in ``[0, vocab)``).
        policy: a mixed-precision policy (``"mixed_bfloat16"``): kerasish and Keras set it as their
            global policy before building the model; the hand-written loop computes its convolutions
            and dense layers in bfloat16 with float32 parameters and float32 normalization statistics.
    """

    name: str
    task: str
    model: str
    description: str
    sample_shape: tuple[int, ...]
    num_classes: int
    batch_size: int
    samples: int
    quick_samples: int
    epochs: int
    quick_epochs: int
    accelerator: bool = False
    vocab: int | None = None
    policy: str | None = None

    def size(self, quick: bool, samples: int | None = None, epochs: int | None = None) -> tuple[int, int]:
        """(samples, epochs) for this run."""
        n = samples if samples is not None else (self.quick_samples if quick else self.samples)
        e = epochs if epochs is not None else (self.quick_epochs if quick else self.epochs)
        return int(n), int(e)


WORKLOADS: dict[str, Workload] = {w.name: w for w in [
    Workload("tiny_mlp", "train", "tiny_mlp", "MLP 20-64-64-10 relu", (20,), 10, 32,
             samples=32768, quick_samples=20480, epochs=4, quick_epochs=3),
    Workload("mlp", "train", "mlp", "MLP 784-512-512-10 relu", (784,), 10, 128,
             samples=60000, quick_samples=10240, epochs=3, quick_epochs=3),
    Workload("cnn", "train", "cnn", "CNN conv3x3-32,pool,conv3x3-64,pool,dense128,dense10 on 28x28x1",
             (28, 28, 1), 10, 128, samples=60000, quick_samples=1024, epochs=2, quick_epochs=2),
    Workload("evaluate", "evaluate", "mlp", "model.evaluate of the 784-512-512-10 MLP", (784,), 10, 128,
             samples=60000, quick_samples=7680, epochs=4, quick_epochs=3),
    Workload("predict", "predict", "mlp", "model.predict of the 784-512-512-10 MLP", (784,), 10, 128,
             samples=60000, quick_samples=7680, epochs=4, quick_epochs=3),
    Workload("resnet20", "train", "resnet20", "ResNet-20 (3x3 basic blocks, 16/32/64, BN) on 32x32x3",
             (32, 32, 3), 10, 128, samples=50000, quick_samples=1024, epochs=3, quick_epochs=2,
             accelerator=True),
    Workload("resnet20_bf16", "train", "resnet20", "ResNet-20 as above, mixed_bfloat16 (float32 weights)",
             (32, 32, 3), 10, 128, samples=50000, quick_samples=1024, epochs=3, quick_epochs=2,
             accelerator=True, policy="mixed_bfloat16"),
    Workload("transformer", "train", "transformer",
             "Transformer encoder: seq 128, d 256, 4 layers x 4 heads, ff 1024, vocab 1000, mean-pool, 2 classes",
             (128,), 2, 64, samples=16384, quick_samples=512, epochs=3, quick_epochs=2, accelerator=True,
             vocab=1000),
    Workload("lstm", "train", "lstm",
             "LSTM classifier: seq 64, vocab 1000, embedding 128, LSTM 128 (last output), dense 2",
             (64,), 2, 64, samples=16384, quick_samples=1024, epochs=3, quick_epochs=2, vocab=1000),
]}

# Transformer hyperparameters (shared by all frameworks).
D_MODEL, NUM_HEADS, NUM_LAYERS, D_FF = 256, 4, 4, 1024
# LSTM classifier hyperparameters (shared by all frameworks).
LSTM_EMBED, LSTM_UNITS = 128, 128


def make_data(w: Workload, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)``: ``n`` samples from a fixed seed (float32 features or int32 tokens, int32 labels)."""
    rng = np.random.default_rng(DATA_SEED)
    if w.vocab is not None:
        x = rng.integers(0, w.vocab, size=(n, *w.sample_shape), dtype=np.int32)
    else:
        x = rng.standard_normal((n, *w.sample_shape), dtype=np.float32)
    y = rng.integers(0, w.num_classes, size=(n,), dtype=np.int32)
    return x, y


# ---------------------------------------------------------------------------------------------
# Keras-style builders shared by kerasish and Keras 3.
# ---------------------------------------------------------------------------------------------
def _mlp(ns, in_dim: int, hidden: tuple[int, ...], classes: int):
    layers = [ns.Input(shape=(in_dim,))]
    layers += [ns.layers.Dense(h, activation="relu") for h in hidden]
    layers.append(ns.layers.Dense(classes))
    return ns.Sequential(layers)


def _cnn(ns):
    L = ns.layers
    return ns.Sequential([
        ns.Input(shape=(28, 28, 1)),
        L.Conv2D(32, 3, activation="relu"),
        L.MaxPooling2D(2),
        L.Conv2D(64, 3, activation="relu"),
        L.MaxPooling2D(2),
        L.Flatten(),
        L.Dense(128, activation="relu"),
        L.Dense(10),
    ])


def _resnet20(ns):
    L = ns.layers

    def conv_bn(x, filters, kernel, strides):
        x = L.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
        return L.BatchNormalization()(x)

    inputs = ns.Input(shape=(32, 32, 3))
    x = L.Activation("relu")(conv_bn(inputs, 16, 3, 1))
    channels = 16
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(3):
            strides = 2 if stage > 0 and block == 0 else 1
            y = L.Activation("relu")(conv_bn(x, filters, 3, strides))
            y = conv_bn(y, filters, 3, 1)
            shortcut = x if (strides == 1 and channels == filters) else conv_bn(x, filters, 1, strides)
            x = L.Activation("relu")(L.Add()([shortcut, y]))
            channels = filters
    x = L.GlobalAveragePooling2D()(x)
    return ns.Model(inputs, L.Dense(10)(x))


def _transformer(ns, seq_len: int, vocab: int, classes: int):
    L = ns.layers
    inputs = ns.Input(shape=(seq_len,), dtype="int32")
    h = L.Embedding(vocab, D_MODEL)(inputs)
    for _ in range(NUM_LAYERS):
        h = L.LayerNormalization()(L.Add()([h, L.MultiHeadAttention(NUM_HEADS, D_MODEL // NUM_HEADS)(h, h)]))
        f = L.Dense(D_FF, activation="relu")(h)
        f = L.Dense(D_MODEL)(f)
        h = L.LayerNormalization()(L.Add()([h, f]))
    return ns.Model(inputs, L.Dense(classes)(L.GlobalAveragePooling1D()(h)))


def _lstm(ns, seq_len: int, vocab: int, classes: int):
    L = ns.layers
    return ns.Sequential([
        ns.Input(shape=(seq_len,), dtype="int32"),
        L.Embedding(vocab, LSTM_EMBED),
        L.LSTM(LSTM_UNITS),
        L.Dense(classes),
    ])


def _build(ns, w: Workload):
    if w.model == "tiny_mlp":
        return _mlp(ns, 20, (64, 64), 10)
    if w.model == "mlp":
        return _mlp(ns, 784, (512, 512), 10)
    if w.model == "cnn":
        return _cnn(ns)
    if w.model == "resnet20":
        return _resnet20(ns)
    if w.model == "transformer":
        return _transformer(ns, w.sample_shape[0], w.vocab, w.num_classes)
    if w.model == "lstm":
        return _lstm(ns, w.sample_shape[0], w.vocab, w.num_classes)
    raise ValueError(f"unknown model {w.model!r}")


# ---------------------------------------------------------------------------------------------
# kerasish
# ---------------------------------------------------------------------------------------------
def build_kerasish(w: Workload):
    """The workload's model as a kerasish model (not compiled)."""
    import kerasish

    kerasish.mixed_precision.set_global_policy(w.policy or "float32")
    ns = types.SimpleNamespace(Input=kerasish.Input, layers=kerasish.layers, Model=kerasish.Model,
                               Sequential=kerasish.Sequential)
    return _build(ns, w)


def compile_kerasish(model, steps_per_execution=None) -> None:
    """Adam(1e-3) and sparse categorical crossentropy from logits; other arguments default."""
    import kerasish

    kwargs = {} if steps_per_execution is None else {"steps_per_execution": steps_per_execution}
    model.compile(optimizer=kerasish.optimizers.Adam(learning_rate=1e-3),
                  loss=kerasish.losses.SparseCategoricalCrossentropy(from_logits=True), **kwargs)


# ---------------------------------------------------------------------------------------------
# Keras 3 (JAX backend; the caller sets KERAS_BACKEND=jax before this import)
# ---------------------------------------------------------------------------------------------
def build_keras(w: Workload):
    """The workload's model as a Keras 3 model (not compiled)."""
    import keras

    keras.mixed_precision.set_global_policy(w.policy or "float32")
    ns = types.SimpleNamespace(Input=keras.Input, layers=keras.layers, Model=keras.Model,
                               Sequential=keras.Sequential)
    return _build(ns, w)


def compile_keras(model, steps_per_execution: int = 1) -> None:
    """Adam(1e-3) and sparse categorical crossentropy from logits; other arguments default."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  steps_per_execution=steps_per_execution)


# ---------------------------------------------------------------------------------------------
# flax.nnx (for the hand-written loops). Each module's __call__ takes (x, train).
# ---------------------------------------------------------------------------------------------
def build_nnx(w: Workload, seed: int = 0):
    """The workload's model as a ``flax.nnx`` module whose ``__call__(x, train)`` returns logits."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    glorot = jax.nn.initializers.glorot_uniform()

    # mixed_bfloat16: layers compute in bfloat16 on float32 parameters (flax's dtype / param_dtype);
    # BatchNorm's statistics are reduced in float32 by flax.
    compute = jnp.bfloat16 if w.policy == "mixed_bfloat16" else None

    def dense(a, b, rngs):
        return nnx.Linear(a, b, kernel_init=glorot, dtype=compute, rngs=rngs)

    class MLP(nnx.Module):
        def __init__(self, dims, rngs):
            self.layers = nnx.List([dense(a, b, rngs) for a, b in zip(dims[:-1], dims[1:])])

        def __call__(self, x, train=False):
            for i, layer in enumerate(self.layers):
                x = layer(x)
                if i < len(self.layers) - 1:
                    x = nnx.relu(x)
            return x

    class CNN(nnx.Module):
        def __init__(self, rngs):
            self.conv1 = nnx.Conv(1, 32, (3, 3), padding="VALID", kernel_init=glorot, rngs=rngs)
            self.conv2 = nnx.Conv(32, 64, (3, 3), padding="VALID", kernel_init=glorot, rngs=rngs)
            self.fc1 = dense(5 * 5 * 64, 128, rngs)
            self.fc2 = dense(128, 10, rngs)

        def __call__(self, x, train=False):
            x = nnx.max_pool(nnx.relu(self.conv1(x)), (2, 2), strides=(2, 2))
            x = nnx.max_pool(nnx.relu(self.conv2(x)), (2, 2), strides=(2, 2))
            x = x.reshape(x.shape[0], -1)
            return self.fc2(nnx.relu(self.fc1(x)))

    class ConvBN(nnx.Module):
        def __init__(self, cin, cout, kernel, strides, rngs):
            self.conv = nnx.Conv(cin, cout, (kernel, kernel), strides=strides, padding="SAME", use_bias=False,
                                 kernel_init=glorot, dtype=compute, rngs=rngs)
            self.bn = nnx.BatchNorm(cout, momentum=0.99, epsilon=1e-3, dtype=compute, rngs=rngs)

        def __call__(self, x, train):
            return self.bn(self.conv(x), use_running_average=not train)

    class BasicBlock(nnx.Module):
        def __init__(self, cin, cout, strides, rngs):
            self.a = ConvBN(cin, cout, 3, strides, rngs)
            self.b = ConvBN(cout, cout, 3, 1, rngs)
            self.proj = ConvBN(cin, cout, 1, strides, rngs) if (strides != 1 or cin != cout) else None

        def __call__(self, x, train):
            y = self.b(nnx.relu(self.a(x, train)), train)
            shortcut = x if self.proj is None else self.proj(x, train)
            return nnx.relu(shortcut + y)

    class ResNet20(nnx.Module):
        def __init__(self, rngs):
            self.stem = ConvBN(3, 16, 3, 1, rngs)
            blocks, cin = [], 16
            for stage, cout in enumerate((16, 32, 64)):
                for block in range(3):
                    blocks.append(BasicBlock(cin, cout, 2 if stage > 0 and block == 0 else 1, rngs))
                    cin = cout
            self.blocks = nnx.List(blocks)
            self.head = dense(64, 10, rngs)

        def __call__(self, x, train=False):
            x = nnx.relu(self.stem(x, train))
            for block in self.blocks:
                x = block(x, train)
            return self.head(x.mean(axis=(1, 2)))

    class EncoderLayer(nnx.Module):
        def __init__(self, rngs):
            self.attn = nnx.MultiHeadAttention(NUM_HEADS, D_MODEL, qkv_features=D_MODEL, decode=False,
                                               keep_rngs=False, rngs=rngs)
            self.ln1 = nnx.LayerNorm(D_MODEL, epsilon=1e-3, rngs=rngs)
            self.ff1 = dense(D_MODEL, D_FF, rngs)
            self.ff2 = dense(D_FF, D_MODEL, rngs)
            self.ln2 = nnx.LayerNorm(D_MODEL, epsilon=1e-3, rngs=rngs)

        def __call__(self, x):
            x = self.ln1(x + self.attn(x))
            return self.ln2(x + self.ff2(nnx.relu(self.ff1(x))))

    class Transformer(nnx.Module):
        def __init__(self, vocab, classes, rngs):
            self.embed = nnx.Embed(vocab, D_MODEL, rngs=rngs)
            self.layers = nnx.List([EncoderLayer(rngs) for _ in range(NUM_LAYERS)])
            self.head = dense(D_MODEL, classes, rngs)

        def __call__(self, x, train=False):
            h = self.embed(x)
            for layer in self.layers:
                h = layer(h)
            return self.head(h.mean(axis=1))

    class LSTMClassifier(nnx.Module):
        """Embedding -> LSTM (last output) -> linear, the LSTM written as one ``lax.scan`` over time.

        Keras's layout: a fused ``(in, 4 * units)`` kernel, a ``(units, 4 * units)`` recurrent
        kernel and a ``4 * units`` bias, gates in the order input, forget, cell, output. The input
        projection of every time step is one matmul before the scan.
        """

        def __init__(self, vocab, classes, rngs):
            u = LSTM_UNITS
            self.embed = nnx.Embed(vocab, LSTM_EMBED, rngs=rngs)
            self.kernel = nnx.Param(glorot(rngs.params(), (LSTM_EMBED, 4 * u)))
            self.recurrent_kernel = nnx.Param(jax.nn.initializers.orthogonal()(rngs.params(), (u, 4 * u)))
            # Keras's unit_forget_bias=True: zeros, ones for the forget gate.
            self.bias = nnx.Param(jnp.zeros((4 * u,)).at[u:2 * u].set(1.0))
            self.head = dense(u, classes, rngs)

        def __call__(self, x, train=False):
            u = LSTM_UNITS
            xz = self.embed(x) @ self.kernel[...] + self.bias[...]  # (batch, time, 4u)
            rk = self.recurrent_kernel[...]

            def step(carry, z):
                h, c = carry
                z = z + h @ rk
                i, f, g, o = jax.nn.sigmoid(z[:, :u]), jax.nn.sigmoid(z[:, u:2 * u]), \
                    jnp.tanh(z[:, 2 * u:3 * u]), jax.nn.sigmoid(z[:, 3 * u:])
                c = f * c + i * g
                return (o * jnp.tanh(c), c), None

            zeros = jnp.zeros((x.shape[0], u), xz.dtype)
            (h, _), _ = jax.lax.scan(step, (zeros, zeros), jnp.swapaxes(xz, 0, 1))
            return self.head(h)

    rngs = nnx.Rngs(seed)
    if w.model == "tiny_mlp":
        return MLP((20, 64, 64, 10), rngs)
    if w.model == "mlp":
        return MLP((784, 512, 512, 10), rngs)
    if w.model == "cnn":
        return CNN(rngs)
    if w.model == "resnet20":
        return ResNet20(rngs)
    if w.model == "transformer":
        return Transformer(w.vocab, w.num_classes, rngs)
    if w.model == "lstm":
        return LSTMClassifier(w.vocab, w.num_classes, rngs)
    raise ValueError(f"unknown model {w.model!r}")
