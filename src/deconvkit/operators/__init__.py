"""Linear operators on nd-arrays with exact adjoints (``deconvkit.operators``).

Every operator is a :class:`pylops.LinearOperator` that takes arrays of shape
``dims`` and returns arrays of shape ``dimsd``; compose them with ``@``, ``+``,
scalar ``*`` and ``.H``. Members of the circulant family (:class:`Blur`,
:class:`Identity`, periodic :class:`Gradient`/:class:`Laplacian`/:class:`Hessian`,
and their compositions) know their transfer function and can be inverted
exactly with ``inv()`` / ``solve(y)``.
"""

from ..backend import fft_workers, rfft_shape
from ._base import Adjoint, Operator, Product, Scaled, Sum
from ._backprojectors import fwhm_voxels, wiener_butterworth
from ._circulant import Circulant
from ._convolution import Blur, extended_shape, fast_shape, kernel_at_origin
from ._crop import Crop, Pad
from ._differences import Gradient, Hessian, Laplacian
from ._elementwise import Diagonal, Identity, Mask

__all__ = [
    "fft_workers",
    "Operator",
    "Blur",
    "Crop",
    "Pad",
    "Gradient",
    "Laplacian",
    "Hessian",
    "Identity",
    "Diagonal",
    "Mask",
    "Circulant",
    "Product",
    "Sum",
    "Scaled",
    "Adjoint",
    "fast_shape",
    "extended_shape",
    "kernel_at_origin",
    "rfft_shape",
    "wiener_butterworth",
    "fwhm_voxels",
]
