"""The canonical scenario the real-client tests drive: a job that reports progress three times
with ``102 Processing`` before its ``201 Created``.

Kept in one place so every client test scripts the same exchange and expects the same values.
"""

from __future__ import annotations

import mockprogress as mp

#: The Progress value of each 102, in the order they go out.
PROGRESS = ['0/3 "Herding cats"', '1/3 "Knitting sweaters"', '2/3 "Slaying dragons"']
#: The Location of the status document, carried by the first 102 only.
STATUS_LOCATION = "/jobs/1/status"
CREATED_BODY = b"created\n"
ITEM_LOCATION = "/items/1"


def expect_jobs(srv: mp.MockServer) -> mp.Expectation:
    """Script ``POST /jobs``: three 102s 50 ms apart, then ``201 Created``."""
    return srv.expect("POST", "/jobs").respond(
        mp.processing(PROGRESS[0], location=STATUS_LOCATION),
        mp.pause(0.05),
        mp.processing((1, 3, "Knitting sweaters")),
        mp.pause(0.05),
        mp.processing((2, 3, "Slaying dragons")),
        mp.respond(201, CREATED_BODY, headers={"Location": ITEM_LOCATION}),
    )
