"""Event meta read through typed accessors: what another process sent, a wrong type reading as absent."""

import json

from videosync.events import Event, EventKind
from videosync.hls import JobStatus, PackMode, PackStatus


def test_host_event_fields_read_back_after_a_round_trip() -> None:
    sent = Event(EventKind.HOST, {"hostId": "b", "prev": "a", "reason": "handoff", "fresh": True}, "w")
    heard = Event.decode(sent.encode())
    assert heard is not None
    assert (heard.host_id, heard.prev, heard.fresh) == ("b", "a", True)


def test_missing_or_mistyped_meta_fields_read_as_absent() -> None:
    assert (Event("host").host_id, Event("host").prev, Event("host").fresh, Event("host").skip) == (
        None, None, False, None
    )
    odd = Event("state", {"skip": 7, "hostId": ["x"], "prev": None, "fresh": 0})
    assert (odd.skip, odd.host_id, odd.prev, odd.fresh) == (None, None, None, False)
    assert Event("state", {"skip": "m1"}).skip == "m1"


def test_a_status_file_reads_back_as_enums_and_writes_the_same_strings() -> None:
    job = JobStatus(PackStatus.PACKAGING, mode=PackMode.COPY_VIDEO, updated=1.0)
    stored = job.to_json()
    assert (stored["status"], stored["mode"]) == ("packaging", "copy-video")
    assert '"status": "packaging"' in json.dumps(stored)  # on disk and on the wire: the plain string
    back = JobStatus.from_json({**stored, "status": "packaging", "mode": "copy-video"})
    assert back == job
    assert back.status is PackStatus.PACKAGING and back.mode is PackMode.COPY_VIDEO
