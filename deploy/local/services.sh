#!/usr/bin/env bash
# Runs the locally built scimsync services (target/debug/*) in the background against the local
# infrastructure of deploy/local/infra.sh. Logs: .local/log/<name>.log, pids: .local/run/<name>.pid.
#
#   deploy/local/services.sh start           start every service not running yet, wait until ready
#   deploy/local/services.sh stop            SIGTERM every service, wait up to 30 s
#   deploy/local/services.sh status          tell whether each service runs and answers
#   deploy/local/services.sh logs [NAME...]  follow the logs (all services by default)
#
# Build first: cargo build --bins (or use `make up`, which does everything).
set -euo pipefail

# The services, in start order. A new worker is one more word here: it gets its health
# endpoint on the next free port from WORKER_BASE_PORT (user-upsert 8091, then 8092, ...).
SERVICES="ingest user-upsert group-resolver manager-linker admin-api scim"

INGEST_READY_URL="http://127.0.0.1:8080/readyz"
ADMIN_READY_URL="http://127.0.0.1:8081/healthz"
# The SCIM service (tenant URL http://127.0.0.1:8082/scim/v2): ready while its database answers.
SCIM_READY_URL="http://127.0.0.1:8082/readyz"
WORKER_BASE_PORT=8091

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
LOCAL="$ROOT/.local"
RUN_DIR="$LOCAL/run"
LOG_DIR="$LOCAL/log"
BIN_DIR="${SCIMSYNC_BIN_DIR:-$ROOT/target/debug}"
READY_DEADLINE_SECS="${SCIMSYNC_SERVICES_DEADLINE_SECS:-60}"
# A service's log past this size is moved to <name>.log.1 (replacing the one before) when the
# service starts: every event leaves a line in each service's log, and a `make bench` writes
# gigabytes.
LOG_KEEP_BYTES="${SCIMSYNC_LOG_KEEP_BYTES:-268435456}"
STOP_GRACE_SECS=30

log() { printf 'services: %s\n' "$*" >&2; }
die() { printf 'services: error: %s\n' "$*" >&2; exit 1; }

pidfile() { echo "$RUN_DIR/$1.pid"; }
logfile() { echo "$LOG_DIR/$1.log"; }

rotate_log() {
    local file
    file="$(logfile "$1")"
    if [[ -f "$file" ]] && (($(stat -c %s "$file") > LOG_KEEP_BYTES)); then
        mv -f "$file" "$file.1"
        log "$1: log past $((LOG_KEEP_BYTES / 1048576)) MiB moved to $file.1"
    fi
}

# The worker health port of NAME: WORKER_BASE_PORT + its position among the workers.
worker_port() {
    local name="$1" n=0 s
    for s in $SERVICES; do
        case "$s" in ingest | admin-api | scim) continue ;; esac
        [[ "$s" == "$name" ]] && { echo $((WORKER_BASE_PORT + n)); return 0; }
        n=$((n + 1))
    done
    return 1
}

ready_url() {
    case "$1" in
        ingest) echo "$INGEST_READY_URL" ;;
        admin-api) echo "$ADMIN_READY_URL" ;;
        scim) echo "$SCIM_READY_URL" ;;
        *) echo "http://127.0.0.1:$(worker_port "$1")/healthz" ;;
    esac
}

answers_200() {
    [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null)" == 200 ]]
}

