#!/usr/bin/env bash
# Local infrastructure for scimsync: PostgreSQL 15 and RabbitMQ (with the management plugin),
# run as plain background processes bound to 127.0.0.1 only, with all data, logs and pids
# under the git-ignored .local/ folder at the repository root. No docker needed.
#
#   deploy/local/infra.sh install   install what is missing (Debian packages: the two servers,
#                                   curl, and chromium + chromium-driver for the console's
#                                   browser tests), nothing else
#   deploy/local/infra.sh start     start both servers (idempotent) and wait until ready
#   deploy/local/infra.sh stop      stop what `start` started (idempotent)
#   deploy/local/infra.sh status    tell whether each server is up
#   deploy/local/infra.sh crash postgres|rabbitmq   stop one server the way a crash would (no
#                                   clean shutdown; `start` brings it back), for drills
#   deploy/local/infra.sh env       print `export` lines for the services and the tests
#   deploy/local/infra.sh psql [ARGS...]         psql on the local scimsync database
#   deploy/local/infra.sh rabbitmqctl [ARGS...]  rabbitmqctl against the local node
#
# Ports: PostgreSQL 55432; RabbitMQ AMQP 55672, management HTTP 55673, Erlang distribution
# 55674, epmd 55675. None of them collides with a system-wide install (5432/5672/4369).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
LOCAL="$ROOT/.local"
RUN_DIR="$LOCAL/run"
LOG_DIR="$LOCAL/log"

READY_DEADLINE_SECS="${SCIMSYNC_INFRA_DEADLINE_SECS:-60}"
# A server recovering from a crash (alive, replaying or checkpointing) gets this long instead.
PG_RECOVERY_DEADLINE_SECS="${SCIMSYNC_PG_RECOVERY_DEADLINE_SECS:-600}"

