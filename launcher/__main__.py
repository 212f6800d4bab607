"""``python -m launcher`` (what ``make run`` runs): the whole platform in the foreground.

Redis (the REDIS_URL you set, else a private one with AOF under var/), the API, Flower, an
inference worker and a training worker, with every process's log prefixed on this console.
The models the defaults need are imported first if the store lacks them; those that take
minutes to train (the LSTM, the extractor) are trained in the background while the rest is served.
Ctrl-C (SIGINT), SIGTERM or SIGHUP (the terminal closed) stops every process it started.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
from types import FrameType

import redis
from kombu.utils.url import maybe_sanitize_url
from pydantic import ValidationError

from launcher import services
from launcher.ports import free_port, port_taken, wait_for_port
from launcher.redis_server import (
    DataDirInUseError,
    RedisNotFoundError,
    RedisTooOldError,
    lock_data_dir,
    persistence_warnings,
    redis_command,
)
from launcher.supervisor import Child, Supervisor
from shared.config import Settings, get_settings

HOST = "127.0.0.1"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)  # SIGQUIT: Ctrl-\


def _reachable(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=3).ping())
    except (redis.RedisError, OSError, ValueError):  # ValueError: no redis:// URL at all
        return False


def _running_first(child: Child) -> bool:
    """Whether ``child``'s first process still runs (it has not exited, nor been restarted)."""
    return child.restarts == 0 and child.process is not None and child.process.poll() is None


def _taken_ports(settings: Settings) -> list[str]:
    """The ports the platform's servers need that something else holds: started anyway, they
    would exit at once and be restarted forever while the launcher reported them started."""
    needed = [
        ("API_PORT", settings.api_host, settings.api_port),
        ("FLOWER_PORT", settings.flower_host, settings.flower_port),
    ]  # (a worker whose metrics port is taken serves on without metrics, and says so)
    return [f"{name}={port} on {host}" for name, host, port in needed if port_taken(host, port)]


def _shared_ports(settings: Settings) -> list[str]:
    """Settings that give two of the platform's servers one port: one of them would exit and be
    restarted forever."""
    ports = {
        "API_PORT": settings.api_port,
        "FLOWER_PORT": settings.flower_port,
        "INFERENCE_METRICS_PORT": settings.inference_metrics_port,
        "TRAINING_METRICS_PORT": settings.training_metrics_port,
    }
    by_port: dict[int, list[str]] = {}
    for name, port in ports.items():
        if port:  # 0: a worker's metrics are off
            by_port.setdefault(port, []).append(name)
    return [f"{' and '.join(names)} share port {port}" for port, names in by_port.items() if len(names) > 1]


