#!/usr/bin/env bash
# Create the project's .env for Docker users who have no Python (txlake does the
# same on first use: ensure_env_file in txlake/settings.py; keep the two alike).
#
#   scripts/init_env.sh
#
# - No .env yet: copy .env.example to .env.
# - Fill every blank value of POSTGRES_PASSWORD, DEBEZIUM_PASSWORD,
#   S3_SECRET_KEY, AIRFLOW_ADMIN_PASSWORD and TRINO_SOURCE_PASSWORD with a
#   random url-safe secret; append any of them missing from an older .env.
# - Never change a value that is already set; leave every other line as it is.
# - .env is made readable by its owner only (mode 600).
# - Link docker_all/.env to it, so `docker compose -f docker_all/docker-compose.yaml`
#   finds it without --env-file (compose looks for .env next to the compose file).
#
# TXLAKE_PROJECT_DIR and TXLAKE_ENV_FILE choose other locations, as for txlake.
set -euo pipefail

# The names txlake fills in too (txlake.settings.GENERATED_SECRETS).
GENERATED_SECRETS=(POSTGRES_PASSWORD DEBEZIUM_PASSWORD S3_SECRET_KEY AIRFLOW_ADMIN_PASSWORD
                   TRINO_SOURCE_PASSWORD)

root="${TXLAKE_PROJECT_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
env_file="${TXLAKE_ENV_FILE:-$root/.env}"
example="$root/.env.example"

log() { printf 'init_env: %s\n' "$*" >&2; }

# 24 random bytes, base64 without padding, '+' and '/' replaced: 32 characters
# of [A-Za-z0-9], safe in .env files, URLs, JDBC strings and YAML (as txlake's).
secret() {
    head -c 24 /dev/urandom | base64 | tr -d '\n=' | tr '+/' 'xy'
}

is_generated() {
    local name="$1" candidate
    for candidate in "${GENERATED_SECRETS[@]}"; do
        [[ "$candidate" == "$name" ]] && return 0
    done
    return 1
}

if [[ -f "$env_file" ]]; then
    source_file="$env_file"
    changed=0
else
    [[ -f "$example" ]] || { log "error: no $env_file and no .env.example in $root"; exit 1; }
    source_file="$example"
    changed=1
fi

umask 077
tmp="$(mktemp "$(dirname "$env_file")/.env.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
filled=()
while IFS= read -r line || [[ -n "$line" ]]; do
    if [[ "$line" == *=* ]]; then
        name="${line%%=*}"
        value="${line#*=}"
        name="${name//[[:space:]]/}"
        if is_generated "$name" && [[ -z "${value//[[:space:]]/}" ]]; then
            line="$name=$(secret)"
            filled+=("$name")
            changed=1
        fi
    fi
    printf '%s\n' "$line"
done <"$source_file" >"$tmp"
# A secret added after .env was made is appended.
for name in "${GENERATED_SECRETS[@]}"; do
    if ! grep -q "^[[:space:]]*$name[[:space:]]*=" "$tmp"; then
        printf '%s=%s\n' "$name" "$(secret)" >>"$tmp"
        filled+=("$name")
        changed=1
    fi
done

if [[ "$changed" == 1 ]]; then
    chmod 600 "$tmp"
    mv -f "$tmp" "$env_file"
    trap - EXIT
    if [[ "$source_file" == "$example" ]]; then
        log "created $env_file from .env.example"
    fi
    if ((${#filled[@]})); then
        log "generated ${filled[*]} in $env_file"
    fi
else
    log "$env_file already complete (nothing changed)"
fi
chmod 600 "$env_file"

# Compose reads the .env next to the compose file: point it at this one.
link="$root/docker_all/.env"
if [[ -d "$root/docker_all" ]]; then
    if [[ -L "$link" || ! -e "$link" ]]; then
        target="$env_file"
        [[ "$env_file" == "$root/.env" ]] && target="../.env"
        ln -sfn "$target" "$link"
        log "linked docker_all/.env -> $target"
    else
        log "warning: docker_all/.env is a regular file, left alone; compose reads it instead of $env_file"
    fi
fi
