"""`pgfnet data` subcommands on files the tests write: exit codes and printed messages."""

from __future__ import annotations

import pickle

from pgfnet.cli import main
from pgfnet.data.format import MosiData

from .test_importers import _csd_files, _mmsa_object


def test_build_and_card_tiny(tiny_source, tmp_path, capsys):
    out = tmp_path / "tiny.pgfdata"

    assert main(["data", "build", "--source", str(tiny_source), "--out", str(out)]) == 0
    assert main(["data", "card", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "built 6 utterances" in printed
    assert "train       2" in printed
    assert "AU01_r" in printed


def test_build_source_from_environment(tiny_source, tmp_path, monkeypatch):
    monkeypatch.setenv("PGFNET_MOSI_SOURCE", str(tiny_source))
    out = tmp_path / "env.pgfdata"

    assert main(["data", "build", "--out", str(out)]) == 0
    assert len(MosiData.load(out)) == 6


def test_build_missing_source_exit_code(tmp_path, capsys):
    code = main(["data", "build", "--source", str(tmp_path / "none"), "--out",
                 str(tmp_path / "x.pgfdata")])

    assert code == 2
    assert "PGFNET_MOSI_SOURCE" in capsys.readouterr().err


def test_card_missing_file(tmp_path, capsys):
    assert main(["data", "card", str(tmp_path / "absent.pgfdata")]) == 2
    assert "pgfnet data build" in capsys.readouterr().err


def test_import_mmsa_command(tmp_path, capsys):
    path = tmp_path / "aligned_50.pkl"
    path.write_bytes(pickle.dumps(_mmsa_object(), protocol=4))
    out = tmp_path / "mmsa.pgfdata"

    assert main(["data", "import-mmsa", str(path), "--out", str(out)]) == 0
    assert "replaced 3 -inf audio values with 0" in capsys.readouterr().out
    assert len(MosiData.load(out)) == 8


def test_import_mmsa_hostile_exit_code(tmp_path, capsys):
    path = tmp_path / "evil.pkl"
    path.write_bytes(b"\x80\x04cposix\nsystem\n\x8c\x04true\x85R.")

    assert main(["data", "import-mmsa", str(path), "--out", str(tmp_path / "o.pgfdata")]) == 2
    error = capsys.readouterr().err
    assert "posix.system" in error
    assert "evil.pkl" in error
    assert not (tmp_path / "o.pgfdata").exists()


def test_import_csd_command(tmp_path, capsys):
    labels, acoustic, visual = _csd_files(tmp_path)
    split_csv = tmp_path / "label.csv"
    split_csv.write_text("id,text,label,mode\nvidA_1,hi,1.0,train\nvidA_2,yo,-2.0,train\n"
                         "vidB_1,hey,0.4,test\n")
    out = tmp_path / "csd.pgfdata"

    assert main(["data", "import-csd", "--labels", str(labels), "--acoustic", str(acoustic),
                 "--visual", str(visual), "--split-csv", str(split_csv),
                 "--out", str(out)]) == 0
    data = MosiData.load(out)
    assert [u.text for u in data.utterances] == ["hi", "yo", "hey"]
    assert "imported 3 utterances" in capsys.readouterr().out
