#!/usr/bin/env bash
# The Docker test: build the image, run it against the fake iRacing and fake Discord, and check
# /health, /metrics, a race result arriving in Discord, an online SQLite backup, a clean SIGTERM
# stop (exit code 0), that /data kept the database, and a restart on the restored backup.
# Also checks docker-compose.yml with `docker-compose config`.
#
# On machines without a Docker engine or Docker Hub (see docs/running.md, "Building without
# Docker Hub") it installs docker.io and debootstrap, starts dockerd without a bridge network,
# and makes the Python base image from Debian's packages once (cached as local/bookworm-python:3.11).
# Everything it starts (fakes, containers, the daemon) is stopped by id when it ends.
#
# Settings (environment): IR2DIS_DOCKER_BASE (base image; default: python:3.11-slim-bookworm when it
# can be found locally, else the Debian-built one), IR2DIS_DOCKER_TAG (default ir2dis:test),
# PYTHON (the interpreter with the test dependencies; default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
TAG=${IR2DIS_DOCKER_TAG:-ir2dis:test}
DEBIAN_BASE=local/bookworm-python:3.11
DOCKER=docker
[ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker   # Debian's CLI has BuildKit built in

WORK=$(mktemp -d /tmp/ir2dis-docker-test.XXXXXX)
CONTAINERS=()
PIDS=()
DOCKERD_PID=""

log() { printf '[docker-test] %s\n' "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

cleanup() {
    local rc=$?
    set +e
    for cid in "${CONTAINERS[@]}"; do
        if [ "$rc" -ne 0 ]; then
            log "logs of container $cid (last 40 lines):"
            "$DOCKER" logs --tail 40 "$cid" 2>&1 | cut -c1-400 >&2
        fi
        "$DOCKER" rm -f "$cid" >/dev/null 2>&1
    done
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    if [ -n "$DOCKERD_PID" ]; then
        kill -TERM "$DOCKERD_PID" 2>/dev/null
        for _ in $(seq 1 30); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 1; done
    fi
    rm -rf "$WORK"
    if [ "$rc" -eq 0 ]; then log "PASS"; else log "FAILED (exit $rc)"; fi
    exit "$rc"
}
trap cleanup EXIT

jget() { "$PYTHON" -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])[sys.argv[1]])' "$1"; }
free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# --- 1. A Docker engine ------------------------------------------------------------------------
ensure_engine() {
    if "$DOCKER" info >/dev/null 2>&1; then return 0; fi
    if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
        log "installing docker.io, docker-compose and debootstrap from Debian"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io docker-compose debootstrap >/dev/null
        [ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker
    fi
    log "starting dockerd without a bridge network"
    dockerd --bridge=none --iptables=false --ip-masq=false >"$WORK/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 1 60); do "$DOCKER" info >/dev/null 2>&1 && return 0; sleep 1; done
    cat "$WORK/dockerd.log" >&2
    fail "dockerd did not come up"
}

debian_mirror() {
    local uri
    uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list 2>/dev/null \
          | grep -v security | grep -oE 'https?://[^ ]*debian[^ ]*' | head -n 1 || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

choose_base() {
    if [ -n "${IR2DIS_DOCKER_BASE:-}" ]; then echo "$IR2DIS_DOCKER_BASE"; return; fi
    if "$DOCKER" image inspect python:3.11-slim-bookworm >/dev/null 2>&1; then echo python:3.11-slim-bookworm; return; fi
    if ! "$DOCKER" image inspect "$DEBIAN_BASE" >/dev/null 2>&1; then
        log "making the base image $DEBIAN_BASE with debootstrap (once; about a minute)"
        debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
            bookworm "$WORK/rootfs" "$(debian_mirror)" >"$WORK/debootstrap.log" 2>&1 \
            || { tail -20 "$WORK/debootstrap.log" >&2; fail "debootstrap failed"; }
        tar -C "$WORK/rootfs" -c . | "$DOCKER" import - "$DEBIAN_BASE" >/dev/null
        rm -rf "$WORK/rootfs"
    fi
    echo "$DEBIAN_BASE"
}

ensure_engine
BASE=$(choose_base)

# --- 2. docker-compose config ------------------------------------------------------------------
log "checking docker-compose.yml"
mkdir -p "$WORK/compose"
cp docker-compose.yml "$WORK/compose/"
cp .env.example "$WORK/compose/.env"
COMPOSE=(docker-compose)
command -v docker-compose >/dev/null 2>&1 || COMPOSE=("$DOCKER" compose)
(cd "$WORK/compose" && "${COMPOSE[@]}" config -q) || fail "docker-compose config rejected docker-compose.yml"
(cd "$WORK/compose" && "${COMPOSE[@]}" --profile postgres --profile mariadb config --services) >"$WORK/services"
for service in bot postgres mariadb; do
    grep -qx "$service" "$WORK/services" || fail "compose lacks the $service service"
done

# --- 3. Build ----------------------------------------------------------------------------------
log "building $TAG on $BASE"
BUILD_ARGS=(--network host --build-arg "PYTHON_IMAGE=$BASE" -t "$TAG")
[ -f /etc/ssl/certs/ca-certificates.crt ] && BUILD_ARGS+=(--secret id=cacert,src=/etc/ssl/certs/ca-certificates.crt)
DOCKER_BUILDKIT=1 "$DOCKER" build "${BUILD_ARGS[@]}" . >"$WORK/build.log" 2>&1 \
    || { tail -40 "$WORK/build.log" >&2; fail "docker build failed"; }
[ "$("$DOCKER" image inspect -f '{{.Config.User}}' "$TAG")" = "ir2dis" ] || fail "the image does not run as the ir2dis user"
"$DOCKER" image inspect -f '{{json .Config.Healthcheck.Test}}' "$TAG" | grep -q standalone.healthcheck \
    || fail "the image has no HEALTHCHECK"

# --- 4. The fakes --------------------------------------------------------------------------------
IR_PORT=$(free_port); DC_PORT=$(free_port); HEALTH_PORT=$(free_port)
"$PYTHON" -m tests.fakes.iracing_api --port "$IR_PORT" >"$WORK/iracing.log" 2>&1 &
PIDS+=($!)
"$PYTHON" -m tests.fakes.discord_api --port "$DC_PORT" >"$WORK/discord.log" 2>&1 &
PIDS+=($!)
IRACING=http://127.0.0.1:$IR_PORT
DISCORD=http://127.0.0.1:$DC_PORT
for _ in $(seq 1 30); do
    "$PYTHON" -c "import urllib.request as u; u.urlopen('$DISCORD/_fake/info', timeout=2); u.urlopen('$IRACING/_fake/stats', timeout=2)" \
        >/dev/null 2>&1 && break
    sleep 0.5
done
WORLD=$("$PYTHON" -m tests.docker.scenario world --discord "$DISCORD" --iracing "$IRACING") || fail "could not set up the fakes: $WORLD"
GENERAL=$(echo "$WORLD" | jget general); RESULTS=$(echo "$WORLD" | jget results)

# --- 5. Run the image ------------------------------------------------------------------------------
DATA=$WORK/data
mkdir -p "$DATA"
chown 1000:1000 "$DATA" 2>/dev/null || chmod 0777 "$DATA"
# Secrets go through a file, not the command line.
"$PYTHON" - "$WORK/bot.env" <<PY
import sys
from tests.fakes.iracing_api import FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FAKE_EMAIL, FAKE_PASSWORD
values = {
    "DISCORD_TOKEN": "fake-bot-token",
    "IRACING_EMAIL": FAKE_EMAIL, "IRACING_PASSWORD": FAKE_PASSWORD,
    "IRACING_CLIENT_ID": FAKE_CLIENT_ID, "IRACING_CLIENT_SECRET": FAKE_CLIENT_SECRET,
    "IRACING_API_BASE": "$IRACING", "IRACING_OAUTH_URL": "$IRACING/oauth2/token",
    "DISCORD_API_BASE": "$DISCORD", "HEALTH_PORT": "$HEALTH_PORT",
    "POLL_INTERVAL_SECONDS": "30", "MAX_IDLE_POLL_MINUTES": "1",
}
with open(sys.argv[1], "w") as f:
    f.writelines(f"{k}={v}\n" for k, v in values.items())
PY

BOT=""
run_bot() {  # sets BOT (not via $(...): the id must reach CONTAINERS in this shell for the clean-up)
    BOT=$("$DOCKER" run -d --network host --env-file "$WORK/bot.env" -v "$DATA:/data" "$TAG")
    CONTAINERS+=("$BOT")
}

stop_bot() {  # SIGTERM (docker stop), then the exit code must be 0
    local cid=$1 code
    "$DOCKER" stop -t 60 "$cid" >/dev/null
    code=$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$cid")
    [ "$code" = "0" ] || fail "container exited with $code after SIGTERM"
    "$DOCKER" logs "$cid" >"$WORK/stopped.log" 2>&1
    grep -q '"event": "bot_stopped", "exit_code": 0' "$WORK/stopped.log" || fail "no clean bot_stopped event in the logs"
}

log "starting the container"
run_bot
CID=$BOT
"$PYTHON" -m tests.docker.scenario health --url "http://127.0.0.1:$HEALTH_PORT/health" --timeout 120 \
    || fail "/health never answered 200"
log "/health answers 200"

METRICS=$("$PYTHON" -c "import urllib.request as u; print(u.urlopen('http://127.0.0.1:$HEALTH_PORT/metrics', timeout=5).read().decode())")
for name in ir2dis_poll_cycles_total ir2dis_posts_published_total ir2dis_rate_limit_remaining ir2dis_tracked_drivers; do
    grep -qE "^(# HELP )?$name[ {]" <<<"$METRICS" || fail "/metrics lacks $name"
done
log "/metrics serves the counters"

# Logs: one JSON object per line, and no secret anywhere.
"$DOCKER" logs "$CID" >"$WORK/logs1.txt" 2>&1
"$PYTHON" - "$WORK/logs1.txt" <<'PY' || fail "the container logs are not one JSON object per line"
import json, sys
lines = [line for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
assert lines, "no log lines"
for line in lines:
    record = json.loads(line)
    assert {"time", "level", "logger", "event"} <= record.keys(), line
PY

# --- 6. A race finishes; its result reaches Discord -------------------------------------------------------
log "tracking a driver and finishing a race (waits for the next poll cycle)"
RACE=$("$PYTHON" -m tests.docker.scenario race --discord "$DISCORD" --iracing "$IRACING" \
        --general "$GENERAL" --results "$RESULTS" --timeout 180) || fail "no result message arrived: $RACE"
SUBSESSION=$(echo "$RACE" | jget subsession_id)
log "result of subsession $SUBSESSION posted ($(echo "$RACE" | jget seconds_to_post) s after the race was published)"

# --- 7. Online SQLite backup (as docs/running.md describes it), then SIGTERM -----------------------------
"$DOCKER" exec "$CID" python -c "
import sqlite3
src = sqlite3.connect('file:/data/ir2dis.sqlite3?mode=rw', uri=True)  # never creates an empty one
dst = sqlite3.connect('/data/backup.sqlite3')
src.backup(dst)
dst.close(); src.close()
" || fail "online backup failed"
log "stopping the container with SIGTERM"
stop_bot "$CID"
"$DOCKER" logs "$CID" >"$WORK/logs1.txt" 2>&1
for secret in fake-bot-token fake-password-5678 fake-client-secret-1234 driver@example.com; do
    if grep -q -- "$secret" "$WORK/logs1.txt"; then fail "a secret appears in the container logs"; fi
done

# --- 8. /data kept the database, the backup holds the post -----------------------------------------------
[ -f "$DATA/ir2dis.sqlite3" ] || fail "/data lost the database"
[ -f "$DATA/red-config/Red-DiscordBot/config.json" ] || fail "/data lost the Red instance"
"$PYTHON" - "$DATA" "$SUBSESSION" "$RESULTS" <<'PY' || fail "the database or its backup lacks the post"
import sqlite3, sys
data, subsession, channel = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for name in ("ir2dis.sqlite3", "backup.sqlite3"):
    db = sqlite3.connect(f"file:{data}/{name}?mode=ro", uri=True)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", name
    rows = db.execute("SELECT message_id FROM post_history WHERE subsession_id = ?", (subsession,)).fetchall()
    assert len(rows) == 1 and rows[0][0], (name, rows)
    assert db.execute("SELECT channel_id FROM guild").fetchone()[0] == channel, name
PY
log "/data kept the database; the online backup holds the same post"

# --- 9. Restore the backup and start again on it: no second post, no new instance ----------------------
rm -f "$DATA/ir2dis.sqlite3" "$DATA/ir2dis.sqlite3-wal" "$DATA/ir2dis.sqlite3-shm"
cp "$DATA/backup.sqlite3" "$DATA/ir2dis.sqlite3"
chown 1000:1000 "$DATA/ir2dis.sqlite3" 2>/dev/null || chmod 0666 "$DATA/ir2dis.sqlite3"
log "starting again on the restored backup"
run_bot
CID2=$BOT
"$PYTHON" -m tests.docker.scenario health --url "http://127.0.0.1:$HEALTH_PORT/health" --timeout 120 \
    || fail "/health never answered 200 after the restore"
# One full poll cycle on the restored data (interval 30 s), then the results channel still holds one card.
# (Logs go through a file: `docker logs | grep -q` under pipefail can fail on SIGPIPE.)
for _ in $(seq 1 90); do
    "$DOCKER" logs "$CID2" >"$WORK/logs2.txt" 2>&1
    grep -q '"poll cycle done"\|"cycle_done"' "$WORK/logs2.txt" && break
    sleep 1
done
grep -q '"poll cycle done"\|"cycle_done"' "$WORK/logs2.txt" || fail "no poll cycle ran on the restored data"
if grep -q '"event": "red_instance_created"' "$WORK/logs2.txt"; then fail "the Red instance was created again"; fi
COUNT=$("$PYTHON" -m tests.docker.scenario count --discord "$DISCORD" --results "$RESULTS" | jget messages)
[ "$COUNT" = "1" ] || fail "the results channel holds $COUNT messages after the restore, expected 1"
stop_bot "$CID2"
log "restored data: healthy, nothing posted twice, clean stop"
