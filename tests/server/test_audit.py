"""The audit log on disk: one line per command, code only when opted in, and bounded by rotation."""

from __future__ import annotations

from addon.server.audit import BACKUPS, FILE_NAME, MAX_BYTES, AuditLog


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
