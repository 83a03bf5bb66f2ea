#!/usr/bin/env bash
# The Docker test (issue 7). Checks, in order:
#   1. docker-compose.yml passes `docker-compose config` (with every profile) and resolves as documented;
#   2. the image builds, runs as uid 1000, has the HEALTHCHECK, stops on SIGTERM, keeps /data;
#   3. run with --network host, .env.example filled in for the fake iRacing and fake Discord:
#      /health answers 200, /metrics serves the ir2dis_ metrics, every log line is JSON, no secret;
#   4. the owner tracks a driver, a race finishes, its result card arrives on the fake Discord;
#      then /health says "ok", the counters moved and Docker reports the container healthy;
#   5. an online SQLite backup (the command in the README) taken while the bot runs;
#   6. SIGTERM (docker stop) -> exit code 0, after shutdown_requested/bot_stopped in the logs;
#   7. /data kept the database and the Red instance; database and backup hold the post;
#   8. restore (the commands in the README) after deleting the database, start again on it:
#      healthy, the tracked driver is back, a poll cycle runs, nothing is posted twice, exit 0 again.
# Exit code 0 only when every check passed.
#
# Without a Docker engine or Docker Hub (see the README, "Building the image"), it installs what is
# missing from Debian (docker.io, docker-compose, debootstrap; needs root), starts dockerd without a
# bridge network, and makes the Python base image from Debian's packages once (kept as
# local/bookworm-python:3.11). Every wait is bounded. Whatever it started (fakes, containers, the
# daemon) is stopped by id on every exit path, also on SIGINT/SIGTERM.
#
# Settings (environment): IR2DIS_DOCKER_BASE (base image; default: python:3.11-slim-bookworm when
# it is present or can be pulled, else the Debian-built one), IR2DIS_DOCKER_TAG (default
# ir2dis:test), PYTHON (the interpreter with the test dependencies; default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
TAG=${IR2DIS_DOCKER_TAG:-ir2dis:test}
OFFICIAL_BASE=python:3.11-slim-bookworm
DEBIAN_BASE=local/bookworm-python:3.11
DOCKER=docker
[ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker   # Debian's CLI has BuildKit built in

WORK=$(mktemp -d /tmp/ir2dis-docker-test.XXXXXX)
CONTAINERS=()
FAKE_PIDS=()
DOCKERD_PID=""
CONTAINERD_PIDS=()
CHILD=""        # the bounded command running now, so that a signal ends it too
APT_UPDATED=""
T0=$SECONDS

log() { printf '[docker-test %3ds] %s\n' "$((SECONDS - T0))" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

# A process is gone once it has no /proc entry or is a zombie.
alive() { [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" != "Z" ]; }

stop_pid() {  # SIGTERM, up to $2 seconds, then SIGKILL; only for processes this script started
    local pid=$1 grace=$2 i
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < grace * 10; i++)); do alive "$pid" || break; sleep 0.1; done
        if alive "$pid"; then
            log "process $pid still running ${grace}s after SIGTERM; killing it"
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    wait "$pid" 2>/dev/null || true
}

# bounded SECONDS WHAT CMD...: CMD with a time limit. It runs in the background so that a signal
# to this script is handled at once (bash defers traps while a foreground command runs).
bounded() {
    local limit=$1 what=$2 rc=0
    shift 2
    timeout --kill-after=15 "$limit" "$@" </dev/null &
    CHILD=$!
    wait "$CHILD" || rc=$?
    CHILD=""
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then log "$what: no result within ${limit}s"; fi
    return "$rc"
}

dk() { timeout --kill-after=10 120 "$DOCKER" "$@"; }   # ordinary docker calls: never hang

show() {  # the last lines of a log file, for a failure report
    [ -s "$1" ] || return 0
    log "--- $2 (last ${3:-30} lines) ---"
    tail -n "${3:-30}" "$1" | cut -c1-400 >&2
}

cleanup() {
    local rc=$? cid pid mnt
    set +e
    trap '' INT TERM HUP   # finish the clean-up; every step in it is bounded
    [ -n "$CHILD" ] && stop_pid "$CHILD" 20
    if [ "$rc" -ne 0 ]; then
        for cid in "${CONTAINERS[@]}"; do
            dk logs "$cid" >"$WORK/failed-$cid.log" 2>&1
            show "$WORK/failed-$cid.log" "container ${cid:0:12}" 40
        done
        show "$WORK/iracing.log" "fake iRacing" 15
        show "$WORK/discord.log" "fake Discord" 15
        [ -n "$DOCKERD_PID" ] && show "$WORK/dockerd.log" "dockerd" 15
    fi
    for cid in "${CONTAINERS[@]}"; do
        dk rm -f "$cid" >/dev/null 2>&1 || log "could not remove container $cid"
    done
    for pid in "${FAKE_PIDS[@]}"; do stop_pid "$pid" 10; done
    if [ -n "$DOCKERD_PID" ]; then
        stop_pid "$DOCKERD_PID" 30
        # dockerd's own containerd ends with it; only if dockerd had to be killed can it remain
        # (the name check keeps a reused pid safe).
        for pid in "${CONTAINERD_PIDS[@]}"; do
            [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = containerd ] && stop_pid "$pid" 10
        done
        # The network namespace mount dockerd leaves behind; the next dockerd makes it again.
        if grep -q ' /run/docker/netns/default ' /proc/mounts; then umount /run/docker/netns/default; fi
    fi
    # An interrupted debootstrap leaves /proc and /sys mounted inside its root.
    awk -v w="$WORK/" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r | while read -r mnt; do
        umount -l "$mnt" 2>/dev/null
    done
    rm -rf "$WORK"
    if [ "$rc" -eq 0 ]; then log "PASS"; else log "FAILED (exit $rc)"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted (SIGINT)"; exit 130' INT
trap 'log "terminated (SIGTERM)"; exit 143' TERM
trap 'log "hung up (SIGHUP)"; exit 129' HUP

jget() { "$PYTHON" -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])[sys.argv[2]])' "$1" "$2"; }
free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
SCENARIO=("$PYTHON" -m tests.docker.scenario)
error_of() {  # the step's {"error": ...} line
    if [ -s "$1" ]; then tail -n 1 "$1" | cut -c1-600; else echo "(no answer; see above)"; fi
}

[ -x "$PYTHON" ] || fail "no Python with the test dependencies at $PYTHON (install: see README), or set PYTHON"

# --- 0. Tools and a Docker engine ------------------------------------------------------------------
install_packages() {  # from Debian, only what is missing
    [ "$#" -gt 0 ] || return 0
    [ "$(id -u)" = 0 ] || fail "$* missing: install them or run as root"
    log "installing $* from Debian"
    if [ -z "$APT_UPDATED" ]; then
        bounded 600 "apt-get update" apt-get update -qq >>"$WORK/apt.log" 2>&1 \
            || { show "$WORK/apt.log" apt-get; fail "apt-get update failed"; }
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive bounded 900 "apt-get install" \
        apt-get install -y -qq -o DPkg::Lock::Timeout=120 "$@" >>"$WORK/apt.log" 2>&1 \
        || { show "$WORK/apt.log" apt-get; fail "apt-get install $* failed"; }
    if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; fi
}

ensure_engine() {
    local i
    if dk info >/dev/null 2>&1; then log "using the running Docker engine"; return 0; fi
    if ! command -v dockerd >/dev/null 2>&1; then
        # No engine at all, so no base image either: one apt run for everything the test needs.
        local packages=(docker.io)
        command -v docker-compose >/dev/null 2>&1 || packages+=(docker-compose)
        command -v debootstrap >/dev/null 2>&1 || packages+=(debootstrap)
        install_packages "${packages[@]}"
    fi
    # A package install may have started one already (on machines with an init system).
    if dk info >/dev/null 2>&1; then log "using the running Docker engine"; return 0; fi
    [ "$(id -u)" = 0 ] || fail "no Docker engine answers, and starting dockerd needs root"
    log "starting dockerd without a bridge network (nothing leaves loopback)"
    # Its own session: a Ctrl-C or a signal to the whole group must not stop it before the
    # containers are removed; the clean-up stops it by id.
    setsid dockerd --bridge=none --iptables=false --ip-masq=false </dev/null >"$WORK/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for ((i = 0; i < 60; i++)); do
        if dk info >/dev/null 2>&1; then
            mapfile -t CONTAINERD_PIDS < <(pgrep -P "$DOCKERD_PID" -x containerd || true)
            return 0
        fi
        alive "$DOCKERD_PID" || { show "$WORK/dockerd.log" dockerd; DOCKERD_PID=""; fail "dockerd exited while starting"; }
        sleep 1
    done
    fail "dockerd did not answer within 60s"
}

ensure_compose() {
    COMPOSE=(docker-compose)
    command -v docker-compose >/dev/null 2>&1 && return 0
    COMPOSE=("$DOCKER" compose)
    dk compose version >/dev/null 2>&1 && return 0
    install_packages docker-compose
    COMPOSE=(docker-compose)
}

debian_mirror() {  # the Debian mirror apt uses here (it may be the only one reachable)
    local uri
    uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list 2>/dev/null \
          | grep -v security | grep -oE 'https?://[^ ]*debian[^ ]*' | head -n 1 || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

choose_base() {  # sets BASE
    if [ -n "${IR2DIS_DOCKER_BASE:-}" ]; then BASE=$IR2DIS_DOCKER_BASE; return 0; fi
    for BASE in "$OFFICIAL_BASE" "$DEBIAN_BASE"; do
        dk image inspect "$BASE" >/dev/null 2>&1 && return 0
    done
    BASE=$OFFICIAL_BASE
    if bounded 120 "docker pull" "$DOCKER" pull -q "$OFFICIAL_BASE" >"$WORK/pull.log" 2>&1; then return 0; fi
    log "$OFFICIAL_BASE cannot be pulled ($(head -c 200 "$WORK/pull.log")); making $DEBIAN_BASE with debootstrap"
    command -v debootstrap >/dev/null 2>&1 || install_packages debootstrap
    bounded 900 debootstrap debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
        bookworm "$WORK/rootfs" "$(debian_mirror)" >"$WORK/debootstrap.log" 2>&1 \
        || { show "$WORK/debootstrap.log" debootstrap 20; fail "debootstrap failed"; }
    # shellcheck disable=SC2016 # expanded by the inner bash, from its arguments
    bounded 300 "docker import" bash -o pipefail -c 'tar -C "$1" -c . | "$2" import - "$3"' _ \
        "$WORK/rootfs" "$DOCKER" "$DEBIAN_BASE" >"$WORK/import.log" 2>&1 \
        || { show "$WORK/import.log" "docker import"; fail "docker import of the Debian root failed"; }
    rm -rf "$WORK/rootfs"
    BASE=$DEBIAN_BASE
}

ensure_engine
ensure_compose
choose_base

# --- 1. docker-compose config ------------------------------------------------------------------------
log "checking docker-compose.yml with ${COMPOSE[*]} config"
mkdir -p "$WORK/compose"
cp docker-compose.yml "$WORK/compose/"
cp .env.example "$WORK/compose/.env"
(cd "$WORK/compose" && timeout 60 "${COMPOSE[@]}" config -q) >"$WORK/compose.log" 2>&1 \
    || { show "$WORK/compose.log" compose; fail "docker-compose config rejected docker-compose.yml"; }
(cd "$WORK/compose" && timeout 60 "${COMPOSE[@]}" --profile postgres --profile mariadb config) \
    >"$WORK/compose.yml" 2>"$WORK/compose.log" \
    || { show "$WORK/compose.log" compose; fail "docker-compose config rejected the postgres/mariadb profiles"; }
"$PYTHON" - "$WORK/compose.yml" <<'PY' || fail "docker-compose.yml does not resolve as documented"
import sys

import yaml

services = yaml.safe_load(open(sys.argv[1]))["services"]
assert {"bot", "postgres", "mariadb"} <= services.keys(), sorted(services)
bot = services["bot"]
assert bot["build"]["args"]["PYTHON_IMAGE"] == "python:3.11-slim-bookworm", bot["build"]
# docker-compose v1 prints "src:/data:rw", v2 a mapping with a target.
targets = [v["target"] if isinstance(v, dict) else v.split(":")[1] for v in bot["volumes"]]
assert "/data" in targets, bot["volumes"]
assert bot.get("stop_signal") == "SIGTERM", bot.get("stop_signal")
assert "standalone.healthcheck" in bot["healthcheck"]["test"], bot["healthcheck"]
PY

# --- 2. Build ------------------------------------------------------------------------------------------
log "building $TAG on $BASE"
OLD_IMAGE=$(dk image inspect -f '{{.Id}}' "$TAG" 2>/dev/null || true)
BUILD_ARGS=(--network host --build-arg "PYTHON_IMAGE=$BASE" -t "$TAG")
# shellcheck disable=SC2054 # one argument: the secret's id and source
[ -f /etc/ssl/certs/ca-certificates.crt ] && BUILD_ARGS+=(--secret id=cacert,src=/etc/ssl/certs/ca-certificates.crt)
DOCKER_BUILDKIT=1 bounded 1800 "docker build" "$DOCKER" build "${BUILD_ARGS[@]}" . >"$WORK/build.log" 2>&1 \
    || { show "$WORK/build.log" "docker build" 40; fail "docker build failed"; }
NEW_IMAGE=$(dk image inspect -f '{{.Id}}' "$TAG")
if [ -n "$OLD_IMAGE" ] && [ "$OLD_IMAGE" != "$NEW_IMAGE" ]; then
    dk image rm "$OLD_IMAGE" >/dev/null 2>&1 || true   # the previous run's image, now untagged
fi
[ "$(dk image inspect -f '{{.Config.User}}' "$TAG")" = "ir2dis" ] || fail "the image does not run as the ir2dis user"
dk image inspect -f '{{json .Config.Healthcheck.Test}}' "$TAG" | grep -q standalone.healthcheck \
    || fail "the image has no HEALTHCHECK"
[ "$(dk image inspect -f '{{.Config.StopSignal}}' "$TAG")" = "SIGTERM" ] || fail "the image's stop signal is not SIGTERM"
dk image inspect -f '{{json .Config.Volumes}}' "$TAG" | grep -q '"/data"' || fail "the image declares no /data volume"
log "image built ($(dk image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%d MB", $1 / 1e6}'))"

# --- 3. The fakes --------------------------------------------------------------------------------------
IR_PORT=$(free_port); DC_PORT=$(free_port); HEALTH_PORT=$(free_port)
"$PYTHON" -m tests.fakes.iracing --port "$IR_PORT" </dev/null >"$WORK/iracing.log" 2>&1 &
FAKE_PIDS+=($!)
"$PYTHON" -m tests.fakes.discord --port "$DC_PORT" </dev/null >"$WORK/discord.log" 2>&1 &
FAKE_PIDS+=($!)
IRACING=http://127.0.0.1:$IR_PORT
DISCORD=http://127.0.0.1:$DC_PORT
HEALTH=http://127.0.0.1:$HEALTH_PORT
fakes_up=""
for _ in $(seq 1 60); do
    if "$PYTHON" -c "import urllib.request as u; u.urlopen('$DISCORD/_fake/info', timeout=2); u.urlopen('$IRACING/_fake/stats', timeout=2)" \
        >/dev/null 2>&1; then fakes_up=1; break; fi
    sleep 0.5
done
[ -n "$fakes_up" ] || fail "the fake iRacing or fake Discord did not answer within 30s"
bounded 60 "setting up the fakes" "${SCENARIO[@]}" world --discord "$DISCORD" --iracing "$IRACING" >"$WORK/world.json" \
    || fail "could not set up the fakes: $(error_of "$WORK/world.json")"
GENERAL=$(jget "$WORK/world.json" general); RESULTS=$(jget "$WORK/world.json" results)
CUST_ID=$("$PYTHON" -c 'from tests.docker.scenario import CUST_ID; print(CUST_ID)')

# --- 4. Run the image ------------------------------------------------------------------------------------
DATA=$WORK/data
SAFE=$WORK/safe   # "somewhere safe" outside /data, where the backup is kept
mkdir -p "$DATA" "$SAFE"
chown 1000:1000 "$DATA" 2>/dev/null || chmod 0777 "$DATA"   # the image's user is uid 1000
# The user's path: .env.example with the required values filled in, and the fakes as endpoints.
# (Secrets go through a file, not the command line.)
"$PYTHON" - "$WORK/bot.env" "$IRACING" "$DISCORD" "$HEALTH_PORT" <<'PY'
import sys

from tests.docker.scenario import BOT_TOKEN
from tests.fakes.iracing import FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FAKE_EMAIL, FAKE_PASSWORD

path, iracing, discord, health_port = sys.argv[1:]
values = {
    "DISCORD_TOKEN": BOT_TOKEN,
    "IRACING_EMAIL": FAKE_EMAIL, "IRACING_PASSWORD": FAKE_PASSWORD,
    "IRACING_CLIENT_ID": FAKE_CLIENT_ID, "IRACING_CLIENT_SECRET": FAKE_CLIENT_SECRET,
    "IRACING_API_BASE": iracing, "IRACING_OAUTH_URL": f"{iracing}/oauth2/token",
    "DISCORD_API_BASE": discord, "HEALTH_PORT": health_port,
    # Short intervals so that a race is picked up within a minute.
    "POLL_INTERVAL_SECONDS": "30", "MAX_IDLE_POLL_MINUTES": "1",
}
lines = []
for line in open(".env.example", encoding="utf-8"):
    key = line.split("=", 1)[0].strip()
    lines.append(f"{key}={values.pop(key)}\n" if key in values and not line.startswith("#") else line)
lines += [f"{k}={v}\n" for k, v in values.items()]
with open(path, "w", encoding="utf-8") as f:
    f.writelines(lines)
PY

RUNS=0
BOT=""
run_bot() {  # sets BOT; the id comes from --cidfile, so even a half-started container is removed
    RUNS=$((RUNS + 1))
    local cidfile=$WORK/cid.$RUNS
    BOT=""
    bounded 120 "docker run" "$DOCKER" run -d --cidfile "$cidfile" --label ir2dis-docker-test=1 \
        --network host --env-file "$WORK/bot.env" -v "$DATA:/data" "$TAG" >"$WORK/run.log" 2>&1 || true
    if [ -s "$cidfile" ]; then BOT=$(cat "$cidfile"); CONTAINERS+=("$BOT"); fi
    if [ -z "$BOT" ] || [ "$(dk inspect -f '{{.State.Running}}' "$BOT" 2>/dev/null)" != "true" ]; then
        show "$WORK/run.log" "docker run"
        fail "the container did not start"
    fi
}

wait_health() {  # wait_health WHAT [--want ok]
    local what=$1
    shift
    bounded 150 "/health" "${SCENARIO[@]}" health --url "$HEALTH/health" --timeout 120 "$@" >"$WORK/health.json" \
        || fail "$what: $(error_of "$WORK/health.json")"
    log "$what: /health answers 200 ($(jget "$WORK/health.json" body | cut -c1-160))"
}

check_logs() {  # check_logs CONTAINER FILE ARGS...: all lines JSON, no secret, events as asked
    local cid=$1 file=$2
    shift 2
    dk logs "$cid" >"$file" 2>&1 || fail "docker logs failed"
    bounded 60 "log check" "${SCENARIO[@]}" logs --file "$file" "$@" >"$WORK/logs.json" \
        || fail "container logs: $(error_of "$WORK/logs.json")"
}

stop_bot() {  # docker stop sends the image's STOPSIGNAL (SIGTERM); SIGKILL only after 60 s
    local cid=$1 code
    bounded 90 "docker stop" "$DOCKER" stop --time 60 "$cid" >/dev/null || fail "docker stop failed"
    code=$(dk inspect -f '{{.State.ExitCode}}' "$cid")
    [ "$code" = "0" ] || fail "the container exited with $code after SIGTERM (137: it had to be killed)"
    check_logs "$cid" "$WORK/stopped-$RUNS.log" \
        --require "shutdown_requested:signal=SIGTERM" "bot_stopped:exit_code=0"
    log "SIGTERM: clean stop, exit code 0"
}

log "starting the container"
run_bot
CID=$BOT
wait_health "first start"
bounded 30 "/metrics" "${SCENARIO[@]}" metrics --url "$HEALTH/metrics" --require \
    ir2dis_poll_cycles_total ir2dis_results_fetched_total ir2dis_posts_published_total \
    ir2dis_post_failures_total ir2dis_dedupe_skips_total ir2dis_auth_failures_total \
    ir2dis_rate_limited_total ir2dis_cycle_duration_seconds ir2dis_tracked_drivers \
    ir2dis_guilds ir2dis_rate_limit_remaining >"$WORK/metrics.json" \
    || fail "$(error_of "$WORK/metrics.json")"
log "/metrics serves the ir2dis_ metrics"
check_logs "$CID" "$WORK/logs1.txt" --require startup health_server_started
log "logs: one JSON object per line, no secret"

# --- 5. A race finishes; its result reaches Discord -------------------------------------------------------
log "tracking a driver and finishing a race (the next poll cycle picks it up)"
bounded 240 "race" "${SCENARIO[@]}" race --discord "$DISCORD" --iracing "$IRACING" \
    --general "$GENERAL" --results "$RESULTS" --timeout 180 >"$WORK/race.json" \
    || fail "no result message arrived: $(error_of "$WORK/race.json")"
SUBSESSION=$(jget "$WORK/race.json" subsession_id)
log "result card of subsession $SUBSESSION arrived in #results ($(jget "$WORK/race.json" seconds_to_post) s after the race was published)"
wait_health "after the race" --want ok
bounded 30 "/metrics" "${SCENARIO[@]}" metrics --url "$HEALTH/metrics" --at-least \
    "ir2dis_posts_published_total=1" "ir2dis_poll_cycles_total{outcome=ok}=1" \
    "ir2dis_results_fetched_total=1" "ir2dis_tracked_drivers=1" "ir2dis_guilds=1" >"$WORK/metrics.json" \
    || fail "$(error_of "$WORK/metrics.json")"
log "/metrics counted the post: $(jget "$WORK/metrics.json" values)"
# The image's own HEALTHCHECK (first probe 30 s after the start).
state=""
for _ in $(seq 1 90); do
    state=$(dk inspect -f '{{.State.Health.Status}}' "$CID")
    [ "$state" = "healthy" ] && break
    [ "$state" = "unhealthy" ] && break
    sleep 1
done
[ "$state" = "healthy" ] || fail "Docker reports the container '$state', expected healthy"
log "Docker reports the container healthy"

# --- 6. Online SQLite backup (exactly as in the README), then SIGTERM ---------------------------------
bounded 60 "online backup" "$DOCKER" exec "$CID" python -c "
import sqlite3
src = sqlite3.connect('file:/data/ir2dis.sqlite3?mode=rw', uri=True)
dst = sqlite3.connect('/data/backup.sqlite3')
src.backup(dst); dst.close(); src.close()" >"$WORK/backup.log" 2>&1 \
    || { show "$WORK/backup.log" backup; fail "the online backup failed"; }
cp "$DATA/backup.sqlite3" "$SAFE/"
log "online backup taken while the bot runs"
log "stopping the container (docker stop: SIGTERM)"
stop_bot "$CID"

# --- 7. /data kept the database; the backup holds the same post --------------------------------------------
[ -f "$DATA/ir2dis.sqlite3" ] || fail "/data lost the database"
[ -f "$DATA/red-config/Red-DiscordBot/config.json" ] || fail "/data lost the Red instance"
"$PYTHON" - "$DATA/ir2dis.sqlite3" "$SAFE/backup.sqlite3" "$SUBSESSION" "$RESULTS" <<'PY' \
    || fail "the database or its backup lacks the post"
import sqlite3
import sys

*paths, subsession, channel = sys.argv[1:]
for path in paths:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", path
    rows = db.execute("SELECT message_id FROM post_history WHERE subsession_id = ?", (int(subsession),)).fetchall()
    assert len(rows) == 1 and rows[0][0], (path, rows)
    assert db.execute("SELECT channel_id FROM guild").fetchone()[0] == int(channel), path
    db.close()
PY
log "/data kept the database and the Red instance; the backup holds the same post"

# --- 8. Lose the database, restore the backup (as in the README), start again on it --------------------
rm -f "$DATA/ir2dis.sqlite3" "$DATA/backup.sqlite3"
(
    cd "$WORK"   # the doc's commands run next to ./data
    rm -f data/ir2dis.sqlite3-wal data/ir2dis.sqlite3-shm
    cp "$SAFE/backup.sqlite3" data/ir2dis.sqlite3 \
        && { chown 1000:1000 data/ir2dis.sqlite3 2>/dev/null || chmod 0666 data/ir2dis.sqlite3; }
) || fail "the restore commands failed"
log "database deleted and restored from the backup; starting again on it"
run_bot
CID2=$BOT
wait_health "after the restore"
bounded 90 "!iracing list" "${SCENARIO[@]}" command --discord "$DISCORD" --channel "$GENERAL" \
    --text "!iracing list" --expect "$CUST_ID" >"$WORK/list.json" \
    || fail "the restored bot does not list the tracked driver: $(error_of "$WORK/list.json")"
grep -q "<#$RESULTS>" "$WORK/list.json" || fail "the restored bot lost the results channel: $(cat "$WORK/list.json")"
# One poll cycle that polls the driver again on the restored data; the race must not be posted twice.
polled=""
for _ in $(seq 1 60); do
    dk logs "$CID2" >"$WORK/logs2.txt" 2>&1
    if "${SCENARIO[@]}" logs --file "$WORK/logs2.txt" --require "cycle_done:drivers_polled=1" >/dev/null 2>&1; then
        polled=1; break
    fi
    sleep 2
done
[ -n "$polled" ] || fail "no poll cycle polled the driver within 120s of the restore"
bounded 30 "count" "${SCENARIO[@]}" count --discord "$DISCORD" --results "$RESULTS" >"$WORK/count.json" \
    || fail "could not read #results: $(error_of "$WORK/count.json")"
COUNT=$(jget "$WORK/count.json" messages)
[ "$COUNT" = "1" ] || fail "#results holds $COUNT messages after the restore, expected 1 (posted twice?)"
check_logs "$CID2" "$WORK/logs2.txt" --require startup --forbid red_instance_created
log "restored data in use: the driver and channel are back, one cycle ran, nothing posted twice"
stop_bot "$CID2"
