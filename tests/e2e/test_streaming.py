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
    assert final == api.get(f"/jobs/{job_id}").json()  # the job as GET shows it, timestamps too


def test_late_client_gets_what_it_missed(api: httpx.Client) -> None:
    job_id = llm_job(api)
    finished = wait_for_job(api, job_id)
    events = stream_job(api, job_id)
    tokens = "".join(data["text"] for name, data in events if name == "token")
    assert events[0][0] == "status"
    assert finished["result"]["generated_text"] == "Once" + tokens
    assert events[-1][1]["status"] == "succeeded"


def stream_ids(api: httpx.Client, job_id: str, last_id: str | None = None) -> list[str]:
    headers = {"Last-Event-ID": last_id} if last_id else {}
    with api.stream("GET", f"/jobs/{job_id}/events", headers=headers) as response:
        assert response.status_code == 200
        return [line.removeprefix("id: ") for line in response.iter_lines() if line.startswith("id: ")]


def test_a_client_reconnecting_after_the_final_event_gets_204_and_one_before_it_gets_the_rest(
    api: httpx.Client,
) -> None:
    """It got the final event again, after a 4 s wait holding a wait slot, and an EventSource then
    reconnected for ever: 204 tells it to stop."""
    job_id = llm_job(api)
    wait_for_job(api, job_id)
    ids = stream_ids(api, job_id)
    started = time.monotonic()
    after_final = api.get(f"/jobs/{job_id}/events", headers={"Last-Event-ID": ids[-1]})
    assert after_final.status_code == 204 and after_final.content == b""
    assert time.monotonic() - started < 2  # no blocking read first
    assert stream_ids(api, job_id, ids[-3]) == ids[-2:]


def test_cancelling_a_running_generation_stops_its_tokens(api: httpx.Client) -> None:
    """DELETE on a running LLM job stops it at its next token check; before, it generated (and
    streamed) every token it was asked for and only its result was dropped."""
    payload = {
        "model": "llm",
        "start_word": "Once",
        "length": 128,  # under INFERENCE_TIME_LIMIT on a slow 2-core CPU too
        "seed": 3,
        "temperature": 1.2,
        "stream": True,
    }
    uncancelled = wait_for_job(
        api, api.post("/jobs", json={"type": "generate", "input": payload}).json()["job_id"]
    )
    assert uncancelled["status"] == "succeeded", uncancelled
    full_chars = len(uncancelled["result"]["generated_text"]) - len("Once")
    assert full_chars > 200, uncancelled  # no early end of sequence
    job_id = api.post("/jobs", json={"type": "generate", "input": payload}).json()["job_id"]
    tokens = []
    with api.stream("GET", f"/jobs/{job_id}/events") as response:
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: ") and name == "token":
                tokens.append(json.loads(line.removeprefix("data: "))["text"])
                if len(tokens) == 1:
                    assert api.delete(f"/jobs/{job_id}").status_code == 202
            elif line.startswith("data: ") and name == "final":
                final = json.loads(line.removeprefix("data: "))
                break
    assert final["status"] == "cancelled", final
    assert len("".join(tokens)) < full_chars / 2, (len("".join(tokens)), full_chars)


def test_non_streaming_contract_is_unchanged(api: httpx.Client) -> None:
    response = api.post("/generate_with_llm", json={"start_word": "Once", "length": 4, "stream": True})
    assert response.status_code == 422  # the synchronous contract takes no stream flag


def test_events_of_unknown_job_are_404(api: httpx.Client) -> None:
    assert api.get("/jobs/nope/events").status_code == 404


def test_a_last_event_id_past_what_redis_holds_is_422(api: httpx.Client) -> None:
    job_id = llm_job(api)
    for last_id in ("18446744073709551616-0", "0-18446744073709551616"):
        response = api.get(f"/jobs/{job_id}/events", headers={"Last-Event-ID": last_id})
        assert response.status_code == 422, response.text
        assert "largest event id" in response.json()["detail"][0]["msg"]


def test_a_last_event_id_of_too_many_digits_is_422_before_the_stream_starts(api: httpx.Client) -> None:
    """4,301 digits were past what int() reads (a 500); 201, mostly leading zeros, past the 127
    characters Redis reads as a stream id (an error after the 200 had been sent)."""
    job_id = llm_job(api)
    for last_id in ("9" * 4301 + "-0", "0" * 200 + "1-0", "99999999999999999999999-0"):
        response = api.get(f"/jobs/{job_id}/events", headers={"Last-Event-ID": last_id})
        assert response.status_code == 422, response.text
        assert "Last-Event-ID" in response.text


def test_a_last_event_id_with_leading_zeros_resumes_after_that_event(api: httpx.Client) -> None:
    job_id = llm_job(api)
    wait_for_job(api, job_id)
    ids = stream_ids(api, job_id)
    milliseconds, sequence = ids[0].split("-")
    padded = f"{milliseconds.zfill(20)}-{sequence.zfill(20)}"
    assert stream_ids(api, job_id, last_id=padded) == ids[1:]


def test_an_id_naming_another_key_of_a_job_is_404(api: httpx.Client) -> None:
    """ "<id>:events" is the job's event stream in Redis, not a job: reading it as one was a 503."""
    job_id = llm_job(api)
    for path in (f"/jobs/{job_id}:events", f"/jobs/{job_id}:events/events"):
        response = api.get(path)
        assert response.status_code == 404, response.text
    assert api.delete(f"/jobs/{job_id}:events").status_code == 404
