"""API keys: every endpoint but /health needs one, and a job is visible only to the key that made it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from launcher.local_platform import Platform, base_env
from tests.conftest import wait_for_job

KEY_A = "team-a-0123456789abcdef"
KEY_B = "team-b-0123456789abcdef"
JOB = {"type": "extract-course-names", "input": {"text": "Operating Systems"}}


def keyed_platform(model_dir: Path, tmp_path: Path, **settings: str) -> Iterator[Platform]:
    """Redis and the API only, with KEY_A and KEY_B and ``settings``: no worker takes a job, so
    jobs stay queued (the store has the models, so they are accepted) and waits stay open."""
    with Platform(tmp_path, base_env(model_dir)) as running:
        running.start_redis()
        running.start_api(API_KEYS=f"{KEY_A},{KEY_B}", **settings)
        yield running


@pytest.fixture
def secured(model_dir: Path, tmp_path: Path) -> Iterator[Platform]:
    yield from keyed_platform(model_dir, tmp_path, FINETUNE_API_KEYS=KEY_A, METRICS_API_KEYS=KEY_A)


def as_key(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_health_is_open_everything_else_needs_a_key(secured: Platform) -> None:
    with secured.client() as api:
        assert api.get("/health").status_code == 200
        for method, path in [("GET", "/jobs"), ("POST", "/jobs"), ("GET", "/models"), ("GET", "/ready")]:
            response = api.request(method, path, json=JOB if method == "POST" else None)
            assert response.status_code == 401, (path, response.text)
            assert response.headers["WWW-Authenticate"] == "Bearer"
        wrong = api.post("/extract-course-name/", json={"text": "x"}, headers=as_key("not-a-key-0123456789"))
        assert wrong.status_code == 401
        # before its body is read: a malformed one got its 422, as if the API served the client
        malformed = api.post("/jobs", content=b"{bad", headers={"content-type": "application/json"})
        assert malformed.status_code == 401, malformed.text
        assert api.post("/jobs", content=b"{bad", headers=as_key(KEY_B)).status_code == 422
        # nor is a body's limit told to a caller without a key
        oversized = b"x" * (64 * 1024 + 1)  # MAX_BODY_BYTES by default
        assert api.post("/jobs", content=oversized).status_code == 401
        assert api.post("/jobs", content=oversized, headers=as_key(KEY_B)).status_code == 413
        assert api.get("/openapi.json").status_code == 200  # the docs need no key


def test_a_job_is_visible_only_to_its_key(secured: Platform) -> None:
    with secured.client() as api:
        created = api.post("/jobs", json=JOB, headers=as_key(KEY_A))
        assert created.status_code == 202
        job_id = created.json()["job_id"]
        assert api.get(f"/jobs/{job_id}", headers=as_key(KEY_A)).status_code == 200
        assert api.get(f"/jobs/{job_id}", headers=as_key(KEY_B)).status_code == 404
        assert api.delete(f"/jobs/{job_id}", headers=as_key(KEY_B)).status_code == 404
        assert api.get(f"/jobs/{job_id}/events", headers=as_key(KEY_B)).status_code == 404
        assert api.get("/jobs", headers=as_key(KEY_B)).json()["jobs"] == []
        assert [j["job_id"] for j in api.get("/jobs", headers=as_key(KEY_A)).json()["jobs"]] == [job_id]


def test_short_keys_are_refused_at_start() -> None:
    from pydantic import ValidationError

    from shared.config import Settings

    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(api_keys="short")
    # a header's bytes are read as latin-1: sent as UTF-8 (curl), such a key never matched
    for unusable in ("schlüsselschlüssel1", "tab\there-is-a-long-key"):
        with pytest.raises(ValidationError, match="printable ASCII"):
            Settings(api_keys=unusable)


def test_flower_beyond_localhost_needs_basic_auth() -> None:
    from pydantic import ValidationError

    from shared.config import Settings

    with pytest.raises(ValidationError, match="FLOWER_BASIC_AUTH"):
        Settings(flower_host="0.0.0.0", flower_basic_auth=None)
    assert Settings(flower_host="0.0.0.0", flower_basic_auth="admin:pw").flower_basic_auth == "admin:pw"
    for empty in ("admin:", ":pw", ":", "admin:pw,guest:"):
        with pytest.raises(ValidationError, match="neither empty"):
            Settings(flower_basic_auth=empty)


def test_the_api_beyond_localhost_needs_keys_or_an_explicit_choice() -> None:
    from pydantic import ValidationError

    from shared.config import Settings

    with pytest.raises(ValidationError, match="API_KEYS"):
        Settings(api_host="0.0.0.0", api_keys=[])
    assert Settings(api_host="0.0.0.0", api_keys="k" * 16).api_keys == ["k" * 16]
    assert Settings(api_host="0.0.0.0", api_allow_anonymous=True).api_keys == []
    assert Settings(api_host="127.0.0.1").api_keys == []


def test_only_the_keys_of_finetune_api_keys_may_fine_tune(secured: Platform) -> None:
    """A fine-tune replaces the LLM every key is served."""
    finetune = {"type": "finetune", "input": {"max_steps": 1}}
    with secured.client() as api:
        refused = api.post("/jobs", json=finetune, headers=as_key(KEY_B))
        assert refused.status_code == 403, refused.text
        assert "FINETUNE_API_KEYS" in refused.json()["detail"]
        assert api.get("/jobs", params={"type": "finetune"}, headers=as_key(KEY_B)).json()["jobs"] == []
        assert api.post("/jobs", json=finetune, headers=as_key(KEY_A)).status_code == 202
        assert api.post("/jobs", json=JOB, headers=as_key(KEY_B)).status_code == 202  # inference: every key


def test_only_the_keys_of_metrics_api_keys_may_read_every_keys_job_counts(secured: Platform) -> None:
    with secured.client() as api:
        refused = api.get("/metrics", headers=as_key(KEY_B))
        assert refused.status_code == 403
        assert "METRICS_API_KEYS" in refused.json()["detail"]
        allowed = api.get("/metrics", headers=as_key(KEY_A))
        assert allowed.status_code == 200 and "jobs_total" in allowed.text


def test_metrics_keys_must_be_api_keys() -> None:
    from pydantic import ValidationError

    from shared.config import Settings

    with pytest.raises(ValidationError, match="METRICS_API_KEYS must be one of API_KEYS"):
        Settings(api_keys=[KEY_A], metrics_api_keys=[KEY_B])


def test_finetune_keys_must_be_api_keys() -> None:
    from pydantic import ValidationError

    from shared.config import Settings

    with pytest.raises(ValidationError, match="FINETUNE_API_KEYS must be one of API_KEYS"):
        Settings(api_keys=[KEY_A], finetune_api_keys=[KEY_B])


def test_unknown_key_cannot_read_models(secured: Platform) -> None:
    assert httpx.get(f"{secured.api_url}/models", timeout=10).status_code == 401


@pytest.fixture
def two_waits_a_key(model_dir: Path, tmp_path: Path) -> Iterator[Platform]:
    yield from keyed_platform(model_dir, tmp_path, MAX_WAITS_PER_KEY="2")


def test_a_key_past_its_open_waits_gets_429_and_every_other_request_goes_on(
    two_waits_a_key: Platform,
) -> None:
    """One key's thousands of open streams took every Redis connection of the API: every key's
    requests then failed with 503."""
    with two_waits_a_key.client(timeout=30) as api:
        a, b = as_key(KEY_A), as_key(KEY_B)
        job_a = api.post("/jobs", json=JOB, headers=a).json()["job_id"]
        job_b = api.post("/jobs", json=JOB, headers=b).json()["job_id"]
        with (
            api.stream("GET", f"/jobs/{job_a}/events", headers=a) as first,
            api.stream("GET", f"/jobs/{job_a}/events", headers=a) as second,
        ):
            lines = [stream.iter_lines() for stream in (first, second)]  # kept: a dropped one closes
            for stream, read in zip((first, second), lines, strict=True):
                assert stream.status_code == 200
                assert next(read).startswith("id: ")  # streaming: its slot is taken
            with api.stream("GET", f"/jobs/{job_a}/events", headers=a) as third:
                assert third.status_code == 429
                third.read()
                assert "MAX_WAITS_PER_KEY=2" in third.json()["detail"]
                assert third.headers["Retry-After"]
            assert api.get(f"/jobs/{job_a}", params={"wait": 1}, headers=a).status_code == 429
            jobs_before = len(api.get("/jobs", headers=a).json()["jobs"])
            refused = api.post("/generate_text", json={"start_word": "a", "length": 2}, headers=a)
            assert refused.status_code == 429, refused.text
            assert len(api.get("/jobs", headers=a).json()["jobs"]) == jobs_before  # nothing queued for it
            # the key's short requests, and another key's waits, go on
            assert api.get(f"/jobs/{job_a}", headers=a).status_code == 200
            assert api.post("/jobs", json=JOB, headers=a).status_code == 202
            assert api.get(f"/jobs/{job_b}", params={"wait": 0.5}, headers=b).status_code == 200
        deadline = time.monotonic() + 15  # the API frees a stream's slot once it sees the client leave
        while api.get(f"/jobs/{job_a}", params={"wait": 0.2}, headers=a).status_code == 429:
            assert time.monotonic() < deadline, "the closed streams kept their slots"
            time.sleep(0.2)


def test_a_burst_of_streams_gets_no_more_than_the_keys_open_waits(two_waits_a_key: Platform) -> None:
    """The slot was counted when a stream started, a tick after its request was let through: a
    burst all passed the check before any counted."""
    with two_waits_a_key.client(timeout=30) as api, ExitStack() as streams:
        a = as_key(KEY_A)
        job_a = api.post("/jobs", json=JOB, headers=a).json()["job_id"]
        with ThreadPoolExecutor(8) as pool:
            opened = list(
                pool.map(
                    lambda _: streams.enter_context(api.stream("GET", f"/jobs/{job_a}/events", headers=a)),
                    range(8),
                )
            )
        assert sorted(stream.status_code for stream in opened) == [200, 200] + [429] * 6


@pytest.fixture
def three_queued_a_key(model_dir: Path, tmp_path: Path) -> Iterator[Platform]:
    yield from keyed_platform(model_dir, tmp_path, MAX_QUEUED_JOBS_PER_KEY="3")


def test_a_key_past_its_queued_jobs_gets_429_and_other_keys_jobs_are_accepted(
    three_queued_a_key: Platform,
) -> None:
    """One key could fill a whole queue (MAX_QUEUED_JOBS), and every other key's jobs got 429."""
    with three_queued_a_key.client(timeout=30) as api:
        a, b = as_key(KEY_A), as_key(KEY_B)
        retry_safe = {**a, "Idempotency-Key": "nightly-batch-1"}
        with ThreadPoolExecutor(8) as pool:
            burst = list(pool.map(lambda _: api.post("/jobs", json=JOB, headers=a), range(7)))
        assert sorted(response.status_code for response in burst) == [202] * 3 + [429] * 4
        refused = next(response for response in burst if response.status_code == 429)
        assert "MAX_QUEUED_JOBS_PER_KEY" in refused.json()["detail"]
        assert refused.headers["Retry-After"]
        waited_for = api.post("/extract-course-name/", json={"text": "Operating Systems"}, headers=a)
        assert waited_for.status_code == 429
        assert api.post("/jobs", json=JOB, headers=retry_safe).status_code == 429

        assert api.post("/jobs", json=JOB, headers=b).status_code == 202
        queued = [response.json()["job_id"] for response in burst if response.status_code == 202]
        assert api.delete(f"/jobs/{queued[0]}", headers=a).json()["status"] == "cancelled"
        # Its message waits in the broker's list until a worker drops it: counted till then, or a
        # key submitting and cancelling in a loop filled that list and locked every key out.
        still_full = api.post("/jobs", json=JOB, headers=retry_safe)
        assert still_full.status_code == 429
        assert "cancelled while queued" in still_full.json()["detail"]

        three_queued_a_key.start_inference_worker()
        deadline = time.monotonic() + 180
        while (again := api.post("/jobs", json=JOB, headers=retry_safe)).status_code == 429:
            assert time.monotonic() < deadline, "the worker never dropped the cancelled job's message"
            time.sleep(0.5)
        assert again.status_code == 202, again.text
        finished = wait_for_job(api, queued[1], timeout=120, headers=a)
        assert finished["status"] == "succeeded"
        assert api.get(f"/jobs/{queued[0]}", headers=a).json()["status"] == "cancelled"
        # a retry of the same request finds its job
        assert api.post("/jobs", json=JOB, headers=retry_safe).json()["job_id"] == again.json()["job_id"]


