"""The audit log on disk: one line per command, code only when opted in, and bounded by rotation."""

from __future__ import annotations

from addon.socket_server.audit import BACKUPS, FIELD_CHARS, FILE_NAME, MAX_BYTES, REFUSAL_INTERVAL, AuditLog


def test_each_command_is_one_line_with_type_duration_and_outcome(tmp_path):
    log = AuditLog(tmp_path)
    log.record("127.0.0.1:5000", "get_scene_info", 0.0123)
    log.record("127.0.0.1:5000", "execute_code", 0.5, error="ZeroDivisionError\nmore", code="1/0")
    log.close()
    lines = (tmp_path / FILE_NAME).read_text().splitlines()
    assert len(lines) == 2
    assert 'peer=127.0.0.1:5000 type="get_scene_info" ms=12.3 outcome=ok' in lines[0]
    assert 'outcome=error message="ZeroDivisionError\\nmore"' in lines[1]
    assert "1/0" not in lines[1]


def test_code_is_written_only_when_opted_in(tmp_path):
    log = AuditLog(tmp_path, include_code=True)
    log.record("p", "execute_code", 0.001, code="print('hello')")
    log.close()
    assert "code=\"print('hello')\"" in (tmp_path / FILE_NAME).read_text()


def test_the_log_rotates_and_stays_bounded(tmp_path):
    log = AuditLog(tmp_path)
    for i in range(4 * MAX_BYTES // 80 + 1000):
        log.record("127.0.0.1:5000", f"command_{i}", 0.001)
    log.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [FILE_NAME] + [f"{FILE_NAME}.{n}" for n in range(1, BACKUPS + 1)]
    assert all((tmp_path / name).stat().st_size <= MAX_BYTES for name in files)
    assert "command_" in (tmp_path / FILE_NAME).read_text()


def test_every_log_file_is_readable_by_its_owner_only(tmp_path):
    log = AuditLog(tmp_path, include_code=True)
    for i in range(2 * MAX_BYTES // 80):  # past one rollover
        log.record("127.0.0.1:5000", "execute_code", 0.001, code=f"print({i})")
    log.close()
    files = sorted(tmp_path.glob(FILE_NAME + "*"))
    assert len(files) >= 2
    assert {oct(f.stat().st_mode & 0o777) for f in files} == {"0o600"}


def test_a_flood_of_refusals_cannot_rotate_earlier_records_away(tmp_path):
    log = AuditLog(tmp_path)
    log.record("127.0.0.1:5000", "avatar_export_vrm", 1.0, wrote=["/exports/Before.vrm"])
    for port in range(41_736):  # the attack run's count of wrong tokens, each from a new connection
        log.refused(f"127.0.0.1:{10_000 + port % 50_000}", "authentication failed: wrong token")
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILE_NAME]  # never rotated
    lines = (tmp_path / FILE_NAME).read_text().splitlines()
    assert len(lines) == 3
    assert 'wrote="/exports/Before.vrm"' in lines[0]
    assert 'peer=127.0.0.1:10000 refused="authentication failed: wrong token"' in lines[1]
    assert 'peer=127.0.0.1 refused="authentication failed: wrong token" repeats=41735' in lines[2]


def test_a_refusal_after_its_interval_is_written_again(tmp_path, monkeypatch):
    log = AuditLog(tmp_path)
    clock = [1000.0]
    monkeypatch.setattr("addon.socket_server.audit.time.monotonic", lambda: clock[0])
    log.refused("10.0.0.1:1", "message too large")
    log.refused("10.0.0.1:2", "message too large")
    log.refused("10.0.0.2:1", "message too large")  # another host: a line of its own
    clock[0] += REFUSAL_INTERVAL
    log.flush()
    log.refused("10.0.0.1:3", "message too large")
    log.close()
    lines = (tmp_path / FILE_NAME).read_text().splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == [
        'peer=10.0.0.1:1 refused="message too large"',
        'peer=10.0.0.2:1 refused="message too large"',
        'peer=10.0.0.1 refused="message too large" repeats=1 within_s=60',
        'peer=10.0.0.1:3 refused="message too large"',
    ]


def test_huge_fields_are_cut_so_one_request_cannot_fill_the_log(tmp_path):
    log = AuditLog(tmp_path)
    for _ in range(4):  # the attack: four requests with an 8 MiB type
        log.record("127.0.0.1:5000", "t" * 8 * 1024 * 1024, 0.001, error="e" * 8 * 1024 * 1024)
    log.refused("127.0.0.1:5000", "r" * 1024 * 1024)
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILE_NAME]
    lines = (tmp_path / FILE_NAME).read_text().splitlines()
    assert len(lines) == 5 and all(len(line) < 2 * FIELD_CHARS + 200 for line in lines)
    assert f"... ({8 * 1024 * 1024} characters)" in lines[0]
