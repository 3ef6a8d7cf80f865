#!/bin/sh
# Install the Debian packages the benchmark needs on top of the project's own
# (scripts/deps.sh), when any is missing: gnuplot for the plot, zstd and gzip
# for the baselines, attr for getfattr/setfattr, fuse3 for fusermount3.
# Uses sudo when not run as root.
set -e
PKGS="gnuplot-nox zstd gzip attr fuse3"
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
