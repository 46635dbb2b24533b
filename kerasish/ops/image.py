"""``keras.ops.image`` on JAX: color conversions, resizing, cropping and padding, patches, warps and filters.

Images are one image of rank 3 or a batch of rank 4, in the layout ``data_format`` names (by default the global
image data format, ``"channels_last"`` unless set otherwise). The ops are built on ``jax.image``,
``jax.scipy.ndimage`` and ``jax.lax`` and follow Keras 3's JAX backend; the docstrings say where they differ.
"""

from kerasish.ops._image_color import hsv_to_rgb, rgb_to_grayscale, rgb_to_hsv
from kerasish.ops._image_filters import gaussian_blur, sobel_edges, ssim
from kerasish.ops._image_patches import extract_patches, extract_patches_3d
from kerasish.ops._image_resize import crop_images, pad_images, resize, scale_and_translate
from kerasish.ops._image_warp import affine_transform, elastic_transform, map_coordinates, perspective_transform

__all__ = ["affine_transform", "crop_images", "elastic_transform", "extract_patches", "extract_patches_3d",
           "gaussian_blur", "hsv_to_rgb", "map_coordinates", "pad_images", "perspective_transform", "resize",
           "rgb_to_grayscale", "rgb_to_hsv", "scale_and_translate", "sobel_edges", "ssim"]
