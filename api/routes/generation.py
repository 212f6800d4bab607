"""Synchronous generation endpoints (the contracts users script against).

Each request is a `generate` job on the same queue as `POST /jobs`; the endpoint waits for it up
to SYNC_TIMEOUT and answers 202 with the job id past that, so no work is lost.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.sync_jobs import SYNC_RESPONSES, SyncJobsDep
from shared.jobs import JobType
from shared.schemas import GenerateInput, GenerationParams, GenerationResponse, GeneratorName

router = APIRouter(tags=["generation"])


async def _generate(
    jobs: SyncJobsDep, model: GeneratorName, params: GenerationParams
) -> GenerationResponse | JSONResponse:
    job_input = GenerateInput(model=model, **params.model_dump()).model_dump()
    result = await jobs.run(JobType.GENERATE, job_input)
    if isinstance(result, JSONResponse):
        return result
    return GenerationResponse(generated_text=result["generated_text"])


@router.post("/generate_text", response_model=GenerationResponse, responses=SYNC_RESPONSES)
async def generate_text(params: GenerationParams, jobs: SyncJobsDep) -> GenerationResponse | JSONResponse:
    """Word bigram model. `length` is the number of WORDS to generate (punctuation marks count)."""
    return await _generate(jobs, "bigram", params)


@router.post("/generate_with_rnn", response_model=GenerationResponse, responses=SYNC_RESPONSES)
async def generate_with_rnn(params: GenerationParams, jobs: SyncJobsDep) -> GenerationResponse | JSONResponse:
    """Word-level LSTM. `length` is the number of WORDS to generate (punctuation marks count)."""
    return await _generate(jobs, "rnn", params)


@router.post("/generate_with_llm", response_model=GenerationResponse, responses=SYNC_RESPONSES)
async def generate_with_llm(params: GenerationParams, jobs: SyncJobsDep) -> GenerationResponse | JSONResponse:
    """Causal LM (the newest fine-tuned version, else the base). `length` is the most NEW TOKENS: fewer
    where the model ends the text first (its end-of-text token)."""
    return await _generate(jobs, "llm", params)
