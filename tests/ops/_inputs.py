"""Generated inputs for the keras.ops parity harness: arrays of several shapes and dtypes, and per-op argument
recipes where an op takes more than arrays."""

from __future__ import annotations

import numpy as np

DTYPES = ("float32", "int32", "bool", "float16", "bfloat16")
SHAPES_UNARY = ((), (2, 3))
SHAPES_BINARY = (((2, 3), (2, 3)), ((2, 1, 4), (3, 1)))
ARRAY_PARAMS = {"x", "x1", "x2", "a", "y", "array", "inputs", "variable", "abs_", "angle"}


def array(shape, dtype, seed=0, low=-2.0, high=2.0):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype.startswith(("int", "uint")):
        lo = 0 if dtype.startswith("uint") else -3
        return rng.integers(lo, 6, size=shape).astype(dtype)
    values = rng.uniform(low, high, size=shape).astype("float32")
    if dtype == "bfloat16":
        import ml_dtypes

        return values.astype(ml_dtypes.bfloat16)
    return values.astype(dtype)


def f32(*shape, seed=0, low=-2.0, high=2.0):
    return array(shape, "float32", seed, low, high)


def i32(*shape, seed=0, low=0, high=4):
    return np.random.default_rng(seed).integers(low, high, size=shape).astype("int32")


def spd(n, seed=0):
    """A symmetric positive-definite matrix."""
    m = f32(n, n, seed=seed)
    return (m @ m.T + n * np.eye(n)).astype("float32")


def _img(*shape, seed=0):
    return f32(*shape, seed=seed, low=0.0, high=1.0)


