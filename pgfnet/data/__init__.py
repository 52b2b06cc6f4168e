"""MOSI data: the dataset file format, its builders and importers, the torch Dataset."""

from pgfnet.data.batch import Batch

__all__ = ["Batch"]
