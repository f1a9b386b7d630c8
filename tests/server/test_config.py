"""What the server refuses before it binds anything (no Blender needed)."""

from __future__ import annotations

import pytest

from addon.socket_server.config import ConfigError, ServerConfig, is_loopback, read_token


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts_need_no_token(host):
    assert is_loopback(host)
    assert ServerConfig(host=host).token is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "workstation.example"])
def test_other_hosts_are_refused_without_a_token_and_accepted_with_one(host):
    with pytest.raises(ConfigError, match="token file"):
        ServerConfig(host=host)
    assert ServerConfig(host=host, token="x" * 16).host == host


def test_unknown_execute_code_policy_is_refused():
    with pytest.raises(ConfigError, match="allow, deny"):
        ServerConfig(execute_code_policy="sometimes")


def test_token_is_the_first_line_stripped(tmp_path):
    path = tmp_path / "token"
    path.write_text("  0123456789abcdef-xyz  \nsecond line is ignored\n")
    assert read_token(path) == "0123456789abcdef-xyz"


@pytest.mark.parametrize("content", ["", "\n\n", "short\n", "  0123456789abcde  \n"])
def test_empty_or_short_tokens_are_refused(tmp_path, content):
    path = tmp_path / "token"
    path.write_text(content)
    with pytest.raises(ConfigError, match="at least 16 characters"):
        read_token(path)


def test_unreadable_token_file_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read token file"):
        read_token(tmp_path / "missing")
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe" * 20)
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_token(binary)
