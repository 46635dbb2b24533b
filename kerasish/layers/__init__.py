"""Keras-named layers."""

from kerasish.layers.activation import ELU, Identity, LeakyReLU, PReLU, ReLU, Softmax
from kerasish.layers.adaptive_pooling import (
    AdaptiveAveragePooling1D,
    AdaptiveAveragePooling2D,
    AdaptiveAveragePooling3D,
    AdaptiveMaxPooling1D,
    AdaptiveMaxPooling2D,
    AdaptiveMaxPooling3D,
)
from kerasish.layers.attention import AdditiveAttention, Attention, MultiHeadAttention
from kerasish.layers.audio import MelSpectrogram, STFTSpectrogram
from kerasish.layers.base import Layer
from kerasish.layers.conv import (
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Conv3DTranspose,
    Convolution1D,
    Convolution1DTranspose,
    Convolution2D,
    Convolution2DTranspose,
    Convolution3D,
    Convolution3DTranspose,
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
    SeparableConvolution1D,
    SeparableConvolution2D,
)
from kerasish.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from kerasish.layers.core import (
    Activation,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Input,
    InputLayer,
    Lambda,
    Masking,
    Reshape,
)
from kerasish.layers.einsum_dense import EinsumDense
from kerasish.layers.group_query_attention import GroupedQueryAttention, GroupQueryAttention
from kerasish.layers.input_spec import InputSpec
from kerasish.layers.jax_layer import FlaxLayer, JaxLayer
from kerasish.layers.merging import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from kerasish.layers.normalization import (
    BatchNormalization,
    GroupNormalization,
    LayerNormalization,
    RMSNormalization,
    UnitNormalization,
)
from kerasish.layers.op_layer import OpLayer  # ops on KerasTensors (registers itself with kerasish.ops)
from kerasish.layers.pipeline import Pipeline
from kerasish.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    AvgPool1D,
    AvgPool2D,
    AvgPool3D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalAvgPool3D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPool3D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    MaxPool1D,
    MaxPool2D,
    MaxPool3D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
)
from kerasish.layers.recurrent import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    GRUCell,
    LSTMCell,
    SimpleRNN,
    SimpleRNNCell,
)
from kerasish.layers.regularization import (
    ActivityRegularization,
    AlphaDropout,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)
from kerasish.layers.reshaping import (
    Cropping1D,
    Cropping2D,
    Cropping3D,
    Permute,
    RepeatVector,
    UpSampling1D,
    UpSampling2D,
    UpSampling3D,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)
from kerasish.layers.reversible_embedding import ReversibleEmbedding
from kerasish.layers.serialization import deserialize, serialize
from kerasish.layers.stacked_rnn_cells import StackedRNNCells
from kerasish.layers.symbolic import KerasTensor
from kerasish.layers.wrappers import SpectralNormalization, TimeDistributed, Wrapper
from kerasish.saving import registry as _registry

