"""The one image runs what the deployments run (a section of validate.py).

Kubernetes and compose start every program from the one scimsync image, by its command. A
program the Dockerfile does not copy into the image is a pod that never starts, which no schema
notices and no render fails on. So, statically:

- the Dockerfile copies exactly the binaries the workspace's deployables build: the members
  under `services/` (each `[[bin]]` of a member's Cargo.toml, or its package name for a
  `src/main.rs`, and every `src/bin/*.rs`). Tools elsewhere (the simulator under `tests/`) are
  not shipped. A binary counts as copied when a stage names it (`target/release/NAME` in a
  RUN) and the last stage, the image, copies from that stage (`COPY --from=`): a builder
  that builds everything is no use if the runtime stage takes nothing from it;
- every container that runs the scimsync image (Deployments, Jobs, CronJobs, init containers of
  the rendered overlays) and every compose service built from the Dockerfile or naming the
  scimsync image runs one of those binaries: its `command` (compose: `entrypoint`, else
  `command`), else the image's `CMD`.

Commands of health checks and lifecycle hooks (bash, sleep) come from the base image and are
not checked here.

`self_test` proves the check can fail: it removes each binary from the real Dockerfile in turn
and expects a problem naming that program wherever it runs; then it drops the last stage's
`COPY --from=` and expects every binary reported.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import yaml

# `target/release/NAME` in a RUN instruction: a binary the builder stage copies out.
RELEASE_BINARY = re.compile(r"target/release/([A-Za-z0-9_.-]+)")
IMAGE_NAME = "scimsync"


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical: list[str] = []
    current = ""
    for line in dockerfile.splitlines():
        if line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if current.strip():
            logical.append(current.strip())
        current = ""
    if current.strip():
        logical.append(current.strip())
    return [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if " " in l else "") for l in logical]


def copy_sources(arguments: str) -> set[str]:
    """The stages a COPY takes from (`--from=NAME`), lower-cased as stage names compare."""
    return {word.split("=", 1)[1].lower() for word in arguments.split() if word.startswith("--from=")}


def image_programs(dockerfile: str) -> tuple[set[str], str | None]:
    """The binaries the image holds (named in a stage the last stage copies from), and the
    program its CMD runs."""
    named: list[set[str]] = []  # per stage, the binaries its RUNs name
    stage_index: dict[str, int] = {}  # a stage's name, or its index, -> its index
    taken: set[str] = set()  # the stages the current (in the end: the last) stage copies from
    default = None
    for instruction, arguments in instructions(dockerfile):
        if instruction == "FROM":
            words = arguments.split()
            stage_index[str(len(named))] = len(named)
            if len(words) >= 3 and words[1].upper() == "AS":
                stage_index[words[2].lower()] = len(named)
            named.append(set())
            taken = set()
        elif instruction == "RUN" and named:
            named[-1] |= set(RELEASE_BINARY.findall(arguments))
        elif instruction == "COPY":
            taken |= copy_sources(arguments)
        elif instruction == "CMD":
            try:
                command = json.loads(arguments)
            except json.JSONDecodeError:
                command = shlex.split(arguments)
            default = command[0] if command else None
    copied: set[str] = set()
    for source in taken:
        if source in stage_index:
            copied |= named[stage_index[source]]
    return copied, default


def workspace_binaries(root: Path) -> dict[str, str]:
    """Binary name -> the Cargo.toml that builds it, for every deployable of the workspace (its
    members under services/: one crate per deployable)."""
    workspace = tomllib.loads((root / "Cargo.toml").read_text())
    found: dict[str, str] = {}
    for member in workspace["workspace"]["members"]:
        if not member.startswith("services/"):
            continue
        crate = root / member
        manifest = tomllib.loads((crate / "Cargo.toml").read_text())
        shown = f"{member}/Cargo.toml"
        bins = manifest.get("bin", [])
        for b in bins:
            found[b["name"]] = shown
        package = manifest.get("package", {})
        if package.get("autobins", True):
            if not bins and (crate / "src" / "main.rs").exists():
                found[package["name"]] = shown
            for extra in sorted((crate / "src" / "bin").glob("*.rs")):
                found.setdefault(extra.stem, shown)
    return found


def pod_specs(doc: dict) -> list[dict]:
    spec = doc.get("spec") or {}
    if doc["kind"] == "Pod":
        return [spec]
    if doc["kind"] == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    template = spec.get("template", {}).get("spec")
    return [template] if template else []


def is_our_image(image: str) -> bool:
    """`scimsync`, `registry.example.com/scimsync:dev`, `.../scimsync@sha256:...`."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
    return name == IMAGE_NAME


def manifest_programs(docs: list[dict], default: str | None):
    """(object, container name, program) for every container running the scimsync image."""
    for doc in docs:
        for spec in pod_specs(doc):
            for c in spec.get("initContainers", []) + spec.get("containers", []):
                if is_our_image(c.get("image", "")):
                    yield doc, c["name"], (c.get("command") or [default])[0]


