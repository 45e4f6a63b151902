"""Figures shared by the chapters: book style, dictionary-atom grids, convergence plots.

matplotlib is imported when a function is called, not at import of the package.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_atom_images, check_scalar

__all__ = ["use_book_style", "plot_atoms", "plot_convergence"]


def use_book_style():
    """White backgrounds (readable in dark mode), readable fonts, no top/right spines."""
    import matplotlib as mpl

    mpl.rcParams.update({
        "figure.facecolor": "white",
        "axes.facecolor": "white",
        "savefig.facecolor": "white",
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "font.size": 11,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": False,
        "figure.autolayout": False,
        "figure.constrained_layout.use": True,
    })


def plot_atoms(D, *, shape=None, n_cols=None, max_atoms=256, ax=None, title=None,
               order=None):
    """Show the atoms (columns) of a dictionary as a grid of small images.

    Each atom is scaled to its own symmetric grey range (zero is mid-grey).

    Parameters
    ----------
    D : ``(n_features, n_atoms)``, with ``n_features`` a square number or ``shape`` given
    shape : (int, int), optional
        The image shape of one atom.
    n_cols : int, optional
        Columns of the grid; about square by default.
    max_atoms : int
        Show at most this many atoms.
    order : sequence of int, optional
        Which atoms to show, in this order.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    D, shape = check_atom_images(D, shape)
    n_atoms = D.shape[1]
    idx = np.arange(n_atoms) if order is None else np.asarray(order)
    idx = idx[: check_scalar(max_atoms, "max_atoms", low=1, integer=True)]
    n = len(idx)
    n_cols = n_cols or int(np.ceil(np.sqrt(n)))
    n_rows = int(np.ceil(n / n_cols))
    pad = 1
    h, w = shape
    canvas = np.full((n_rows * (h + pad) + pad, n_cols * (w + pad) + pad), np.nan)
    for i, j in enumerate(idx):
        atom = D[:, j].reshape(shape)
        scale = np.abs(atom).max() or 1.0
        r, c = divmod(i, n_cols)
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h,
               pad + c * (w + pad): pad + c * (w + pad) + w] = atom / scale
    if ax is None:
        _, ax = plt.subplots(figsize=(min(8, 0.4 * n_cols + 1), min(8, 0.4 * n_rows + 1)))
    cmap = plt.get_cmap("gray").copy()
    cmap.set_bad("white")
    ax.imshow(canvas, cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title)
    return ax


def plot_convergence(histories, *, f_star=None, ax=None, loglog=True,
                     ylabel=None):
    """Plot objective histories, or their gap to ``f_star``, against iterations.

    Parameters
    ----------
    histories : dict
        Label to a 1-D sequence of objective values (``objective[k]`` after ``k``
        iterations), e.g. ``{"ISTA": result.objective}``.
    f_star : float, optional
        The optimal value; when given, the gap :math:`F(h_k) - F^\\star` is plotted.
    loglog : bool
        Log scale on both axes (else only the y axis).
    """
    import matplotlib.pyplot as plt

    if not isinstance(histories, dict) or not histories:
        raise TypeError("histories must be a non-empty dict of label -> sequence")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for label, values in histories.items():
        values = np.asarray(values, dtype=float)
        k = np.arange(len(values))
        y = values - f_star if f_star is not None else values
        keep = (k >= 1) & (y > 0) if loglog else y > 0
        ax.plot(k[keep], y[keep], label=label)
    ax.set_yscale("log")
    if loglog:
        ax.set_xscale("log")
    ax.set_xlabel("iteration $k$")
    ax.set_ylabel(ylabel or (r"$F(h_k) - F^\star$" if f_star is not None else r"$F(h_k)$"))
    ax.legend()
    return ax
