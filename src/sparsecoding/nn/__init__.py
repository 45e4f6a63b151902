"""PyTorch modules of the course (importing this imports torch).

Each family of models lives in its own submodule and is re-exported here.
"""
from .autoencoders import ExplainingAwayAutoencoder, SparseAutoencoder  # noqa: F401
from .lista import LISTA, train_lista  # noqa: F401
from .classifiers import ConvSparseAutoencoderClassifier, SparseCNN, SparseMLP  # noqa: F401
from .superposition import L1SparseAutoencoder, TopKSparseAutoencoder  # noqa: F401
