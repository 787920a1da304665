"""Starts every program of the built image and waits for each one's health (`make image-check`).

Run through `deploy/image/image.sh check`, which points podman at the project's storage and
settings. Against the local PostgreSQL and RabbitMQ of deploy/local/infra.sh (their addresses
from `infra.sh env`), on the host's network:

1. The programs are the workspace's binaries, as `make deploy-check` finds them
   (deploy/checks/image.py): the built image must hold every one in /usr/local/bin. The
   image's default command (`CMD`) is the operator CLI; every other program is a service.
2. A database and a RabbitMQ virtual host of its own, so the check neither migrates nor
   consumes from what `make up` and the tests use; both are dropped at the end.
3. `<CLI> migrate` from the image must exit 0.
4. Every service starts from the image, confined as Kubernetes runs it (read-only root
   filesystem, no capabilities, the image's non-root user), with each `listen` setting of
   the defaults (SCIMSYNC__<SECTION>__LISTEN) on a free loopback port of its own. A service is
   up once GET /healthz answers 200 on one of its ports: which one says which listener the
   program serves, with no list of who listens where to keep up to date.
5. Each service is stopped with SIGTERM and must exit 0 within its drain time.

Exits 1 naming every program that did not come up or stop cleanly.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64encode
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy" / "checks"))
import image  # noqa: E402  (deploy/checks/image.py: the workspace's binaries, the Dockerfile's CMD)

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DEFAULTS = ROOT / "shared" / "platform" / "src" / "defaults.toml"
INFRA = ROOT / "deploy" / "local" / "infra.sh"
# Above the workers' drain (SCIMSYNC__WORKER__SHUTDOWN_GRACE_SECS, 25 s by default), as in
# Kubernetes and compose.
STOP_GRACE_SECS = 35


def say(message: str) -> None:
    print(f"image-check: {message}", flush=True)


def podman(*args: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], check=check, text=True,
                          stdout=subprocess.PIPE if capture else None,
                          stderr=subprocess.PIPE if capture else None)


def infra_env() -> dict[str, str]:
    """The `export NAME='value'` lines of `infra.sh env`."""
    out = subprocess.run([str(INFRA), "env"], check=True, text=True, stdout=subprocess.PIPE).stdout
    env = {}
    for line in out.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            env[name] = value
    return env


def listen_settings() -> list[str]:
    """SCIMSYNC__<SECTION>__LISTEN for every section of the defaults with a `listen` key."""
    defaults = tomllib.loads(DEFAULTS.read_text())
    return sorted(f"SCIMSYNC__{section.upper()}__LISTEN"
                  for section, keys in defaults.items() if isinstance(keys, dict) and "listen" in keys)


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports nothing listens on now (all held until all are picked)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def healthz(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


class Rabbit:
    """The management API of the local broker (SCIMSYNC_TEST_RABBIT_API from infra.sh env)."""

    def __init__(self, api: str) -> None:
        url = urllib.parse.urlsplit(api)
        self.base = f"{url.scheme}://{url.hostname}:{url.port}{url.path}"
        credentials = f"{urllib.parse.unquote(url.username or '')}:{urllib.parse.unquote(url.password or '')}"
        self.auth = "Basic " + b64encode(credentials.encode()).decode()
        self.user = urllib.parse.unquote(url.username or "")

    def call(self, method: str, path: str, body: dict | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Authorization": self.auth, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10):
            pass

    def create_vhost(self, vhost: str) -> None:
        quoted = urllib.parse.quote(vhost, safe="")
        self.call("PUT", f"/vhosts/{quoted}", {})
        self.call("PUT", f"/permissions/{quoted}/{urllib.parse.quote(self.user, safe='')}",
                  {"configure": ".*", "write": ".*", "read": ".*"})

    def delete_vhost(self, vhost: str) -> None:
        self.call("DELETE", f"/vhosts/{urllib.parse.quote(vhost, safe='')}")


def psql(sql: str) -> None:
    subprocess.run([str(INFRA), "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
                   check=True, stdout=subprocess.DEVNULL)


class Check:
    def __init__(self, image_name: str, deadline: float) -> None:
        self.image = image_name
        self.deadline = deadline
        self.tag = f"scimsync-image-check-{os.getpid()}"
        self.failures: list[str] = []
        self.containers: list[str] = []

    def fail(self, program: str, why: str) -> None:
        self.failures.append(f"{program}: {why}")
        say(f"FAIL {program}: {why}")

    def programs(self) -> tuple[str, list[str]]:
        """(the CLI, the services): the workspace's binaries, which the image must hold."""
        built = image.workspace_binaries(ROOT)
        _, default = image.image_programs(DOCKERFILE.read_text())
        listed = podman("run", "--rm", "--pull=never", "--network", "host", self.image,
                        "ls", "-1", "/usr/local/bin").stdout.split()
        for name in sorted(set(built) - set(listed)):
            self.fail(name, f"not in {self.image} (/usr/local/bin), although {built[name]} builds it: is the image older than the workspace? (make image)")
        if default not in built:
            raise SystemExit(f"image-check: the image's CMD runs {default}, which the workspace does not build")
        services = sorted(name for name in built if name != default and name in listed)
        return default, services

    def run(self, name: str, program: str, env: dict[str, str], *args: str, detach: bool) -> subprocess.CompletedProcess:
        options = ["--name", name, "--pull=never", "--network", "host",
                   # As Kubernetes runs the image (k8s/base): nothing may write to the image,
                   # no capability, no privilege gained, the image's non-root user.
                   "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
        for key, value in sorted(env.items()):
            options += ["--env", f"{key}={value}"]
        self.containers.append(name)
        return podman("run", *(["--detach"] if detach else []), *options, self.image, program, *args,
                      check=False)

    def logs(self, name: str) -> str:
        result = podman("logs", "--tail", "20", name, check=False)
        return "\n".join("    " + line for line in (result.stdout + result.stderr).splitlines())

    def migrate(self, cli: str, env: dict[str, str]) -> bool:
        t0 = time.monotonic()
        result = self.run(f"{self.tag}-{cli}", cli, env, "migrate", detach=False)
        if result.returncode != 0:
            self.fail(cli, f"`{cli} migrate` exited {result.returncode}:\n{result.stdout}{result.stderr}")
            return False
        say(f"ok   {cli} migrate ({time.monotonic() - t0:.1f} s)")
        return True

    def start_services(self, services: list[str], env: dict[str, str]) -> dict[str, dict[str, int]]:
        settings = listen_settings()
        ports = iter(free_ports(len(settings) * len(services)))
        started: dict[str, dict[str, int]] = {}
        for program in services:
            listeners = {setting: next(ports) for setting in settings}
            own = dict(env, **{s: f"127.0.0.1:{p}" for s, p in listeners.items()})
            result = self.run(f"{self.tag}-{program}", program, own, detach=True)
            if result.returncode != 0:
                self.fail(program, f"podman run failed: {result.stderr.strip()}")
                continue
            started[program] = listeners
        return started

    def wait_healthy(self, started: dict[str, dict[str, int]], t0: float) -> list[str]:
        waiting = dict(started)
        healthy = []
        while waiting:
            for program, listeners in list(waiting.items()):
                name = f"{self.tag}-{program}"
                answered = [s for s, port in listeners.items() if healthz(port)]
                if answered:
                    setting = answered[0]
                    say(f"ok   {program} up: GET /healthz 200 on {setting}=127.0.0.1:{listeners[setting]} after {time.monotonic() - t0:.1f} s")
                    healthy.append(program)
                    del waiting[program]
                    continue
                state = podman("inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", name, check=False).stdout.split()
                if state and state[0] == "false":
                    self.fail(program, f"exited with status {state[1]} before answering /healthz; its last lines:\n{self.logs(name)}")
                    del waiting[program]
            if waiting and time.monotonic() - t0 > self.deadline:
                for program in waiting:
                    self.fail(program, f"no GET /healthz answered 200 within {self.deadline:.0f} s on any of {', '.join(f'{s}=127.0.0.1:{p}' for s, p in waiting[program].items())}; its last lines:\n{self.logs(f'{self.tag}-{program}')}")
                break
            time.sleep(0.25)
        return healthy

    def stop(self, healthy: list[str]) -> None:
        names = [f"{self.tag}-{p}" for p in healthy]
        if not names:
            return
        t0 = time.monotonic()
        podman("stop", "--time", str(STOP_GRACE_SECS), *names, check=False)
        for program, name in zip(healthy, names):
            code = podman("inspect", "--format", "{{.State.ExitCode}}", name, check=False).stdout.strip()
            if code != "0":
                self.fail(program, f"exited with status {code} on SIGTERM (expected a clean stop, 0); its last lines:\n{self.logs(name)}")
        say(f"ok   stopped {', '.join(p for p in healthy if f'{p}:' not in ' '.join(self.failures))} with SIGTERM ({time.monotonic() - t0:.1f} s)")

    def remove_containers(self) -> None:
        if self.containers:
            podman("rm", "--force", *self.containers, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True)
    parser.add_argument("--deadline", type=float, default=60.0,
                        help="seconds each service may take to answer /healthz (default 60)")
    args = parser.parse_args()

    check = Check(args.image, args.deadline)
    cli, services = check.programs()
    say(f"{args.image}: CLI {cli}; services {', '.join(services)}")

    infra = infra_env()
    for key in ("SCIMSYNC__DATABASE__URL", "SCIMSYNC__AMQP__URL", "SCIMSYNC_TEST_RABBIT_API"):
        if key not in infra:
            raise SystemExit(f"image-check: `deploy/local/infra.sh env` does not print {key}")
    scratch = check.tag.replace("-", "_")
    database = urllib.parse.urlsplit(infra["SCIMSYNC__DATABASE__URL"])
    amqp = urllib.parse.urlsplit(infra["SCIMSYNC__AMQP__URL"])
    env = {
        "SCIMSYNC__DATABASE__URL": urllib.parse.urlunsplit(database._replace(path=f"/{scratch}")),
        "SCIMSYNC__AMQP__URL": urllib.parse.urlunsplit(amqp._replace(path=f"/{check.tag}")),
        "SCIMSYNC__TELEMETRY__LOG_FORMAT": "json",
    }
    rabbit = Rabbit(infra["SCIMSYNC_TEST_RABBIT_API"])
    created_db = created_vhost = False
    try:
        psql(f'CREATE DATABASE "{scratch}"')
        created_db = True
        rabbit.create_vhost(check.tag)
        created_vhost = True
        say(f"database {scratch} and virtual host {check.tag} of its own")
        if check.migrate(cli, env):
            t0 = time.monotonic()
            started = check.start_services(services, env)
            healthy = check.wait_healthy(started, t0)
            check.stop(healthy)
    except KeyboardInterrupt:
        check.failures.append("interrupted")
    finally:
        check.remove_containers()
        if created_vhost:
            rabbit.delete_vhost(check.tag)
        if created_db:
            psql(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')

    if check.failures:
        failed = sorted({f.split(":", 1)[0] for f in check.failures})
        say(f"FAILED: {', '.join(failed)} (of {cli}, {', '.join(services)})")
        return 1
    say(f"every program of {args.image} came up and stopped cleanly: {cli} migrate, {', '.join(services)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
