"""One file per method, each readable top to bottom like the paper's algorithm box."""

from ssl_teach.methods.base import Batch, Method
from ssl_teach.methods.supervised import Supervised

__all__ = ["Batch", "Method", "Supervised"]
