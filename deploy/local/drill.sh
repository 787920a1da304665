#!/usr/bin/env bash
# A resilience drill against the running system (`make up` first, or `make drill`): while
# `scimsim simulate` plays two organisations' first sync and churn at a steady rate, one through
# each door (Stytch webhooks to ingest, and Entra-style SCIM requests to the SCIM service, whose
# outbox must carry every answered write to the queue), crash every part of the system in turn
# and bring it back. Each service gets SIGKILL (no clean shutdown:
# whatever it held in flight is lost with it), RabbitMQ's VM gets SIGKILL, PostgreSQL stops in
# immediate mode (it recovers from its WAL). The simulation must still converge to the
# generated truth with no mismatch, and nothing may be dead-lettered.
#
#   deploy/local/drill.sh [--users N] [--churn N] [--rate PER_SEC] [--scim-users N]
#                         [--scim-rate PER_SEC] [--every SECS] [--seed S]
#
# Defaults: 3,000 people, 3,000 churn operations, 100 webhooks/s (about a minute of sending); at
# the same time 1,500 people and 1,500 changes at 50 changes/s through the SCIM door (each change
# is one to a few requests); a crash 3 s after the system is back from the one before. Every crash must land while the
# simulation still runs, or the drill fails (send more, or more slowly). The services are those of SCIMSYNC_BIN_DIR (default target/debug), as for
# deploy/local/services.sh. Exit status: 0 when the product converged with nothing lost.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
INFRA="$ROOT/deploy/local/infra.sh"
SERVICES="$ROOT/deploy/local/services.sh"
RUN_DIR="$ROOT/.local/run"
BIN_DIR="${SCIMSYNC_BIN_DIR:-$ROOT/target/debug}"
SCIMCTL="$BIN_DIR/scimctl"
SCIMSIM="$BIN_DIR/scimsim"

USERS=3000
CHURN=3000
RATE=100
SCIM_USERS=1500
SCIM_RATE=50
EVERY=3
SEED=11
while (($#)); do
    case "$1" in
        --users) USERS="$2"; shift 2 ;;
        --churn) CHURN="$2"; shift 2 ;;
        --rate) RATE="$2"; shift 2 ;;
        --scim-users) SCIM_USERS="$2"; shift 2 ;;
        --scim-rate) SCIM_RATE="$2"; shift 2 ;;
        --every) EVERY="$2"; shift 2 ;;
        --seed) SEED="$2"; shift 2 ;;
        -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "drill: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

T0=$SECONDS
say() { printf 'drill: [%3ds] %s\n' "$((SECONDS - T0))" "$*" >&2; }
die() { say "error: $*"; exit 1; }

[[ -x "$SCIMCTL" && -x "$SCIMSIM" ]] || die "$SCIMCTL or $SCIMSIM not found; build first (make up)"
"$INFRA" status >/dev/null || die "the infrastructure is not up; run make up first"
"$SERVICES" status >/dev/null || die "not every service is up; run make up first"
eval "$("$INFRA" env)"

# Dead letters across the three DLQs (the drill compares before and after: a crash must
# cause retries, never a dead letter).
dead_letters() {
    "$SCIMCTL" dlq list | awk '$2 == "(all)" { n += $NF } END { print n + 0 }'
}

# SIGKILL one service, wait until it is gone, start it again (services.sh waits until ready).
crash_service() {
    local name="$1" pid
    pid="$(cat "$RUN_DIR/$name.pid" 2>/dev/null)" || die "$name: no pid file in $RUN_DIR"
    kill -0 "$pid" 2>/dev/null || die "$name: pid $pid is not running"
    say "SIGKILL $name (pid $pid)"
    kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    "$SERVICES" start >/dev/null 2>&1 || die "$name: did not start again; see .local/log/$name.log"
    say "$name is back (pid $(cat "$RUN_DIR/$name.pid"))"
}

crash_server() {
    say "crash $1"
    "$INFRA" crash "$1" 2>/dev/null
    "$INFRA" start >/dev/null 2>&1 || die "$1 did not start again"
    say "$1 is back"
}

before="$(dead_letters)"
say "simulating $USERS people and $CHURN changes at $RATE webhooks/s through Stytch, and $SCIM_USERS people and as many changes at $SCIM_RATE changes/s through SCIM; a crash $EVERY s after the system is back from the one before"
"$SCIMSIM" simulate --users "$USERS" --churn "$CHURN" --rate "$RATE" --duplicates 0.05 \
    --seed "$SEED" --retry-for 60 --timeout 600 > >(sed 's/^/stytch: /') 2>&1 &
simulation=$!
"$SCIMSIM" simulate --via scim --users "$SCIM_USERS" --churn "$SCIM_USERS" --rate "$SCIM_RATE" \
    --duplicates 0.05 --seed "$((SEED + 1))" --retry-for 60 --timeout 600 > >(sed 's/^/scim: /') 2>&1 &
scim_simulation=$!
trap 'kill "$simulation" "$scim_simulation" 2>/dev/null || true' EXIT

faults=(ingest scim user-upsert group-resolver rabbitmq manager-linker scim postgres admin-api user-upsert)
landed=0
for fault in "${faults[@]}"; do
    sleep "$EVERY"
    kill -0 "$simulation" 2>/dev/null || break
    kill -0 "$scim_simulation" 2>/dev/null || break
    case "$fault" in
        rabbitmq | postgres) crash_server "$fault" ;;
        *) crash_service "$fault" ;;
    esac
    landed=$((landed + 1))
done

status=0
wait "$simulation" || status=$?
scim_status=0
wait "$scim_simulation" || scim_status=$?
trap - EXIT
after="$(dead_letters)"
say "dead letters: $before before the drill, $after after"
((status == 0)) || die "the Stytch door's simulation failed (exit $status): see its report above"
((scim_status == 0)) || die "the SCIM door's simulation failed (exit $scim_status): see its report above"
((landed == ${#faults[@]})) || die "only $landed of ${#faults[@]} crashes landed while the simulation ran; send more (--users, --churn) or more slowly (--rate)"
((after <= before)) || die "$((after - before)) message(s) dead-lettered during the drill; see scimctl dlq list"
say "passed: ${#faults[@]} crashes, both doors converged with 0 mismatches, nothing dead-lettered"
