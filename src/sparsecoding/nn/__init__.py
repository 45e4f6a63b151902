"""PyTorch modules of the course (importing this imports torch).

Each family of models lives in its own submodule and is re-exported here.
"""
