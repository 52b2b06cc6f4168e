"""Fixtures for the explanation tests: a tiny PGF-Net and a small built dataset."""

from __future__ import annotations

import pytest
from explain_corpus import build_contents

from pgfnet.data.format import MosiData, write_dataset
from pgfnet.explain.engine import Explainer
from pgfnet.model.tiny import build_tiny_pgfnet


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> MosiData:
    path = tmp_path_factory.mktemp("explain-data") / "tiny.pgfdata"
    write_dataset(build_contents(), path)
    return MosiData.load(path)


@pytest.fixture(scope="session")
def tiny_model():
    # Two fused layers, so that per-layer outputs are checked for more than one layer.
    return build_tiny_pgfnet(seed=0, fusion_layers=[0, 1], max_text_length=32)


@pytest.fixture(scope="session")
def explainer(tiny_model, tiny_data) -> Explainer:
    return Explainer(tiny_model, tiny_data, n_steps=16)