# name -> list of (args, kwargs); each case is compared with keras.ops on the same arguments
SPECS: dict[str, list] = {
    "argpartition": [((f32(6), 2), {}), ((f32(3, 5), 1), {"axis": -1})],
    "arange": [((5,), {}), ((1, 7, 2), {}), ((0.5, 3.0), {}), ((0, 5), {"dtype": "float16"})],
    "array": [(([1, 2, 3],), {}), ((f32(2, 3),), {"dtype": "int32"})],
    "array_split": [((f32(7), 3), {}), ((f32(4, 6), [1, 3]), {"axis": 1})],
    "split": [((f32(6), 3), {}), ((f32(4, 6), [1, 3]), {"axis": 1})],
    "hsplit": [((f32(4, 6), 2), {})], "vsplit": [((f32(4, 6), 2), {})], "dsplit": [((f32(2, 2, 6), 3), {})],
    "bartlett": [((7,), {})], "blackman": [((7,), {})], "hamming": [((7,), {})], "hanning": [((7,), {})],
    "kaiser": [((7, 2.0), {})],
    "bincount": [((i32(10, high=5),), {}), ((i32(10, high=5),), {"minlength": 8}),
                 ((i32(10, high=5), f32(10)), {}), ((i32(2, 5, high=5),), {})],
    "broadcast_to": [((f32(3), (2, 3)), {})],
    "clip": [((f32(2, 3), -0.5, 0.5), {}), ((i32(5), 1, 2), {}), ((array((4,), "bool"), 0, 1), {})],
    "concatenate": [(([f32(2, 3), f32(1, 3, seed=1)],), {}), (([f32(2, 3), f32(2, 1, seed=1)],), {"axis": 1})],
    "stack": [(([f32(2, 3), f32(2, 3, seed=1)],), {}), (([f32(3), f32(3, seed=1)],), {"axis": 1})],
    "hstack": [(([f32(2, 3), f32(2, 1, seed=1)],), {})], "vstack": [(([f32(2, 3), f32(1, 3, seed=1)],), {})],
    "dstack": [(([f32(2, 3), f32(2, 3, seed=1)],), {})],
    "correlate": [((f32(6), f32(3, seed=1)), {}), ((f32(6), f32(3, seed=1)), {"mode": "same"}),
                  ((f32(6), f32(3, seed=1)), {"mode": "full"})],
    "cross": [((f32(4, 3), f32(4, 3, seed=1)), {})],
    "diag": [((f32(4),), {}), ((f32(3, 3),), {"k": 1})], "diagflat": [((f32(3),), {"k": -1})],
    "diagonal": [((f32(3, 4),), {}), ((f32(2, 3, 3),), {"offset": 1, "axis1": 1, "axis2": 2})],
    "digitize": [((f32(6), np.array([-1.0, 0.0, 1.0], "float32")), {})],
    "einsum": [(("ij,jk->ik", f32(2, 3), f32(3, 4, seed=1)), {}), (("ii", f32(3, 3)), {}),
               (("ij,jk->ik", i32(2, 3).astype("int8"), i32(3, 4).astype("int8")), {})],
    "empty": [(((2, 3),), {})], "empty_like": [((f32(2, 3),), {})],
    "eye": [((3,), {}), ((3, 4, 1), {}), ((2,), {"dtype": "int32"})],
    "tri": [((3,), {}), ((3, 4, -1), {})], "identity": [((3,), {}), ((2,), {"dtype": "int32"})],
    "full": [(((2, 3), 7), {}), (((2,), 1.5), {}), (((2,), 2), {"dtype": "float32"})],
    "full_like": [((f32(2, 3), 7), {}), ((i32(3), 1.5), {})],
    "zeros": [(((2, 3),), {}), ((3,), {"dtype": "int32"})], "ones": [(((2, 3),), {}), ((3,), {"dtype": "bool"})],
    "geomspace": [((1.0, 100.0, 5), {})], "linspace": [((0.0, 1.0, 5), {}), ((0, 10, 4), {"endpoint": False})],
    "logspace": [((0.0, 2.0, 5), {})],
    "get_item": [((f32(3, 4), 1), {}), ((f32(3, 4), (slice(0, 2), 1)), {})],
    "histogram": [((f32(20),), {}), ((f32(20), 4), {"range": (-1.0, 1.0)})],
    "isin": [((i32(6), np.array([1, 2], "int32")), {}), ((i32(6), np.array([1, 2], "int32")), {"invert": True})],
    "meshgrid": [((f32(3), f32(2, seed=1)), {}), ((f32(3), f32(2, seed=1)), {"indexing": "ij"})],
    "moveaxis": [((f32(2, 3, 4), 0, -1), {})], "swapaxes": [((f32(2, 3, 4), 0, 2), {})],
    "percentile": [((f32(10), 40.0), {}), ((f32(3, 4), [10.0, 90.0]), {"axis": 1})],
    "nanpercentile": [((f32(10), 40.0), {})],
    "quantile": [((f32(10), 0.3), {}), ((f32(3, 4), [0.1, 0.9]), {"axis": 1, "method": "nearest"})],
    "nanquantile": [((f32(10), 0.3), {})],
    "pad": [((f32(2, 3), 1), {}), ((f32(2, 3), ((1, 0), (0, 2))), {"mode": "reflect"}),
            ((f32(2, 3), 1), {"constant_values": 5.0})],
    "repeat": [((f32(2, 3), 2), {}), ((f32(2, 3), 2), {"axis": 1})],
    "reshape": [((f32(2, 3), (3, 2)), {}), ((f32(2, 3), (-1,)), {})],
    "roll": [((f32(5), 2), {}), ((f32(2, 3), 1), {"axis": 1})],
    "rot90": [((f32(2, 3),), {}), ((f32(2, 3),), {"k": 2})],
    "searchsorted": [((np.sort(f32(6)), f32(3, seed=1)), {}), ((np.sort(f32(6)), f32(3, seed=1)), {"side": "right"})],
    "select": [(([f32(4) > 0, f32(4) < -1], [f32(4, seed=1), f32(4, seed=2)]), {})],
    "take": [((f32(5), i32(3)), {}), ((f32(3, 4), i32(2)), {"axis": 1})],
    "take_along_axis": [((f32(3, 4), i32(3, 2)), {"axis": 1})],
    "tensordot": [((f32(2, 3), f32(3, 4, seed=1)), {"axes": 1}), ((f32(2, 3), f32(2, 3, seed=1)), {})],
    "tile": [((f32(2, 3), 2), {}), ((f32(2, 3), (2, 1)), {})],
    "trace": [((f32(3, 3),), {}), ((f32(2, 3, 3),), {"axis1": 1, "axis2": 2})],
    "trapezoid": [((f32(5),), {}), ((f32(2, 5),), {"dx": 0.5})],
    "unique": [((i32(8),), {}), ((i32(8),), {"return_counts": True}), ((i32(8),), {"size": 6, "fill_value": -1})],
    "unravel_index": [((np.array([1, 5, 7], "int32"), (2, 4)), {})],
    "vander": [((f32(3),), {}), ((f32(3),), {"N": 4, "increasing": True})],
    "view": [((f32(4), "int32"), {})],
    "where": [((f32(2, 3) > 0, f32(2, 3, seed=1), f32(2, 3, seed=2)), {}), ((f32(4) > 0,), {}),
              ((f32(4) > 0, 1.0, i32(4)), {})],
    "expand_dims": [((f32(2, 3), 0), {}), ((f32(2, 3), -1), {})],
    "squeeze": [((f32(1, 3, 1),), {}), ((f32(1, 3, 1),), {"axis": 0})],
    "transpose": [((f32(2, 3, 4),), {}), ((f32(2, 3, 4), (1, 0, 2)), {})],
    "flip": [((f32(2, 3),), {}), ((f32(2, 3),), {"axis": 1})],
    "vectorize": [],  # returns a function; tested by its own test
    "allclose": [((f32(3), f32(3)), {}), ((f32(3), f32(3, seed=1)), {})],
    "isclose": [((f32(3), f32(3)), {}), ((f32(3), f32(3, seed=1)), {})],
    "dot": [((f32(3), f32(3, seed=1)), {}), ((f32(2, 3), f32(3, 4, seed=1)), {}),
            ((i32(2, 3).astype("int8"), i32(3, 2).astype("int8")), {})],
    "matmul": [((f32(2, 3), f32(3, 4, seed=1)), {}), ((f32(5, 2, 3), f32(3, 4, seed=1)), {}),
               ((i32(2, 3).astype("int8"), i32(3, 2).astype("int8")), {})],
    "inner": [((f32(3), f32(3, seed=1)), {})], "vdot": [((f32(3), f32(3, seed=1)), {})],
    "outer": [((f32(3), f32(4, seed=1)), {})], "kron": [((f32(2, 2), f32(2, 3, seed=1)), {})],
    "round": [((f32(5) * 10,), {}), ((f32(5) * 10,), {"decimals": 1}), ((i32(5, high=300),), {"decimals": -1})],
    "slogdet": [((spd(3),), {})],
    "ldexp": [((f32(4), i32(4)), {})],
    "bitwise_left_shift": [((i32(4), 1), {}), ((i32(4), i32(4, high=3)), {})],
    "bitwise_right_shift": [((i32(4, high=64), 2), {})], "left_shift": [((i32(4), 1), {})],
    "right_shift": [((i32(4, high=64), 2), {})],
    "cumsum": [((f32(2, 3),), {}), ((f32(2, 3),), {"axis": 1}), ((i32(5),), {"dtype": "float32"})],
    "cumprod": [((f32(2, 3),), {}), ((f32(2, 3),), {"axis": 1})],
    "nancumsum": [((f32(2, 3),), {"axis": 0})], "nancumprod": [((f32(2, 3),), {"axis": 0})],
    "average": [((f32(2, 3),), {}), ((f32(2, 3),), {"axis": 1, "weights": f32(3, low=0.1, high=1.0)})],
    "count_nonzero": [((i32(2, 3),), {}), ((i32(2, 3),), {"axis": 1})],
    "max": [((f32(2, 3),), {}), ((f32(2, 3),), {"axis": 1, "keepdims": True}), ((f32(0),), {"initial": 1.0})],
    "min": [((f32(2, 3),), {}), ((f32(2, 3),), {"axis": 0})],
    "prod": [((f32(2, 3),), {}), ((i32(2, 3),), {"axis": 1}), ((f32(2, 3),), {"dtype": "float16"})],
    "sort": [((f32(2, 3),), {}), ((f32(2, 3),), {"axis": 0})],
    "argsort": [((f32(2, 3),), {}), ((f32(2, 3),), {"axis": 0})],
    "diff": [((f32(5),), {}), ((f32(2, 5),), {"n": 2})],
    "corrcoef": [((f32(3, 5),), {})],
    "nonzero": [((i32(2, 3),), {})],
    "heaviside": [((f32(5), f32(5, seed=1)), {})],
    "ndim": [((f32(2, 3),), {})], "size": [((f32(2, 3),), {})],
    "copy": [((f32(2, 3),), {})],
    # core and math
    "cast": [((f32(3), "int32"), {}), ((i32(3), "float16"), {}), ((f32(3), "bool"), {})],
    "saturate_cast": [((f32(5) * 300, "uint8"), {}), ((f32(5) * 1e5, "int16"), {})],
    "convert_to_tensor": [(([1.0, 2.0],), {}), (([1, 2],), {}), ((f32(3),), {"dtype": "float16"})],
    "convert_to_numpy": [((f32(3),), {})],
    "dtype": [((f32(3),), {}), ((i32(3),), {})], "shape": [((f32(2, 3),), {})], "is_tensor": [((f32(3),), {})],
    "scatter": [((np.array([[0, 1], [1, 1]], "int32"), f32(2), (2, 2)), {})],
    "scatter_update": [((f32(4, 3), np.array([[0], [2]], "int32"), f32(2, 3, seed=1)), {}),
                       ((f32(4), np.array([[0], [0], [1]], "int32"), f32(3, seed=1)), {"reduction": "add"}),
                       ((f32(4), np.array([[0], [1]], "int32"), f32(2, seed=1)), {"reduction": "max"})],
    "slice": [((f32(4, 5), (1, 2), (2, 3)), {})],
    "slice_update": [((f32(4, 5), (1, 2), f32(2, 3, seed=1)), {})],
    "unstack": [((f32(3, 2),), {}), ((f32(3, 2),), {"axis": 1})],
    "segment_sum": [((f32(6, 2), np.array([0, 0, 1, 2, 2, 2], "int32")), {"num_segments": 3})],
    "segment_max": [((f32(6, 2), np.array([0, 0, 1, 2, 2, 2], "int32")), {"num_segments": 4})],
    "segment_min": [((f32(6, 2), np.array([0, 0, 1, 2, 2, 2], "int32")), {"num_segments": 3})],
    "segment_prod": [((f32(6, 2), np.array([0, 0, 1, 2, 2, 2], "int32")), {"num_segments": 3})],
    "top_k": [((f32(2, 6), 3), {})],
    "in_top_k": [((i32(4, high=5), f32(4, 5)), {"k": 2})],
    "logsumexp": [((f32(2, 3),), {}), ((f32(2, 3),), {"axis": 1, "keepdims": True})],
    "cdist": [((f32(3, 2), f32(4, 2, seed=1)), {}), ((f32(2, 3, 2), f32(2, 4, 2, seed=1)), {})],
    "logdet": [((spd(3),), {})],
    "erfinv": [((f32(5, low=-0.9, high=0.9),), {})],
    "extract_sequences": [((f32(2, 10), 4, 2), {})],
    "fft": [(((f32(2, 8), f32(2, 8, seed=1)),), {})], "fft2": [(((f32(4, 4), f32(4, 4, seed=1)),), {})],
    "ifft2": [(((f32(4, 4), f32(4, 4, seed=1)),), {})],
    "rfft": [((f32(2, 8),), {}), ((f32(8),), {"fft_length": 6})],
    "irfft": [(((f32(2, 5), f32(2, 5, seed=1)),), {}), (((f32(5), f32(5, seed=1)),), {"fft_length": 8})],
    "stft": [((f32(2, 64), 16, 4, 32), {}), ((f32(64), 16, 8, 16), {"window": "hamming", "center": False})],
    "view_as_complex": [((f32(3, 2),), {})],
    "rearrange": [((f32(2, 3, 4), "b h w -> b (h w)"), {}), ((f32(2, 6), "b (h w) -> b h w"), {"h": 2})],
    # nn
    "conv": [((f32(2, 8, 3), f32(3, 3, 4, seed=1)), {}),
             ((f32(2, 8, 8, 3), f32(3, 3, 3, 4, seed=1)), {"strides": 2, "padding": "same"}),
             ((f32(2, 3, 8, 8), f32(3, 3, 3, 4, seed=1)), {"data_format": "channels_first", "dilation_rate": 2}),
             ((f32(2, 8, 8, 4), f32(3, 3, 2, 4, seed=1)), {})],
    "depthwise_conv": [((f32(2, 8, 8, 3), f32(3, 3, 3, 2, seed=1)), {"padding": "same"}),
                       ((f32(2, 8, 3), f32(3, 3, 1, seed=1)), {"strides": 2})],
    "separable_conv": [((f32(2, 8, 8, 3), f32(3, 3, 3, 2, seed=1), f32(1, 1, 6, 4, seed=2)), {"padding": "same"})],
    "conv_transpose": [((f32(2, 5, 5, 3), f32(3, 3, 4, 3, seed=1)), {"strides": 2}),
                       ((f32(2, 5, 5, 3), f32(3, 3, 4, 3, seed=1)), {"strides": 2, "padding": "same"}),
                       ((f32(2, 6, 3), f32(3, 4, 3, seed=1)), {"strides": 2, "output_padding": 1})],
    "max_pool": [((f32(2, 8, 8, 3), 2), {}), ((f32(2, 7, 3), 3), {"strides": 2, "padding": "same"})],
    "average_pool": [((f32(2, 8, 8, 3), 2), {}), ((f32(2, 7, 7, 3), 3), {"strides": 2, "padding": "same"}),
                     ((f32(2, 3, 7), 2), {"data_format": "channels_first"})],
    "adaptive_average_pool": [((f32(2, 7, 9, 3), (3, 4)), {}),
                              ((f32(2, 3, 5, 5, 5), 2), {"data_format": "channels_first"})],
    "adaptive_max_pool": [((f32(2, 7, 3), 3), {}), ((f32(2, 7, 9, 3), (3, 4)), {})],
    "one_hot": [((i32(4, high=3), 3), {}), ((i32(2, 3, high=3), 4), {"axis": 0, "dtype": "int32"})],
    "multi_hot": [((i32(2, 3, high=5), 5), {}), ((i32(3, high=5),), {"num_classes": 5})],
    "moments": [((f32(4, 3), [0]), {}), ((f32(2, 3, 4), [0, 1]), {"keepdims": True})],
    "batch_normalization": [((f32(4, 3), f32(3), f32(3, low=0.5, high=1.0), -1), {}),
                            ((f32(4, 3), f32(3), f32(3, low=0.5, high=1.0), 1),
                             {"offset": f32(3, seed=2), "scale": f32(3, seed=3)})],
    "layer_normalization": [((f32(4, 3),), {}), ((f32(4, 3), f32(3, seed=1), f32(3, seed=2)), {"epsilon": 1e-5})],
    "rms_normalization": [((f32(4, 3),), {}), ((f32(4, 3), f32(3, seed=1)), {"epsilon": 1e-5})],
    "normalize": [((f32(4, 3),), {}), ((f32(4, 3),), {"order": 1, "axis": 0})],
    "binary_crossentropy": [((array((4, 3), "bool").astype("float32"), f32(4, 3, low=0.01, high=0.99)), {}),
                            ((array((4, 3), "bool").astype("float32"), f32(4, 3)), {"from_logits": True})],
    "categorical_crossentropy": [((np.eye(3, dtype="float32")[[0, 2, 1, 1]], f32(4, 3, low=0.1, high=1.0)), {}),
                                 ((np.eye(3, dtype="float32")[[0, 2, 1, 1]], f32(4, 3)), {"from_logits": True})],
    "sparse_categorical_crossentropy": [((i32(4, high=3), f32(4, 3, low=0.1, high=1.0)), {}),
                                        ((i32(4, high=3), f32(4, 3)), {"from_logits": True})],
    "ctc_loss": [((i32(2, 3, low=1, high=5), f32(2, 6, 5), np.array([3, 2], "int32"),
                   np.array([6, 5], "int32")), {})],
    "ctc_decode": [((f32(2, 6, 5), np.array([6, 4], "int32")), {}),
                   ((f32(2, 5, 4) * 2, np.array([5, 3], "int32")),
                    {"strategy": "beam_search", "beam_width": 30, "top_paths": 3}),
                   ((f32(2, 5, 4) * 2, np.array([5, 3], "int32")),
                    {"strategy": "beam_search", "beam_width": 30, "top_paths": 2, "mask_index": 3}),
                   ((f32(2, 6, 5), np.array([6, 4], "int32")), {"merge_repeated": False, "mask_index": 4})],
    "psnr": [((_img(2, 4, 4, 3), _img(2, 4, 4, 3, seed=1), 1.0), {})],
    "polar": [((f32(3, low=0.0), f32(3, seed=1)), {})],
    "dot_product_attention": [((f32(2, 4, 2, 8), f32(2, 5, 2, 8, seed=1), f32(2, 5, 2, 8, seed=2)), {}),
                              ((f32(2, 4, 4, 8), f32(2, 4, 2, 8, seed=1), f32(2, 4, 2, 8, seed=2)),
                               {"is_causal": True}),
                              ((f32(2, 4, 2, 8), f32(2, 5, 2, 8, seed=1), f32(2, 5, 2, 8, seed=2)),
                               {"bias": f32(2, 2, 4, 5, seed=3), "mask": array((2, 2, 4, 5), "bool", seed=4),
                                "scale": 0.3})],
    "unfold": [((f32(2, 3, 6, 6), 3), {}), ((f32(1, 2, 7, 7), (2, 3)), {"stride": 2, "padding": 1, "dilation": 1})],
    "fold": [((f32(2, 27, 16), (6, 6), 3), {})],
    "depth_to_space": [((f32(2, 3, 3, 8), 2), {}), ((f32(2, 8, 3, 3), 2), {"data_format": "channels_first"})],
    "space_to_depth": [((f32(2, 4, 6, 3), 2), {}), ((f32(2, 3, 4, 6), 2), {"data_format": "channels_first"})],
    "threshold": [((f32(5), 0.5, -1.0), {})],
    "glu": [((f32(2, 4),), {})],
    # linalg
    "cholesky": [((spd(3),), {}), ((spd(3),), {"upper": True})],
    "cholesky_inverse": [((np.linalg.cholesky(spd(3)).astype("float32"),), {})],
    "det": [((spd(3),), {})], "inv": [((spd(3),), {})], "eigh": [((spd(3),), {})],
    "lstsq": [((f32(4, 3), f32(4, 2, seed=1)), {})], "lu_factor": [((spd(3),), {})],
    "matrix_rank": [((f32(4, 3),), {})], "pinv": [((f32(4, 3),), {})],
    "norm": [((f32(4, 3),), {}), ((f32(4, 3),), {"ord": "fro"}), ((f32(4, 3),), {"axis": 1, "ord": 1})],
    "qr": [((f32(4, 3),), {}), ((f32(4, 3),), {"mode": "complete"})],
    "solve": [((spd(3), f32(3, 2)), {})],
    "solve_triangular": [((np.tril(spd(3)), f32(3, 2)), {"lower": True})],
    "svd": [((f32(4, 3),), {"compute_uv": False})],
}

