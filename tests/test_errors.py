"""The one error hierarchy as the entry points render it: a refusal's one line, the rig check's findings that
refused it, and a JSON report that carries both (what `forge.py export` and `publish` print)."""

from __future__ import annotations

from addon.cli.command import EXIT_PROBLEMS, failed
from addon.core.errors import InputError, OperationError, OutputExistsError
from addon.core.rig.findings import CheckReport, Finding


def _refused() -> OperationError:
    findings = [
        Finding("not_t_pose", "warning", "arms 30° off horizontal", False, ("Rig",)),
        Finding("wrong_facing", "error", "the avatar faces +Y", False, ("Rig",)),
    ]
    report = CheckReport.from_findings("Rig", {"hips": "Hips"}, findings, {"vertices": 8})
    return OperationError("not exported: the rig check found errors: the avatar faces +Y", report=report)


def test_a_refusal_shows_its_reason_then_the_findings_that_refused_it():
    result = failed(_refused(), "not published: {}", published=False)
    assert result.exit_code == EXIT_PROBLEMS
    assert result.lines == [
        "not published: not exported: the rig check found errors: the avatar faces +Y",
        "  error: the avatar faces +Y",
        "  warning: arms 30° off horizontal",
    ]


def test_a_refusals_json_carries_the_reason_and_the_rig_check_report():
    data = failed(_refused(), exported=False, preset="companions-web").data
    assert data["exported"] is False and data["preset"] == "companions-web"
    assert data["reason"].endswith("the avatar faces +Y")
    assert [f["id"] for f in data["findings"]] == ["wrong_facing", "not_t_pose"]  # errors first
    assert data["ok"] is False and data["mapping"] == {"hips": "Hips"}


def test_only_the_errors_are_shown_when_asked_and_a_failure_without_a_report_is_its_line():
    assert failed(_refused(), severity="error").lines[1:] == ["  error: the avatar faces +Y"]
    plain = failed(OperationError("the VRM Add-on cancelled the export: a mesh and a bone share a name"))
    assert plain.lines == ["the VRM Add-on cancelled the export: a mesh and a bone share a name"]
    assert plain.data == {"reason": "the VRM Add-on cancelled the export: a mesh and a bone share a name"}


def test_an_output_that_exists_is_the_callers_input_and_still_a_file_exists_error():
    exc = OutputExistsError("Avatar.vrm exists")
    assert isinstance(exc, InputError) and isinstance(exc, FileExistsError)
