# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause
# nginx-health: one entry point.  See README.md.

SHELL := /bin/bash

NGX_SRC     ?= /usr/share/nginx/src
NGINX       ?= /usr/sbin/nginx
PG_CONFIG   ?= pg_config

# The distribution's build flags, taken the way Debian's nginx package takes
# them (its debian/rules: hardening=+all, CFLAGS -fPIC CPPFLAGS), so the
# module matches the nginx binary of the release it is built on;
# --with-compat comes from conf_flags.
BUILDFLAGS  := DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get
NGX_CC_OPT  ?= $(shell $(BUILDFLAGS) CFLAGS) -fPIC \
               $(shell $(BUILDFLAGS) CPPFLAGS)
NGX_LD_OPT  ?= $(shell $(BUILDFLAGS) LDFLAGS) -fPIC
WARN_OPT    := -Wall -Wextra -Werror -Wno-unused-parameter

ASAN_CC_OPT := -g -O1 -fno-omit-frame-pointer -fPIC \
               -fsanitize=address,undefined -fno-sanitize-recover=all
ASAN_LD_OPT := -fPIC -fsanitize=address,undefined

MODULE      := build/modules/ngx_http_health_module.so
ASAN_MODULE := build-asan/modules/ngx_http_health_module.so
EXT         := pg_health_ext/pg_health.so
SOURCES     := config $(wildcard ngx_health_module/*.[ch] shared/*.[ch]) \
               ngx_health_module/ngx_http_health_html_data.c

SUDO        := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all module ext deps test test-unit test-asan demo demo-stop bench \
        install install-ext clean deb test-deb test-matrix

all: module ext

module: $(MODULE)

ext: $(EXT)

# configure once per build tree; the file list is part of the stamp so a new
# source file reconfigures
build/.configured build-asan/.configured: config
	@set -e; dir=$(@D); \
	if [ "$$dir" = build-asan ]; then cc='$(ASAN_CC_OPT) $(WARN_OPT)'; \
	    ld='$(ASAN_LD_OPT)'; else cc='$(NGX_CC_OPT) $(WARN_OPT)'; \
	    ld='$(NGX_LD_OPT)'; fi; \
	test -x $(NGX_SRC)/configure || { echo "nginx sources not found in \
	$(NGX_SRC): run 'make deps' (Debian package nginx-dev)" >&2; exit 1; }; \
	rm -rf $$dir/nginx; mkdir -p $$dir/modules; \
	cp -a $(NGX_SRC) $$dir/nginx; \
	cd $$dir/nginx && source ./conf_flags && \
	./configure "$${NGX_CONF_FLAGS[@]}" --with-cc-opt="$$cc" \
	    --with-ld-opt="$$ld" --add-dynamic-module=$(CURDIR) \
	    > ../configure.log 2>&1 || { cat ../configure.log >&2; exit 1; }; \
	cd $(CURDIR) && ls ngx_health_module/*.c shared/*.c > $@

build/.srclist build-asan/.srclist: FORCE
	@mkdir -p $(@D); ls ngx_health_module/*.c shared/*.c > $@.new; \
	if cmp -s $@.new $(@D)/.configured; then rm -f $@.new; \
	else rm -f $(@D)/.configured; mv $@.new $@; fi

# the dashboard page as C; the output is committed for static builds
HTML_C      := ngx_health_module/ngx_http_health_html_data.c

$(HTML_C): ngx_health_module/dashboard/dashboard.html scripts/embed-html.sh
	scripts/embed-html.sh $< $@

$(MODULE): build/.srclist build/.configured $(SOURCES)
	$(MAKE) -C build/nginx -f objs/Makefile modules
	cp build/nginx/objs/ngx_http_health_module.so $@

$(ASAN_MODULE): build-asan/.srclist build-asan/.configured $(SOURCES)
	$(MAKE) -C build-asan/nginx -f objs/Makefile modules
	cp build-asan/nginx/objs/ngx_http_health_module.so $@

$(EXT): $(wildcard pg_health_ext/src/*.[ch] shared/*.[ch])
	$(MAKE) -C pg_health_ext PG_CONFIG=$(PG_CONFIG) WERROR=1

FORCE:

deps:
	@scripts/deps.sh

# installs only when the installed files differ, so a user without root
# whose extension is current needs no sudo
install-ext: $(EXT)
	@pkglib=$$($(PG_CONFIG) --pkglibdir); \
	share=$$($(PG_CONFIG) --sharedir)/extension; \
	if cmp -s $(EXT) $$pkglib/pg_health.so \
	    && cmp -s pg_health_ext/pg_health.control $$share/pg_health.control \
	    && for f in pg_health_ext/sql/*.sql; do \
	        cmp -s $$f $$share/$$(basename $$f) || exit 1; done; \
	then echo "pg_health is installed and current"; \
	else $(SUDO) $(MAKE) -C pg_health_ext PG_CONFIG=$(PG_CONFIG) install; fi

build/unit/test_shared: t/unit/test_shared.c $(wildcard shared/*.[ch])
	@mkdir -p $(@D)
	$(CC) -std=c99 -g -O1 -Wall -Wextra -Werror -Ishared \
	    -fsanitize=address,undefined -fno-sanitize-recover=all \
	    -o $@ t/unit/test_shared.c shared/*.c -lm

test-unit: build/unit/test_shared

test: deps all install-ext test-unit
	prove -r t/

# the suites that load the module; t/20-pg-* never do and run once in test
test-asan: deps $(ASAN_MODULE) install-ext test-unit
	HEALTH_TEST_ASAN=1 HEALTH_MODULE=$(CURDIR)/$(ASAN_MODULE) \
	    prove $$(ls t/*.t | grep -v '^t/20-pg-')

demo: deps all install-ext
	@scripts/demo.sh start

demo-stop:
	@scripts/demo.sh stop

bench: deps all install-ext
	@bench/run.sh

# Debian packages of both halves in build/deb/ (debian/, dpkg-buildpackage)
deb:
	@scripts/deb.sh

# the packages built in a fresh root of SUITE and installed in another
# fresh one (needs root: debootstrap, chroot)
SUITE       ?= trixie
test-deb:
	scripts/test-root.sh $(SUITE) deb

# make test and the package test on the other Debian releases, each in a
# root made from nothing with this machine's mirror
# (MATRIX_TARGETS="test test-asan deb" adds the sanitizer run)
MATRIX      ?= trixie sid
MATRIX_TARGETS ?= test deb
test-matrix:
	@rc=0; for s in $(MATRIX); do \
	    scripts/test-root.sh $$s $(MATRIX_TARGETS) || rc=1; done; exit $$rc

install: all
	$(SUDO) install -D -m 0644 $(MODULE) \
	    $$($(NGINX) -V 2>&1 | sed -n 's/.*--modules-path=\([^ ]*\).*/\1/p')/ngx_http_health_module.so
	$(SUDO) $(MAKE) -C pg_health_ext PG_CONFIG=$(PG_CONFIG) install

clean:
	rm -rf build build-asan
	-$(MAKE) -C pg_health_ext clean
