"""PyTorch modules of the course (importing this imports torch).

Each family of models lives in its own submodule and is re-exported here: the
sparse autoencoders (one base, ``SparseAutoencoder``, in ``autoencoders``), LISTA
(``lista``), the sparse classifiers (``classifiers``), and the toy data and tools of the
superposition chapter (``superposition``). Every module checks its inputs in ``forward``
and ``loss`` and raises a ``TypeError``/``ValueError`` naming the argument.
"""
from .autoencoders import (  # noqa: F401
    ExplainingAwayAutoencoder,
    L1SparseAutoencoder,
    SparseAutoencoder,
    TopKSparseAutoencoder,
)
from .lista import LISTA, train_lista  # noqa: F401
from .classifiers import ConvSparseAutoencoderClassifier, SparseCNN, SparseMLP  # noqa: F401
