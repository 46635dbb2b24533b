"""One constructor call per Keras 3 layer class that kerasish has, valid in both frameworks.

``SPECS`` is data: each :class:`LayerSpec` names a class of ``keras.layers`` / ``kerasish.layers``, the
keyword arguments to build it with (non-default values where that exercises the config), and the shape
and dtype of one input (without the batch dimension). :func:`build_layer` makes the layer in either
framework (nested layers, such as an RNN's cell or a wrapper's layer, are written as :class:`Sub`);
:func:`make_inputs` makes a batch of random inputs for it.

Used by test_keras_config_parity.py (configs both ways) and meant for weight-file round trips too.
``needs_tf`` marks layers that Keras builds only with TensorFlow installed (their Keras side is skipped
where TensorFlow is missing); ``has_weights=False`` marks layers without any weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Sub:
    """A nested layer argument: ``class_name(**kwargs)`` in whichever framework builds the outer layer."""

    class_name: str
    kwargs: dict = field(default_factory=dict)

    def make(self, layers_module):
        return getattr(layers_module, self.class_name)(**resolve(self.kwargs, layers_module))


def resolve(value, layers_module):
    """``value`` with every :class:`Sub` inside it built with ``layers_module``."""
    if isinstance(value, Sub):
        return value.make(layers_module)
    if isinstance(value, dict):
        return {k: resolve(v, layers_module) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, layers_module) for v in value]
    return value


@dataclass(frozen=True)
class LayerSpec:
    name: str  # the class name, the same in keras.layers and kerasish.layers
    kwargs: dict
    input_shape: Any  # a shape without the batch dimension, or a list of them (several inputs)
    input_dtype: str = "float32"
    low: float = 0.0  # random inputs are uniform in [low, high) (integers: low..high-1)
    high: float = 1.0
    make_input: Callable | None = None  # (rng, batch_size) -> the input batch, when random numbers won't do
    has_weights: bool = True
    needs_tf: bool = False
    unpack_inputs: bool = False  # call the layer as layer(*inputs) (attention: query, value[, key])
    id: str = ""
    extra: dict = field(default_factory=dict)  # notes for other tests (e.g. "call_kwargs")

    @property
    def test_id(self) -> str:
        return self.id or self.name

    @property
    def multi_input(self) -> bool:
        return isinstance(self.input_shape, list)


def build_layer(spec: LayerSpec, layers_module):
    """The spec's layer, made with ``keras.layers`` or ``kerasish.layers``."""
    return getattr(layers_module, spec.name)(**resolve(spec.kwargs, layers_module))


def make_inputs(spec: LayerSpec, batch_size: int = 2, seed: int = 0):
    """A batch of random inputs for the spec (a list for a multi-input layer)."""
    rng = np.random.default_rng(seed)
    if spec.make_input is not None:
        return spec.make_input(rng, batch_size)
    shapes = spec.input_shape if spec.multi_input else [spec.input_shape]
    out = []
    for shape in shapes:
        full = (batch_size, *shape)
        if np.issubdtype(np.dtype(spec.input_dtype), np.integer):
            out.append(rng.integers(int(spec.low), int(spec.high), size=full).astype(spec.input_dtype))
        else:
            out.append(rng.uniform(spec.low, spec.high, size=full).astype(spec.input_dtype))
    return out if spec.multi_input else out[0]


# Shared argument values (Keras's serialized forms are valid arguments in both frameworks).
RANDN = {"class_name": "RandomNormal", "config": {"mean": 0.0, "stddev": 0.02, "seed": 3}}
ONES = "ones"
L1L2 = {"class_name": "L1L2", "config": {"l1": 0.001, "l2": 0.002}}
L2 = {"class_name": "L2", "config": {"l2": 0.003}}
MAXNORM = {"class_name": "MaxNorm", "config": {"max_value": 2.0, "axis": 0}}
NONNEG = "non_neg"
F64 = "float64"

_DENSE_OPTS = dict(kernel_initializer=RANDN, bias_initializer=ONES, kernel_regularizer=L1L2, bias_regularizer=L2,
                   activity_regularizer=L2, kernel_constraint=MAXNORM, bias_constraint=NONNEG)
