"""Token streaming over Server-Sent Events, live and for a client that connects late."""

from __future__ import annotations

import json
import time

import httpx

from tests.conftest import wait_for_job


def read_sse(response: httpx.Response) -> list[tuple[str, dict]]:
    events, name = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((name, json.loads(line.removeprefix("data: "))))
    return events


def stream_job(api: httpx.Client, job_id: str, **headers: str) -> list[tuple[str, dict]]:
    with api.stream("GET", f"/jobs/{job_id}/events", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return read_sse(response)


def llm_job(api: httpx.Client) -> str:
    payload = {"model": "llm", "start_word": "Once", "length": 12, "seed": 5, "stream": True}
    return api.post("/jobs", json={"type": "generate", "input": payload}).json()["job_id"]


def test_tokens_stream_live_then_the_final_result(api: httpx.Client) -> None:
    job_id = llm_job(api)
    events = stream_job(api, job_id)
    names = [name for name, _ in events]
    assert names[-1] == "final"
    final = events[-1][1]
    assert final["status"] == "succeeded"
    tokens = [data["text"] for name, data in events if name == "token"]
    assert tokens, names
    assert final["result"]["generated_text"] == "Once" + "".join(tokens)


def test_late_client_gets_what_it_missed(api: httpx.Client) -> None:
    job_id = llm_job(api)
    finished = wait_for_job(api, job_id)
    events = stream_job(api, job_id)
    tokens = "".join(data["text"] for name, data in events if name == "token")
    assert events[0][0] == "status"
    assert finished["result"]["generated_text"] == "Once" + tokens
    assert events[-1][1]["status"] == "succeeded"


def stream_ids(api: httpx.Client, job_id: str) -> list[str]:
    with api.stream("GET", f"/jobs/{job_id}/events") as response:
        return [line.removeprefix("id: ") for line in response.iter_lines() if line.startswith("id: ")]


def test_a_client_reconnecting_after_the_final_event_gets_it_and_the_stream_ends(api: httpx.Client) -> None:
    job_id = llm_job(api)
    wait_for_job(api, job_id)
    last_id = stream_ids(api, job_id)[-1]  # the final event's
    deadline = time.monotonic() + 30  # keep-alives every 4 s would otherwise hold the test forever
    lines = []
    with api.stream("GET", f"/jobs/{job_id}/events", headers={"Last-Event-ID": last_id}) as response:
        for line in response.iter_lines():
            lines.append(line)
            assert time.monotonic() < deadline, f"the stream did not end: {lines}"
    names = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    assert names == ["final"]
    assert '"status": "succeeded"' in next(line for line in lines if line.startswith("data: "))


def test_non_streaming_contract_is_unchanged(api: httpx.Client) -> None:
    response = api.post("/generate_with_llm", json={"start_word": "Once", "length": 4, "stream": True})
    assert response.status_code == 422  # the synchronous contract takes no stream flag


def test_events_of_unknown_job_are_404(api: httpx.Client) -> None:
    assert api.get("/jobs/nope/events").status_code == 404


def test_a_last_event_id_past_what_redis_holds_is_422(api: httpx.Client) -> None:
    job_id = llm_job(api)
    for last_id in ("99999999999999999999999-0", "0-18446744073709551616"):
        response = api.get(f"/jobs/{job_id}/events", headers={"Last-Event-ID": last_id})
        assert response.status_code == 422, response.text
        assert "largest event id" in response.json()["detail"]


def test_an_id_naming_another_key_of_a_job_is_404(api: httpx.Client) -> None:
    """ "<id>:events" is the job's event stream in Redis, not a job: reading it as one was a 503."""
    job_id = llm_job(api)
    for path in (f"/jobs/{job_id}:events", f"/jobs/{job_id}:events/events"):
        response = api.get(path)
        assert response.status_code == 404, response.text
    assert api.delete(f"/jobs/{job_id}:events").status_code == 404
