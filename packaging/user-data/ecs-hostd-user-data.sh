#!/bin/bash
# EC2 user data: install ecs-hostd at the instance's first boot, on the
# ECS-optimized Amazon Linux 2023 AMI (the .rpm, with dnf) or on Ubuntu (the
# .deb, with apt), next to the official ECS agent or alone.
#
# In the spirit of `echo ECS_CLUSTER=catsndogsECScluster >> /etc/ecs/ecs.config`:
# it writes ECS_CLUSTER and ECS_INSTANCE_ATTRIBUTES to /etc/ecs/ecs.config,
# which the official agent and ecs-hostd both read, adds ecs-hostd's metrics
# port to ECS_RESERVED_PORTS (so no bridge-mode task is placed on it), then
# installs the package and starts the service.  Set the four values below;
# the environment overrides them.  Running it again changes nothing more.
#
# The packages are those `make rpm` and `make deb` build, put where the
# instance can fetch them (an S3 bucket, a web server): the .rpm built for
# AL2023 and the .deb built on the Ubuntu release the instance runs.
set -euo pipefail

ECS_CLUSTER=${ECS_CLUSTER:-catsndogsECScluster}
ECS_INSTANCE_ATTRIBUTES=${ECS_INSTANCE_ATTRIBUTES:-'{"stack": "prod", "team": "cats"}'}
ECS_HOSTD_PACKAGES_URL=${ECS_HOSTD_PACKAGES_URL:-https://my-bucket.s3.amazonaws.com/ecs-hostd}
ECS_HOSTD_VERSION=${ECS_HOSTD_VERSION:-0.1.0}

# The metrics endpoint's port (ECS_HOSTD_METRICS_LISTEN's default), and the
# official agent's ECS_RESERVED_PORTS default it is added to.
METRICS_PORT=51680
DEFAULT_RESERVED_PORTS='22, 2375, 2376, 51678, 51679'
# The root the files are written under: empty on an instance; tests set it.
ROOT=${ROOT:-}
CONFIG=$ROOT/etc/ecs/ecs.config

log() { echo "ecs-hostd user data: $*"; }

# set_key KEY VALUE: KEY=VALUE in the configuration, once, in place of any
# earlier line for KEY.
set_key() {
	local key=$1 value=$2 tmp
	tmp=$(mktemp "$CONFIG.XXXXXX")
	grep -v "^$key=" "$CONFIG" >"$tmp" || true
	printf '%s=%s\n' "$key" "$value" >>"$tmp"
	chmod 0644 "$tmp"
	mv "$tmp" "$CONFIG"
}

# reserved_ports: ECS_RESERVED_PORTS (a JSON array of numbers) with
# METRICS_PORT added, or the agent's default with it when unset.
reserved_ports() {
	local line ports p
	local -a list=()
	line=$(grep "^ECS_RESERVED_PORTS=" "$CONFIG" | tail -n 1 || true)
	ports=${line#ECS_RESERVED_PORTS=}
	[ -n "$line" ] || ports="[$DEFAULT_RESERVED_PORTS]"
	ports=${ports//[\[\] ]/}
	IFS=, read -r -a list <<<"$ports"
	for p in "${list[@]}"; do
		[ "$p" = "$METRICS_PORT" ] && { echo "[${ports//,/, }]"; return; }
	done
	list+=("$METRICS_PORT")
	ports=$(IFS=,; echo "${list[*]}")
	echo "[${ports//,/, }]"
}

write_config() {
	mkdir -p "$(dirname "$CONFIG")"
	touch "$CONFIG"
	set_key ECS_CLUSTER "$ECS_CLUSTER"
	set_key ECS_INSTANCE_ATTRIBUTES "$ECS_INSTANCE_ATTRIBUTES"
	set_key ECS_RESERVED_PORTS "$(reserved_ports)"
	log "$CONFIG: ECS_CLUSTER=$ECS_CLUSTER, ECS_RESERVED_PORTS=$(reserved_ports)"
}

# install_package: the .rpm on Amazon Linux, the .deb on Ubuntu/Debian.
install_package() {
	local id="" machine file
	# shellcheck disable=SC1091 # the instance's, not ours
	id=$(. "$ROOT/etc/os-release" && echo "${ID:-}")
	machine=$(uname -m)
	case "$id" in
	amzn)
		file=ecs-hostd-$ECS_HOSTD_VERSION-1.amzn2023.$machine.rpm
		curl -fsSL --retry 5 -o "/tmp/$file" "$ECS_HOSTD_PACKAGES_URL/$file"
		dnf install -y "/tmp/$file"
		;;
	ubuntu | debian)
		case "$machine" in x86_64) machine=amd64 ;; aarch64) machine=arm64 ;; esac
		file=ecs-hostd_${ECS_HOSTD_VERSION}_$machine.deb
		curl -fsSL --retry 5 -o "/tmp/$file" "$ECS_HOSTD_PACKAGES_URL/$file"
		DEBIAN_FRONTEND=noninteractive apt-get install -y "/tmp/$file"
		;;
	*)
		log "unsupported OS '$id' ($ROOT/etc/os-release): Amazon Linux 2023 or Ubuntu" >&2
		exit 1
		;;
	esac
	rm -f "/tmp/$file"
	log "installed $file"
}

write_config
install_package
# --no-block: user data runs inside cloud-final.service, and the unit starts
# after ecs.service, which on the ECS-optimized AMI waits for cloud-final: a
# blocking start would wait for itself.  The package may have started the
# service before: a restart reads the configuration written above.
systemctl enable ecs-hostd
systemctl restart --no-block ecs-hostd
log "ecs-hostd enabled and started"
