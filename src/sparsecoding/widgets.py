"""ipywidgets explorers used by the chapters.

A chapter draws the static figure first (that is what the website shows) and then offers
the explorer in a cell tagged ``remove-output``: in Jupyter the sliders work; on the
website, where no kernel runs, the reader sees the code and the static figure.
"""

from __future__ import annotations

__all__ = ["slider_explorer"]


def slider_explorer(plot, **sliders):
    """An ``ipywidgets.interactive`` that redraws ``plot(**values)`` as sliders move.

    Parameters
    ----------
    plot : callable
        Draws one figure from keyword arguments (and shows it).
    **sliders : tuple
        ``name=(min, max, step, value)`` for a float slider.

    Examples
    --------
    >>> def show(lam=1.0):
    ...     pass
    >>> w = slider_explorer(show, lam=(0.0, 2.0, 0.1, 1.0))  # doctest: +SKIP
    >>> type(w).__name__  # doctest: +SKIP
    'interactive'
    """
    import ipywidgets as widgets

    if not callable(plot):
        raise TypeError(f"plot must be callable, got {type(plot).__name__}")
    controls = {}
    for name, spec in sliders.items():
        if not (isinstance(spec, tuple) and len(spec) == 4):
            raise ValueError(f"slider {name!r} must be (min, max, step, value), got {spec!r}")
        lo, hi, step, value = spec
        if not lo <= value <= hi:
            raise ValueError(f"slider {name!r}: value {value} is outside [{lo}, {hi}]")
        controls[name] = widgets.FloatSlider(
            min=lo, max=hi, step=step, value=value, continuous_update=False,
            description=name,
        )
    return widgets.interactive(plot, **controls)
