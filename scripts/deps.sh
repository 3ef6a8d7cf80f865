#!/bin/sh
# Install Debian packages when any is missing (apt-get; sudo when not root).
#
#   scripts/deps.sh            what topicfs builds, tests and mounts with
#   scripts/deps.sh PKG...     those packages (make fuzz, make bench)
set -e
PKGS="gcc make pkg-config libfuse3-dev fuse3 libzstd-dev zstd libcriterion-dev attr python3"
[ $# -gt 0 ] && PKGS="$*"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
