"""Request and job schemas, validated by the API before anything is enqueued.

Bounds that depend on settings (text size, generation length, training steps) are checked
against ``get_settings()`` so an operator can tighten them without code changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.config import get_settings
from shared.jobs import JobStatus, JobType
from shared.model_registry import ModelName

GeneratorName = Literal["bigram", "rnn", "llm"]


def _takes_numbers(annotation: Any) -> bool:
    return any(kind in (int, float) for kind in (get_args(annotation) or (annotation,)))


def _json_kind(value: Any) -> str:
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    return "a list" if isinstance(value, list) else "an object"


def _takes_booleans(annotation: Any) -> bool:
    return bool in (get_args(annotation) or (annotation,))


class StrictModel(BaseModel):
    """A request's part: unknown fields, NaN and Infinity are refused, and so are a JSON true or
    false and a string where a number belongs (pydantic would read them as 1 or 0, and "20" as 20:
    a client's bug that the next version of the client would find refused), and anything but true
    or false where a boolean belongs (pydantic would read "yes", "off" and 1)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _numbers_are_numbers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, value in data.items():
                field = cls.model_fields.get(name)
                if field is None:
                    continue
                if _takes_booleans(field.annotation) and not isinstance(value, bool | None):
                    raise ValueError(f"{name} must be true or false, not {_json_kind(value)}")
                if not _takes_numbers(field.annotation):
                    continue
                if isinstance(value, bool):
                    raise ValueError(f"{name} must be a number, not {str(value).lower()}")
                if isinstance(value, str):
                    raise ValueError(f"{name} must be a number, not a string")
        return data


def encodable(text: str, field: str) -> str:
    """The text, if it can be written as UTF-8: JSON lets a request carry a lone surrogate
    ("\\ud800"), which no tokenizer reads and no response can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        message = f"{field} holds a character that is not valid Unicode at position {error.start}"
        raise ValueError(message) from None
    return text


def _text_bounds_schema(schema: dict[str, Any]) -> None:
    """The bounds of a text in the OpenAPI schema, as this process's settings set them."""
    schema.update(minLength=1, maxLength=get_settings().max_text_chars)


def _length_bounds_schema(schema: dict[str, Any]) -> None:
    schema.update(minimum=1, maximum=get_settings().max_generation_length)


class ExtractInput(StrictModel):
    text: str = Field(
        description="Free text that may mention course names (at most MAX_TEXT_CHARS characters)",
        examples=["I take Operating Systems"],
        json_schema_extra=_text_bounds_schema,
    )

    @field_validator("text")
    @classmethod
    def _text_bounds(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("text must not be empty")
        encodable(text, "text")
        limit = get_settings().max_text_chars
        if len(text) > limit:
            raise ValueError(f"text is {len(text)} characters; the limit is {limit}")
        return text


class GenerationParams(StrictModel):
    start_word: str = Field(min_length=1, max_length=100, description="The text starts with this word")
    length: int = Field(
        description=(
            "How much to generate: WORDS for the bigram and rnn generators (a punctuation mark counts as "
            "a word: they are the models' tokens), NEW TOKENS for the llm (at most: fewer where it ends "
            "the text first). "
            "At least 1, at most MAX_GENERATION_LENGTH (default 256)."
        ),
        examples=[20],
        json_schema_extra=_length_bounds_schema,
    )
    temperature: float | None = Field(
        None, ge=0.01, le=5, description="Sampling temperature, 0.01 to 5 (default 1.0)"
    )
    top_k: int | None = Field(None, ge=1, le=1000, description="Sample from the k most likely tokens")
    top_p: float | None = Field(None, gt=0, le=1, description="Nucleus sampling mass")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="Same seed, same request: same text")

    @field_validator("start_word")
    @classmethod
    def _not_blank(cls, word: str) -> str:
        if not word.strip():
            raise ValueError("start_word must not be blank")
        return encodable(word.strip(), "start_word")

    @field_validator("length")
    @classmethod
    def _length_bounds(cls, length: int) -> int:
        limit = get_settings().max_generation_length
        if not 1 <= length <= limit:
            raise ValueError(f"length must be between 1 and {limit}")
        return length


class GenerateInput(GenerationParams):
    model: GeneratorName = Field(description="Which generator: bigram, rnn or llm")
    stream: bool = Field(
        False, description="llm only: send each token on GET /jobs/{job_id}/events as it is produced"
    )

    @model_validator(mode="after")
    def _streams_only_the_llm(self) -> GenerateInput:
        if self.stream and self.model != "llm":
            raise ValueError(f"stream is for the llm only; the {self.model} generator answers in one piece")
        return self


# The least value of each fine-tuning setting, for a job (`FinetuneInput`) and for the CLI
# (`training.squad.loop.FinetuneConfig`) alike; only jobs have upper bounds too.
FINETUNE_LEAST = {
    "max_steps": 1,
    "batch_size": 1,
    "grad_accum_steps": 1,
    "warmup_steps": 0,
    "eval_questions": 0,
    "eval_every": 0,
    # below it, a long question pushes the evaluation prompt's "Context:" out of the window
    "max_seq_len": 128,
}


def warmup_past_the_run(warmup_steps: int, max_steps: int) -> str | None:
    """Why a warm-up longer than its run is refused (for a job and the CLI alike); None if it is not."""
    if warmup_steps <= max_steps:
        return None
    return (
        f"warmup_steps ({warmup_steps}) must be at most max_steps ({max_steps}): the learning rate would"
        " never reach learning_rate"
    )


class FinetuneInput(StrictModel):
    model: Literal["llm"] = "llm"
    dataset: Literal["squad"] = "squad"
    max_steps: int = Field(
        20,
        ge=FINETUNE_LEAST["max_steps"],
        description="Optimizer steps (at most MAX_FINETUNE_STEPS)",
        validate_default=True,  # the default too must be within MAX_FINETUNE_STEPS
    )
    batch_size: int = Field(4, ge=FINETUNE_LEAST["batch_size"], le=64)
    grad_accum_steps: int = Field(1, ge=FINETUNE_LEAST["grad_accum_steps"], le=64)
    learning_rate: float = Field(5e-5, gt=0, le=1e-2)
    warmup_steps: int = Field(0, ge=FINETUNE_LEAST["warmup_steps"], le=10_000)
    eval_questions: int = Field(
        16,
        ge=FINETUNE_LEAST["eval_questions"],
        le=2000,
        description="Held-out questions answered by generation",
    )
    eval_every: int = Field(
        0,
        ge=FINETUNE_LEAST["eval_every"],
        le=100_000,
        description="Evaluate every N steps (0: only at the end)",
    )
    max_seq_len: int = Field(384, ge=FINETUNE_LEAST["max_seq_len"], le=2048)
    seed: int = Field(0, ge=0, le=2**32 - 1)

    @field_validator("max_steps")
    @classmethod
    def _steps_bound(cls, steps: int) -> int:
        limit = get_settings().max_finetune_steps
        if steps > limit:
            raise ValueError(f"max_steps must be at most {limit}")
        return steps

    @model_validator(mode="after")
    def _warmup_within_the_run(self) -> FinetuneInput:
        if refusal := warmup_past_the_run(self.warmup_steps, self.max_steps):
            raise ValueError(refusal)
        return self

    @model_validator(mode="after")
    def _batch_tokens_bound(self) -> FinetuneInput:
        # each bound alone lets a batch of 64 x 2048 tokens through: its logits alone (SmolLM2's
        # 49,152-word vocabulary, float32) take 26 GB, and the worker would be killed
        limit = get_settings().max_finetune_batch_tokens
        if self.batch_size * self.max_seq_len > limit:
            raise ValueError(
                f"batch_size x max_seq_len ({self.batch_size} x {self.max_seq_len}) must be at most"
                f" MAX_FINETUNE_BATCH_TOKENS ({limit}); for a larger batch raise grad_accum_steps"
            )
        return self


class ExtractJobRequest(StrictModel):
    type: Literal["extract-course-names"]
    input: ExtractInput


class GenerateJobRequest(StrictModel):
    type: Literal["generate"]
    input: GenerateInput


class FinetuneJobRequest(StrictModel):
    type: Literal["finetune"]
    input: FinetuneInput = Field(default_factory=dict, validate_default=True)  # type: ignore[arg-type]


JobRequest = Annotated[
    ExtractJobRequest | GenerateJobRequest | FinetuneJobRequest,
    Field(discriminator="type"),
]


class JobError(BaseModel):
    type: str
    message: str


class JobView(BaseModel):
    job_id: str
    type: JobType
    status: JobStatus
    progress: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: JobError | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cancel_requested: bool = False


class JobAccepted(BaseModel):
    job_id: str
    status: JobStatus
    url: str


class JobList(BaseModel):
    jobs: list[JobView]
    limit: int
    offset: int
    next_offset: int | None
    next_cursor: str | None = Field(
        None,
        description="Pass it as `cursor` for the next page; null: nothing after this page",
    )
    older_jobs_not_searched: bool = Field(
        False,
        description="A listing looks at 20,000 of the key's jobs (of the type, if one is asked for)"
        " from the offset or cursor at most (without a status filter, only expired ones can add up to"
        " that); true when it stopped there with older jobs not looked at: next_cursor goes on from there",
    )


class ExtractionResponse(BaseModel):
    extracted_course_names: list[str]


class GenerationResponse(BaseModel):
    generated_text: str


class ModelVersionView(BaseModel):
    version: str
    metadata: dict[str, Any]


class ModelView(BaseModel):
    name: ModelName
    task: str
    base: str
    training: str
    served_version: str | None = Field(
        description="The version that answers requests: the newest in the store, unless every live"
        " inference worker holding the model failed to load it or is still loading it; then the"
        " newest version they hold instead, or null when they hold none (and null while the store"
        " has no version)"
    )
    loaded_by_workers: dict[str, int] = Field(
        description="Live inference workers holding each version in memory (a worker loads a model"
        " when its first job needs it, or at start with PRELOAD_MODELS)"
    )
    failed_to_load: dict[str, int] = Field(
        description="Live inference workers whose last attempt to load each version failed (retried"
        " every 60 s; the worker's log has the error)"
    )
    loading_in_workers: dict[str, int] = Field(
        default_factory=dict,
        description="Live inference workers loading each version now, on a thread of its own: the"
        " version a worker holds answers its jobs until the new one is loaded",
    )
    versions: list[ModelVersionView]