# isort: split
# The preprocessing and augmentation layers: each module lists its public names in its own __all__.
from kerasish.layers import augmentation as _augmentation  # noqa: E402
from kerasish.layers import augmentation_color as _augmentation_color  # noqa: E402
from kerasish.layers import augmentation_geometry as _augmentation_geometry  # noqa: E402
from kerasish.layers import augmentation_policy as _augmentation_policy  # noqa: E402
from kerasish.layers import lookup as _lookup  # noqa: E402
from kerasish.layers import preprocessing as _preprocessing  # noqa: E402
from kerasish.layers import preprocessing_encoding as _preprocessing_encoding  # noqa: E402
from kerasish.layers import preprocessing_text as _preprocessing_text  # noqa: E402
from kerasish.layers.augmentation import *  # noqa: E402,F403
from kerasish.layers.augmentation import (  # noqa: E402  (named too: the __all__ below lists them)
    CutMix,
    MixUp,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
from kerasish.layers.augmentation_color import *  # noqa: E402,F403
from kerasish.layers.augmentation_geometry import *  # noqa: E402,F403
from kerasish.layers.augmentation_policy import *  # noqa: E402,F403
from kerasish.layers.lookup import *  # noqa: E402,F403
from kerasish.layers.preprocessing import *  # noqa: E402,F403
from kerasish.layers.preprocessing import CenterCrop, Normalization, Rescaling, Resizing  # noqa: E402
from kerasish.layers.preprocessing_encoding import *  # noqa: E402,F403
from kerasish.layers.preprocessing_text import *  # noqa: E402,F403

__all__ = [
    "Activation", "ActivityRegularization", "AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D",
    "AdaptiveAveragePooling3D", "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D", "Add",
    "AdditiveAttention", "AlphaDropout", "Attention", "Average", "AveragePooling1D", "AveragePooling2D",
    "AveragePooling3D", "AvgPool1D", "AvgPool2D", "AvgPool3D", "BatchNormalization", "Bidirectional", "CenterCrop",
    "Concatenate", "Conv1D", "Conv1DTranspose", "Conv2D", "Conv2DTranspose", "Conv3D", "Conv3DTranspose", "ConvLSTM1D",
    "ConvLSTM2D", "ConvLSTM3D", "Convolution1D", "Convolution1DTranspose", "Convolution2D", "Convolution2DTranspose",
    "Convolution3D", "Convolution3DTranspose", "Cropping1D", "Cropping2D", "Cropping3D", "CutMix", "Dense",
    "DepthwiseConv1D", "DepthwiseConv2D", "Dot", "Dropout", "ELU", "EinsumDense", "Embedding", "Flatten", "FlaxLayer",
    "GRU", "GRUCell", "GaussianDropout", "GaussianNoise", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalAveragePooling3D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D", "GlobalMaxPool1D",
    "GlobalMaxPool2D", "GlobalMaxPool3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
    "GroupNormalization", "GroupQueryAttention", "GroupedQueryAttention", "Identity", "Input", "InputLayer",
    "InputSpec", "JaxLayer", "KerasTensor", "LSTM", "LSTMCell", "Lambda", "Layer", "LayerNormalization", "LeakyReLU",
    "Masking", "MaxPool1D", "MaxPool2D", "MaxPool3D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "Maximum",
    "MelSpectrogram", "Minimum", "MixUp", "MultiHeadAttention", "Multiply", "Normalization", "OpLayer", "PReLU",
    "Permute",
    "Pipeline", "RMSNormalization", "RNN", "RandomContrast", "RandomCrop", "RandomFlip", "RandomRotation",
    "RandomTranslation", "RandomZoom", "ReLU", "RepeatVector", "Rescaling", "Reshape", "Resizing",
    "ReversibleEmbedding", "STFTSpectrogram", "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D",
    "SeparableConvolution2D", "SimpleRNN", "SimpleRNNCell", "Softmax", "SpatialDropout1D", "SpatialDropout2D",
    "SpatialDropout3D", "SpectralNormalization", "StackedRNNCells", "Subtract", "TimeDistributed", "UnitNormalization",
    "UpSampling1D", "UpSampling2D", "UpSampling3D", "Wrapper", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "add",
    "average", "concatenate", "deserialize", "dot", "maximum", "minimum", "multiply", "serialize", "subtract",
]
__all__ += [*_augmentation.__all__, *_augmentation_color.__all__, *_augmentation_geometry.__all__,
            *_augmentation_policy.__all__, *_preprocessing.__all__, *_lookup.__all__, *_preprocessing_encoding.__all__,
            *_preprocessing_text.__all__]

# Keras's short aliases, and the base class, are names configs may use too.
for _alias in ("AvgPool1D", "AvgPool2D", "AvgPool3D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D",
               "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D", "MaxPool1D", "MaxPool2D", "MaxPool3D"):
    _registry.register_builtin(globals()[_alias], _alias)
_registry.register_builtin(Layer, "Layer")
del _alias
