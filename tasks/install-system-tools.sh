#!/bin/sh
# Installs the Debian tools chainwarden's tests, demo and runtime use, when missing.
# command:package pairs; apt-get runs only if something is missing.
set -eu
missing=""
for pair in skopeo:skopeo bwrap:bubblewrap strace:strace docker-registry:docker-registry \
            busybox:busybox-static dpkg-deb:dpkg debootstrap:debootstrap podman:podman runc:runc \
            nsenter:util-linux rpm:rpm rpmbuild:rpm go:golang-go db5.3_load:db5.3-util objcopy:binutils \
            chromium:chromium chromedriver:chromium-driver gpg:gpg; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/bin/$cmd" ] || [ -x "/bin/$cmd" ] || missing="$missing $pkg"
done
# rpm's own version comparison (rpm.labelCompare) checks chainwarden's rpmvercmp
/usr/bin/python3 -c "import rpm" >/dev/null 2>&1 || missing="$missing python3-rpm"
# the fleet store's tests start a throwaway PostgreSQL cluster (initdb/pg_ctl are not on PATH)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
[ -z "$missing" ] && exit 0
echo "installing system tools:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
