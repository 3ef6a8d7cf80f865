#!/bin/sh
# Install what `make fuzz` needs (clang with libFuzzer, zstd headers) when
# any of it is missing, as scripts/deps.sh does. Uses sudo when not root.
set -e
PKGS="make clang libclang-rt-14-dev libzstd-dev"
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
