import io

from addon.core.terminal import EscapingWriter, printable, printable_text, write_control


def test_control_characters_and_bidi_overrides_are_shown_not_obeyed():
    assert printable("Arm\x1b[2K\rconverted Arm ok") == "Arm\\x1b[2K\\x0dconverted Arm ok"
    assert printable("\x1b]0;owned\x07") == "\\x1b]0;owned\\x07"
    assert printable("a\x9bb\x7fc") == "a\\x9bb\\x7fc"  # C1 CSI, DEL
    assert printable("txt.\u202eexe.vrm") == "txt.\\u202eexe.vrm"
    assert printable("two\nlines") == "two\\x0alines"  # a line cannot forge the next one
    assert printable("Spine_01 ✓ Ünï 頭") == "Spine_01 ✓ Ünï 頭"
    assert printable('\t"Avatar-v1.vrm": true,') == '\t"Avatar-v1.vrm": true,'  # a line to paste into Go code


def test_a_stream_keeps_its_own_line_breaks_and_a_progress_bar_its_carriage_return():
    sink = io.StringIO()
    stream = EscapingWriter(sink)
    print("FAILED bone\x1b[2K\r ok", file=stream)
    write_control(stream, "\r\x1b[K")
    stream.write("[##..] 1/2")
    assert sink.getvalue() == "FAILED bone\\x1b[2K\\x0d ok\n\r\x1b[K[##..] 1/2"
    assert printable_text("a\tb\nc\x1b") == "a\tb\nc\\x1b"
