"""The model registry and the versions in the model store."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import SettingsDep
from api.errors import NotFoundError, documented
from shared.model_registry import REGISTRY, ModelName
from shared.model_store import ModelStore
from shared.schemas import ModelVersionView, ModelView

router = APIRouter(prefix="/models", tags=["models"])


def _view(store: ModelStore, name: ModelName) -> ModelView:
    spec = REGISTRY[name]
    versions = store.versions(name)
    return ModelView(
        name=name,
        task=spec.task.value,
        base=spec.base,
        training=spec.training,
        served_version=versions[-1].version if versions else None,
        versions=[ModelVersionView(version=v.version, metadata=v.metadata) for v in versions],
    )


# Plain functions: FastAPI runs them in its thread pool, so that reading every version's metadata
# from disk (a network-mounted MODEL_DIR) never holds up the event loop's other requests.
@router.get("", response_model=list[ModelView])
def list_models(settings: SettingsDep) -> list[ModelView]:
    """Every model the platform serves, with its versions; the newest version is served."""
    store = ModelStore(settings.model_dir)
    return [_view(store, name) for name in ModelName]


@router.get("/{name}", response_model=ModelView, responses=documented(404))
def get_model(name: str, settings: SettingsDep) -> ModelView:
    if name not in {m.value for m in ModelName}:
        raise NotFoundError(f"no model {name!r}; known: {[m.value for m in ModelName]}")
    return _view(ModelStore(settings.model_dir), ModelName(name))
