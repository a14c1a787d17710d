# Build and install ferroban like a packaged service:
#   make            release binary (profile-guided where it can be, see PGO below),
#                   man pages and shell completions
#   sudo make install
#   sudo systemctl enable --now ferroban
# DESTDIR and PREFIX work as usual (make install DESTDIR=/tmp/root PREFIX=/usr).
# Configuration files already in /etc/ferroban are kept; edit the .local files.

PREFIX     ?= /usr
SYSCONFDIR ?= /etc
DESTDIR    ?=
CARGO      ?= cargo

BIN      = $(DESTDIR)$(PREFIX)/bin
CONFDIR  = $(DESTDIR)$(SYSCONFDIR)/ferroban
UNITDIR  = $(DESTDIR)$(PREFIX)/lib/systemd/system
MANDIR   = $(DESTDIR)$(PREFIX)/share/man/man1
DOCDIR   = $(DESTDIR)$(PREFIX)/share/doc/ferroban
DOCS     = target/docs

.PHONY: all build docs install uninstall deb

all: build docs

# The binary is built profile-guided (scripts/build-pgo.sh: the same code, built
# twice and trained on generated logs in between; 10-30 % less CPU per log line, for
# a few minutes more) wherever llvm-profdata of rustc's LLVM is found
# (`rustup component add llvm-tools`, or `apt-get install llvm-N`), else plain, and
# the build says so. PGO=1 insists on the profile-guided build, PGO=0 builds plain.
# A profile-guided binary newer than every source is used as it is: `sudo make
# install` installs what `make` built, whatever root's PATH finds.
PGO ?= auto
PGO_BIN = target/pgo/release/ferroban
ifeq ($(PGO),auto)
PGO := $(shell if [ -f $(PGO_BIN) ] && [ -z "$$(find src crates Cargo.toml Cargo.lock scripts/build-pgo.sh -newer $(PGO_BIN) -print -quit)" ]; then echo 1; elif scripts/build-pgo.sh --check >/dev/null 2>&1; then echo 1; else echo plain; fi)
endif
ifeq ($(PGO),1)
TARGET_DIR = target/pgo
DEB_ENV    = CARGO_TARGET_DIR=$(TARGET_DIR)
else
TARGET_DIR = target
DEB_ENV    =
endif
# Everything the binary is built from (the dashboard's page is embedded in it).
SOURCES := $(shell find src crates -type f) Cargo.toml Cargo.lock

# File targets, remade only when a source is newer: `sudo make install` after `make`
# builds nothing, so root needs no cargo in its PATH.
build: $(TARGET_DIR)/release/ferroban

target/release/ferroban: $(SOURCES)
ifeq ($(PGO),plain)
	@echo "make: a plain release build: no llvm-profdata of rustc's LLVM for the" \
	  "profile-guided one (rustup component add llvm-tools, or apt-get install llvm-N;" \
	  "see scripts/build-pgo.sh). PGO=0 builds plain without this note." >&2
endif
	$(CARGO) build --release --locked -p ferroban

$(PGO_BIN): $(SOURCES) scripts/build-pgo.sh
	scripts/build-pgo.sh

# The man pages and completions, made from the command-line definitions.
docs: $(DOCS)/man/ferroban.1

$(DOCS)/man/ferroban.1: $(SOURCES) $(shell find xtask -type f)
	$(CARGO) run --release --locked -q -p xtask -- docs $(DOCS) >/dev/null

install: all
	install -Dm755 $(TARGET_DIR)/release/ferroban $(BIN)/ferroban
	install -d -m755 $(CONFDIR)/filter.d $(CONFDIR)/action.d $(CONFDIR)/jail.d
	for f in config/*.conf config/filter.d/*.conf config/action.d/*.conf config/jail.d/README; do \
	  dest=$(CONFDIR)/$${f#config/}; \
	  [ -e "$$dest" ] || install -m644 "$$f" "$$dest"; \
	done
	# Programs that jails run (ignorecommand), not settings: replaced on upgrade.
	install -Dm755 -t $(CONFDIR)/filter.d/ignorecommands config/filter.d/ignorecommands/*
	install -Dm644 packaging/ferroban.service $(UNITDIR)/ferroban.service
	install -Dm644 packaging/ferroban.logrotate $(DESTDIR)$(SYSCONFDIR)/logrotate.d/ferroban
	# The guides that check, audit and the server's hints name.
	install -Dm644 -t $(DOCDIR) README.md docs/fleet.md docs/migrating-from-fail2ban.md
	install -Dm644 examples/vps-hardening/README.md $(DOCDIR)/vps-hardening.md
	install -d -m755 $(MANDIR)
	install -m644 $(DOCS)/man/*.1 $(MANDIR)/
	install -Dm644 $(DOCS)/completions/ferroban.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/ferroban
	install -Dm644 $(DOCS)/completions/_ferroban $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_ferroban
	install -Dm644 $(DOCS)/completions/ferroban.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/ferroban.fish
	for tool in fail2ban-client fail2ban-server fail2ban-regex; do \
	  install -Dm644 $(DOCS)/completions/$$tool.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$tool; \
	  install -Dm644 $(DOCS)/completions/_$$tool $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_$$tool; \
	  install -Dm644 $(DOCS)/completions/$$tool.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$tool.fish; \
	done
	-[ -z "$(DESTDIR)" ] && systemctl daemon-reload 2>/dev/null || true

uninstall:
	rm -f $(BIN)/ferroban $(UNITDIR)/ferroban.service $(DESTDIR)$(SYSCONFDIR)/logrotate.d/ferroban
	rm -f $(MANDIR)/ferroban*.1
	rm -rf $(DOCDIR)
	rm -f $(DESTDIR)$(PREFIX)/share/bash-completion/completions/ferroban \
	      $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_ferroban \
	      $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/ferroban.fish
	for tool in fail2ban-client fail2ban-server fail2ban-regex; do \
	  rm -f $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$tool \
	        $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_$$tool \
	        $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$tool.fish; \
	done
	@echo "kept $(CONFDIR) and /var/lib/ferroban (your configuration and bans)"

# A Debian package (needs `cargo install cargo-deb`): target/debian/ferroban_*.deb
deb: build docs
	$(DEB_ENV) $(CARGO) deb --locked --no-build -p ferroban
