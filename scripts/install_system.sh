#!/usr/bin/env bash
# System packages the native stack needs, from Debian's archive:
#   postgresql-15   the source database (binaries only: txlake runs its own instance)
#   openjdk-17      Kafka and Kafka Connect (skipped when a java is already on PATH)
#   maven           resolves the Kafka, Connect and Debezium jars from Maven Central
#   golang          builds MinIO from its Go module (skipped when go is on PATH)
#   chromium        the headless browser the UI tests drive (Playwright, no browser download)
# Idempotent and quick when everything is present. Needs root (or sudo).
set -euo pipefail

need=()
[[ -x /usr/lib/postgresql/15/bin/postgres ]] || need+=(postgresql-15)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
command -v go >/dev/null || need+=(golang-go)
command -v python3 >/dev/null || need+=(python3 python3-venv)
[[ -x /usr/bin/chromium ]] || need+=(chromium)

if [[ ${#need[@]} -eq 0 ]]; then
    echo "install_system: all system packages present" >&2
    exit 0
fi

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "install_system: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# policy-rc.d keeps Debian from starting a system-wide PostgreSQL cluster on
# port 5432: txlake runs its own instance there.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
