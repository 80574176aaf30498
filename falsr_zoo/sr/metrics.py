"""Image quality metrics exactly as the FALSR release computes them (its ``calculate.py``).

Y of BT.601 (16-235 range) from uint8 RGB; crop ``border`` pixels on every side; clip to
[0, 255] and round; PSNR with data range 255; SSIM with an 11x11 Gaussian window (sigma 1.5,
``cv2.getGaussianKernel`` outer product) over the valid region only, C1 = (0.01 * 255)^2 and
C2 = (0.03 * 255)^2. Pure NumPy: no OpenCV, no scikit-image at run time.
"""

from __future__ import annotations

import numpy as np

__all__ = ["psnr", "rgb_to_y_bt601", "ssim", "y_channel"]

_BT601_Y = np.array([65.481, 128.553, 24.966], dtype=np.float64)

_WINDOW = 11
_SIGMA = 1.5
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


def rgb_to_y_bt601(rgb: np.ndarray) -> np.ndarray:
    """Y of ``skimage.color.rgb2ycbcr`` for uint8 RGB: ``16 + (65.481 R + 128.553 G + 24.966 B) / 255``."""
    return 16.0 + (np.asarray(rgb, dtype=np.float64) / 255.0) @ _BT601_Y


def y_channel(rgb: np.ndarray, border: int = 2) -> np.ndarray:
    """Cropped, clipped and rounded BT.601 Y (float64) of a uint8 RGB image."""
    y = rgb_to_y_bt601(rgb)
    if border:
        y = y[border:-border, border:-border]
    return np.around(np.clip(y, 0, 255))


def psnr(sr: np.ndarray, hr: np.ndarray, border: int = 2) -> float:
    """Y-PSNR in dB between two uint8 RGB images of equal size (``inf`` if identical)."""
    diff = y_channel(sr, border) - y_channel(hr, border)
    mse = float(np.mean(diff * diff))
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def _gaussian() -> np.ndarray:
    x = np.arange(_WINDOW, dtype=np.float64) - (_WINDOW - 1) / 2
    g = np.exp(-(x * x) / (2 * _SIGMA**2))
    return g / g.sum()


def _filter_valid(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable 2-D correlation keeping only windows fully inside the image."""
    n = len(kernel)
    rows = sum(kernel[i] * image[i : image.shape[0] - n + 1 + i, :] for i in range(n))
    return sum(kernel[i] * rows[:, i : image.shape[1] - n + 1 + i] for i in range(n))


def ssim(sr: np.ndarray, hr: np.ndarray, border: int = 2) -> float:
    """Y-SSIM between two uint8 RGB images of equal size (Gaussian window, valid region)."""
    a, b = y_channel(sr, border), y_channel(hr, border)
    if min(a.shape) < _WINDOW:
        raise ValueError(f"SSIM needs at least {_WINDOW}x{_WINDOW} pixels after the border crop, got {a.shape}")
    g = _gaussian()
    mu_a, mu_b = _filter_valid(a, g), _filter_valid(b, g)
    var_a = _filter_valid(a * a, g) - mu_a**2
    var_b = _filter_valid(b * b, g) - mu_b**2
    cov = _filter_valid(a * b, g) - mu_a * mu_b
    num = (2 * mu_a * mu_b + _C1) * (2 * cov + _C2)
    den = (mu_a**2 + mu_b**2 + _C1) * (var_a + var_b + _C2)
    return float(np.mean(num / den))
