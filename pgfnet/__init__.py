"""PGF-Net: a Progressive Gated-Fusion Network for multimodal sentiment analysis.

Data flows one way: ``pgfnet.data`` (the MOSI dataset format and its builders) ->
``pgfnet.model`` (the network and its typed outputs) -> ``pgfnet.training``
(training, checkpoints, MOSI metrics) -> ``pgfnet.explain`` (explanation records),
which the ``dashboard`` package reads.
"""

__version__ = "0.1.0"