_CONV_OPTS = dict(_DENSE_OPTS)


def _image(shape=(8, 8, 3), high=255.0):
    return dict(input_shape=shape, low=0.0, high=high)


def _strings(rng, batch_size):
    words = np.array(["the", "cat", "sat", "on", "mat", "zebra"])
    return words[rng.integers(0, len(words), size=(batch_size, 3))]


def _sentences(rng, batch_size):
    words = np.array(["the", "cat", "sat", "on", "mat", "zebra"])
    return np.array([" ".join(words[rng.integers(0, len(words), size=4)]) for _ in range(batch_size)])


def _ids(high, shape):
    return dict(input_shape=shape, input_dtype="int32", low=0, high=high)


# The keys of Keras's configs for the layers that Keras builds only with TensorFlow (from Keras 3.15's source).
_BASE_KEYS = "name trainable dtype "
_LOOKUP_KEYS = ("invert max_tokens num_oov_indices oov_token mask_token output_mode sparse pad_to_max_tokens "
                "idf_weights vocabulary vocabulary_size oov_method salt")

_CELL = Sub("LSTMCell", dict(units=3, recurrent_dropout=0.0, unit_forget_bias=False))

SPECS: list[LayerSpec] = [
    # -- core --------------------------------------------------------------------------------------
    LayerSpec("Dense", dict(units=4, activation="relu", use_bias=True, **_DENSE_OPTS), (5,)),
    LayerSpec("Dense", dict(units=3, use_bias=False, activation="tanh", kernel_initializer="he_normal"), (2, 5),
              id="Dense-nobias-3d"),
    LayerSpec("Dense", dict(units=3, dtype=F64), (5,), input_dtype=F64, id="Dense-float64"),
    LayerSpec("EinsumDense", dict(equation="abc,cde->abde", output_shape=(3, 4, 2), bias_axes="de", activation="gelu",
                                  kernel_initializer=RANDN, bias_regularizer=L2, kernel_constraint=NONNEG), (3, 5)),
    LayerSpec("EinsumDense", dict(equation="ab,bc->ac", output_shape=6), (5,), id="EinsumDense-nobias"),
    LayerSpec("Embedding", dict(input_dim=10, output_dim=4, embeddings_initializer=RANDN, embeddings_regularizer=L2,
                                embeddings_constraint=MAXNORM, mask_zero=True), **_ids(10, (6,))),
    LayerSpec("ReversibleEmbedding", dict(input_dim=10, output_dim=4, tie_weights=False, logit_soft_cap=30.0,
                                          embeddings_initializer=RANDN), **_ids(10, (6,))),
    LayerSpec("Activation", dict(activation="softplus"), (5,), has_weights=False),
    LayerSpec("Identity", dict(), (5,), has_weights=False),
    LayerSpec("Masking", dict(mask_value=0.5), (4, 3), has_weights=False),
    LayerSpec("Dropout", dict(rate=0.3, noise_shape=(None, 1, 5), seed=7), (4, 5), has_weights=False),
    LayerSpec("Flatten", dict(), (3, 4), has_weights=False),
    LayerSpec("Reshape", dict(target_shape=(2, -1)), (3, 4), has_weights=False),
    LayerSpec("Permute", dict(dims=(2, 1)), (3, 4), has_weights=False),
    LayerSpec("RepeatVector", dict(n=3), (4,), has_weights=False),
    # -- activations -------------------------------------------------------------------------------
    LayerSpec("ELU", dict(alpha=0.7), (5,), has_weights=False),
    LayerSpec("LeakyReLU", dict(negative_slope=0.2), (5,), has_weights=False),
    LayerSpec("PReLU", dict(alpha_initializer=RANDN, alpha_regularizer=L2, alpha_constraint=NONNEG,
                            shared_axes=[1]), (4, 3)),
    LayerSpec("ReLU", dict(max_value=6.0, negative_slope=0.1, threshold=0.2), (5,), has_weights=False),
    LayerSpec("Softmax", dict(axis=1), (3, 4), has_weights=False),
    # -- convolutions ------------------------------------------------------------------------------
    LayerSpec("Conv1D", dict(filters=4, kernel_size=3, strides=2, padding="same", activation="relu",
                             **_CONV_OPTS), (9, 3)),
    LayerSpec("Conv1D", dict(filters=4, kernel_size=2, padding="causal", dilation_rate=2, groups=2, use_bias=False),
              (9, 4), id="Conv1D-causal-groups"),
    LayerSpec("Conv2D", dict(filters=4, kernel_size=(3, 2), strides=(1, 2), padding="valid", dilation_rate=1,
                             activation="sigmoid", **_CONV_OPTS), (8, 8, 3)),
    LayerSpec("Conv2D", dict(filters=2, kernel_size=3, data_format="channels_first", use_bias=False), (3, 8, 8),
              id="Conv2D-channels-first"),
    LayerSpec("Conv3D", dict(filters=2, kernel_size=2, strides=1, padding="same", kernel_initializer=RANDN),
              (4, 4, 4, 2)),
    LayerSpec("Conv1DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="same", output_padding=1,
                                      **_CONV_OPTS), (5, 2)),
    LayerSpec("Conv2DTranspose", dict(filters=3, kernel_size=2, strides=2, activation="relu", use_bias=False),
              (4, 4, 2)),
    LayerSpec("Conv3DTranspose", dict(filters=2, kernel_size=2, strides=(1, 2, 1), padding="valid"), (3, 3, 3, 2)),
    LayerSpec("DepthwiseConv1D", dict(kernel_size=3, depth_multiplier=2, depthwise_initializer=RANDN,
                                      depthwise_regularizer=L2, depthwise_constraint=NONNEG, bias_initializer=ONES),
              (8, 3)),
    LayerSpec("DepthwiseConv2D", dict(kernel_size=3, strides=2, padding="same", depth_multiplier=1,
                                      activation="relu6", use_bias=False), (8, 8, 3)),
    LayerSpec("SeparableConv1D", dict(filters=4, kernel_size=3, depth_multiplier=2, pointwise_initializer=RANDN,
                                      pointwise_regularizer=L1L2, depthwise_constraint=MAXNORM,
                                      bias_constraint=NONNEG), (8, 3)),
    LayerSpec("SeparableConv2D", dict(filters=4, kernel_size=2, padding="same", activation="elu", use_bias=False,
                                      depthwise_initializer="he_uniform"), (6, 6, 3)),
    # -- pooling -----------------------------------------------------------------------------------
    LayerSpec("MaxPooling1D", dict(pool_size=3, strides=1, padding="same"), (6, 2), has_weights=False),
    LayerSpec("MaxPooling2D", dict(pool_size=(2, 3), strides=(2, 1), padding="valid"), (6, 6, 2),
              has_weights=False),
    LayerSpec("MaxPooling3D", dict(pool_size=2), (4, 4, 4, 2), has_weights=False),
    LayerSpec("AveragePooling1D", dict(pool_size=2, padding="same"), (5, 2), has_weights=False),
    LayerSpec("AveragePooling2D", dict(pool_size=2, strides=1, data_format="channels_first"), (2, 5, 5),
              has_weights=False),
    LayerSpec("AveragePooling3D", dict(pool_size=(2, 2, 1)), (4, 4, 4, 2), has_weights=False),
    LayerSpec("GlobalAveragePooling1D", dict(keepdims=True), (5, 3), has_weights=False),
    LayerSpec("GlobalAveragePooling2D", dict(), (4, 4, 3), has_weights=False),
    LayerSpec("GlobalAveragePooling3D", dict(keepdims=True), (3, 3, 3, 2), has_weights=False),
    LayerSpec("GlobalMaxPooling1D", dict(data_format="channels_first"), (5, 3), has_weights=False),
    LayerSpec("GlobalMaxPooling2D", dict(keepdims=True), (4, 4, 3), has_weights=False),
    LayerSpec("GlobalMaxPooling3D", dict(), (3, 3, 3, 2), has_weights=False),
    LayerSpec("AdaptiveAveragePooling1D", dict(output_size=3), (9, 2), has_weights=False),
    LayerSpec("AdaptiveAveragePooling2D", dict(output_size=(2, 3)), (6, 6, 2), has_weights=False),
    LayerSpec("AdaptiveAveragePooling3D", dict(output_size=2), (4, 4, 4, 1), has_weights=False),
    LayerSpec("AdaptiveMaxPooling1D", dict(output_size=2), (8, 2), has_weights=False),
    LayerSpec("AdaptiveMaxPooling2D", dict(output_size=2, data_format="channels_first"), (2, 6, 6),
              has_weights=False),
    LayerSpec("AdaptiveMaxPooling3D", dict(output_size=(2, 2, 1)), (4, 4, 2, 1), has_weights=False),
    # -- reshaping ---------------------------------------------------------------------------------
    LayerSpec("Cropping1D", dict(cropping=(1, 2)), (6, 2), has_weights=False),
    LayerSpec("Cropping2D", dict(cropping=((1, 0), (2, 1))), (6, 6, 2), has_weights=False),
    LayerSpec("Cropping3D", dict(cropping=1), (4, 4, 4, 1), has_weights=False),
    LayerSpec("UpSampling1D", dict(size=3), (4, 2), has_weights=False),
    LayerSpec("UpSampling2D", dict(size=(2, 1), interpolation="bilinear"), (3, 3, 2), has_weights=False),
    LayerSpec("UpSampling3D", dict(size=2), (2, 2, 2, 1), has_weights=False),
    LayerSpec("ZeroPadding1D", dict(padding=(1, 2)), (4, 2), has_weights=False),
    LayerSpec("ZeroPadding2D", dict(padding=((1, 0), (0, 2))), (3, 3, 2), has_weights=False),
    LayerSpec("ZeroPadding3D", dict(padding=1), (2, 2, 2, 1), has_weights=False),
    # -- merging -----------------------------------------------------------------------------------
    LayerSpec("Add", dict(), [(4,), (4,)], has_weights=False),
    LayerSpec("Subtract", dict(), [(4,), (4,)], has_weights=False),
    LayerSpec("Multiply", dict(), [(4,), (4,), (4,)], has_weights=False),
    LayerSpec("Average", dict(), [(3, 4), (3, 4)], has_weights=False),
    LayerSpec("Maximum", dict(), [(4,), (4,)], has_weights=False),
    LayerSpec("Minimum", dict(), [(4,), (4,)], has_weights=False),
    LayerSpec("Concatenate", dict(axis=1), [(2, 4), (3, 4)], has_weights=False),
    LayerSpec("Dot", dict(axes=(2, 2), normalize=True), [(3, 4), (5, 4)], has_weights=False),
    # -- normalization -----------------------------------------------------------------------------
    LayerSpec("BatchNormalization", dict(axis=-1, momentum=0.9, epsilon=1e-3, center=True, scale=False,
                                         beta_initializer=RANDN, moving_variance_initializer=ONES,
                                         beta_regularizer=L2, beta_constraint=NONNEG), (4, 3)),
    LayerSpec("LayerNormalization", dict(axis=-1, epsilon=1e-5, rms_scaling=False, gamma_initializer=RANDN,
                                         beta_regularizer=L2, gamma_constraint=NONNEG), (3, 4)),
    LayerSpec("LayerNormalization", dict(axis=[1, 2], center=False), (3, 4), id="LayerNormalization-axes"),
    LayerSpec("GroupNormalization", dict(groups=2, epsilon=1e-4, gamma_initializer=RANDN, beta_regularizer=L2),
              (5, 4)),
    LayerSpec("RMSNormalization", dict(axis=-1, epsilon=1e-5), (3, 4)),
    LayerSpec("UnitNormalization", dict(axis=[1, 2]), (3, 4), has_weights=False),
    LayerSpec("SpectralNormalization", dict(layer=Sub("Dense", dict(units=3)), power_iterations=2), (4,)),
    # -- regularization ----------------------------------------------------------------------------
    LayerSpec("ActivityRegularization", dict(l1=0.01, l2=0.02), (4,), has_weights=False),
    LayerSpec("AlphaDropout", dict(rate=0.2, noise_shape=None, seed=3), (4,), has_weights=False),
    LayerSpec("GaussianDropout", dict(rate=0.1, seed=2), (4,), has_weights=False),
    LayerSpec("GaussianNoise", dict(stddev=0.5, seed=1), (4,), has_weights=False),
    LayerSpec("SpatialDropout1D", dict(rate=0.2, seed=4), (5, 3), has_weights=False),
    LayerSpec("SpatialDropout2D", dict(rate=0.2, data_format="channels_first"), (2, 4, 4), has_weights=False),
    LayerSpec("SpatialDropout3D", dict(rate=0.1), (2, 2, 2, 3), has_weights=False),
    # -- attention ---------------------------------------------------------------------------------
    LayerSpec("Attention", dict(use_scale=True, score_mode="concat", dropout=0.1, seed=5), [(3, 4), (5, 4)]),
    LayerSpec("Attention", dict(), [(3, 4), (5, 2), (5, 4)], has_weights=False, id="Attention-value"),
    LayerSpec("AdditiveAttention", dict(use_scale=False, dropout=0.0), [(3, 4), (5, 4)], has_weights=False),
    LayerSpec("AdditiveAttention", dict(use_scale=True), [(3, 4), (5, 4)], id="AdditiveAttention-scale"),
    LayerSpec("MultiHeadAttention", dict(num_heads=2, key_dim=3, value_dim=4, dropout=0.1, use_bias=False,
                                         output_shape=(5,), attention_axes=(1,), kernel_initializer=RANDN,
                                         kernel_regularizer=L2, seed=3), [(4, 6), (5, 6)],
              unpack_inputs=True),
    LayerSpec("MultiHeadAttention", dict(num_heads=1, key_dim=2, bias_initializer=ONES, bias_constraint=NONNEG),
              [(4, 6), (5, 6), (5, 3)], unpack_inputs=True,
              id="MultiHeadAttention-value"),
    LayerSpec("GroupQueryAttention", dict(head_dim=3, num_query_heads=4, num_key_value_heads=2, dropout=0.1,
                                          use_bias=False, kernel_initializer=RANDN, kernel_regularizer=L2,
                                          seed=2), [(4, 6), (5, 6)], unpack_inputs=True),
    # -- recurrent ---------------------------------------------------------------------------------
    LayerSpec("SimpleRNN", dict(units=3, activation="relu", return_sequences=True, dropout=0.1, seed=1,
                                recurrent_initializer=RANDN, kernel_regularizer=L2, bias_constraint=NONNEG),
              (5, 2)),
    LayerSpec("LSTM", dict(units=3, recurrent_activation="hard_sigmoid", unit_forget_bias=False, go_backwards=True,
                           return_state=True, kernel_initializer=RANDN, recurrent_regularizer=L1L2,
                           use_bias=False), (5, 2)),
    LayerSpec("GRU", dict(units=3, reset_after=False, return_sequences=True, stateful=False, unroll=True,
                          activation="tanh", bias_initializer=ONES, recurrent_constraint=MAXNORM), (4, 2)),
    LayerSpec("GRU", dict(units=2), (4, 2), id="GRU-default"),
    LayerSpec("RNN", dict(cell=Sub("SimpleRNNCell", dict(units=3, activation="tanh", use_bias=False)),
                          return_sequences=True, go_backwards=True), (5, 2), id="RNN-SimpleRNNCell"),
    LayerSpec("RNN", dict(cell=_CELL, return_state=True), (5, 2), id="RNN-LSTMCell"),
    LayerSpec("RNN", dict(cell=Sub("GRUCell", dict(units=3, reset_after=True, kernel_initializer=RANDN))),
              (5, 2), id="RNN-GRUCell"),
    LayerSpec("RNN", dict(cell=[Sub("SimpleRNNCell", dict(units=3)), Sub("GRUCell", dict(units=2))]), (5, 2),
              id="RNN-cell-list"),
    LayerSpec("RNN", dict(cell=Sub("StackedRNNCells", dict(cells=[Sub("LSTMCell", dict(units=2)),
                                                                    Sub("SimpleRNNCell", dict(units=3))]))),
              (5, 2), id="RNN-StackedRNNCells"),
    LayerSpec("Bidirectional", dict(layer=Sub("LSTM", dict(units=3, return_sequences=True)), merge_mode="sum"),
              (5, 2)),
    LayerSpec("Bidirectional", dict(layer=Sub("GRU", dict(units=2)),
                                    backward_layer=Sub("GRU", dict(units=2, go_backwards=True)),
                                    merge_mode="concat"), (5, 2), id="Bidirectional-backward-layer"),
    LayerSpec("TimeDistributed", dict(layer=Sub("Dense", dict(units=3, activation="relu"))), (4, 5)),
    LayerSpec("TimeDistributed", dict(layer=Sub("Conv2D", dict(filters=2, kernel_size=2))), (3, 5, 5, 1),
              id="TimeDistributed-Conv2D"),
    LayerSpec("ConvLSTM1D", dict(filters=2, kernel_size=3, padding="same", return_sequences=True,
                                 recurrent_initializer=RANDN, unit_forget_bias=False), (3, 6, 2)),
    LayerSpec("ConvLSTM2D", dict(filters=2, kernel_size=2, strides=1, activation="relu", dropout=0.1,
                                 kernel_regularizer=L2), (3, 5, 5, 1)),
    LayerSpec("ConvLSTM3D", dict(filters=2, kernel_size=2, use_bias=False), (2, 3, 3, 3, 1)),
    # -- preprocessing -----------------------------------------------------------------------------
    LayerSpec("Normalization", dict(axis=-1, mean=[0.5, 1.0, 1.5], variance=[1.0, 2.0, 4.0]), (3,),
              has_weights=False),  # given mean and variance are constants, not weights (as Keras)
    LayerSpec("Normalization", dict(axis=-1, mean=2.0, variance=3.0, invert=True), (3,), has_weights=False,
              id="Normalization-invert"),
    LayerSpec("Rescaling", dict(scale=1.0 / 255, offset=-0.5), _image()["input_shape"], has_weights=False),
    LayerSpec("Resizing", dict(height=4, width=6, interpolation="nearest", crop_to_aspect_ratio=True),
              **_image(), has_weights=False),
    LayerSpec("CenterCrop", dict(height=4, width=5), **_image(), has_weights=False),
    LayerSpec("Discretization", dict(bin_boundaries=[0.2, 0.5, 0.8], output_mode="one_hot"), (3,),
              has_weights=False),
    LayerSpec("CategoryEncoding", dict(num_tokens=6, output_mode="count"), **_ids(6, (4,)), has_weights=False),
    LayerSpec("Hashing", dict(num_bins=5, mask_value="", salt=None), (3,), input_dtype="str",
              make_input=_strings, has_weights=False, needs_tf=True,
              extra={"keras_config_keys": _BASE_KEYS + "num_bins salt mask_value output_mode sparse"}),
    LayerSpec("HashedCrossing", dict(num_bins=7, output_mode="int"), [(1,), (1,)], input_dtype="int32",
              make_input=lambda rng, n: [rng.integers(0, 5, (n, 1)), rng.integers(0, 5, (n, 1))],
              has_weights=False, needs_tf=True,
              extra={"keras_config_keys": "num_bins output_mode sparse name dtype"}),
    LayerSpec("StringLookup", dict(vocabulary=["the", "cat", "sat"], num_oov_indices=2, output_mode="int"), (3,),
              input_dtype="str", make_input=_strings, has_weights=False, needs_tf=True,
              extra={"keras_config_keys": _BASE_KEYS + _LOOKUP_KEYS + " encoding"}),
    LayerSpec("IntegerLookup", dict(vocabulary=[3, 5, 7], mask_token=0, output_mode="multi_hot"),
              **_ids(9, (4,)), has_weights=False, needs_tf=True,
              extra={"keras_config_keys": _BASE_KEYS + _LOOKUP_KEYS + " vocabulary_dtype"}),
    LayerSpec("TextVectorization", dict(vocabulary=["the", "cat", "sat", "on"], output_sequence_length=5,
                                        standardize="lower", split="whitespace"), (), input_dtype="str",
              make_input=_sentences, has_weights=False, needs_tf=True,
              extra={"keras_config_keys": _BASE_KEYS + "max_tokens standardize split ngrams output_mode "
                     "output_sequence_length pad_to_max_tokens sparse ragged vocabulary idf_weights encoding "
                     "vocabulary_size"}),
    LayerSpec("MelSpectrogram", dict(fft_length=64, sequence_stride=16, sequence_length=32, num_mel_bins=8,
                                     sampling_rate=8000, max_freq=3000.0, power_to_db=False), (128,),
              low=-1.0, has_weights=False),
    LayerSpec("STFTSpectrogram", dict(mode="magnitude", frame_length=16, frame_step=8, fft_length=16,
                                      window="hamming", expand_dims=True), (64, 1), low=-1.0),
    LayerSpec("Pipeline", dict(layers=[Sub("Rescaling", dict(scale=0.5)), Sub("CenterCrop", dict(height=4,
                                                                                                  width=4))]),
              **_image(), has_weights=False),
    # -- image augmentation (weightless; each keeps its seed and value range) ----------------------
    LayerSpec("RandomFlip", dict(mode="horizontal", seed=1), **_image(), has_weights=False),
    LayerSpec("RandomRotation", dict(factor=0.1, fill_mode="constant", fill_value=1.0, seed=2), **_image(),
              has_weights=False),
    LayerSpec("RandomTranslation", dict(height_factor=0.1, width_factor=(-0.2, 0.1), fill_mode="nearest",
                                        interpolation="nearest", seed=3), **_image(), has_weights=False),
    LayerSpec("RandomZoom", dict(height_factor=(-0.2, 0.1), width_factor=0.1, fill_mode="wrap", seed=4),
              **_image(), has_weights=False),
    LayerSpec("RandomCrop", dict(height=5, width=6, seed=5), **_image(), has_weights=False),
    LayerSpec("RandomContrast", dict(factor=0.3, value_range=(0, 1), seed=6), **_image(high=1.0),
              has_weights=False),
    LayerSpec("RandomBrightness", dict(factor=(-0.2, 0.3), value_range=(0, 1), seed=7), **_image(high=1.0),
              has_weights=False),
    LayerSpec("RandomColorDegeneration", dict(factor=0.4, seed=1), **_image(), has_weights=False),
    LayerSpec("RandomColorJitter", dict(value_range=(0, 1), brightness_factor=0.2, contrast_factor=0.3,
                                        saturation_factor=(0.5, 0.9), hue_factor=0.1, seed=2), **_image(high=1.0),
              has_weights=False),
    LayerSpec("RandomGrayscale", dict(factor=0.3, seed=3), **_image(), has_weights=False),
    LayerSpec("RandomHue", dict(factor=0.2, value_range=(0, 1), seed=4), **_image(high=1.0), has_weights=False),
    LayerSpec("RandomSaturation", dict(factor=(0.2, 0.8), seed=5), **_image(), has_weights=False),
    LayerSpec("RandomSharpness", dict(factor=0.3, seed=6), **_image(), has_weights=False),
    LayerSpec("RandomPosterization", dict(factor=(1, 4), seed=7), **_image(), has_weights=False),
    LayerSpec("RandomInvert", dict(factor=0.6, value_range=(0, 1), seed=8), **_image(high=1.0), has_weights=False),
    LayerSpec("RandomShear", dict(x_factor=0.2, y_factor=(0.1, 0.3), fill_mode="constant", seed=9), **_image(),
              has_weights=False, extra={"keras_cannot_reload": "Keras 3.15 writes x_factor=0.2 as (-0.2, 0.2), which "
                                        "its own constructor refuses: Keras cannot load its own RandomShear config"}),
    LayerSpec("RandomPerspective", dict(factor=0.5, scale=0.3, interpolation="nearest", seed=1), **_image(),
              has_weights=False),
    LayerSpec("RandomElasticTransform", dict(factor=0.5, scale=0.3, fill_mode="constant", seed=2), **_image(),
              has_weights=False),
    LayerSpec("RandomErasing", dict(factor=0.5, scale=(0.1, 0.2), fill_value=3.0, seed=3), **_image(),
              has_weights=False),
    LayerSpec("RandomGaussianBlur", dict(factor=0.5, kernel_size=5, sigma=(0.5, 1.0), seed=4), **_image(),
              has_weights=False),
    LayerSpec("Solarization", dict(addition_factor=0.2, threshold_factor=(0.1, 0.5), value_range=(0, 1), seed=5),
              **_image(high=1.0), has_weights=False),
    LayerSpec("AutoContrast", dict(value_range=(0, 1)), **_image(high=1.0), has_weights=False),
    LayerSpec("Equalization", dict(value_range=(0, 255), bins=128), **_image(), has_weights=False,
              extra={"standalone": "Keras 3.15's Equalization hands back its symbolic input unchanged, so a "
                                   "functional model around it is a cycle: its config is tested on the layer alone"}),
    LayerSpec("ContrastLimitedAdaptiveHistogramEqualization", dict(clip_limit=2.0, tile_grid_size=(2, 2)),
              **_image(), has_weights=False),
    LayerSpec("AugMix", dict(value_range=(0, 1), num_chains=2, chain_depth=2, factor=0.4, alpha=0.5,
                             all_ops=False, seed=6), **_image(high=1.0), has_weights=False),
    LayerSpec("RandAugment", dict(value_range=(0, 1), num_ops=3, factor=(0.1, 0.4), seed=7), **_image(high=1.0),
              has_weights=False),
    LayerSpec("CutMix", dict(factor=0.8, seed=8), **_image(), has_weights=False),
    LayerSpec("MixUp", dict(alpha=0.4, seed=9), **_image(), has_weights=False),
    LayerSpec("MaxNumBoundingBoxes", dict(max_number=3, fill_value=-2), **_image(), has_weights=False),
]

