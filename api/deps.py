"""Dependency aliases, so route signatures read like prose."""

from __future__ import annotations

from typing import Annotated

from celery import Celery
from fastapi import Depends, Request

from api.wait_slots import ScanSlots, WaitSlots
from shared.config import Settings, get_settings
from shared.job_store import AsyncJobStore


def _job_store(request: Request) -> AsyncJobStore:
    return request.app.state.job_store  # type: ignore[no-any-return]


def _celery(request: Request) -> Celery:
    return request.app.state.celery  # type: ignore[no-any-return]


def _wait_slots(request: Request) -> WaitSlots:
    return request.app.state.wait_slots  # type: ignore[no-any-return]


def _scan_slots(request: Request) -> ScanSlots:
    return request.app.state.scan_slots  # type: ignore[no-any-return]


def _owner(request: Request) -> str:
    """Who owns the jobs this request makes and sees ("" when API keys are off)."""
    return getattr(request.state, "owner", "")


SettingsDep = Annotated[Settings, Depends(get_settings)]
JobStoreDep = Annotated[AsyncJobStore, Depends(_job_store)]
CeleryDep = Annotated[Celery, Depends(_celery)]
OwnerDep = Annotated[str, Depends(_owner)]
WaitSlotsDep = Annotated[WaitSlots, Depends(_wait_slots)]
ScanSlotsDep = Annotated[ScanSlots, Depends(_scan_slots)]
