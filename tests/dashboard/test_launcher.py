"""run_dashboard.py: defaults, the Streamlit command line, the data build, a busy port."""

from __future__ import annotations

import importlib.util
import socket

import pytest

from fakes import REPO_ROOT


@pytest.fixture(scope="module")
def launcher():
    spec = importlib.util.spec_from_file_location("run_dashboard", REPO_ROOT / "run_dashboard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def isolated_env(monkeypatch, tmp_path):
    """Let main() write the PGFNET_* variables without leaking them into other tests."""
    for name in ("PGFNET_CHECKPOINT", "PGFNET_DATASET", "PGFNET_MOSI_SOURCE"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("PGFNET_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def busy_port():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_defaults_bind_loopback(launcher):
    args = launcher.parse_args([])
    assert args.host == "127.0.0.1"
    assert args.port == 8501


def test_invalid_port_rejected(launcher):
    with pytest.raises(SystemExit):
        launcher.parse_args(["--port", "70000"])


def test_streamlit_command_keeps_xsrf(launcher):
    command = launcher.streamlit_command("127.0.0.1", 8600)
    pairs = dict(zip(command[5::2], command[6::2]))
    assert command[1:5] == ["-m", "streamlit", "run", str(REPO_ROOT / "dashboard" / "app.py")]
    assert pairs["--server.address"] == "127.0.0.1"
    assert pairs["--server.port"] == "8600"
    assert pairs["--server.headless"] == "true"
    assert pairs["--server.enableXsrfProtection"] == "true"
    assert pairs["--browser.gatherUsageStats"] == "false"


def test_loopback_detection(launcher):
    assert launcher.is_loopback("127.0.0.1")
    assert launcher.is_loopback("::1")
    assert launcher.is_loopback("localhost")
    assert not launcher.is_loopback("0.0.0.0")
    assert not launcher.is_loopback("192.168.1.10")


def test_busy_port_exits_2(launcher, isolated_env, busy_port, tmp_path, capsys):
    code = launcher.main(["--port", str(busy_port), "--no-build",
                          "--data", str(tmp_path / "absent.pgfdata")])
    assert code == 2
    assert f"port {busy_port}" in capsys.readouterr().err


@pytest.mark.real_data
def test_missing_dataset_is_built(launcher, isolated_env, busy_port, tmp_path, mosi_source):
    out = tmp_path / "built.pgfdata"
    code = launcher.main(["--port", str(busy_port), "--data", str(out),
                          "--source", str(mosi_source)])
    assert code == 2  # stopped at the busy port, after the build
    assert out.is_file()

    from pgfnet.data.format import MosiData

    assert len(MosiData.load(out)) == 2199


def test_threads_default_and_invalid(launcher, monkeypatch):
    monkeypatch.delenv("PGFNET_TORCH_THREADS", raising=False)
    assert launcher.parse_args([]).threads == 1
    with pytest.raises(SystemExit):
        launcher.parse_args(["--threads", "0"])


def test_torch_threads_env_checked(monkeypatch):
    from dashboard import resources

    monkeypatch.setenv("PGFNET_TORCH_THREADS", "2")
    assert resources.torch_threads() == 2
    monkeypatch.setenv("PGFNET_TORCH_THREADS", "two")
    with pytest.raises(ValueError, match="invalid PGFNET_TORCH_THREADS 'two'"):
        resources.torch_threads()
