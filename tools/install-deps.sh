#!/usr/bin/env bash
# Install what building, testing and the demo need on Debian/Ubuntu, and
# nothing that is already there.  Uses sudo when not root.  Idempotent and
# quiet when everything is present, so `make check` can call it every time.
set -eu

# Debian packages: build dependencies, the compilers and tools the gates use,
# the real peers the tests talk to (AWS CLI, Prometheus tools), and what the
# packaging tests check with (man's warnings and lexgrog, systemd-analyze, a
# systemd booted in systemd-nspawn to run the unit, debhelper and lintian for
# make deb, debootstrap for make package-test, shellcheck and cloud-init's
# schema check for the user data examples, rpmbuild for make rpm), and a
# browser and xmllint for ecs-place's pictures (DejaVu is the font they ask).
pkgs=(
        build-essential pkg-config clang libclang-rt-dev valgrind git
        libcurl4-openssl-dev libcjson-dev libsystemd-dev libssl-dev
        libmicrohttpd-dev libpcre2-dev zlib1g-dev libyaml-dev libgnutls28-dev libcrypt-dev
        libxml2-dev
        python3 python3-pip curl wrk groff-base man-db
        systemd systemd-container
        debhelper dpkg-dev lintian debootstrap shellcheck cloud-init rpm cpio
        prometheus-node-exporter prometheus
        chromium libxml2-utils fonts-dejavu-core
)

sudo=
if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "install-deps: not root and no sudo" >&2; exit 1; }
        sudo=sudo
fi

missing=()
for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The AWS CLI: any `aws` on PATH will do (pip's or Debian's).
command -v aws >/dev/null || missing+=(awscli)

if ((${#missing[@]})); then
        echo "install-deps: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        $sudo apt-get update -qq
        # Debian's prometheus package would start a server at install; we only want promtool.
        $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        for svc in prometheus prometheus-node-exporter; do
                $sudo systemctl disable --now "$svc" >/dev/null 2>&1 || true
        done
        # cloud-init is here for `cloud-init schema`: it must not configure
        # this machine at its next boot (cloud-init.disabled is its own switch).
        if [[ " ${missing[*]} " == *" cloud-init "* ]]; then
                $sudo mkdir -p /etc/cloud && $sudo touch /etc/cloud/cloud-init.disabled
        fi
fi

# make rpm takes the cJSON sources the spec bundles from `apt-get source
# cjson`: Debian's source indexes (deb-src), from the same mirrors as the
# binary ones, in a file of their own.
if ! apt-get source --print-uris -qq cjson >/dev/null 2>&1; then
        echo "install-deps: enabling deb-src (apt-get source cjson, for make rpm)"
        if [ -f /etc/apt/sources.list.d/debian.sources ]; then
                sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
                        $sudo tee /etc/apt/sources.list.d/debian-src.sources >/dev/null
        elif [ -f /etc/apt/sources.list ]; then
                sed -n 's/^deb /deb-src /p' /etc/apt/sources.list |
                        $sudo tee /etc/apt/sources.list.d/debian-src.list >/dev/null
        fi
        $sudo apt-get update -qq
fi

# moto is the ECS/IAM/STS endpoint of the tests.  Use the installed one; fall
# back to pip (then Debian's python3-moto) only when it is missing.
if ! python3 -c 'import moto, flask' >/dev/null 2>&1; then
        echo "install-deps: installing moto"
        python3 -m pip install --quiet 'moto[server]' 2>/dev/null ||
                python3 -m pip install --quiet --break-system-packages 'moto[server]' 2>/dev/null ||
                $sudo apt-get install -y -qq python3-moto python3-flask python3-flask-cors >/dev/null
fi
python3 -c 'import moto' || { echo "install-deps: moto is not importable" >&2; exit 1; }
command -v moto_server >/dev/null || python3 -c 'import moto.server' ||
        { echo "install-deps: moto_server is missing" >&2; exit 1; }
