"""The production backend over a tiny PGF-Net checkpoint and the real MOSI subset.

Marked real_data: the dataset is built from the MOSI source folder. The model is the
tiny random PGF-Net, so predictions are meaningless but every path is the real one.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from apptest_helpers import figure, start, texts
from dashboard import resources

pytestmark = pytest.mark.real_data


def test_overview_computed_then_read_from_disk(real_backend, real_dataset, tiny_checkpoint):
    calls = []
    frame = real_backend.overview("test", progress=lambda done, total: calls.append((done, total)))
    assert len(frame) == 686
    assert calls[-1] == (686, 686)
    assert {"id", "label", "prediction", "error", "shapley_text", "interaction"} <= set(frame)
    assert real_backend.overview_path("test").is_file()

    fresh = resources.create_backend(tiny_checkpoint, real_dataset)
    again = fresh.cached_overview("test")
    assert again is not None
    assert fresh._explainer is None  # read from disk, no model loaded
    np.testing.assert_allclose(again["prediction"], frame["prediction"])


def test_live_record_cached_for_next_backend(real_backend, real_dataset, tiny_checkpoint):
    utterance_id = real_backend.catalog().query("split == 'test'")["id"].iloc[5]
    assert real_backend.cached_explanation(utterance_id) is None
    record = real_backend.explanation(utterance_id)
    assert record.id == utterance_id

    fresh = resources.create_backend(tiny_checkpoint, real_dataset)
    cached = fresh.cached_explanation(utterance_id)
    assert cached is not None
    assert fresh._explainer is None
    assert cached.prediction == pytest.approx(record.prediction)


def test_eight_sessions_get_single_session_results(real_backend, real_dataset, tiny_checkpoint):
    ids = real_backend.catalog().query("split == 'test'")["id"].iloc[:4].tolist()
    reference = resources.create_backend(tiny_checkpoint, real_dataset)
    reference._cache = None  # compute every record alone, without the shared cache
    expected = {i: reference.explanation(i).to_json_dict() for i in ids}
    layer = reference.explanation(ids[0]).fused_layers[0]
    expected_what_if = reference.what_if(ids[0], text="truly wonderful",
                                         force_gates={layer: 0.3}).edited.to_json_dict()

    results, errors = {}, []
    barrier = threading.Barrier(8)

    def session(n: int) -> None:
        try:
            barrier.wait()
            utterance_id = ids[n % len(ids)]
            record = real_backend.explanation(utterance_id).to_json_dict()
            edited = real_backend.what_if(ids[0], text="truly wonderful",
                                          force_gates={layer: 0.3}).edited.to_json_dict()
            results[n] = (utterance_id, record, edited)
        except Exception as error:  # noqa: BLE001 - reported by the assert below
            errors.append(repr(error))

    threads = [threading.Thread(target=session, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors
    assert len(results) == 8
    for utterance_id, record, edited in results.values():
        assert record == expected[utterance_id]
        assert edited == expected_what_if


def test_explorer_on_real_backend(real_backend):
    at = start("views/explorer.py")
    at.multiselect(key="explorer_splits").set_value(["train"]).run()
    at.checkbox(key="explorer_video").check().run()
    utterance_id = at.selectbox(key="explorer_select").value
    assert not at.exception, at.exception
    record = real_backend.cached_explanation(utterance_id)
    assert record is not None
    assert record.text in texts(at)
    np.testing.assert_allclose(figure(at, "explorer_gates")["data"][0]["z"],
                               record.gate_tokens, rtol=1e-5)
    assert len(at.get("video")) == 1
    assert list(real_backend.clip_dir.glob(f"{utterance_id}_*.mp4"))


def test_what_if_on_real_backend(real_backend):
    at = start("views/what_if.py")
    utterance_id = at.selectbox(key="whatif_select").value
    original = real_backend.explanation(utterance_id)
    layer = original.fused_layers[0]
    at.checkbox(key=f"whatif_force_{layer}").check()
    at.slider(key=f"whatif_gate_{layer}").set_value(0.0)
    at.button[0].click().run()
    assert not at.exception, at.exception
    maps = figure(at, "whatif_gate_maps")["data"]
    np.testing.assert_allclose(maps[1]["z"][0], 0.0, atol=1e-6)


def test_cache_resource_shares_one_backend(tmp_path, monkeypatch, real_dataset, tiny_checkpoint):
    monkeypatch.setenv("PGFNET_CACHE", str(tmp_path / "cache"))
    resources.get_backend.clear()
    first = resources.get_backend(str(tiny_checkpoint), str(real_dataset))
    second = resources.get_backend(str(tiny_checkpoint), str(real_dataset))
    assert first is second
    resources.get_backend.clear()