def compose_programs(path: Path, dockerfile: Path, default: str | None):
    """(service name, program) for every service of the compose file at `path` built from
    `dockerfile` (its build context is relative to the compose file, the Dockerfile to the
    context), or with no build of its own running the scimsync image (built by another service,
    or pulled)."""
    compose = yaml.safe_load(path.read_text())
    for name, svc in (compose.get("services") or {}).items():
        build = svc.get("build")
        if isinstance(build, str):
            build = {"context": build}
        if isinstance(build, dict):
            context = path.parent / build.get("context", ".")
            if (context / build.get("dockerfile", "Dockerfile")).resolve() != dockerfile.resolve():
                continue
        elif not is_our_image(str(svc.get("image") or "")):
            continue
        command = svc.get("entrypoint") or svc.get("command") or [default]
        if isinstance(command, str):
            command = shlex.split(command)
        yield name, command[0]


def service(name: str) -> dict:
    """A compose service in the shape Report.fail names objects by."""
    return {"kind": "service", "metadata": {"name": name}}


def check_image(dockerfile: Path, root: Path, rendered: dict[str, list[dict]],
                compose: Path | None, report, text: str | None = None) -> str:
    """All the checks above; returns a one-line summary. `text` stands in for the file's."""
    text = dockerfile.read_text() if text is None else text
    copied, default = image_programs(text)
    built = workspace_binaries(root)
    where = str(dockerfile)
    for name in sorted(set(built) - copied):
        report.fail(where, None, f"does not copy {name} into the image, which {built[name]} builds")
    for name in sorted(copied - set(built)):
        report.fail(where, None, f"copies {name}, which no crate of the workspace builds")
    if default not in copied:
        report.fail(where, None, f"CMD runs {default}, which is not in the image")
    checked = 0
    for overlay, docs in rendered.items():
        for doc, container, program in manifest_programs(docs, default):
            checked += 1
            if program not in copied:
                report.fail(overlay, doc, f"container {container} runs {program}, which {where} does not copy into the image")
    if compose:
        for name, program in compose_programs(compose, dockerfile, default):
            checked += 1
            if program not in copied:
                report.fail(compose.name, service(name), f"runs {program}, which {where} does not copy into the image")
    if checked == 0:
        report.fail(where, None, "no container or compose service runs the image: nothing was checked")
    return f"{where} copies {len(copied & set(built))} of the workspace's {len(built)} binaries ({', '.join(sorted(built))}); {checked} containers and services checked"


def self_test(dockerfile: Path, root: Path, rendered: dict[str, list[dict]], compose: Path | None,
              new_report) -> list[str]:
    """Each binary removed from the Dockerfile in turn must be reported wherever it runs; a
    binary no crate builds must be reported too. Returns what went wrong (empty: the check works)."""
    text = dockerfile.read_text()
    copied, _ = image_programs(text)
    wrong: list[str] = []
    if not copied:
        return [f"found no `target/release/NAME` in {dockerfile}: nothing to remove"]
    where = str(dockerfile)
    places = 0
    for name in sorted(copied):
        broken = RELEASE_BINARY.sub(lambda m: "" if m.group(1) == name else m.group(0), text)
        _, default = image_programs(broken)
        report = new_report()
        check_image(dockerfile, root, rendered, compose, report, broken)
        if not any(f"does not copy {name} into the image" in p for p in report.problems):
            wrong.append(f"without {name}: no problem says the Dockerfile does not copy it ({report.problems})")
        expected = [
            f"[{overlay}] {doc['kind']}/{doc['metadata']['name']}: container {container} runs {name},"
            for overlay, docs in rendered.items()
            for doc, container, program in manifest_programs(docs, default)
            if program == name
        ]
        if compose:
            expected += [
                f"[{compose.name}] service/{svc}: runs {name},"
                for svc, program in compose_programs(compose, dockerfile, default)
                if program == name
            ]
        places += len(expected)
        for start in expected:
            if not any(p.startswith(start) for p in report.problems):
                wrong.append(f"without {name}: no problem starting {start!r}")
    if places == 0:
        wrong.append("no container or compose service runs any binary of the image: the test proved nothing")
    unshipped = re.sub(r"(?m)^COPY --from=.*$", "", text)
    report = new_report()
    check_image(dockerfile, root, rendered, compose, report, unshipped)
    for name in sorted(copied):
        if not any(f"does not copy {name} into the image" in p for p in report.problems):
            wrong.append(f"with no COPY --from= in the last stage: {name} was not reported ({report.problems})")
    extra = text.replace("target/release/", "target/release/not-a-binary target/release/", 1)
    report = new_report()
    check_image(dockerfile, root, rendered, compose, report, extra)
    if not any("copies not-a-binary" in p for p in report.problems):
        wrong.append(f"a binary no crate builds was not reported ({report.problems})")
    return wrong
