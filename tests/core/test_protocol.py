"""The socket framing codec: what a client sees when its bytes arrive split, joined, broken or huge."""

from __future__ import annotations

import json

import pytest

from addon.core import protocol
from addon.core.protocol import BadMessage, MessageTooLargeError, Request, RequestDecoder


def _wire(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_two_requests_in_one_read_come_out_both_in_order():
    decoder = RequestDecoder()
    got = decoder.feed(_wire({"type": "ping"}) + _wire({"type": "get_scene_info", "params": {"limit": 5}}))
    assert got == [Request("ping"), Request("get_scene_info", {"limit": 5})]
    assert decoder.pending_bytes == 0


def test_a_request_split_byte_by_byte_is_decoded_once_at_its_last_byte():
    payload = _wire({"type": "execute_code", "params": {"code": 'print("{[\\"}]")  # ünïcode ✓'}})
    decoder = RequestDecoder()
    results = [decoder.feed(payload[i : i + 1]) for i in range(len(payload))]
    assert all(r == [] for r in results[:-1])
    assert results[-1] == [Request("execute_code", {"code": 'print("{[\\"}]")  # ünïcode ✓'})]


def test_braces_and_escaped_quotes_inside_strings_do_not_end_a_message():
    decoder = RequestDecoder()
    text = b'{"type": "execute_code", "params": {"code": "x = \\"}\\" + \'{\'"}}  '
    assert decoder.feed(text) == [Request("execute_code", {"code": "x = \"}\" + '{'"})]


def test_malformed_json_gets_an_error_and_the_next_request_still_works():
    decoder = RequestDecoder()
    got = decoder.feed(b'{"type": "ping", oops}{"type": "ping"}')
    assert isinstance(got[0], BadMessage) and "malformed JSON" in got[0].message
    assert got[1] == Request("ping")


def test_garbage_before_a_request_is_reported_once_and_skipped():
    decoder = RequestDecoder()
    got = decoder.feed(b'hello there\n{"type": "ping"}')
    assert len(got) == 2
    assert isinstance(got[0], BadMessage)
    assert got[1] == Request("ping")
    assert decoder.feed(b"\r\n  ") == []  # whitespace between messages is no error
    assert decoder.feed(b'{"type": "ping"}') == [Request("ping")]  # and the next request still comes through


def test_newline_terminated_requests_each_get_through():
    """Clients that end each message with a newline send whitespace between messages, often in a read
    of its own."""
    decoder = RequestDecoder()
    assert decoder.feed(b'{"type": "ping"}\n') == [Request("ping")]
    assert decoder.feed(b'{"type": "ping"}') == [Request("ping")]
    assert decoder.feed(b"   ") == []
    assert decoder.feed(b'{"type": "get_scene_info"}\n{"type": "ping"}\n') == [
        Request("get_scene_info"),
        Request("ping"),
    ]


def test_pure_garbage_does_not_pile_up_in_the_buffer():
    decoder = RequestDecoder()
    for _ in range(100):
        got = decoder.feed(b"x" * 10_000)
        assert len(got) == 1 and isinstance(got[0], BadMessage)
    assert decoder.pending_bytes == 0


def test_bad_utf8_gets_an_error_reply_not_a_crash():
    decoder = RequestDecoder()
    got = decoder.feed(b'{"type": "ping", "params": {"x": "\xff\xfe"}}{"type": "ping"}')
    assert isinstance(got[0], BadMessage) and "UTF-8" in got[0].message
    assert got[1] == Request("ping")


@pytest.mark.parametrize(
    "payload",
    [b"[1, 2]", b'{"params": {}}', b'{"type": 3}', b'{"type": "x", "params": [1]}', b'"just a string"'],
)
def test_json_that_is_not_a_request_is_refused_with_a_reason(payload):
    got = RequestDecoder().feed(payload)
    assert got and all(isinstance(m, BadMessage) for m in got)


def test_missing_or_null_params_mean_no_params():
    assert RequestDecoder().feed(b'{"type": "ping", "params": null}{"type": "ping"}') == [Request("ping")] * 2


def test_an_unfinished_message_over_the_cap_is_refused_before_it_completes():
    decoder = RequestDecoder(max_bytes=1000)
    decoder.feed(b'{"type": "execute_code", "params": {"code": "')
    with pytest.raises(MessageTooLargeError):
        decoder.feed(b"a" * 1000)


def test_a_complete_message_over_the_cap_in_one_read_is_refused_too():
    decoder = RequestDecoder(max_bytes=100)
    with pytest.raises(MessageTooLargeError):
        decoder.feed(_wire({"type": "x", "params": {"code": "a" * 200}}))


def test_a_message_just_under_the_cap_is_accepted():
    body = _wire({"type": "execute_code", "params": {"code": "a" * 50_000}})
    decoder = RequestDecoder(max_bytes=len(body))
    got: list[object] = []
    for i in range(0, len(body), 4096):
        got += decoder.feed(body[i : i + 4096])
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
