"""MOSI data: the dataset file format, its builders and importers, the torch Dataset."""

from pgfnet.data.batch import Batch
from pgfnet.data.format import Example, Media, MosiData, Utterance

__all__ = ["Batch", "Example", "Media", "MosiData", "Utterance"]