# Ops whose results are not unique (signs of eigenvectors, ...) or that take functions: tested by dedicated tests.
DEDICATED = {"eig", "svd_uv", "jvp", "map", "scan", "associative_scan", "fori_loop", "while_loop", "cond", "switch",
             "vectorized_map", "custom_gradient", "stop_gradient", "vectorize", "istft", "empty", "empty_like",
             "sparsemax"}

# Ops whose results on a KerasTensor are Python values or need concrete data (sizes that depend on values).
NOT_SYMBOLIC = {"convert_to_numpy", "is_tensor", "shape", "dtype", "ndim", "size", "nonzero", "unique", "bincount",
                "histogram", "argwhere"}

# Where Keras 3.15's symbolic output differs from what its own op returns on arrays (kerasish's symbolic result is
# its op traced with jax.eval_shape, so it equals its eager result, which the parity test compares with Keras's):
KERAS_SYMBOLIC_QUIRKS = {
    "rot90": "Keras swaps the two axes for any k; k=2 keeps the shape",
    "multi_hot": "Keras's symbolic dtype is int32; on arrays it returns float32",
    "searchsorted": "Keras's symbolic dtype is int64; on arrays it returns int32",
    "adaptive_average_pool": "Keras's symbolic shape keeps the input's first spatial size as an extra axis",
    "adaptive_max_pool": "Keras's symbolic shape keeps the input's first spatial size as an extra axis",
    "corrcoef": "Keras's symbolic shape is (rows, columns); the correlation matrix is (rows, rows)",
    "diag": "the diagonal of a (None, 3) matrix has a known length for any batch >= 3; Keras says None",
    "diagonal": "the diagonal of a (None, 4) matrix has a known length for any batch >= 4; Keras says None",
    "get_item": "x[0:2] has size 2 for any batch >= 2; Keras says None",
    "floor_divide": "Keras's symbolic dtype for bools is bool; the op gives int32",
    "hypot": "Keras's symbolic dtype for bools is bool; the op gives float32",
    "power": "Keras's symbolic dtype for bools is bool; the op gives int32",
    "polar": "Keras's symbolic dtype is float32; the op returns complex64",
    "bitwise_and": "Keras's symbolic shape does not broadcast (2, 1, 4) with (3, 1) to (2, 3, 4)",
    "bitwise_or": "Keras's symbolic shape does not broadcast (2, 1, 4) with (3, 1) to (2, 3, 4)",
    "bitwise_xor": "Keras's symbolic shape does not broadcast (2, 1, 4) with (3, 1) to (2, 3, 4)",
}
