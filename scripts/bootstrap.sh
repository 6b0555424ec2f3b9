#!/usr/bin/env bash
# Installs what building, running and testing TickerHub need, if it is missing. Idempotent.
#   scripts/bootstrap.sh run    -> what `make run` needs (the Swift toolchain, libzstd-dev)
#   scripts/bootstrap.sh test   -> plus Python 3 with a venv in .venv (websockets, pytest, the Python
#                                  client from clients/python), Chromium, Node with `ws` (the JS
#                                  client's test), Prometheus (promtool and the scrape test)
#   scripts/bootstrap.sh bench  -> plus the end-to-end benchmark's peers (Node `ws`, Go gorilla) and matplotlib
set -euo pipefail
cd "$(dirname "$0")/.."
purpose=${1:-test}

say() { printf '[bootstrap] %s\n' "$*"; }

if ! command -v swift >/dev/null 2>&1; then
  echo "error: the Swift toolchain (6.x) is required and is not on PATH" >&2
  exit 1
fi

# Debian packages, installed only when missing. Add to this list when a target needs a C library.
apt_packages=()
# zstd (the tickerhub.v1.zstd subprotocol) links libzstd through pkg-config.
command -v pkg-config >/dev/null 2>&1 || apt_packages+=(pkg-config)
apt_packages+=(libzstd-dev)
if [ "$purpose" = test ] || [ "$purpose" = bench ]; then
  command -v python3 >/dev/null 2>&1 || apt_packages+=(python3)
  python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || apt_packages+=(python3-venv)
  # A real browser for the dashboard test; Node and its `ws` for the JavaScript client's test;
  # TypeScript's compiler to check the client's type declarations against a program that uses them;
  # Prometheus (and promtool) for the deploy/ checks.
  # nats-server for the NATS client's tests (a real server, and a cluster of three).
  apt_packages+=(chromium chromium-driver nodejs node-ws node-typescript prometheus nats-server)
  # systemd-analyze for the unit file's check; a C compiler for the neutral load generator (wsload)
  # that the reconnect-storm test drives.
  apt_packages+=(systemd gcc libc6-dev make)
fi
if [ "$purpose" = bench ]; then
  # The peers of the end-to-end benchmark: Node `ws`, and Go with gorilla/websocket (built offline,
  # GOPATH mode); and a C compiler for the neutral load generator.
  apt_packages+=(nodejs node-ws golang-go golang-github-gorilla-websocket-dev gcc libc6-dev)
fi
missing=()
for package in "${apt_packages[@]:-}"; do
  [ -n "$package" ] || continue
  dpkg -s "$package" >/dev/null 2>&1 && continue
  # Installed some other way (Homebrew, dnf, by hand)?
  case "$package" in
    libzstd-dev) pkg-config --exists libzstd 2>/dev/null && continue ;;
    chromium) command -v chromium >/dev/null 2>&1 && continue ;;
    chromium-driver) command -v chromedriver >/dev/null 2>&1 && continue ;;
    python3-venv) python3 -c 'import venv, ensurepip' >/dev/null 2>&1 && continue ;;
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    node-typescript) command -v tsc >/dev/null 2>&1 && continue ;;
    nats-server) command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] && continue ;;
    prometheus) command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 && continue ;;
    golang-go) command -v go >/dev/null 2>&1 && continue ;;
    systemd) command -v systemd-analyze >/dev/null 2>&1 && continue ;;
    gcc) command -v cc >/dev/null 2>&1 && continue ;;
    make) command -v make >/dev/null 2>&1 && continue ;;
    gcc|libc6-dev) command -v cc >/dev/null 2>&1 && continue ;;
  esac
  missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ] && ! command -v apt-get >/dev/null 2>&1; then
  # Not Debian or Ubuntu: say what to install instead of failing somewhere in the build.
  cat >&2 <<EOF
[bootstrap] this system has no apt-get; install these yourself, then run make again:
  for                         Debian                  macOS (Homebrew)            Fedora (dnf)
  zstd (always)               libzstd-dev             brew install zstd           dnf install libzstd-devel
  pkg-config (always)         pkg-config              brew install pkg-config     dnf install pkgconf-pkg-config
  tests: Python 3, venv       python3-venv            brew install python         dnf install python3
  tests: Node and ws          nodejs node-ws          brew install node; npm i -g ws   dnf install nodejs nodejs-ws
  tests: TypeScript (tsc)     node-typescript         npm i -g typescript         npm i -g typescript
  tests: Prometheus           prometheus              brew install prometheus     dnf install golang-github-prometheus
  tests: NATS                 nats-server             brew install nats-server    dnf install nats-server
  tests: a real browser       chromium-driver         brew install --cask chromium chromedriver
                                                                                  dnf install chromium chromedriver
  benchmarks: peer servers    node-ws golang-go       brew install node go        dnf install nodejs golang
                              (and npm's ws for node; a C compiler for wsload)
    (and gorilla/websocket for the Go peer: golang-github-gorilla-websocket-dev on Debian)
missing here: ${missing[*]}
EOF
  exit 1
fi
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ "$purpose" = test ] || [ "$purpose" = bench ]; then
  requirements=IntegrationTests/requirements.txt
  stamp=.venv/.requirements.sha
  # The client package is installed as a user would (pip install ./clients/python), again whenever it changes.
  wanted=$( (sha256sum "$requirements"; find clients/python -type f -not -path '*/__pycache__/*' -not -path '*.egg-info*' \
            -not -path '*/build/*' | sort | xargs sha256sum) | sha256sum | cut -d' ' -f1)
  if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    say "creating .venv from $requirements, with clients/python"
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check -r "$requirements"
    .venv/bin/pip install -q --disable-pip-version-check "./clients/python[zstd]"
    echo "$wanted" > "$stamp"
  fi
fi

if [ "$purpose" = bench ]; then
  .venv/bin/python -c 'import matplotlib' >/dev/null 2>&1 || {
    say "installing Benchmarks/requirements.txt (matplotlib) into .venv"
    .venv/bin/pip install -q --disable-pip-version-check -r Benchmarks/requirements.txt
  }
fi
