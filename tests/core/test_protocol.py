"""The socket framing codec: what a client sees when its bytes arrive split, joined, broken or huge."""

from __future__ import annotations

import json

import pytest

from addon.core.wire import protocol
from addon.core.wire.protocol import (
    MAX_VALUES,
    BadMessage,
    MessageTooLargeError,
    NotJsonError,
    RawMessage,
    Request,
    RequestDecoder,
)


def _wire(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_two_requests_in_one_read_come_out_both_in_order():
    decoder = RequestDecoder()
    got = decoder.feed_all(_wire({"type": "ping"}) + _wire({"type": "get_scene_info", "params": {"limit": 5}}))
    assert got == [Request("ping"), Request("get_scene_info", {"limit": 5})]
    assert decoder.pending_bytes == 0


def test_a_request_split_byte_by_byte_is_decoded_once_at_its_last_byte():
    payload = _wire({"type": "execute_code", "params": {"code": 'print("{[\\"}]")  # ünïcode ✓'}})
    decoder = RequestDecoder()
    results = [decoder.feed_all(payload[i : i + 1]) for i in range(len(payload))]
    assert all(r == [] for r in results[:-1])
    assert results[-1] == [Request("execute_code", {"code": 'print("{[\\"}]")  # ünïcode ✓'})]


def test_braces_and_escaped_quotes_inside_strings_do_not_end_a_message():
    decoder = RequestDecoder()
    text = b'{"type": "execute_code", "params": {"code": "x = \\"}\\" + \'{\'"}}  '
    assert decoder.feed_all(text) == [Request("execute_code", {"code": "x = \"}\" + '{'"})]


def test_malformed_json_gets_an_error_and_the_next_request_still_works():
    decoder = RequestDecoder()
    got = decoder.feed_all(b'{"type": "ping", oops}{"type": "ping"}')
    assert isinstance(got[0], BadMessage) and "malformed JSON" in got[0].message
    assert got[1] == Request("ping")


def test_garbage_after_the_first_request_is_reported_once_and_skipped():
    decoder = RequestDecoder()
    got = decoder.feed_all(b'{"type": "ping"}hello there\n{"type": "ping"}')
    assert len(got) == 3
    assert isinstance(got[1], BadMessage)
    assert got[2] == Request("ping")
    assert decoder.feed_all(b"\r\n  ") == []  # whitespace between messages is no error
    assert decoder.feed_all(b'{"type": "ping"}') == [Request("ping")]  # and the next request still comes through


def test_newline_terminated_requests_each_get_through():
    """Clients that end each message with a newline send whitespace between messages, often in a read
    of its own."""
    decoder = RequestDecoder()
    assert decoder.feed_all(b'{"type": "ping"}\n') == [Request("ping")]
    assert decoder.feed_all(b'{"type": "ping"}') == [Request("ping")]
    assert decoder.feed_all(b"   ") == []
    assert decoder.feed_all(b'{"type": "get_scene_info"}\n{"type": "ping"}\n') == [
        Request("get_scene_info"),
        Request("ping"),
    ]


def test_pure_garbage_does_not_pile_up_in_the_buffer():
    decoder = RequestDecoder()
    assert decoder.feed_all(b'{"type": "ping"}') == [Request("ping")]
    for _ in range(100):
        got = decoder.feed_all(b"x" * 10_000)
        assert len(got) == 1 and isinstance(got[0], BadMessage)
    assert decoder.pending_bytes == 0


def test_bad_utf8_gets_an_error_reply_not_a_crash():
    decoder = RequestDecoder()
    got = decoder.feed_all(b'{"type": "ping", "params": {"x": "\xff\xfe"}}{"type": "ping"}')
    assert isinstance(got[0], BadMessage) and "UTF-8" in got[0].message
    assert got[1] == Request("ping")


@pytest.mark.parametrize(
    "payload",
    [b"[1, 2]", b'{"params": {}}', b'{"type": 3}', b'{"type": "x", "params": [1]}', b'"just a string"'],
)
def test_json_that_is_not_a_request_is_refused_with_a_reason(payload):
    got = RequestDecoder().feed_all(b'{"type": "ping"}' + payload)[1:]
    assert got and all(isinstance(m, BadMessage) for m in got)


def test_missing_or_null_params_mean_no_params():
    assert RequestDecoder().feed_all(b'{"type": "ping", "params": null}{"type": "ping"}') == [Request("ping")] * 2


def test_an_unfinished_message_over_the_cap_is_refused_before_it_completes():
    decoder = RequestDecoder(max_bytes=1000)
    decoder.feed_all(b'{"type": "execute_code", "params": {"code": "')
    with pytest.raises(MessageTooLargeError):
        decoder.feed_all(b"a" * 1000)


def test_a_complete_message_over_the_cap_in_one_read_is_refused_too():
    decoder = RequestDecoder(max_bytes=100)
    with pytest.raises(MessageTooLargeError):
        decoder.feed_all(_wire({"type": "x", "params": {"code": "a" * 200}}))


def test_a_message_just_under_the_cap_is_accepted():
    body = _wire({"type": "execute_code", "params": {"code": "a" * 50_000}})
    decoder = RequestDecoder(max_bytes=len(body))
    got: list[object] = []
    for i in range(0, len(body), 4096):
        got += decoder.feed_all(body[i : i + 4096])
    assert got == [Request("execute_code", {"code": "a" * 50_000})]


def test_replies_are_compact_json_in_blendermcps_shape():
    assert json.loads(protocol.success({"pong": True})) == {"status": "success", "result": {"pong": True}}
    assert json.loads(protocol.error("Unknown command type: x")) == {
        "status": "error",
        "message": "Unknown command type: x",
    }


def test_a_result_json_cannot_hold_becomes_an_error_reply():
    reply = json.loads(protocol.success({"bad": float("nan"), "obj": object()}))
    assert reply["status"] == "error" and "JSON" in reply["message"]


@pytest.mark.parametrize(
    ("opening", "named"),
    [
        (b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\n\r\n", "HTTP POST request"),
        (b"GET / HTTP/1.1\r\n", "HTTP GET request"),
        (b"OPTIONS / HTTP/1.1\r\n", "HTTP OPTIONS request"),
        (b"\x16\x03\x01\x02\x00", "must begin with a JSON object"),
        (b"  \n hello", "must begin with a JSON object"),
    ],
)
def test_a_connection_that_does_not_begin_with_an_object_is_refused_before_parsing(opening, named):
    """What a web page's text/plain POST sends: the request line, headers, then a JSON body that must not
    be run."""
    decoder = RequestDecoder()
    with pytest.raises(NotJsonError, match=named):
        decoder.feed_all(opening + _wire({"type": "execute_code", "params": {"code": "print(1)"}}))


def test_whitespace_before_the_first_object_is_fine():
    assert RequestDecoder().feed_all(b' \r\n\t{"type": "ping"}') == [Request("ping")]


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (b'{"a":[}}', "closes a bracket it does not match"),
        (b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested deeper than 256"),
        (b'{"a": ' + b'{"b": ' * 3000 + b"1" + b"}" * 3000 + b"}", "nested deeper than 256"),
        (b'{"type": "x", "params": {"n": ' + b"7" * 5000 + b"}}", "digits"),
        (b'{"type": "x", "params": {"v": [' + b"1," * MAX_VALUES + b"1]}}", f"more than {MAX_VALUES} JSON values"),
    ],
)
def test_malformed_or_hostile_json_gets_one_error_and_the_stream_resynchronises(bad, says):
    got = RequestDecoder().feed_all(b'{"type": "ping"}' + bad + b' {"type": "ping"}')
    assert len(got) == 3, got
    assert got[0] == Request("ping") and got[2] == Request("ping")
    assert isinstance(got[1], BadMessage) and says in got[1].message


def _nested(levels: int) -> bytes:
    """A request nested `levels` deep, the request object itself the first level."""
    return b'{"type": "x", "params": {"v": ' + b"[" * (levels - 2) + b"]" * (levels - 2) + b"}}"


def _holding(values: int) -> bytes:
    """A request holding `values` JSON values: itself, "x", its params, their list, and ones and empty
    lists and objects in the list (a member is one value, its key none)."""
    fill = [b"1", b"[]", b"{ }", b'"s"'] * values
    return b'{"type": "x", "params": {"v": [' + b", ".join(fill[: values - 4]) + b"]}}"


@pytest.mark.parametrize(
    ("build", "limit", "says"),
    [
        (_nested, 256, "malformed JSON: nested deeper than 256 levels"),
        (_holding, 100_000, "message holds more than 100000 JSON values"),
    ],
    ids=["levels", "values"],
)
def test_a_request_exactly_at_a_json_limit_is_answered_and_one_past_it_refused(build, limit, says):
    """The README's limits, 256 levels and 100,000 values, to the unit (not the code's own constants)."""
    at, past = RequestDecoder().feed_all(build(limit)), RequestDecoder().feed_all(build(limit + 1))
    assert len(at) == 1 and isinstance(at[0], Request), at
    assert past == [BadMessage(says)]


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 10, 255])
@pytest.mark.parametrize("same_read", [True, False])
def test_a_mismatched_bracket_at_any_depth_ends_its_message_and_the_next_one_is_answered(depth, same_read):
    """`{"type":"ping","params":{"a":[}}`: counting brackets past the mismatch never ended the message
    and swallowed every request after it, and the client waited for a reply forever."""
    opening = b'{"type": "ping", "params": ' + b'{"a": ' * (depth - 1) + b"["
    bad = opening + b"}" * depth  # the first '}' closes the '['
    decoder = RequestDecoder()
    if same_read:
        got = decoder.feed_all(bad + b'{"type": "after"}')
    else:
        got = decoder.feed_all(bad)
        got += decoder.feed_all(b' {"type": "after"}')
    assert len(got) == 2, got
    assert isinstance(got[0], BadMessage) and "closes a bracket it does not match" in got[0].message
    assert got[1] == Request("after")
    assert decoder.pending_bytes == 0


