"""Factories of every operator and composite, for the contract tests.

Each factory draws its own shapes, spacings and PSFs from hypothesis, so a
new operator is covered by every contract in ``test_contracts.py`` by adding
one line here.
"""

from hypothesis import strategies as st

import deconvkit.operators as ops
from deconvkit.testing import strategies as dks


def _shape(data, **kwargs):
    return data.draw(dks.shapes(**kwargs), label="shape")


def _spacing(data, shape):
    return data.draw(dks.spacings(len(shape)), label="spacing")


def _boundary(data):
    return data.draw(st.sampled_from(["periodic", "neumann"]), label="boundary")


def blur(data):
    shape = _shape(data)
    return ops.Blur(data.draw(dks.psfs(shape), label="psf"), shape)


def crop(data):
    shape = _shape(data)
    small = tuple(data.draw(st.integers(1, n)) for n in shape)
    offset = tuple(data.draw(st.integers(0, n - m)) for n, m in zip(shape, small))
    return ops.Crop(shape, small, offset)


def pad(data):
    return crop(data).H


def crop_blur(data):
    shape = _shape(data)
    psf = data.draw(dks.psfs(shape))
    small = tuple(data.draw(st.integers(1, n)) for n in shape)
    return ops.Crop(shape, small) @ ops.Blur(psf, shape)


def gradient(data):
    shape = _shape(data)
    return ops.Gradient(shape, _spacing(data, shape), _boundary(data))


def laplacian(data):
    shape = _shape(data)
    return ops.Laplacian(shape, _spacing(data, shape), _boundary(data))


def hessian(data):
    shape = _shape(data)
    return ops.Hessian(shape, _spacing(data, shape), _boundary(data))


def gradient_normal(data):
    gradient_op = gradient(data)
    return gradient_op.H @ gradient_op


def hessian_normal(data):
    hessian_op = hessian(data)
    return hessian_op.H @ hessian_op


def blur_normal_regularized(data):
    """(HᴴH + λ ∇ᴴ∇) in the circulant family, and its exact inverse."""
    shape = _shape(data)
    blur_op = ops.Blur(data.draw(dks.psfs(shape)), shape)
    grad = ops.Gradient(shape, _spacing(data, shape))
    lam = data.draw(st.floats(1e-3, 1.0))
    return blur_op.H @ blur_op + lam * (grad.H @ grad) + 1e-2 * ops.Identity(shape)


def circulant_inverse(data):
    return blur_normal_regularized(data).inv()


def gradient_of_blur(data):
    shape = _shape(data)
    return ops.Gradient(shape, _spacing(data, shape)) @ ops.Blur(data.draw(dks.psfs(shape)), shape)


def identity(data):
    return ops.Identity(_shape(data))


def diagonal(data):
    shape = _shape(data)
    return ops.Diagonal(data.draw(dks.arrays(shape)))


def mask(data):
    shape = _shape(data)
    return ops.Mask(data.draw(dks.arrays(shape)) > 0)


def scaled_difference(data):
    shape = _shape(data)
    a = ops.Laplacian(shape, boundary="neumann")
    return 0.5 * a - 2.0 * ops.Identity(shape)


def adjoint_of_crop_blur(data):
    return crop_blur(data).H


REGISTRY = {
    "blur": blur,
    "crop": crop,
    "pad": pad,
    "crop @ blur": crop_blur,
    "gradient": gradient,
    "laplacian": laplacian,
    "hessian": hessian,
    "gradient.H @ gradient": gradient_normal,
    "hessian.H @ hessian": hessian_normal,
    "blur.H @ blur + lam grad.H @ grad + c I": blur_normal_regularized,
    "(...).inv()": circulant_inverse,
    "gradient @ blur": gradient_of_blur,
    "identity": identity,
    "diagonal": diagonal,
    "mask": mask,
    "0.5 laplacian - 2 identity": scaled_difference,
    "(crop @ blur).H": adjoint_of_crop_blur,
}