def _parse_arguments(argv: list[str]) -> None:
    """No options: every setting is an environment variable or a line of .env. ``--help`` says
    so; anything else is refused, rather than starting the platform."""
    parser = argparse.ArgumentParser(
        prog="python -m launcher",
        description=__doc__.split("\n\n", 1)[0] + " Settings: environment variables or .env (README).",
    )
    parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    _parse_arguments(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    supervisor = Supervisor(env)

    # `nohup make run &` ignores SIGHUP on purpose: the platform is to outlive the terminal
    stop_signals = [
        stop_signal
        for stop_signal in STOP_SIGNALS
        if not (stop_signal == signal.SIGHUP and signal.getsignal(signal.SIGHUP) == signal.SIG_IGN)
    ]

    def while_stopping(signum: int, _frame: FrameType | None) -> None:
        times = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in supervisor.time_to_stop().items())
        supervisor.log(
            "launcher", f"already stopping every process (each gets its time, then SIGKILL: {times})"
        )

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # A second Ctrl-C (or a SIGINT and a SIGTERM together) must not cut the shutdown short:
        # that would leave the workers, Flower and Redis running without their launcher.
        for stop_signal in stop_signals:
            signal.signal(stop_signal, while_stopping)
        raise KeyboardInterrupt

    # Set explicitly: a launcher started in the background by a non-interactive shell
    # (`nohup make run &`, CI scripts) inherits SIGINT ignored, and Ctrl-C or `kill -INT` must
    # still stop everything. SIGHUP is a closed terminal or a lost SSH session: the children run
    # in sessions of their own, so no terminal signals them, and without it they would outlive
    # their launcher holding the ports the next `make run` needs.
    for stop_signal in stop_signals:
        signal.signal(stop_signal, on_signal)
    try:
        try:
            settings = get_settings()
        except ValidationError as error:
            print(f"a setting (in the environment or .env) is invalid: {error}")
            return 2
        if shared := _shared_ports(settings):
            print(f"one port for two servers: {'; '.join(shared)}. Give each its own port.")
            return 2
        if taken := _taken_ports(settings):
            print(
                f"in use already: {', '.join(taken)}. Stop what holds it (an earlier `make run`?) or set "
                "that variable to a free port."
            )
            return 2
        if "redis_url" in settings.model_fields_set:  # set in the environment or in .env
            shown = maybe_sanitize_url(settings.redis_url)  # its password is not for the console
            if not _reachable(settings.redis_url):
                print(f"REDIS_URL={shown} is unreachable: start that Redis or unset REDIS_URL")
                return 2
            for warning in persistence_warnings(redis.Redis.from_url(settings.redis_url, socket_timeout=3)):
                print(f"warning: the Redis of REDIS_URL={shown}: {warning}")
            env["REDIS_URL"] = supervisor.env["REDIS_URL"] = settings.redis_url
        else:
            data_dir = settings.var_dir / "redis"
            try:
                lock = lock_data_dir(data_dir)
            except DataDirInUseError as error:
                print(error)
                return 2
            port, password = free_port(), secrets.token_urlsafe(24)
            try:
                command = redis_command(port, data_dir, password=password)
            except (RedisNotFoundError, RedisTooOldError) as error:
                print(error)
                return 2
            redis_child = supervisor.start("redis", command, pass_fds=(lock,))
            # one that exits at once (a damaged append-only file) is said so at once, not after 20 s
            if not wait_for_port(HOST, port, 20, still_starting=lambda: _running_first(redis_child)):
                print("the private redis-server did not start: see its log above")
                return 2
            env["REDIS_URL"] = supervisor.env["REDIS_URL"] = f"redis://:{password}@{HOST}:{port}/0"
        os.environ["REDIS_URL"] = env["REDIS_URL"]
        get_settings.cache_clear()
        settings = get_settings()
        # Stopped first: it stops taking jobs and finishes its synchronous requests while the
        # workers still run them.
        supervisor.start("api", services.api_command(settings), stop_first=True)
        # Not essential: the platform serves on without its monitor when Flower cannot start.
        flower_auth = settings.flower_basic_auth or services.flower_login(settings.var_dir)
        supervisor.start(
            "flower",
            services.flower_command(settings),
            extra_env={"FLOWER_BASIC_AUTH": flower_auth},
            essential=False,
        )
        password_file = settings.var_dir / services.FLOWER_PASSWORD_FILE
        login = (
            "FLOWER_BASIC_AUTH's login"
            if settings.flower_basic_auth
            else f"user {services.FLOWER_USER}, password in {password_file}"
        )
        supervisor.log("launcher", f"API     http://{settings.api_host}:{settings.api_port}  (docs: /docs)")
        supervisor.log("launcher", f"Flower  http://{settings.flower_host}:{settings.flower_port}  ({login})")
        supervisor.log("launcher", f"Redis   {maybe_sanitize_url(settings.redis_url)}")
        for role, port in (
            ("inference", settings.inference_metrics_port),
            ("training", settings.training_metrics_port),
        ):
            if port and port_taken(settings.metrics_host, port):  # not one of ours: checked above
                supervisor.log("launcher", f"Metrics port {port} is taken: the {role} worker serves none")
            elif port:
                supervisor.log(
                    "launcher", f"Metrics http://{settings.metrics_host}:{port}/metrics ({role} worker)"
                )
        quick, slow = services.split_by_preparation(settings.preload_models)
        if quick:
            supervisor.log("launcher", f"preparing {', '.join(quick)} (first run: seconds)")
            if supervisor.run_once("bootstrap", services.bootstrap_command(quick)) != 0:
                supervisor.log(
                    "launcher", "model bootstrap failed: see above; workers start anyway and report it"
                )
        supervisor.start(
            "inference",
            services.inference_worker_command(settings),
            stop_timeout_s=services.inference_stop_timeout_s(settings),
            stop_group="workers",
        )
        # its run in a pool process, which the worker itself ends at its next step when it stops
        supervisor.start(
            "training",
            services.training_worker_command(settings),
            sigterm_to_leader_only=True,
            stop_timeout_s=services.TRAINING_STOP_TIMEOUT_S,
            stop_group="workers",
        )
        if slow:
            # Trained models take minutes the first time: the rest is served meanwhile, and their
            # endpoints answer 503 with Retry-After until a version is in the store, which the
            # workers then load on the next request. The extractor's full version takes 8 to 19
            # minutes on 2 CPU cores, so a preview of it (one model, 2 epochs) is published first.
            supervisor.log(
                "launcher",
                f"checking {', '.join(slow)} in the background; a first run trains them (minutes, "
                "progress below) and their endpoints answer 503 until then",
            )
            supervisor.start("bootstrap", services.bootstrap_command(slow, preview_first=True), restart=False)
        supervisor.log("launcher", "all processes started; Ctrl-C stops them all")
        if given_up := supervisor.watch():
            supervisor.log("launcher", f"stopping every process: {given_up}")
            return 1
    except KeyboardInterrupt:
        supervisor.log("launcher", "stopping every process")
    finally:
        # however it got here (a signal, a process given up, an error), a Ctrl-C now must not cut
        # the stop short: the processes not yet stopped would be killed, or left running
        for stop_signal in stop_signals:
            signal.signal(stop_signal, while_stopping)
        supervisor.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
