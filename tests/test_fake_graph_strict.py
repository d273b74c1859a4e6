"""The fake Graph refuses what Graph documents as refused (issue 18, item 3): upload-session
ranges (graph/outlook-large-attachments), ``send`` without ``Content-Length`` (message:
send), ``/me`` with an app-only token. Plain HTTP to the fake, so each answer is seen as a
client would see it; the backend's own behaviour is in tests/test_graph_conformance.py."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from fakegraph import FakeGraph, fake_graph_fixture  # noqa: F401  (fixture "fake_graph")

AUTH = {"Authorization": "Bearer t"}
SIZE = 5_000_000


def session(graph: FakeGraph, size: int = SIZE) -> str:
    """A draft and an upload session for a ``size``-byte file; returns the upload URL."""
    base = graph.url + "v1.0/me"
    draft = requests.post(f"{base}/mailFolders/Drafts/messages", json={"subject": "s"},
                          headers=AUTH, timeout=5).json()
    made = requests.post(f"{base}/messages/{draft['id']}/attachments/createUploadSession",
                         json={"AttachmentItem": {"attachmentType": "file", "name": "f.bin",
                                                  "size": size}}, headers=AUTH, timeout=5)
    assert made.status_code == 201
    return str(made.json()["uploadUrl"])


def put(url: str, body: bytes, content_range: str | None, **headers: str) -> requests.Response:
    """One upload PUT as the O365 library sends it (no Authorization), headers adjustable."""
    h: dict[str, Any] = {"Content-Type": "application/octet-stream"}
    if content_range is not None:
        h["Content-Range"] = content_range
    h.update({k.replace("_", "-"): v for k, v in headers.items()})
    return requests.put(url, data=body, headers=h, timeout=5)


def test_ranges_in_order_complete_the_upload(fake_graph: FakeGraph) -> None:
    url = session(fake_graph)
    first = put(url, b"a" * 3_000_000, "bytes 0-2999999/5000000")
    assert first.status_code == 200
    assert first.json()["nextExpectedRanges"] == ["3000000-"]
    assert put(url, b"b" * 2_000_000, "bytes 3000000-4999999/5000000").status_code == 201
    (draft,) = fake_graph.drafts.values()
    assert [a["source"] for a in draft.attachments] == ["upload"]


@pytest.mark.parametrize(("body", "content_range", "extra", "status", "code"), [
    # the upload URL is pre-authenticated: no Authorization header
    (b"a" * 10, "bytes 0-9/5000000", {"Authorization": "Bearer t"}, 401,
     "InvalidAuthenticationToken"),
    (b"a" * 10, None, {}, 400, "InvalidContentRange"),  # no Content-Range
    (b"a" * 10, "0-9/5000000", {}, 400, "InvalidContentRange"),  # malformed
    (b"a" * 10, "bytes 0-19/5000000", {}, 400, "InvalidContentRange"),  # not the body's length
    (b"a" * 10, "bytes 0-9/6000000", {}, 400, "InvalidContentRange"),  # not the session's total
    (b"a" * 10, "bytes 0-9/5000000", {"Content-Type": "text/plain"}, 400, "InvalidRequest"),
    (b"a" * 10, "bytes 10-19/5000000", {}, 416, "InvalidRange"),  # not from the next byte
    (b"a" * 4_194_305, "bytes 0-4194304/5000000", {}, 413, "RequestEntityTooLarge"),
], ids=["authorization", "no-range", "malformed", "wrong-length", "wrong-total",
        "content-type", "not-next", "over-4-mb"])
def test_an_upload_put_graph_refuses(fake_graph: FakeGraph, body: bytes,
                                     content_range: str | None, extra: dict[str, str],
                                     status: int, code: str) -> None:
    url = session(fake_graph)
    answer = put(url, body, content_range, **extra)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
    assert fake_graph.sessions[url.rsplit("/", 1)[-1]]["data"] == b""  # nothing taken


def test_a_range_out_of_order_says_what_comes_next(fake_graph: FakeGraph) -> None:
    url = session(fake_graph)
    assert put(url, b"a" * 1000, "bytes 0-999/5000000").status_code == 200
    again = put(url, b"a" * 1000, "bytes 0-999/5000000")  # the same range twice
    assert again.status_code == 416
    assert again.json()["nextExpectedRanges"] == ["1000-"]
    past = put(url, b"a" * 10, "bytes 1000-1009/1005")
    assert past.status_code == 400  # a total other than the session's


def test_send_needs_content_length(fake_graph: FakeGraph) -> None:
    base = fake_graph.url + "v1.0/me"
    draft = requests.post(f"{base}/mailFolders/Drafts/messages", json={"subject": "s"},
                          headers=AUTH, timeout=5).json()

    def chunks() -> Any:  # a generator body: requests sends it chunked, no Content-Length
        yield b""

    refused = requests.post(f"{base}/messages/{draft['id']}/send", data=chunks(),
                            headers=AUTH, timeout=5)
    assert refused.status_code == 411
    assert refused.json()["error"]["code"] == "LengthRequired"
    sent = requests.post(f"{base}/messages/{draft['id']}/send", headers=AUTH, timeout=5)
    assert sent.status_code == 202  # requests sends Content-Length: 0 for an empty POST


def test_me_with_an_app_only_token_is_refused(fake_graph: FakeGraph) -> None:
    fake_graph.app_tokens.add("app-token")
    app = {"Authorization": "Bearer app-token"}
    me = requests.get(fake_graph.url + "v1.0/me/mailFolders/SentItems/messages", headers=app,
                      timeout=5)
    assert me.status_code == 400
    assert "delegated" in me.json()["error"]["message"]
    box = requests.get(fake_graph.url + "v1.0/users/team@contoso.com/mailFolders/SentItems/"
                       "messages", headers=app, timeout=5)
    assert box.status_code == 200


def test_a_client_gone_mid_request_prints_no_traceback(
        fake_graph: FakeGraph, capsys: pytest.CaptureFixture[str]) -> None:
    """A client that resets its connection halfway through a request line (a test's
    time-out) leaves no traceback in the run's output; the fake goes on answering."""
    import socket
    import struct
    import time
    from urllib.parse import urlsplit

    where = urlsplit(fake_graph.url)
    sock = socket.create_connection((where.hostname, where.port), timeout=5)
    sock.sendall(b"GET /v1.0/me HTT")  # no line end: the server is reading the line
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # a reset, not an orderly close
    time.sleep(0.3)  # the server's thread meets the reset
    assert requests.get(fake_graph.url + "v1.0/me", headers=AUTH, timeout=5).status_code
    assert "Traceback" not in capsys.readouterr().err