def test_a_wait_whose_client_gave_up_frees_its_slot(two_waits_a_key: Platform) -> None:
    """A ?wait= poll or synchronous request whose client left kept its slot until MAX_WAIT or
    SYNC_TIMEOUT ran out: a client retrying on a short timeout locked itself out."""
    a = as_key(KEY_A)
    with two_waits_a_key.client(timeout=30) as api:
        job_a = api.post("/jobs", json=JOB, headers=a).json()["job_id"]
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{two_waits_a_key.api_url}/jobs/{job_a}", params={"wait": 50}, headers=a, timeout=1)
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                f"{two_waits_a_key.api_url}/extract-course-name/",
                json={"text": "Ethics"},
                headers=a,
                timeout=1,
            )
        deadline = time.monotonic() + 5
        while (status := api.get(f"/jobs/{job_a}", params={"wait": 0.2}, headers=a).status_code) == 429:
            assert time.monotonic() < deadline, "the waits whose clients left kept their slots"
            time.sleep(0.2)
        assert status == 200


def test_with_no_keys_on_loopback_only_requests_addressed_to_a_loopback_name_are_served(
    model_dir: Path, tmp_path: Path
) -> None:
    """`make run`'s API takes requests without a key. A web page its user opened could reach it by
    DNS rebinding (its own name resolving to 127.0.0.1): the browser sends that name as Host, and
    the page listed every job and could fine-tune the LLM everyone is served."""
    with Platform(tmp_path, base_env(model_dir)) as running:
        running.start_redis()
        running.start_api(API_ALLOWED_HOSTS="gpu-box.lan")
        port = running.api_port
        with running.client() as api:
            for host in ("rebind.attacker.example", f"rebind.attacker.example:{port}", "127.0.0.2"):
                refused = api.post("/jobs", json=JOB, headers={"Host": host, "Origin": f"http://{host}"})
                assert refused.status_code == 400, (host, refused.text)
                assert "API_ALLOWED_HOSTS" in refused.json()["detail"]
                assert api.get("/jobs", headers={"Host": host}).status_code == 400
            for host in (
                f"127.0.0.1:{port}",
                f"localhost:{port}",
                "LOCALHOST",
                f"[::1]:{port}",
                "gpu-box.lan:80",
            ):
                assert api.get("/jobs", headers={"Host": host}).status_code == 200, host
            accepted = api.post("/jobs", json=JOB)
            assert accepted.status_code == 202, accepted.text
            # a client generated from the schema knows the 400 too
            refusal = api.get("/openapi.json").json()["paths"]["/jobs"]["post"]["responses"]["400"]
            assert "API_ALLOWED_HOSTS" in refusal["description"]


def test_with_keys_any_host_name_is_served(secured: Platform) -> None:
    """A key is what guards the API then: a proxy in front may send any name."""
    with secured.client() as api:
        response = api.get("/jobs", headers={**as_key(KEY_A), "Host": "jobs.example.org"})
        assert response.status_code == 200, response.text
        responses = api.get("/openapi.json").json()["paths"]["/jobs"]["post"]["responses"]
        assert "400" not in responses, "no Host is refused with keys on"
