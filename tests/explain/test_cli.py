"""`pgfnet explain` and `pgfnet precompute` on a saved tiny checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from explain_corpus import EMPTY_TEXT_ID, NO_FRAMES_ID, PLAIN_ID

from pgfnet.cli import main
from pgfnet.explain.cache import ExplanationCache, checkpoint_id
from pgfnet.explain.record import Explanation


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, tiny_model) -> Path:
    path = tmp_path_factory.mktemp("checkpoint") / "tiny"
    tiny_model.save_pretrained(path)
    return path


def test_explain_json(checkpoint, tiny_data, capsys):
    code = main(["explain", "--checkpoint", str(checkpoint), "--data", str(tiny_data.path),
                 "--id", PLAIN_ID, "--format", "json", "--n-steps", "8"])
    assert code == 0
    content = json.loads(capsys.readouterr().out)
    record = Explanation.from_json_dict(content)
    assert record.id == PLAIN_ID
    assert record.n_steps == 8
    assert record.model_id == checkpoint_id(checkpoint)


def test_explain_text_with_notes(checkpoint, tiny_data, capsys):
    code = main(["explain", "--checkpoint", str(checkpoint), "--data", str(tiny_data.path),
                 "--id", NO_FRAMES_ID, "--n-steps", "4"])
    assert code == 0
    out = capsys.readouterr().out
    assert f"utterance: {NO_FRAMES_ID}" in out
    assert "interaction:" in out
    assert "visual missing" in out


def test_explain_empty_transcript(checkpoint, tiny_data, capsys):
    code = main(["explain", "--checkpoint", str(checkpoint), "--data", str(tiny_data.path),
                 "--id", EMPTY_TEXT_ID, "--n-steps", "4"])
    assert code == 0
    assert "empty transcript" in capsys.readouterr().out


def test_explain_unknown_id(checkpoint, tiny_data, capsys):
    code = main(["explain", "--checkpoint", str(checkpoint), "--data", str(tiny_data.path),
                 "--id", "nosuchvideo_3"])
    assert code == 2
    err = capsys.readouterr().err
    assert "nosuchvideo_3" in err
    assert "Traceback" not in err


def test_explain_malformed_id(checkpoint, tiny_data, capsys):
    code = main(["explain", "--checkpoint", str(checkpoint), "--data", str(tiny_data.path),
                 "--id", "../../etc/passwd"])
    assert code == 2
    assert "invalid utterance id" in capsys.readouterr().err


def test_explain_missing_checkpoint(tmp_path, tiny_data, capsys):
    code = main(["explain", "--checkpoint", str(tmp_path / "none"), "--data", str(tiny_data.path),
                 "--id", PLAIN_ID])
    assert code == 2
    assert "not found" in capsys.readouterr().err


def test_precompute_fills_cache(checkpoint, tiny_data, tmp_path, capsys):
    args = ["precompute", "--checkpoint", str(checkpoint), "--data", str(tiny_data.path),
            "--split", "test", "--out", str(tmp_path), "--n-steps", "4"]
    assert main(args) == 0
    assert "5 computed, 0 already cached, 0 failed" in capsys.readouterr().out
    cache = ExplanationCache(tmp_path, checkpoint_id(checkpoint), tiny_data.sha256)
    assert len(cache.ids()) == 5
    assert cache.load_overview("test") is not None
    assert main(args) == 0
    assert "0 computed, 5 already cached" in capsys.readouterr().out


@pytest.mark.slow
def test_precompute_resumes_after_kill(checkpoint, tiny_data, tmp_path):
    # Many integration steps make each entry slow enough to kill the run part way.
    command = [sys.executable, "-m", "pgfnet.cli", "precompute", "--checkpoint", str(checkpoint),
               "--data", str(tiny_data.path), "--split", "test", "--out", str(tmp_path),
               "--n-steps", "500", "--threads", "1", "--no-progress"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cache = ExplanationCache(tmp_path, checkpoint_id(checkpoint), tiny_data.sha256)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not cache.ids() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_with = len(cache.ids())
    assert 1 <= killed_with < 5

    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    assert f"{5 - killed_with} computed, {killed_with} already cached, 0 failed" in finished.stdout
    for utterance_id in cache.ids():
        assert cache.get(utterance_id) is not None
    assert len(cache.ids()) == 5


def test_explain_invalid_threads(checkpoint, tiny_data, capsys):
    code = main(["explain", "--checkpoint", str(checkpoint), "--data", str(tiny_data.path),
                 "--id", PLAIN_ID, "--threads", "0"])
    assert code == 2
    assert "invalid --threads 0" in capsys.readouterr().err
