"""A request that only the loaded model can judge (a GPT-2 base's 1,024 positions, here a tiny
GPT-2's 128, against a MAX_GENERATION_LENGTH raised past them) is the client's error: 422, not 500."""

from __future__ import annotations

from pathlib import Path

from launcher.local_platform import Platform, base_env
from shared.model_store import ModelStore
from training import llm_base


def test_a_length_past_the_served_models_context_is_422(tiny_gpt2_dir: Path, tmp_path: Path) -> None:
    store = tmp_path / "models"
    llm_base.import_base(ModelStore(store), tiny_gpt2_dir)  # 128 positions
    with Platform(tmp_path, base_env(store)) as running:
        running.env.update(PRELOAD_MODELS="llm", MAX_GENERATION_LENGTH="200")
        running.start_serving()
        with running.client() as api:
            too_long = {"start_word": "The", "length": 200, "seed": 1}
            refused = api.post("/generate_with_llm", json=too_long)
            assert refused.status_code == 422, refused.text
            assert (
                "context of 128 tokens: ask for a length of at most 127" in refused.json()["detail"][0]["msg"]
            )

            job = api.post("/jobs", json={"type": "generate", "input": {"model": "llm", **too_long}}).json()
            failed = api.get(f"/jobs/{job['job_id']}", params={"wait": 60}).json()
            assert failed["status"] == "failed", failed
            assert failed["error"]["type"] == "InputOutgrowsContextError"

            fits = api.post("/generate_with_llm", json={**too_long, "length": 100})
            assert fits.status_code == 200, fits.text

        # the client's error: one INFO line in the worker's log (written by now), no ERROR with a
        # traceback
        log = running.processes["inference"].log_path.read_text(errors="replace")
        job_lines = [line for line in log.splitlines() if job["job_id"] in line]
        assert any("raised expected: InputOutgrowsContextError" in line for line in job_lines), job_lines
        assert not any(" ERROR " in line for line in job_lines), job_lines
        assert "Traceback" not in log
