"""Jobs with no worker running yet: cancel while queued, sync timeout, backpressure, Redis outage."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from launcher.local_platform import Platform, base_env
from shared.config import Settings
from shared.job_store import JobStore, events_key, idempotency_key, job_key
from shared.jobs import JobStatus
from tests.conftest import wait_for_job

JOB = {"type": "extract-course-names", "input": {"text": "I study Machine Learning"}}
RESULT_TTL_S = Settings.model_fields["result_ttl"].default
MAX_QUEUE_WAIT_S = Settings.model_fields["max_queue_wait"].default


@pytest.fixture
def bare_platform(model_dir: Path, tmp_path: Path) -> Iterator[Platform]:
    """Redis and the API only: jobs stay queued until a test starts a worker."""
    with Platform(tmp_path, base_env(model_dir)) as running:
        running.start_redis(append_only=True)
        running.start_api()
        yield running


def test_cancelled_queued_job_never_runs_and_a_waiting_one_is_kept_until_it_has(
    bare_platform: Platform,
) -> None:
    redis = JobStore.from_url(bare_platform.redis_url, ttl=600).client
    with bare_platform.client() as api:
        doomed = api.post("/jobs", json=JOB).json()["job_id"]
        cancelled = api.delete(f"/jobs/{doomed}")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        assert api.delete(f"/jobs/{doomed}").status_code == 409
        assert 0 < redis.ttl(job_key(doomed)) <= RESULT_TTL_S

        survivor = api.post("/jobs", json=JOB).json()["job_id"]
        # kept as long as it may wait for a worker, then RESULT_TTL counts once it has run
        for key in (job_key(survivor), events_key(survivor)):
            assert RESULT_TTL_S + MAX_QUEUE_WAIT_S - 60 < redis.ttl(key) <= RESULT_TTL_S + MAX_QUEUE_WAIT_S
        bare_platform.start_inference_worker()
        assert wait_for_job(api, survivor, timeout=180)["status"] == "succeeded"
        assert 0 < redis.ttl(job_key(survivor)) <= RESULT_TTL_S
        assert 0 < redis.ttl(events_key(survivor)) <= RESULT_TTL_S

        job = api.get(f"/jobs/{doomed}").json()
        assert job["status"] == "cancelled"
        assert job["started_at"] is None
        assert job["result"] is None


def test_a_job_that_waited_past_max_queue_wait_fails_instead_of_running(bare_platform: Platform) -> None:
    bare_platform.processes["api"].stop()
    bare_platform.start_api(MAX_QUEUE_WAIT="1")
    with bare_platform.client() as api:
        stale = api.post("/jobs", json=JOB).json()["job_id"]
        time.sleep(1.5)
        bare_platform.start_inference_worker()
        job = wait_for_job(api, stale, timeout=180)
        assert job["status"] == "failed", job
        assert job["error"]["type"] == "QueueWaitExpired"
        assert "MAX_QUEUE_WAIT (1 s)" in job["error"]["message"]
        assert job["started_at"] is None and job["result"] is None


def test_a_sync_request_whose_worker_was_lost_answers_503_with_retry_after(bare_platform: Platform) -> None:
    """A failure that a retry a little later may not meet (a worker lost mid-job, out of memory, a
    model that failed to load) answered 500, which clients read as "do not retry"."""
    store = JobStore.from_url(bare_platform.redis_url, ttl=600)
    with bare_platform.client() as api, ThreadPoolExecutor(1) as pool:
        answer = pool.submit(api.post, "/generate_text", json={"start_word": "the", "length": 3})
        deadline = time.monotonic() + 30
        while not (queued := store.client.keys("job:*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        job_id = next(key.split(":")[1] for key in queued if key.count(":") == 1)
        assert store.start(job_id, worker="inference@lost") is not None  # as a worker that then died
        store.finish(job_id, JobStatus.FAILED, error={"type": "WorkerLost", "message": "lost mid-run"})
        response = answer.result(timeout=30)
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] and "lost mid-run" in response.json()["detail"]


def test_sync_request_without_worker_answers_202_after_sync_timeout(bare_platform: Platform) -> None:
    bare_platform.processes["api"].stop()
    bare_platform.start_api(SYNC_TIMEOUT="1")
    with bare_platform.client() as api:
        response = api.post("/extract-course-name/", json={"text": "Data Structures and Algorithms"})
        assert response.status_code == 202
        job_id = response.json()["job_id"]
        assert response.headers["Location"].endswith(f"/jobs/{job_id}")
        assert api.get(f"/jobs/{job_id}").json()["status"] == "queued"


def test_a_job_recorded_but_never_published_is_published_by_a_retry_with_its_idempotency_key(
    bare_platform: Platform,
) -> None:
    """An API process that died between writing a job's record and publishing its task left the
    job 'queued' for a day, and a retry with the same Idempotency-Key was answered that job."""
    redis = JobStore.from_url(bare_platform.redis_url, ttl=600).client
    retry_safe = {"Idempotency-Key": "stranded-1"}
    with bare_platform.client() as api:
        first = api.post("/jobs", json=JOB, headers=retry_safe)
        assert first.status_code == 202, first.text
        job_id = first.json()["job_id"]
        # as the API left it had it died before publishing: the record and the key, no message
        assert redis.llen("inference") == 1
        redis.delete("inference")
        an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        redis.hset(job_key(job_id), mapping={"unpublished": "1", "created_at": an_hour_ago})

        retried = api.post("/jobs", json=JOB, headers=retry_safe)
        assert retried.status_code == 202, retried.text
        assert retried.json()["job_id"] == job_id
        assert redis.llen("inference") == 1
        assert api.post("/jobs", json=JOB, headers=retry_safe).json()["job_id"] == job_id
        assert redis.llen("inference") == 1  # published once, not at every retry
        bare_platform.start_inference_worker()
        assert wait_for_job(api, job_id, timeout=180)["status"] == "succeeded"


def test_a_retry_while_its_job_is_being_published_waits_and_names_no_withdrawn_job(
    bare_platform: Platform,
) -> None:
    """A retry with the Idempotency-Key of a job another request was still publishing was answered
    that job's id at once; when that publish then failed, the job was withdrawn, and the client
    polled a job that answered 404."""
    redis = JobStore.from_url(bare_platform.redis_url, ttl=600).client
    retry_safe = {"Idempotency-Key": "publishing-1"}
    with bare_platform.client() as api, ThreadPoolExecutor(1) as pool:
        job_id = api.post("/jobs", json=JOB, headers=retry_safe).json()["job_id"]
        # as the first request leaves it while its publish is under way
        redis.hset(job_key(job_id), "unpublished", "1")
        retried = pool.submit(api.post, "/jobs", json=JOB, headers=retry_safe)
        time.sleep(0.5)
        assert not retried.done()  # waits for the publish
        redis.delete(idempotency_key("", "publishing-1"), job_key(job_id))  # its publish failed
        answer = retried.result(timeout=10)
        assert answer.status_code == 202, answer.text
        assert answer.json()["job_id"] != job_id
        assert api.get(f"/jobs/{answer.json()['job_id']}").json()["status"] == "queued"

        # a publish that takes longer than the retry waits: 409, and the client retries later
        redis.hset(job_key(answer.json()["job_id"]), "unpublished", "1")
        busy = api.post("/jobs", json=JOB, headers=retry_safe)
        assert busy.status_code == 409 and busy.headers["Retry-After"] == "1", busy.text
        assert "still submitting" in busy.json()["detail"]


def test_redis_outage_answers_503_then_recovers(bare_platform: Platform) -> None:
    with bare_platform.client(timeout=30) as api:
        assert api.post("/jobs", json=JOB).status_code == 202
        bare_platform.processes["redis"].kill()

        down = api.post("/jobs", json=JOB)
        assert down.status_code == 503, down.text
        assert "unavailable" in down.text
        assert api.get("/jobs/anything").status_code == 503
        assert api.post("/extract-course-name/", json={"text": "Operating Systems"}).status_code == 503
        assert api.get("/health").status_code == 200
        assert api.get("/ready").status_code == 503

        bare_platform.start_redis(append_only=True)
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and status != 202:
            status = api.post("/jobs", json=JOB).status_code
            time.sleep(0.5)
        assert status == 202
        assert bare_platform.processes["api"].alive()


def test_a_redis_that_hangs_makes_the_api_unready_at_once_not_after_forty_seconds(
    bare_platform: Platform,
) -> None:
    """Each command that timed out was sent four times (40 s): a readiness probe saw a hang."""
    redis_server = bare_platform.processes["redis"]
    with bare_platform.client(timeout=8) as api:
        assert api.get("/ready").json()["redis"] == "ok"
        os.kill(redis_server.pid, signal.SIGSTOP)
        try:
            unready = api.get("/ready")
        finally:
            os.kill(redis_server.pid, signal.SIGCONT)
        assert unready.status_code == 503
        assert unready.json()["redis"] == "unreachable"  # not its address: that is the operator's


def test_full_queue_answers_429_and_enqueues_nothing(bare_platform: Platform) -> None:
    bare_platform.processes["api"].stop()
    # clients without API keys share one owner: only MAX_QUEUED_JOBS bounds them
    bare_platform.start_api(MAX_QUEUED_JOBS="3", MAX_QUEUED_JOBS_PER_KEY="1")
    with bare_platform.client() as api:
        retry_safe = {"Idempotency-Key": "lost-reply-7"}
        first = api.post("/jobs", json=JOB, headers=retry_safe)
        accepted = [first.status_code] + [api.post("/jobs", json=JOB).status_code for _ in range(2)]
        assert accepted == [202, 202, 202]
        refused = api.post("/jobs", json=JOB)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "5"
        assert api.post("/extract-course-name/", json={"text": "Operating Systems"}).status_code == 429
        assert len(api.get("/jobs").json()["jobs"]) == 3
        # A client retrying after a lost reply gets its job back, full queue or not.
        retried = api.post("/jobs", json=JOB, headers=retry_safe)
        assert retried.status_code == 202, retried.text
        assert retried.json()["job_id"] == first.json()["job_id"]
        # a job cancelled while queued leaves room, though its message stays in the broker's list
        assert api.delete(f"/jobs/{first.json()['job_id']}").status_code == 200
        assert api.post("/jobs", json=JOB).status_code == 202
        assert api.post("/jobs", json=JOB).status_code == 429


def test_submitting_and_cancelling_is_held_to_a_broker_list_of_ten_times_max_queued_jobs(
    bare_platform: Platform,
) -> None:
    """A cancelled job's message stays in the broker's list until a worker drops it: with no worker
    taking any, a loop of submit and cancel grew it without bound."""
    bare_platform.processes["api"].stop()
    bare_platform.start_api(MAX_QUEUED_JOBS="1")
    with bare_platform.client() as api:
        for _ in range(10):
            job = api.post("/jobs", json=JOB)
            assert job.status_code == 202, job.text
            assert api.delete(f"/jobs/{job.json()['job_id']}").status_code == 200
        refused = api.post("/jobs", json=JOB)
        assert refused.status_code == 429
        assert "broker list holds 10 messages" in refused.json()["detail"]


def test_sync_request_whose_job_is_cancelled_is_409(bare_platform: Platform) -> None:
    with bare_platform.client(timeout=60) as api, ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(api.post, "/extract-course-name/", json={"text": "Operating Systems"})
        deadline = time.monotonic() + 30
        jobs: list[dict] = []
        while not jobs and time.monotonic() < deadline:
            jobs = api.get("/jobs").json()["jobs"]
            time.sleep(0.1)
        assert api.delete(f"/jobs/{jobs[0]['job_id']}").status_code == 200
        response = waiting.result(timeout=30)
        assert response.status_code == 409, response.text
        assert "cancelled" in response.json()["detail"]


def test_cancel_of_a_running_job_past_its_last_cancel_point_is_409(bare_platform: Platform) -> None:
    """A worker (played here through the job store, as the training worker does) that has begun
    publishing its result: a cancel can no longer stop it, and must not mark it cancelled."""
    worker_side = JobStore.from_url(bare_platform.redis_url, ttl=600)
    with bare_platform.client() as api:
        stoppable, publishing = (api.post("/jobs", json=JOB).json()["job_id"] for _ in range(2))
        for job_id in (stoppable, publishing):
            assert worker_side.start(job_id, worker="w1") is not None
        assert worker_side.commit(publishing)

        refused = api.delete(f"/jobs/{publishing}")
        assert refused.status_code == 409, refused.text
        assert "past its last cancel point" in refused.json()["detail"]
        assert api.get(f"/jobs/{publishing}").json()["cancel_requested"] is False

        accepted = api.delete(f"/jobs/{stoppable}")
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["cancel_requested"] is True
        assert not worker_side.commit(stoppable)


def test_an_inference_worker_beats_while_it_preloads_and_counts_as_ready_once_it_has(
    bare_platform: Platform,
) -> None:
    """It beat only once its models were in memory, while it took jobs from the start: its running
    jobs counted as lost meanwhile, and a copy delivered again ran beside them."""
    bare_platform.start_inference_worker()
    seen: list[tuple[bool, int]] = []  # (its heartbeat's ready, inference workers GET /ready counts)
    deadline = time.monotonic() + 300
    with bare_platform.client() as api:
        while not (seen and seen[-1][0]):
            assert time.monotonic() < deadline, "the worker never became ready"
            workers = api.get("/workers").json()["inference"]
            if workers:
                seen.append((workers[0]["ready"], api.get("/ready").json()["workers"]["inference"]))
            time.sleep(0.05)
    assert seen[0] == (False, 0), seen  # alive while it preloads, not ready
    assert seen[-1] == (True, 1), seen


def test_requests_waiting_for_their_jobs_when_the_api_stops_get_a_result_or_the_jobs_url(
    bare_platform: Platform,
) -> None:
    """Stopping, uvicorn waited for them up to its graceful timeout, then answered 500: the job's id
    was lost though the job stayed queued. Waits now go on a few seconds, the workers still running
    (a job that ends then is answered), then answer with the job as it stands: 202 and its url."""
    store = JobStore.from_url(bare_platform.redis_url, ttl=600)

    def job_ids() -> set[str]:
        return {key.split(":")[1] for key in store.client.keys("job:*") if key.count(":") == 1}

    def new_job(before: set[str]) -> str:
        deadline = time.monotonic() + 30
        while not (new := job_ids() - before) and time.monotonic() < deadline:
            time.sleep(0.05)
        return new.pop()

    with (
        ThreadPoolExecutor(3) as pool,
        bare_platform.client() as ending_client,
        bare_platform.client() as left_client,
        bare_platform.client() as polling_client,
    ):
        polled_job = polling_client.post("/jobs", json=JOB).json()["job_id"]
        ending = pool.submit(ending_client.post, "/generate_text", json={"start_word": "the", "length": 3})
        ending_job = new_job({polled_job})
        left = pool.submit(left_client.post, "/extract-course-name/", json=JOB["input"])
        left_job = new_job({polled_job, ending_job})
        polled = pool.submit(polling_client.get, f"/jobs/{polled_job}", params={"wait": 60})
        time.sleep(1)  # each is waiting
        os.killpg(bare_platform.processes["api"].pid, signal.SIGTERM)
        time.sleep(1)
        assert store.start(ending_job, worker="inference@test") is not None
        store.finish(ending_job, JobStatus.SUCCEEDED, result={"generated_text": "the end ."})
        ended, stranded, poll = ending.result(30), left.result(30), polled.result(30)
    assert ended.status_code == 200 and ended.json() == {"generated_text": "the end ."}, ended.text
    assert stranded.status_code == 202, stranded.text
    assert stranded.json()["job_id"] == left_job
    assert stranded.headers["Location"].endswith(f"/jobs/{left_job}")
    assert poll.status_code == 200 and poll.json()["status"] == "queued", poll.text
    record = store.get(left_job)
    assert record is not None and record.status is JobStatus.QUEUED  # kept for a worker
    # it stopped by itself, well within the launcher's 15 s (uvicorn ends raising the signal again)
    assert bare_platform.processes["api"].popen.wait(30) == -signal.SIGTERM  # type: ignore[union-attr]


def test_readiness_of_one_queue_counts_its_workers_alone(bare_platform: Platform) -> None:
    """/ready asked for a live worker on every queue: a training worker's restart took every API
    replica out of its load balancer, though inference served on."""
    bare_platform.env["PRELOAD_MODELS"] = "bigram"
    with bare_platform.client() as api:
        assert api.get("/ready", params={"queue": "inference"}).status_code == 503
        bare_platform.start_inference_worker()
        bare_platform.wait_ready_for("inference")
        whole = api.get("/ready")
        assert whole.status_code == 503 and whole.json()["workers"] == {"inference": 1, "training": 0}
        inference = api.get("/ready", params={"queue": "inference"})
        assert inference.status_code == 200 and inference.json() == {
            "ready": True,
            "redis": "ok",
            "workers": {"inference": 1},
        }
        assert api.get("/ready", params={"queue": "training"}).status_code == 503
        unknown = api.get("/ready", params={"queue": "gpu"})
        assert unknown.status_code == 422, unknown.text
