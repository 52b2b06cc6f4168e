"""Id and path validation: the guards in front of every cache file and data lookup."""

from __future__ import annotations

import pytest

from pgfnet.paths import safe_child, validate_utterance_id


@pytest.mark.parametrize("value", ["03bSnISJMiM_1", "_dI--eQ6qVU_12", "a"])
def test_valid_ids_pass(value):
    assert validate_utterance_id(value) == value


@pytest.mark.parametrize(
    "value",
    ["../etc/passwd", "/etc/passwd", "a/b", "a\x00b", "", "x" * 65, "id with space", "..", "a.b", None, 3],
)
def test_hostile_ids_rejected(value):
    with pytest.raises(ValueError, match="invalid utterance id"):
        validate_utterance_id(value)


def test_safe_child_inside_root(tmp_path):
    assert safe_child(tmp_path, "a/b.json") == (tmp_path / "a" / "b.json").resolve()


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/../../x", "a\x00b"])
def test_safe_child_rejects_escape(tmp_path, name):
    with pytest.raises(ValueError, match="invalid path"):
        safe_child(tmp_path, name)


def test_safe_child_rejects_symlink_escape(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(outside)
    with pytest.raises(ValueError, match="resolves outside"):
        safe_child(root, "link/file")
