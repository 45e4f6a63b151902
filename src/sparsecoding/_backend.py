"""Kept for modules that still ask whether an array is a tensor; new code uses
:mod:`sparsecoding._arrays` and ``array_api_compat.array_namespace``."""

from ._arrays import is_torch as is_tensor

__all__ = ["is_tensor"]
