"""Synchronous course-name extraction (the contract users script against)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.sync_jobs import SYNC_RESPONSES, SyncJobsDep
from shared.jobs import JobType
from shared.schemas import ExtractInput, ExtractionResponse

router = APIRouter(tags=["extraction"])


@router.post("/extract-course-name/", response_model=ExtractionResponse, responses=SYNC_RESPONSES)
async def extract_course_name(body: ExtractInput, jobs: SyncJobsDep) -> ExtractionResponse | JSONResponse:
    """Find the course names mentioned in free text, in order of appearance."""
    result = await jobs.run(JobType.EXTRACT_COURSE_NAMES, body.model_dump())
    if isinstance(result, JSONResponse):
        return result
    return ExtractionResponse(extracted_course_names=result["extracted_course_names"])