def test_messages_come_out_one_at_a_time_and_the_rest_wait_in_the_buffer():
    decoder = RequestDecoder()
    decoder.feed(_wire({"type": "a"}) + _wire({"type": "b"}) + b'{"type": "c"')
    assert decoder.next() == Request("a")
    assert decoder.pending_bytes > 0
    assert decoder.next() == Request("b")
    assert decoder.next() is None
    decoder.feed(b"}")
    assert decoder.next() == Request("c")


def test_a_large_message_is_left_unparsed_and_parses_to_what_json_reads(monkeypatch):
    # Tiny slices, so long strings are cut in many places: next to escapes, inside multi-byte
    # characters, between the halves of a surrogate pair.
    monkeypatch.setattr(protocol, "_SLICE_BYTES", 7)
    monkeypatch.setattr(protocol, "INLINE_PARSE_BYTES", 10_000)
    code = 'ünï \\ "q" \n\t 😀 ✓ {[]}\x01' * 2_000
    params = {"code": code, "k" * 100: ["v" * 65, {"deep": "😀" * 100}], "n": 5, "short": "x"}
    wire = json.dumps({"type": "execute_code", "params": params}).encode()
    raw_utf8 = json.dumps({"type": "execute_code", "params": params}, ensure_ascii=False).encode()
    for data in (wire, raw_utf8):
        assert len(data) > protocol.INLINE_PARSE_BYTES
        decoder = RequestDecoder()
        decoder.feed(data + _wire({"type": "ping"}))
        message = decoder.next()
        assert isinstance(message, RawMessage)
        assert protocol.parse(message) == Request("execute_code", params)
        assert decoder.next() == Request("ping")


def test_a_large_message_with_broken_utf8_or_json_is_an_error_not_a_crash():
    head = b'{"type": "execute_code", "params": {"code": "'
    for body, says in ((b"a" * 2_000_000 + b"\xff", "UTF-8"), (b"a" * 2_000_000 + b"\\q", "malformed JSON")):
        decoder = RequestDecoder()
        decoder.feed(head + body + b'"}}')
        message = decoder.next()
        assert isinstance(message, RawMessage)
        parsed = protocol.parse(message)
        assert isinstance(parsed, BadMessage) and says in parsed.message


def test_echo_caps_what_an_error_repeats():
    assert protocol.echo("short") == "short"
    long = protocol.echo("x" * 8_000_000)
    assert len(long) < 120 and "8000000 characters" in long
