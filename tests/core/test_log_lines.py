from addon.core.vrm.log_lines import warnings_in

CAPTURED = """\
EGL Error (0x3009): EGL_BAD_MATCH: Arguments are inconsistent (for example, a valid context requires buffers).
EGL Error (0x3009): EGL_BAD_MATCH: Arguments are inconsistent (for example, a valid context requires buffers).
Saved: '/tmp/thumb/thumbnail.png'
Time: 00:08.75 (Saving: 00:00.65)
INFO Draco mesh compression is available, use library at /somewhere/libextern_draco.so
10:37:52 | INFO: Starting glTF 2.0 export
10:37:52 | WARNING: Image 'skin' has no alpha: exported as JPEG
10:37:53 | WARNING: Image 'skin' has no alpha: exported as JPEG
Error: Object "Hat" has a negative scale
"""


def test_only_warnings_and_errors_are_kept_once_each_without_gpu_noise():
    assert warnings_in(CAPTURED) == [
        "WARNING: Image 'skin' has no alpha: exported as JPEG",
        'Error: Object "Hat" has a negative scale',
    ]


def test_nothing_serious_leaves_nothing():
    assert warnings_in("Read blend: x.blend\n10:37:52 | INFO: Finished glTF 2.0 export in 2.0 s\n") == []