# keras.layers names that kerasish has but that no spec builds, and why.
NOT_SPECIFIED = {
    "InputLayer": "made by keras.Input in every spec's model; checked by each test",
    "InputSpec": "not a layer",
    "Layer": "the base class",
    "Wrapper": "abstract base of TimeDistributed / Bidirectional",
    "Lambda": "its config holds code: kerasish never deserializes a Python function from a config",
    "JaxLayer": "its config holds Python functions (call_fn / init_fn): code",
    "FlaxLayer": "its config holds a Flax module instance: code",
}

# Keras's aliases: the same class under another name (configs name the class itself).
ALIASES = {
    "AvgPool1D": "AveragePooling1D", "AvgPool2D": "AveragePooling2D", "AvgPool3D": "AveragePooling3D",
    "MaxPool1D": "MaxPooling1D", "MaxPool2D": "MaxPooling2D", "MaxPool3D": "MaxPooling3D",
    "GlobalAvgPool1D": "GlobalAveragePooling1D", "GlobalAvgPool2D": "GlobalAveragePooling2D",
    "GlobalAvgPool3D": "GlobalAveragePooling3D", "GlobalMaxPool1D": "GlobalMaxPooling1D",
    "GlobalMaxPool2D": "GlobalMaxPooling2D", "GlobalMaxPool3D": "GlobalMaxPooling3D",
    "Convolution1D": "Conv1D", "Convolution2D": "Conv2D", "Convolution3D": "Conv3D",
    "Convolution1DTranspose": "Conv1DTranspose", "Convolution2DTranspose": "Conv2DTranspose",
    "Convolution3DTranspose": "Conv3DTranspose", "SeparableConvolution1D": "SeparableConv1D",
    "SeparableConvolution2D": "SeparableConv2D",
    "GroupedQueryAttention": "GroupQueryAttention",
}