# --- PostgreSQL -------------------------------------------------------------------------------
PG_VERSION=15
PG_BIN="/usr/lib/postgresql/$PG_VERSION/bin"
PG_HOST=127.0.0.1
PG_PORT=55432
PG_SUPERUSER=scimsync
PG_DATABASE=scimsync
PG_OS_USER=postgres # PostgreSQL refuses to run as root; the Debian package creates this user.
PG_BASE="$LOCAL/postgres"
PG_DATA="$PG_BASE/data"
PG_LOG="$LOG_DIR/postgres.log"
PG_PIDFILE="$RUN_DIR/postgres.pid"
PG_SOCKET_DIR="$PG_BASE/socket"
# A unix socket path is limited to ~107 bytes; a deep checkout falls back to a short /tmp dir.
if (( ${#PG_SOCKET_DIR} > 80 )); then
    PG_SOCKET_DIR="/tmp/scimsync-pg-$(printf '%s' "$ROOT" | md5sum | cut -c1-10)"
fi

# --- RabbitMQ ---------------------------------------------------------------------------------
RABBIT_HOME_DIR="/usr/lib/rabbitmq"
RABBIT_BIN="$RABBIT_HOME_DIR/bin"
RABBIT_AMQP_PORT=55672
RABBIT_MGMT_PORT=55673
RABBIT_DIST_PORT=55674
RABBIT_EPMD_PORT=55675
RABBIT_NODE="scimsync@localhost"
RABBIT_BASE="$LOCAL/rabbitmq"
RABBIT_LOG="$LOG_DIR/rabbitmq.log"
RABBIT_STDOUT="$LOG_DIR/rabbitmq.stdout.log"
RABBIT_PIDFILE="$RUN_DIR/rabbitmq.pid"
RABBIT_API="http://guest:guest@127.0.0.1:$RABBIT_MGMT_PORT/api"

log() { printf 'infra: %s\n' "$*" >&2; }
die() { printf 'infra: error: %s\n' "$*" >&2; exit 1; }

now() { date +%s.%N; }
elapsed_since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }

pid_alive() { # pid_alive FILE: the pid recorded in FILE is a live process
    local pid
    [[ -s "$1" ]] || return 1
    pid="$(head -n1 "$1" | tr -dc '0-9')"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

port_open() { # port_open PORT: something accepts TCP connections on 127.0.0.1:PORT
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

as_pg() { # run a command as the postgres OS user, from a dir it can enter
    (cd / && runuser -u "$PG_OS_USER" -- "$@")
}

# ============================================================================================
# install
# ============================================================================================

pkg_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

pids_of() { # pids_of USER COMMAND: pids of USER's processes named COMMAND (no procps needed)
    local uid dir
    uid="$(id -u "$1" 2>/dev/null)" || return 0
    for dir in /proc/[0-9]*; do
        [[ "$(cat "$dir/comm" 2>/dev/null)" == "$2" ]] || continue
        [[ "$(stat -c %u "$dir" 2>/dev/null)" == "$uid" ]] && echo "${dir#/proc/}"
    done
    return 0
}

cmd_install() {
    local missing=() pkg
    # chromium and chromium-driver: the console's tests drive a real headless browser over
    # WebDriver; fonts-dejavu-core gives its screenshots readable text.
    for pkg in "postgresql-$PG_VERSION" rabbitmq-server curl chromium chromium-driver fonts-dejavu-core; do
        pkg_installed "$pkg" || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        log "install: postgresql-$PG_VERSION, rabbitmq-server, curl, chromium and chromium-driver are already installed"
        return 0
    fi
    [[ "$(id -u)" == 0 ]] || die "install: must run as root to install: ${missing[*]}"

    log "install: installing ${missing[*]}"
    # Keep the package scripts from starting system-wide services (they would listen on
    # 5432/5672/4369 on all interfaces): a policy-rc.d that denies every start, only for the
    # duration of this install and only if the machine has none of its own.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\n# temporary, written by scimsync deploy/local/infra.sh install\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        own_policy=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
    if ((own_policy)); then
        rm -f "$policy"
        trap - EXIT
    fi

    # Belt and braces: whatever we just installed must not keep a system-wide server running.
    # Only processes of the packages installed right now are touched, and only by pid.
    # (Not `service rabbitmq-server status`: it runs rabbitmqctl, which itself starts epmd.)
    local just_installed=" ${missing[*]} " pid
    if [[ "$just_installed" == *" rabbitmq-server "* ]]; then
        if [[ -n "$(pids_of rabbitmq beam.smp)" ]]; then
            log "install: stopping the system-wide rabbitmq-server the package started"
            service rabbitmq-server stop || true
        fi
        # epmd (port 4369, all interfaces) left behind by the package's broker or its CLI.
        for pid in $(pids_of rabbitmq epmd); do
            log "install: stopping epmd pid $pid started by the rabbitmq-server package"
            kill -TERM "$pid" 2>/dev/null || true
        done
        disable_boot_service rabbitmq-server
    fi
    if [[ "$just_installed" == *" postgresql-$PG_VERSION "* ]]; then
        if pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
            log "install: stopping the system-wide PostgreSQL $PG_VERSION/main cluster the package started"
            pg_ctlcluster "$PG_VERSION" main stop || true
        fi
        disable_boot_service postgresql
    fi
    log "install: done"
}

disable_boot_service() {
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
        systemctl disable --now "$1" >/dev/null 2>&1 || true
    elif command -v update-rc.d >/dev/null; then
        update-rc.d "$1" disable >/dev/null 2>&1 || true
    fi
}

require_installed() {
    [[ -x "$PG_BIN/postgres" ]] || die "PostgreSQL $PG_VERSION is not installed: run '$0 install'"
    [[ -x "$RABBIT_BIN/rabbitmq-server" ]] || die "rabbitmq-server is not installed: run '$0 install'"
    command -v curl >/dev/null || die "curl is not installed: run '$0 install'"
    id -u "$PG_OS_USER" >/dev/null 2>&1 || die "the '$PG_OS_USER' user is missing (it comes with postgresql-common)"
}

# ============================================================================================
# PostgreSQL
# ============================================================================================

pg_ready() {
    "$PG_BIN/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_SUPERUSER" -d postgres
}

pg_running() { pid_alive "$PG_DATA/postmaster.pid" || pg_ready; }

# The postgres user must be able to walk down to its data dir: add the search (x) bit for
# others on any parent that lacks it (search only, never read). Typical only for /root/...
pg_ensure_traversable() {
    local dir="" part
    local -a parts
    IFS=/ read -r -a parts <<<"${PG_BASE#/}"
    for part in "${parts[@]}"; do # top-down: /a, /a/b, ...
        dir="$dir/$part"
        if ! runuser -u "$PG_OS_USER" -- test -x "$dir" 2>/dev/null; then
            log "postgres: adding o+x (traverse only) to $dir so user '$PG_OS_USER' can reach $PG_DATA"
            chmod o+x "$dir"
        fi
    done
}

pg_init() {
    log "postgres: initialising a new cluster in $PG_DATA"
    # trust authentication is acceptable ONLY because the server listens on 127.0.0.1 and on
    # a unix socket inside .local/ (listen_addresses in pg_write_settings): nothing off this
    # machine can reach it. Never copy this setup to a shared host.
    as_pg "$PG_BIN/initdb" --pgdata="$PG_DATA" --auth=trust --username="$PG_SUPERUSER" \
        --encoding=UTF8 --locale=C.UTF-8 >>"$PG_LOG" 2>&1 \
        || die "postgres: initdb failed; see $PG_LOG"
}

# Our settings live in their own file, rewritten at every start, so a change here reaches
# clusters initialised before it. postgresql.conf includes it last, so it wins over the lines
# earlier versions of this script appended there.
pg_write_settings() {
    cat >"$PG_DATA/scimsync.conf" <<EOF
# --- scimsync local development: written by deploy/local/infra.sh at every start ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
max_connections = 200
# The default, said out loud: a worker acknowledges a message once its commit returns (A3), so
# a commit must survive a crash. With it off, deploy/local/drill.sh lost manager links that
# were committed and acknowledged just before PostgreSQL crashed. The services ask for it on
# their connections anyway (scimsync_db::connect); the benchmark measured no cost.
synchronous_commit = on
# A first sync fills empty tables within seconds. With the default 1-minute naptime the planner
# keeps the statistics of the empty tables for the whole sync, and its cached plans scan whole
# tables where an index probe would do (docs/benchmarks.md, "Statistics of tables that start
# empty").
autovacuum_naptime = 5s
EOF
    chown "$PG_OS_USER:" "$PG_DATA/scimsync.conf"
    grep -q "^include_if_exists = 'scimsync.conf'" "$PG_DATA/postgresql.conf" \
        || printf "\ninclude_if_exists = 'scimsync.conf'\n" >>"$PG_DATA/postgresql.conf"
}

pg_start() {
    if pg_running; then
        log "postgres: already running on $PG_HOST:$PG_PORT"
        [[ -s "$PG_DATA/postmaster.pid" ]] && head -n1 "$PG_DATA/postmaster.pid" >"$PG_PIDFILE"
        pg_wait_ready "$(now)"
        return 0
    fi
    install -d -m 755 "$PG_BASE"
    chown "$PG_OS_USER:" "$PG_BASE"
    install -d -m 700 -o "$PG_OS_USER" "$PG_SOCKET_DIR"
    touch "$PG_LOG"
    chown "$PG_OS_USER:" "$PG_LOG"
    pg_ensure_traversable
    if [[ ! -s "$PG_DATA/PG_VERSION" ]]; then
        rm -rf "$PG_DATA"
        pg_init
    fi
    pg_write_settings
    # A stale postmaster.pid from a killed server is handled by postgres itself.
    local t0
    t0="$(now)"
    log "postgres: starting on $PG_HOST:$PG_PORT (log: $PG_LOG)"
    # setsid: own session, so the server outlives the shell (and make) that started it.
    setsid -w runuser -u "$PG_OS_USER" -- "$PG_BIN/pg_ctl" --pgdata="$PG_DATA" --log="$PG_LOG" \
        --no-wait start </dev/null >/dev/null 2>&1 \
        || die "postgres: pg_ctl start failed; see $PG_LOG"
    pg_wait_ready "$t0"
    head -n1 "$PG_DATA/postmaster.pid" >"$PG_PIDFILE"
    log "postgres: ready after $(elapsed_since "$t0") s (pid $(cat "$PG_PIDFILE"))"
}

pg_wait_ready() {
    local t0="$1" deadline=$((SECONDS + READY_DEADLINE_SECS))
    local recovery_deadline=$((SECONDS + PG_RECOVERY_DEADLINE_SECS)) said=0
    until pg_ready; do
        # After a crash the server replays its WAL, then syncs every file of every database in
        # its end-of-recovery checkpoint: on a busy disk that alone can take a minute. While the
        # server is alive and says so, it is recovering, not failing: wait longer.
        if ((SECONDS >= deadline && SECONDS < recovery_deadline)) \
            && [[ -s "$PG_DATA/postmaster.pid" ]] && pid_alive "$PG_DATA/postmaster.pid" \
            && tail -n 5 "$PG_LOG" | grep -Eq 'recovery|starting up|checkpoint starting'; then
            ((said)) || log "postgres: still recovering after ${READY_DEADLINE_SECS}s; waiting up to ${PG_RECOVERY_DEADLINE_SECS}s"
            said=1
            sleep 0.5
            continue
        fi
        if ((SECONDS >= deadline)); then
            tail -n 20 "$PG_LOG" >&2 || true
            die "postgres: not ready on $PG_HOST:$PG_PORT after ${READY_DEADLINE_SECS}s; see $PG_LOG"
        fi
        sleep 0.2
    done
    pg_create_database
}

pg_create_database() {
    local psql=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_SUPERUSER" -d postgres)
    if [[ "$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'")" != 1 ]]; then
        log "postgres: creating database $PG_DATABASE owned by $PG_SUPERUSER"
        "${psql[@]}" -c "CREATE DATABASE \"$PG_DATABASE\" OWNER \"$PG_SUPERUSER\"" >/dev/null
    fi
}

pg_stop() {
    if [[ -s "$PG_DATA/postmaster.pid" ]] && pid_alive "$PG_DATA/postmaster.pid"; then
        log "postgres: stopping"
        as_pg "$PG_BIN/pg_ctl" --pgdata="$PG_DATA" --mode=fast --timeout=60 --wait stop >/dev/null \
            || die "postgres: pg_ctl stop failed; see $PG_LOG"
        log "postgres: stopped"
    elif pg_ready; then
        log "postgres: something answers on $PG_HOST:$PG_PORT but was not started from $LOCAL; leaving it"
    else
        log "postgres: not running"
    fi
    rm -f "$PG_PIDFILE"
}

pg_status() {
    if pg_ready; then
        local who
        who="pid $(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null || echo '?')"
        pid_alive "$PG_DATA/postmaster.pid" || who="not started from $LOCAL"
        echo "postgres: up   postgres://$PG_SUPERUSER@$PG_HOST:$PG_PORT/$PG_DATABASE ($who)"
        return 0
    fi
    echo "postgres: down"
    return 1
}

# ============================================================================================
# RabbitMQ
# ============================================================================================

# Everything the broker and its CLI tools must agree on: node name, HOME (the Erlang cookie
# lives there), epmd port and address, and the loopback-only distribution interface.
rabbit_env() {
    export HOME="$RABBIT_BASE/home"
    export RABBITMQ_NODENAME="$RABBIT_NODE"
    export RABBITMQ_USE_LONGNAME=false
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT="$RABBIT_AMQP_PORT"
    export RABBITMQ_DIST_PORT="$RABBIT_DIST_PORT"
    export ERL_EPMD_PORT="$RABBIT_EPMD_PORT"
    export ERL_EPMD_ADDRESS=127.0.0.1
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    export RABBITMQ_MNESIA_BASE="$RABBIT_BASE/mnesia"
    export RABBITMQ_LOG_BASE="$LOG_DIR"
    export RABBITMQ_LOGS="$RABBIT_LOG"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$RABBIT_BASE/enabled_plugins"
    export RABBITMQ_CONFIG_FILE="$RABBIT_BASE/rabbitmq.conf"
    export RABBITMQ_ADVANCED_CONFIG_FILE="$RABBIT_BASE/advanced.config"
    # Ignore the system-wide /etc/rabbitmq/rabbitmq-env.conf: it belongs to the Debian service.
    export RABBITMQ_CONF_ENV_FILE="$RABBIT_BASE/rabbitmq-env.conf"
}

rabbit_write_config() {
    install -d -m 755 "$RABBIT_BASE" "$RABBIT_BASE/mnesia"
    install -d -m 700 "$RABBIT_BASE/home"
    : >"$RABBIT_BASE/rabbitmq-env.conf"
    [[ -e "$RABBIT_BASE/advanced.config" ]] || echo '[].' >"$RABBIT_BASE/advanced.config"
    echo '[rabbitmq_management].' >"$RABBIT_BASE/enabled_plugins"
    # Regenerated on every start so a port change here always takes effect. guest stays
    # restricted to loopback connections (the default), which is all we ever use.
    cat >"$RABBIT_BASE/rabbitmq.conf" <<EOF
# Generated by deploy/local/infra.sh; edits are overwritten on the next start.
listeners.tcp.default = 127.0.0.1:$RABBIT_AMQP_PORT
management.tcp.ip = 127.0.0.1
management.tcp.port = $RABBIT_MGMT_PORT
log.file.level = info
log.console = false
EOF
}

rabbit_api_ready() {
    [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$RABBIT_API/overview" 2>/dev/null)" == 200 ]] \
        && port_open "$RABBIT_AMQP_PORT"
}

rabbit_running() { pid_alive "$RABBIT_PIDFILE" || port_open "$RABBIT_AMQP_PORT" || port_open "$RABBIT_MGMT_PORT"; }

rabbit_start() {
    if rabbit_running; then
        log "rabbitmq: already running (AMQP 127.0.0.1:$RABBIT_AMQP_PORT)"
        rabbit_wait_ready "$(now)"
        return 0
    fi
    rabbit_write_config
    rabbit_env
    local t0 pid
    t0="$(now)"
    log "rabbitmq: starting node $RABBIT_NODE on 127.0.0.1:$RABBIT_AMQP_PORT (log: $RABBIT_LOG)"
    # Run the broker script directly (not the /usr/sbin wrapper, which switches to the
    # rabbitmq user and writes under /var). In its own session so it outlives this shell; the
    # recorded pid is the script, which turns SIGTERM into a clean broker shutdown.
    (cd "$RABBIT_BASE" && exec setsid "$RABBIT_BIN/rabbitmq-server" </dev/null >>"$RABBIT_STDOUT" 2>&1) &
    pid=$!
    echo "$pid" >"$RABBIT_PIDFILE"
    rabbit_wait_ready "$t0"
    log "rabbitmq: ready after $(elapsed_since "$t0") s (pid $pid, management http://127.0.0.1:$RABBIT_MGMT_PORT)"
}

rabbit_wait_ready() {
    local t0="$1" deadline=$((SECONDS + READY_DEADLINE_SECS))
    until rabbit_api_ready; do
        if [[ -s "$RABBIT_PIDFILE" ]] && ! pid_alive "$RABBIT_PIDFILE" && ! port_open "$RABBIT_AMQP_PORT"; then
            tail -n 30 "$RABBIT_STDOUT" >&2 2>/dev/null || true
            rm -f "$RABBIT_PIDFILE"
            die "rabbitmq: the broker exited during start-up; see $RABBIT_LOG and $RABBIT_STDOUT"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 30 "$RABBIT_LOG" >&2 2>/dev/null || true
            die "rabbitmq: not ready (GET $RABBIT_API/overview != 200) after ${READY_DEADLINE_SECS}s; see $RABBIT_LOG and $RABBIT_STDOUT"
        fi
        sleep 0.25
    done
}

rabbit_stop() {
    if ! pid_alive "$RABBIT_PIDFILE"; then
        if port_open "$RABBIT_AMQP_PORT"; then
            log "rabbitmq: something answers on 127.0.0.1:$RABBIT_AMQP_PORT but was not started from $LOCAL; leaving it"
        else
            log "rabbitmq: not running"
        fi
        rm -f "$RABBIT_PIDFILE"
        return 0
    fi
    rabbit_env
    local pid deadline
    pid="$(cat "$RABBIT_PIDFILE")"
    log "rabbitmq: stopping node $RABBIT_NODE"
    # Clean shutdown through the CLI (same node name, cookie and epmd as the broker); if the
    # CLI cannot reach the node, SIGTERM to the recorded start script does the same.
    if ! timeout 60 "$RABBIT_BIN/rabbitmqctl" -q -n "$RABBIT_NODE" stop >/dev/null 2>&1; then
        kill -TERM "$pid" 2>/dev/null || true
    fi
    deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            log "rabbitmq: still running after 30 s; killing pid $pid"
            # The start script leads its own process group (setsid): kill the script and the VM.
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.25
    done
    # The broker started its own epmd on our private port; it refuses to die while a node is
    # still registered, so this never disturbs anything else.
    epmd -port "$RABBIT_EPMD_PORT" -kill >/dev/null 2>&1 || true
    rm -f "$RABBIT_PIDFILE"
    log "rabbitmq: stopped"
}

rabbit_status() {
    if rabbit_api_ready; then
        local who
        who="pid $(cat "$RABBIT_PIDFILE" 2>/dev/null || echo '?')"
        pid_alive "$RABBIT_PIDFILE" || who="not started from $LOCAL"
        echo "rabbitmq: up   amqp://guest:guest@127.0.0.1:$RABBIT_AMQP_PORT, management http://127.0.0.1:$RABBIT_MGMT_PORT ($who)"
        return 0
    fi
    if pid_alive "$RABBIT_PIDFILE"; then
        echo "rabbitmq: starting or unhealthy (pid $(cat "$RABBIT_PIDFILE"), management API not answering; see $RABBIT_LOG)"
    else
        echo "rabbitmq: down"
    fi
    return 1
}

# ============================================================================================
# commands
# ============================================================================================

cmd_start() {
    require_installed
    install -d -m 755 "$LOCAL" "$RUN_DIR" "$LOG_DIR"
    pg_start
    rabbit_start
}

cmd_stop() {
    pg_stop
    rabbit_stop
}

# A crash, not a stop: PostgreSQL aborts at once (immediate mode, so its next start recovers
# from the WAL), and the broker's VM gets SIGKILL. deploy/local/drill.sh uses this.
cmd_crash() {
    case "${1:-}" in
        postgres)
            pid_alive "$PG_DATA/postmaster.pid" || die "postgres: not running from $LOCAL"
            as_pg "$PG_BIN/pg_ctl" --pgdata="$PG_DATA" --mode=immediate --wait stop >/dev/null \
                || die "postgres: pg_ctl stop --mode=immediate failed; see $PG_LOG"
            rm -f "$PG_PIDFILE"
            log "postgres: crashed (immediate stop; the next start recovers from the WAL)"
            ;;
        rabbitmq)
            pid_alive "$RABBIT_PIDFILE" || die "rabbitmq: not running from $LOCAL"
            local pid
            pid="$(cat "$RABBIT_PIDFILE")"
            # The start script leads its own process group (setsid): the script and the VM.
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
            while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
            rm -f "$RABBIT_PIDFILE"
            log "rabbitmq: crashed (SIGKILL to pid $pid and its VM)"
            ;;
        *) die "crash what? postgres or rabbitmq" ;;
    esac
}

cmd_status() {
    local rc=0
    pg_status || rc=1
    rabbit_status || rc=1
    return "$rc"
}

cmd_env() {
    cat <<EOF
export SCIMSYNC__DATABASE__URL='postgres://$PG_SUPERUSER@$PG_HOST:$PG_PORT/$PG_DATABASE'
export SCIMSYNC__AMQP__URL='amqp://guest:guest@127.0.0.1:$RABBIT_AMQP_PORT/%2f'
export SCIMSYNC_TEST_DATABASE_URL='postgres://$PG_SUPERUSER@$PG_HOST:$PG_PORT/postgres'
export SCIMSYNC_TEST_AMQP_URL='amqp://guest:guest@127.0.0.1:$RABBIT_AMQP_PORT'
export SCIMSYNC_TEST_RABBIT_API='http://guest:guest@127.0.0.1:$RABBIT_MGMT_PORT/api'
EOF
}

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    crash) cmd_crash "${2:-}" ;;
    env) cmd_env ;;
    psql) shift; exec "$PG_BIN/psql" -h "$PG_HOST" -p "$PG_PORT" -U "$PG_SUPERUSER" -d "$PG_DATABASE" "$@" ;;
    rabbitmqctl | rabbitmq-diagnostics | rabbitmq-plugins | rabbitmq-queues)
        tool="$1"; shift; rabbit_env; exec "$RABBIT_BIN/$tool" -n "$RABBIT_NODE" "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
esac