# The pid recorded for NAME, if that process is still alive.
recorded_pid() {
    local file pid
    file="$(pidfile "$1")"
    [[ -s "$file" ]] || return 1
    pid="$(tr -dc '0-9' <"$file")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

# The pid recorded for NAME, if that process is alive and really is the service binary
# (a rebuilt binary shows as ".../name (deleted)", which still counts).
running_pid() {
    local pid exe
    pid="$(recorded_pid "$1")" || return 1
    exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
    [[ -z "$exe" || "$exe" == "$BIN_DIR/$1"* ]] || return 1
    echo "$pid"
}

# The pid recorded for NAME if that process is alive but runs NAME from another build directory.
other_build_pid() {
    local pid exe
    pid="$(recorded_pid "$1")" || return 1
    exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
    [[ "$exe" == */"$1" || "$exe" == */"$1 (deleted)" ]] || return 1
    echo "$pid"
}

load_env() {
    eval "$("$ROOT/deploy/local/infra.sh" env)"
    export SCIMSYNC__TELEMETRY__LOG_FORMAT=json
}

cmd_start() {
    install -d -m 755 "$RUN_DIR" "$LOG_DIR"
    load_env
    local name bin pid started=()
    for name in $SERVICES; do
        if pid="$(running_pid "$name")"; then
            log "$name: already running (pid $pid)"
            continue
        fi
        # Keep the pid file of a build from another directory: it is the only record of that
        # process, and `stop` with that directory needs it.
        if pid="$(other_build_pid "$name")"; then
            die "$name: pid $pid runs $(readlink "/proc/$pid/exe"), not $BIN_DIR/$name; stop it first (SCIMSYNC_BIN_DIR=<its directory> deploy/local/services.sh stop)"
        fi
        rm -f "$(pidfile "$name")"
        bin="$BIN_DIR/$name"
        [[ -x "$bin" ]] || die "$name: $bin not found; build it first with 'cargo build --bins'"
        if answers_200 "$(ready_url "$name")"; then
            die "$name: something not started by this script already answers on $(ready_url "$name"); stop it first"
        fi
        rotate_log "$name"
        (
            case "$name" in
                ingest | admin-api | scim) ;;
                *)
                    SCIMSYNC__WORKER__LISTEN="127.0.0.1:$(worker_port "$name")"
                    export SCIMSYNC__WORKER__LISTEN
                    ;;
            esac
            # A JSON line like the service's own, so the log stays one JSON object per line.
            printf '{"timestamp":"%s","level":"INFO","fields":{"message":"starting %s (deploy/local/services.sh)"},"target":"services.sh"}\n' \
                "$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)" "$bin" >>"$(logfile "$name")"
            # setsid: its own session, so a Ctrl-C in the terminal that ran `make up` later
            # does not reach it; nohup: neither does the terminal closing.
            cd "$ROOT" && exec nohup setsid "$bin" </dev/null >>"$(logfile "$name")" 2>&1
        ) &
        echo "$!" >"$(pidfile "$name")"
        started+=("$name")
        log "$name: started (pid $!, log $(logfile "$name"))"
    done
    ((${#started[@]} > 0)) || { log "all services already running"; return 0; }

    local deadline=$((SECONDS + READY_DEADLINE_SECS)) url
    for name in "${started[@]}"; do
        url="$(ready_url "$name")"
        until answers_200 "$url"; do
            if ! kill -0 "$(cat "$(pidfile "$name")")" 2>/dev/null; then
                tail -n 20 "$(logfile "$name")" >&2 || true
                die "$name: exited during start-up; see $(logfile "$name")"
            fi
            if ((SECONDS >= deadline)); then
                tail -n 20 "$(logfile "$name")" >&2 || true
                die "$name: GET $url did not answer 200 within ${READY_DEADLINE_SECS}s; see $(logfile "$name")"
            fi
            sleep 0.25
        done
        log "$name: ready ($url)"
    done
}

cmd_stop() {
    local name pid pids=() names=()
    for name in $SERVICES; do
        if pid="$(running_pid "$name")"; then
            log "$name: SIGTERM to pid $pid"
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
            names+=("$name")
        elif pid="$(other_build_pid "$name")"; then
            # Keep the pid file: it is the only record of that process.
            log "$name: pid $pid runs $(readlink "/proc/$pid/exe"), not $BIN_DIR/$name; left running (stop it with SCIMSYNC_BIN_DIR set to its directory)"
        else
            log "$name: not running"
            rm -f "$(pidfile "$name")"
        fi
    done
    local deadline=$((SECONDS + STOP_GRACE_SECS)) i
    for i in "${!pids[@]}"; do
        while kill -0 "${pids[$i]}" 2>/dev/null; do
            if ((SECONDS >= deadline)); then
                log "${names[$i]}: still running after ${STOP_GRACE_SECS}s; SIGKILL (see $(logfile "${names[$i]}"))"
                kill -KILL "${pids[$i]}" 2>/dev/null || true
                break
            fi
            sleep 0.2
        done
        rm -f "$(pidfile "${names[$i]}")"
        log "${names[$i]}: stopped"
    done
}

cmd_status() {
    local name pid rc=0 url
    for name in $SERVICES; do
        url="$(ready_url "$name")"
        if pid="$(running_pid "$name")"; then
            if answers_200 "$url"; then
                printf '%-14s up      pid %-7s %s -> 200\n' "$name" "$pid" "$url"
            else
                printf '%-14s running pid %-7s %s not answering 200 (see %s)\n' "$name" "$pid" "$url" "$(logfile "$name")"
                rc=1
            fi
        else
            printf '%-14s down\n' "$name"
            rc=1
        fi
    done
    return "$rc"
}

cmd_logs() {
    local files=() name
    shift || true
    # shellcheck disable=SC2086 # word splitting of the list is intended
    (($# > 0)) || set -- $SERVICES
    for name in "$@"; do
        [[ " $SERVICES " == *" $name "* ]] || die "unknown service '$name' (known: $SERVICES)"
        files+=("$(logfile "$name")")
    done
    install -d -m 755 "$LOG_DIR"
    touch "${files[@]}"
    exec tail -n 50 -F "${files[@]}"
}

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    logs) cmd_logs "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
esac
