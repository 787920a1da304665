"""Validates rendered kustomize overlays and the docker-compose file, offline.

Usage: validate.py --k8s-version 1.30 [--k8s-version 1.37 ...] [--compose FILE]
                   [--dockerfile FILE [--self-test]] OVERLAY=RENDERED.yaml ...

1. Schemas: every built-in object against the Kubernetes OpenAPI schemas shipped in the
   kubernetes-validate package (strict: unknown fields fail), for each Kubernetes version given;
   KEDA objects against schemas/keda.json (kubernetes-validate has no CRDs).
2. Deployment rules that no schema can express, from docs/deploy.md and SPEC A4: references
   resolve (Services, autoscalers, budgets, Secrets), each worker scales on its own work queue,
   termination grace outlasts the workers' drain, settings agree with the broker topology.
3. docker-compose (no Docker here to run `docker compose config`): known keys only, every
   deployed service present with a health check, dependencies that exist and wait for the
   migration, the same confinement as in Kubernetes, a stop grace above the workers' drain.
4. The image (image.py): the Dockerfile copies exactly the binaries the workspace builds, and
   every container and compose service running the image runs one of them. With --self-test,
   only this: each binary is removed from the Dockerfile in turn and must be reported wherever
   it runs (proof that the check can fail).

Prints one line per problem and a summary; exits 1 if anything failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

import image

ROOT = Path(__file__).resolve().parents[2]
KEDA_SCHEMA = Path(__file__).resolve().parent / "schemas" / "keda.json"


class Report:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, overlay: str, obj: dict | None, message: str) -> None:
        where = f"{obj['kind']}/{obj['metadata']['name']}" if obj else "-"
        self.problems.append(f"[{overlay}] {where}: {message}")


def load(path: Path) -> list[dict]:
    with path.open() as f:
        return [d for d in yaml.safe_load_all(f) if d]


def validate_schemas(overlay: str, docs: list[dict], versions: list[str], report: Report) -> None:
    keda = jsonschema.Draft202012Validator(json.loads(KEDA_SCHEMA.read_text()))
    for doc in docs:
        if doc["apiVersion"].startswith("keda.sh/"):
            for error in keda.iter_errors(doc):
                path = "/".join(str(p) for p in error.absolute_path)
                report.fail(overlay, doc, f"KEDA schema: {path}: {error.message}")
            continue
        for version in versions:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                path = "/".join(str(p) for p in e.absolute_path)
                report.fail(overlay, doc, f"Kubernetes {version} schema: {path}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError as e:
                report.fail(overlay, doc, f"Kubernetes {version}: {e.message}")


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def pod_spec(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def secret_keys(overlay: str, docs: list[dict]) -> tuple[str, set[str]] | None:
    """The keys of scimsync-secrets: generated in the overlay, or documented in its example."""
    for d in docs:
        if d["kind"] == "Secret" and d["metadata"]["name"].startswith("scimsync-secrets"):
            return d["metadata"]["name"], set(d.get("data", {})) | set(d.get("stringData", {}))
    example = ROOT / "k8s" / "overlays" / overlay / "secrets.env.example"
    if example.exists():
        keys = {
            line.split("=", 1)[0].strip()
            for line in example.read_text().splitlines()
            if "=" in line and not line.lstrip().startswith("#")
        }
        return "scimsync-secrets", keys
    return None


def check_rules(overlay: str, docs: list[dict], report: Report) -> None:
    deployments = by_kind(docs, "Deployment")
    config = next(
        (d["data"] for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("scimsync-config")),
        None,
    )
    if config is None:
        report.fail(overlay, None, "no scimsync-config ConfigMap")
        return
    definitions_cm = by_kind(docs, "ConfigMap").get("scimsync-rabbitmq-definitions")
    if definitions_cm is None:
        report.fail(overlay, None, "no scimsync-rabbitmq-definitions ConfigMap")
        return
    definitions = json.loads(definitions_cm["data"]["definitions.json"])
    queues = {q["name"]: q for q in definitions["queues"]}
    work_queues = {
        name for name, q in queues.items() if q["arguments"].get("x-dead-letter-exchange") == "scimsync.dlx"
    }

    # The broker rejects a re-declaration with other arguments: the services' delivery limit
    # must be the one in the definitions.
    limit = int(config.get("SCIMSYNC__AMQP__DELIVERY_LIMIT", "20"))
    for name in work_queues:
        if queues[name]["arguments"].get("x-delivery-limit") != limit:
            report.fail(overlay, definitions_cm, f"{name}: x-delivery-limit differs from SCIMSYNC__AMQP__DELIVERY_LIMIT={limit}")

    # Secrets referenced by pods and by KEDA exist.
    secret = secret_keys(overlay, docs)
    if secret is None:
        report.fail(overlay, None, "no Secret scimsync-secrets and no secrets.env.example for it")
        secret = ("scimsync-secrets", set())
    secret_name, keys = secret
    workloads = list(deployments.values()) + list(by_kind(docs, "Job").values())
    for w in workloads:
        for c in pod_spec(w)["containers"]:
            for env in c.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref and (ref["name"] != secret_name or ref["key"] not in keys):
                    report.fail(overlay, w, f"env {env['name']} refers to missing secret key {ref['name']}/{ref['key']}")
            for src in c.get("envFrom", []):
                ref = src.get("configMapRef")
                if ref and ref["name"] not in by_kind(docs, "ConfigMap"):
                    report.fail(overlay, w, f"envFrom refers to missing ConfigMap {ref['name']}")
    for ta in by_kind(docs, "TriggerAuthentication").values():
        for ref in ta["spec"].get("secretTargetRef", []):
            if ref["name"] != secret_name or ref["key"] not in keys:
                report.fail(overlay, ta, f"refers to missing secret key {ref['name']}/{ref['key']}")

    # Every Deployment: a PodDisruptionBudget, probes on named ports, the hardened context.
    pdbs = by_kind(docs, "PodDisruptionBudget").values()
    for name, d in deployments.items():
        labels = d["spec"]["template"]["metadata"]["labels"]
        if not any(matches(p["spec"]["selector"], labels) for p in pdbs):
            report.fail(overlay, d, "no PodDisruptionBudget selects its pods")
        for c in pod_spec(d)["containers"]:
            ports = {p.get("name") for p in c.get("ports", [])}
            for probe in ("livenessProbe", "readinessProbe"):
                port = c.get(probe, {}).get("httpGet", {}).get("port")
                if port is None:
                    report.fail(overlay, d, f"container {c['name']} has no HTTP {probe}")
                elif isinstance(port, str) and port not in ports:
                    report.fail(overlay, d, f"{probe} uses unknown port {port}")
    for w in workloads:
        spec = pod_spec(w)
        if spec.get("securityContext", {}).get("runAsNonRoot") is not True:
            report.fail(overlay, w, "pod securityContext.runAsNonRoot is not true")
        for c in spec["containers"]:
            sc = c.get("securityContext", {})
            if not (sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False):
                report.fail(overlay, w, f"container {c['name']} needs a read-only root fs and no privilege escalation")
            res = c.get("resources", {})
            if not all(k in res.get(part, {}) for part in ("requests", "limits") for k in ("cpu", "memory")):
                report.fail(overlay, w, f"container {c['name']} lacks cpu/memory requests and limits")

    # Services reach a Deployment's named port.
    for svc in by_kind(docs, "Service").values():
        targets = [d for d in deployments.values() if matches({"matchLabels": svc["spec"]["selector"]}, d["spec"]["template"]["metadata"]["labels"])]
        if not targets:
            report.fail(overlay, svc, "selects no Deployment")
        for port in svc["spec"]["ports"]:
            for d in targets:
                names = {p.get("name") for c in pod_spec(d)["containers"] for p in c.get("ports", [])}
                if isinstance(port["targetPort"], str) and port["targetPort"] not in names:
                    report.fail(overlay, svc, f"targetPort {port['targetPort']} is not a port of {d['metadata']['name']}")

    # ingest: CPU autoscaled, and a preStop pause so load balancers stop sending first.
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    for hpa in hpas.values():
        if hpa["spec"]["scaleTargetRef"]["name"] not in deployments:
            report.fail(overlay, hpa, "scales a Deployment that does not exist")
        if hpa["spec"].get("minReplicas", 1) > hpa["spec"]["maxReplicas"]:
            report.fail(overlay, hpa, "minReplicas > maxReplicas")
    if "ingest" not in hpas:
        report.fail(overlay, deployments.get("ingest"), "no HorizontalPodAutoscaler for ingest")
    ingest = deployments.get("ingest")
    if ingest:
        pre_stop = pod_spec(ingest)["containers"][0].get("lifecycle", {}).get("preStop", {})
        pause = pre_stop.get("sleep", {}).get("seconds")
        if pause is None:
            report.fail(overlay, ingest, "no preStop sleep")
        elif pod_spec(ingest).get("terminationGracePeriodSeconds", 30) <= pause:
            report.fail(overlay, ingest, "terminationGracePeriodSeconds leaves no time to drain after preStop")

    # Workers: each scales with KEDA on its own work queue and outlives its drain on SIGTERM.
    grace = int(config.get("SCIMSYNC__WORKER__SHUTDOWN_GRACE_SECS", "25"))
    scaled = by_kind(docs, "ScaledObject")
    auths = by_kind(docs, "TriggerAuthentication")
    workers = {n: d for n, d in deployments.items() if d["metadata"]["labels"].get("app.kubernetes.io/component") == "worker"}
    if not workers:
        report.fail(overlay, None, "no worker Deployments")
    for name, d in workers.items():
        period = pod_spec(d).get("terminationGracePeriodSeconds", 30)
        if period <= grace:
            report.fail(overlay, d, f"terminationGracePeriodSeconds {period} must exceed SCIMSYNC__WORKER__SHUTDOWN_GRACE_SECS {grace}")
        owners = [s for s in scaled.values() if s["spec"]["scaleTargetRef"]["name"] == name]
        if len(owners) != 1:
            report.fail(overlay, d, f"needs exactly one ScaledObject, has {len(owners)}")
        if "replicas" in d["spec"]:
            report.fail(overlay, d, "sets replicas, which KEDA owns (an apply would reset the count)")
        if f"scimsync.{name}" not in work_queues:
            report.fail(overlay, d, f"no work queue scimsync.{name} in the RabbitMQ definitions")
    for so in scaled.values():
        spec = so["spec"]
        target = spec["scaleTargetRef"]["name"]
        if target not in workers:
            report.fail(overlay, so, f"targets {target}, which is not a worker Deployment")
        low, high = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
        if low > high:
            report.fail(overlay, so, f"minReplicaCount {low} > maxReplicaCount {high}")
        fallback = spec.get("fallback", {}).get("replicas")
        if fallback is not None and not low <= fallback <= high:
            report.fail(overlay, so, f"fallback replicas {fallback} outside [{low}, {high}]")
        for t in spec["triggers"]:
            meta = t["metadata"]
            if t["type"] != "rabbitmq" or meta.get("mode") != "QueueLength":
                report.fail(overlay, so, "trigger must be rabbitmq in QueueLength mode")
            if meta.get("queueName") != f"scimsync.{target}":
                report.fail(overlay, so, f"scales on {meta.get('queueName')}, not its own queue scimsync.{target}")
            if meta.get("queueName") not in queues:
                report.fail(overlay, so, f"queue {meta.get('queueName')} is not in the RabbitMQ definitions")
            auth = t.get("authenticationRef", {}).get("name")
            if auth not in auths:
                report.fail(overlay, so, f"authenticationRef {auth} does not exist")


COMPOSE_SERVICE_KEYS = {
    "image", "build", "command", "entrypoint", "environment", "env_file", "ports", "expose",
    "depends_on", "healthcheck", "restart", "read_only", "user", "cap_drop", "cap_add",
    "security_opt", "tmpfs", "volumes", "stop_grace_period", "stop_signal", "hostname",
    "container_name", "labels", "networks", "deploy", "profiles", "init", "pull_policy",
}
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return int(duration[:-1]) * units[duration[-1]] if duration[-1] in units else int(duration)


def check_compose(path: Path, deployments: set[str], report: Report) -> None:
    where = path.name
    compose = yaml.safe_load(path.read_text())
    services: dict = compose.get("services", {})
    unknown_top = set(compose) - {"name", "services", "volumes", "networks", "configs", "secrets"}
    unknown_top -= {k for k in compose if k.startswith("x-")}
    if unknown_top:
        report.fail(where, None, f"unknown top-level keys {sorted(unknown_top)}")
    for name in sorted(deployments | {"migrate"}):
        if name not in services:
            report.fail(where, None, f"no service {name} (deployed on Kubernetes)")
    for name, svc in services.items():
        obj = {"kind": "service", "metadata": {"name": name}}
        if set(svc) - COMPOSE_SERVICE_KEYS:
            report.fail(where, obj, f"unknown keys {sorted(set(svc) - COMPOSE_SERVICE_KEYS)}")
        for dep, spec in (svc.get("depends_on") or {}).items():
            if dep not in services:
                report.fail(where, obj, f"depends on missing service {dep}")
            if spec.get("condition") not in CONDITIONS:
                report.fail(where, obj, f"depends on {dep} with unknown condition {spec.get('condition')}")
            if dep == "migrate" and spec.get("condition") != "service_completed_successfully":
                report.fail(where, obj, "must wait for the migration to complete")
        if name == "migrate":
            if svc.get("restart") != "no":
                report.fail(where, obj, "the migration is one-shot: restart must be \"no\"")
            continue
        check = svc.get("healthcheck")
        if not check or not check.get("test"):
            report.fail(where, obj, "no health check")
        elif set(check) - HEALTHCHECK_KEYS:
            report.fail(where, obj, f"unknown healthcheck keys {sorted(set(check) - HEALTHCHECK_KEYS)}")
        if name in deployments:
            if svc.get("image") != services["migrate"].get("image"):
                report.fail(where, obj, "does not use the one scimsync image")
            if "migrate" not in (svc.get("depends_on") or {}) and name != "ingest":
                report.fail(where, obj, "does not wait for the migration")
            if not (svc.get("read_only") and svc.get("cap_drop") == ["ALL"] and str(svc.get("user", "0")).split(":")[0] not in ("0", "root")):
                report.fail(where, obj, "needs read_only, cap_drop [ALL] and a non-root user")
            env = svc.get("environment") or {}
            grace = int(env.get("SCIMSYNC__WORKER__SHUTDOWN_GRACE_SECS", 0) or 0)
            if "SCIMSYNC__WORKER__LISTEN" in env and seconds(svc.get("stop_grace_period", "10s")) <= max(grace, 25):
                report.fail(where, obj, "stop_grace_period must exceed the workers' shutdown grace (25 s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k8s-version", action="append", required=True)
    parser.add_argument("--compose", type=Path, help="docker-compose file to check")
    parser.add_argument("--dockerfile", type=Path, help="the Dockerfile of the one image")
    parser.add_argument("--self-test", action="store_true", help="prove the image check fails on a Dockerfile missing a binary")
    parser.add_argument("rendered", nargs="+", help="OVERLAY=path/to/rendered.yaml")
    args = parser.parse_args()
    if args.self_test:
        return self_test(args)

    report = Report()
    total = 0
    deployments: set[str] = set()
    rendered: dict[str, list[dict]] = {}
    for item in args.rendered:
        overlay, _, path = item.partition("=")
        docs = load(Path(path))
        rendered[overlay] = docs
        total += len(docs)
        deployments |= set(by_kind(docs, "Deployment"))
        kinds = sorted({d["kind"] for d in docs})
        print(f"  {overlay}: {len(docs)} objects ({', '.join(kinds)})")
        before = len(report.problems)
        validate_schemas(overlay, docs, args.k8s_version, report)
        # The rules read typed fields: only meaningful once the schemas hold.
        if len(report.problems) == before:
            check_rules(overlay, docs, report)
        else:
            print(f"  {overlay}: schema errors, deployment rules not checked")
    if args.compose:
        check_compose(args.compose, deployments, report)
        print(f"  {args.compose.name}: {len(yaml.safe_load(args.compose.read_text())['services'])} services")
    if args.dockerfile:
        print(f"  {image.check_image(args.dockerfile, ROOT, rendered, args.compose, report)}")
    for problem in report.problems:
        print(f"  FAIL {problem}")
    versions = ", ".join(args.k8s_version)
    if report.problems:
        print(f"validate: {len(report.problems)} problem(s) in {total} objects (Kubernetes {versions})")
        return 1
    compose = f"; {args.compose.name} consistent" if args.compose else ""
    compose += f"; the image runs what they run" if args.dockerfile else ""
    print(f"validate: {total} objects valid against Kubernetes {versions} and KEDA schemas; deployment rules hold{compose}")
    return 0


def self_test(args: argparse.Namespace) -> int:
    if not args.dockerfile:
        print("validate: --self-test needs --dockerfile")
        return 2
    rendered = {}
    for item in args.rendered:
        overlay, _, path = item.partition("=")
        rendered[overlay] = load(Path(path))
    wrong = image.self_test(args.dockerfile, ROOT, rendered, args.compose, Report)
    for problem in wrong:
        print(f"  FAIL {problem}")
    if wrong:
        print(f"validate --self-test: the image check missed {len(wrong)} problem(s)")
        return 1
    copied, _ = image.image_programs(args.dockerfile.read_text())
    print(f"validate --self-test: a Dockerfile without any one of {', '.join(sorted(copied))} fails, naming it wherever it runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
