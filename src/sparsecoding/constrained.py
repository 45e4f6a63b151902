r"""Constrained least squares by projected gradient descent, softmax and scale-free attention.

Projected gradient descent minimises a smooth function :math:`f` over a closed convex
set :math:`C` by a gradient step followed by the Euclidean projection back onto
:math:`C`,

.. math::

    h_{k+1} = \Pi_C\!\left(h_k - \eta \nabla f(h_k)\right), \qquad \eta = 1/L .

Here :math:`f(h) = \tfrac12\|x - Dh\|_2^2 + \tfrac{\mu}{2}\|h\|_2^2` (ridge regression,
:math:`\mu \ge 0`) and :math:`C` is the probability simplex
:math:`\Delta = \{h \ge 0, \sum_i h_i = 1\}` or a linear subspace. The chapter
*Sparsemax and constrained problems* derives it.
"""

from __future__ import annotations

from array_api_compat import array_namespace, device

from ._arrays import no_grad
from ._validation import (
    check_array,
    check_choice,
    check_dictionary_and_signals,
    check_scalar,
)
from .prox import project_simplex
from .solvers import SolverResult, _check_codes, _Composite, _pgm, lipschitz_constant

__all__ = ["projected_gradient", "scale_free_attention", "softmax"]


def _orthonormal_basis(basis, D, xp):
    basis = check_array(basis, "basis", ndim=2, like=D)
    if basis.shape[0] != D.shape[1]:
        raise ValueError(
            f"basis must have shape (n_atoms, k) = ({D.shape[1]}, k), one spanning "
            f"vector per column, got {tuple(basis.shape)}"
        )
    Q, R = xp.linalg.qr(basis)
    diag = xp.abs(xp.linalg.diagonal(R))
    top = float(xp.max(diag))
    if top == 0 or float(xp.min(diag)) < 1e-10 * top:
        raise ValueError("basis must have linearly independent columns")
    return Q


def projected_gradient(D, X, *, constraint="simplex", basis=None, lam=0.0, ridge=0.0,
                       max_iter=1000, tol=1e-8, init=None, accelerated=False):
    r"""Projected gradient descent for ridge regression on the simplex or a subspace.

    Minimises, for every row :math:`x` of ``X``,

    .. math::

        \tfrac12\|x - Dh\|_2^2 + \tfrac{\mu}{2}\|h\|_2^2 + \lambda\|h\|_1
        \quad\text{subject to}\quad h \in C,

    with :math:`C = \Delta = \{h \ge 0,\ \sum_i h_i = 1\}` (``constraint="simplex"``) or
    :math:`C = \operatorname{span}(B)`, the span of the columns of ``basis``
    (``constraint="subspace"``), by

    .. math::

        h_{k+1} = \Pi_C\!\left(h_k - \tfrac1L \nabla f(h_k)\right),\qquad
        L = \|D\|_2^2 + \mu .

    On the simplex :math:`\|h\|_1 = 1`, so :math:`\lambda` only adds the constant
    :math:`\lambda` to the objective: the gradient :math:`\lambda\mathbf 1` it adds is
    removed by the projection, which is invariant to shifts along :math:`\mathbf 1`,
    and the iterates do not depend on :math:`\lambda`. On a subspace the
    :math:`\ell_1` term is not smooth, so ``lam`` must be zero there. The chapter
    *Sparsemax and constrained problems* explains it.

    Parameters
    ----------
    D : ``(n_features, n_atoms)``
    X : ``(n_signals, n_features)`` or ``(n_features,)``
    constraint : ``"simplex"`` or ``"subspace"``
    basis : ``(n_atoms, k)``, required for ``"subspace"``
        Columns spanning the subspace (linearly independent).
    lam : float
        :math:`\lambda \ge 0`, only with the simplex.
    ridge : float
        :math:`\mu \ge 0`.
    max_iter : int
    tol : float
        Stop when :math:`\|h_{k+1} - y_k\|_\infty \le` ``tol``
        :math:`\cdot \|h_{k+1}\|_\infty` for every signal (:math:`y_k = h_k` without
        momentum), a rule that does not change when ``D`` and ``X`` are rescaled
        together.
    init : array, optional
        Feasible starting codes; by default the centre of the simplex
        :math:`\mathbf 1/n` or zero on a subspace.
    accelerated : bool
        Use Nesterov's momentum (FISTA with the projection as proximal operator).

    Returns
    -------
    SolverResult
        ``objective[k]`` the objective summed over signals after ``k`` iterations.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.eye(2)
    >>> res = projected_gradient(D, np.array([2.0, 0.0]), constraint="simplex")
    >>> res.codes.round(6)
    array([1., 0.])
    """
    D, X2, squeeze = check_dictionary_and_signals(D, X)
    check_choice(constraint, "constraint", ("simplex", "subspace"))
    lam = check_scalar(lam, "lam", low=0.0)
    ridge = check_scalar(ridge, "ridge", low=0.0)
    max_iter = check_scalar(max_iter, "max_iter", low=0, integer=True)
    tol = check_scalar(tol, "tol", low=0.0)
    xp = array_namespace(X2)
    n, n_atoms = X2.shape[0], D.shape[1]
    if constraint == "subspace":
        if basis is None:
            raise ValueError("basis is required when constraint='subspace'")
        if lam != 0.0:
            raise ValueError(
                "lam must be 0 with constraint='subspace' (the l1 term is not smooth "
                "there); it is a constant on the simplex only"
            )
        Q = _orthonormal_basis(basis, D, xp)

        def project(V):
            return (V @ Q) @ Q.T
    else:
        if basis is not None:
            raise ValueError("basis is only used with constraint='subspace'")

        def project(V):
            return project_simplex(V, axis=-1)
    problem = _Projected(xp, D, X2, project, lam, ridge)
    if init is not None:
        init = project(_check_codes(init, X2, D, "init"))
    elif constraint == "simplex":
        init = xp.ones((n, n_atoms), dtype=X2.dtype, device=device(X2)) / n_atoms
    L = lipschitz_constant(D) + ridge
    if L == 0.0:
        L = 1.0
    with no_grad(X2):
        H, objective, k, converged, _, L = _pgm(
            problem, init, L=L, momentum=accelerated, max_iter=max_iter, tol=tol)
    return SolverResult(
        codes=H[0] if squeeze else H,
        objective=objective,
        n_iter=k,
        converged=converged,
        lipschitz=L,
    )


