#!/usr/bin/env bash
# As root on Debian: build the Debian package with cargo-deb, install it, check the
# installed binary, configuration and unit, then purge it again.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked
make deb
# The package is in target/pgo/debian when make built profile-guided (.ci/run installs
# llvm-tools for that), else in target/debian; ls fails on the directory not made.
deb=$(ls -t target/debian/ferroban_*.deb target/pgo/debian/ferroban_*.deb 2>/dev/null | head -1 || true)
[ -n "$deb" ] || { echo "package-test.sh: make deb wrote no package" >&2; exit 1; }
dpkg -i "$deb"
trap 'dpkg --purge ferroban >/dev/null' EXIT
/usr/bin/ferroban --version
/usr/bin/ferroban -c /etc/ferroban check
# Every shipped jail, enabled, must load with the shipped filters and actions. A
# jail whose log file is missing is refused, so every log is pointed at one file.
log=/tmp/ferroban-package-test.log
touch "$log"
{
  printf '[DEFAULT]\nenabled = true\nbackend = auto\n'
  for jail in $(sed -n 's/^\[\([A-Za-z0-9_.-]*\)\]$/\1/p' /etc/ferroban/jail.conf |
    grep -vx -e INCLUDES -e DEFAULT); do
    printf '[%s]\nlogpath = %s\n' "$jail" "$log"
  done
} > /etc/ferroban/jail.d/package-test.local
checked=$(/usr/bin/ferroban -c /etc/ferroban check)
echo "$checked"
jails=$(grep -E '^\[' config/jail.conf | grep -vcE '^\[(INCLUDES|DEFAULT)\]')
grep -q "($jails jails:" <<<"$checked"
# The programs jails run (apache-fakegooglebot's ignorecommand) are installed.
test -x /etc/ferroban/filter.d/ignorecommands/apache-fakegooglebot
rm -f /etc/ferroban/jail.d/package-test.local /tmp/ferroban-package-test.log
ls /usr/share/man/man1/ferroban.1* >/dev/null
test -f /usr/share/bash-completion/completions/ferroban
# The guides the hints of check, audit and the server name.
for doc in fleet.md migrating-from-fail2ban.md vps-hardening.md; do
  test -f /usr/share/doc/ferroban/$doc
done
if command -v systemd-analyze >/dev/null; then
  # Only the unit's own syntax: the machine may run no systemd at all.
  systemd-analyze verify --man=no /lib/systemd/system/ferroban.service 2>&1 | grep -v "^$" || true
  if systemd-analyze verify --man=no /lib/systemd/system/ferroban.service 2>&1 | grep -qi "unknown\|invalid\|failed to parse"; then
    echo "package test: ferroban.service does not parse" >&2
    exit 1
  fi
fi
echo "package test: $(basename "$deb") installs, runs and checks /etc/ferroban"
