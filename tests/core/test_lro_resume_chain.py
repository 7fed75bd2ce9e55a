"""The drafts' README example, all four together, over the sans-IO core:
a resumable request (``Prefer: resume``) whose upload is cut, resumed with PATCH, and then
processed by a ProgressJob that honours ``processing, respond-async, wait=20``.

POST (Expect: 100-continue) -> 100 with the two locations -> cut after 3 bytes -> HEAD ->
299 with Content-Length: 3 -> PATCH the rest -> 102s -> 202 at 20 s -> GET the status
document with Prefer: processing -> 102 -> 200 with Status-URI at 30 s.
"""

from __future__ import annotations

import h11
from support.sansio import Wire

import mockprogress as mp

PREFER = "Prefer: resume, processing, respond-async, wait=20\r\n"
DATA = bytes(range(100))


def messages(out: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    client.send(h11.EndOfMessage())
    client.receive_data(out)
    found: list[tuple[int, dict[str, str], bytes]] = []
    while True:
        event = client.next_event()
        if event is h11.NEED_DATA or isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            return found
        if isinstance(event, h11.InformationalResponse | h11.Response):
            fields = {n.decode(): v.decode() for n, v in event.headers.raw_items()}
            found.append((event.status_code, fields, b""))
        elif isinstance(event, h11.Data):
            status, fields, body = found[-1]
            found[-1] = (status, fields, body + bytes(event.data))


def test_the_readme_example_end_to_end() -> None:
    wire = Wire()
    job = mp.ProgressJob(
        "/jobs",
        [("Herding cats", 10), ("Knitting sweaters", 10), ("Slaying dragons", 10)],
        mp.respond(201, "captured\n", {"Location": "/photos/42"}),
        done_remark="Available",
    )
    uploads = mp.ResumableRequests("/capture", process=job, interrupts=[mp.interrupt(after=3)])
    wire.state.mount(uploads)
    wire.state.mount(job)

    def run(raw: bytes, *more: bytes) -> list[tuple[int, dict[str, str], bytes]]:
        wire.out.clear()
        return messages(wire.run([raw, *more]))

    head = (
        f"POST /capture HTTP/1.1\r\nHost: x\r\nContent-Length: {len(DATA)}\r\n"
        f"Expect: 100-continue\r\n{PREFER}\r\n"
    ).encode()
    [continued] = run(head, DATA)
    assert continued[0] == 100
    request_location = continued[1]["Request-Content-Location"]
    [job_id] = uploads.uploads
    assert request_location == f"/capture/{job_id}.req"
    assert uploads.uploads[job_id].offset == 3  # cut after 3 bytes

    [incomplete] = run(f"HEAD {request_location} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert (incomplete[0], incomplete[1]["Content-Length"]) == (299, "3")

    part = b"Content-Range: bytes 3-99/100\r\nContent-Length: 97\r\n\r\n" + DATA[3:]
    patch = (
        f"PATCH {request_location} HTTP/1.1\r\nHost: x\r\nContent-Type: message/byterange\r\n"
        f"Content-Length: {len(part)}\r\n{PREFER}\r\n"
    ).encode()
    started = wire.clock
    found = run(patch + part)
    assert [m[0] for m in found] == [102, 102, 102, 202]
    status_uri = found[0][1]["Location"]
    assert status_uri == job.jobs[0].status_uri
    assert [m[1]["Progress"] for m in found] == [
        '0/3 "Herding cats"',
        '1/3 "Knitting sweaters"',
        '2/3 "Slaying dragons"',
        '2/3 "Slaying dragons"',
    ]
    accepted = found[3][1]
    assert accepted["Location"] == accepted["Content-Location"] == status_uri
    assert accepted["Preference-Applied"] == "processing, respond-async, wait=20"
    assert wire.clock - started == 20
    assert uploads.uploads[job_id].data == DATA

    found = run(f"GET {status_uri} HTTP/1.1\r\nHost: x\r\nPrefer: processing\r\n\r\n".encode())
    assert [m[0] for m in found] == [102, 200]
    done = found[1]
    assert done[1]["Progress"] == '3/3 "Available"'
    assert done[1]["Status-URI"] == f"201 <{request_location}>"
    assert done[2] == b"captured\n"
    assert wire.clock - started == 30
    assert wire.state.check_error() is None