class _Projected(_Composite):
    """Ridge regression with a linear term on a convex set, for the engine:
    :math:`f(h) = \\tfrac12\\|x - Dh\\|^2 + \\tfrac{\\mu}{2}\\|h\\|^2 + \\lambda
    \\mathbf 1^\\top h` (on the simplex :math:`\\mathbf 1^\\top h = \\|h\\|_1`) and
    the projection as proximal operator; stops on the relative step."""

    check_every = 1

    def __init__(self, xp, D, X, project, lam, ridge):
        self.xp, self.project, self.lam, self.ridge = xp, project, lam, ridge
        self.shape = (X.shape[0], D.shape[1])
        self.dtype, self.device = X.dtype, device(X)
        self.G, self.B = D.T @ D, X @ D
        self.half_xx = 0.5 * xp.sum(X * X, axis=1)

    def image(self, H):
        return H @ self.G

    def grad(self, AY, Y):
        # On the simplex, lam * 1 is a subgradient of lam * ||h||_1 (h >= 0); with a
        # subspace, lam is zero.
        return AY - self.B + self.ridge * Y + self.lam

    def smooth(self, H, A):
        xp = self.xp
        return (self.half_xx + xp.sum(H * (0.5 * A - self.B), axis=1)
                + 0.5 * self.ridge * xp.sum(H * H, axis=1))

    def penalty(self, H):
        return self.lam * self.xp.sum(self.xp.abs(H), axis=1)

    def prox(self, V, thr):
        return self.project(V)

    def certificate(self, H, A, Y):
        """:math:`\\|h_{k+1} - y_k\\|_\\infty / \\|h_{k+1}\\|_\\infty` per signal."""
        xp = self.xp
        step = xp.max(xp.abs(H - Y), axis=1)
        top = xp.max(xp.abs(H), axis=1)
        pos = top > 0
        inf = xp.full_like(step, float("inf"))
        return xp.where(pos, step / xp.where(pos, top, xp.ones_like(top)),
                        xp.where(step > 0, inf, 0 * step))


def scale_free_attention(D, X, lam=0.0, *, max_iter=5000, tol=1e-10, accelerated=True):
    r"""Scale-free (distance-minimising) attention: the simplex weights that best rebuild ``x``.

    .. math::

        \operatorname{attn}_\lambda(x, D) = \arg\min_{y \in \Delta}
        \tfrac12\|x - D y\|_2^2 + \lambda\|y\|_1 ,

    with the keys as the columns of ``D``. On the simplex :math:`\|y\|_1 = 1`, so the
    :math:`\ell_1` term is the constant :math:`\lambda` and does not change the
    weights. Rescaling ``D`` and ``x`` by the same :math:`c \ne 0` multiplies the
    objective by :math:`c^2` and leaves the weights unchanged, unlike
    :math:`\operatorname{softmax}(D^\top x)`. Solved by :func:`projected_gradient`
    (accelerated by default). The chapter *Sparsemax and constrained problems*
    discusses it.

    Parameters
    ----------
    D : ``(n_features, n_keys)``
    X : ``(n_queries, n_features)`` or ``(n_features,)``
    lam : float, :math:`\lambda \ge 0`
    max_iter, tol, accelerated : passed to :func:`projected_gradient`

    Returns
    -------
    Weights of the kind of ``X``, ``(n_queries, n_keys)`` or ``(n_keys,)``, each row on
    the simplex.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> scale_free_attention(D, np.array([0.5, 0.5])).round(6)
    array([0.5, 0.5])
    """
    return projected_gradient(D, X, constraint="simplex", lam=lam, max_iter=max_iter,
                              tol=tol, accelerated=accelerated).codes


def softmax(z, axis=-1):
    r"""Softmax, :math:`\operatorname{softmax}_i(z) = e^{z_i} / \sum_j e^{z_j}`, along ``axis``.

    The entropy-regularised counterpart of :func:`~sparsecoding.sparsemax`: every
    output is positive. Computed stably (the maximum is subtracted first). Compared
    with sparsemax in the chapter *Sparsemax and constrained problems*.

    Examples
    --------
    >>> softmax([0.0, 0.0]).tolist()
    [0.5, 0.5]
    """
    z = check_array(z, "z", ndim=tuple(range(1, 9)))
    xp = array_namespace(z)
    e = xp.exp(z - xp.max(z, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)
