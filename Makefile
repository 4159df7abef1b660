# Build, test and demo entry points. Every target uses the Node pinned in package.json (node_modules/.bin/node).
NODE := node_modules/.bin/node
TSC := node_modules/.bin/tsc
TEST_FILES ?= test/unit/*.test.ts test/integration/*.test.ts

.PHONY: all deps system-deps native archive-module build typecheck depcheck check-size test test-unit test-interop fuzz soak coverage bench demo clean

all: build

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.installed

# Debian packages the tests need (codec CLIs, gpg, Swift, PostgreSQL ...). Idempotent.
system-deps:
	bash scripts/install-system-deps.sh

# The project's own Node-API addon (lz4 blocks on the thread pool, xxHash32, restore's file writes, the zstd/brotli/lzma
# coders): needs gcc and the -dev packages of liblz4, libzstd, libbrotli, liblzma (system-deps). liblz4, libzstd and
# liblzma are in every Debian/Ubuntu base system (dpkg and systemd need them); libbrotli is not, and the whole addon
# (lz4 for every WAL segment included) would fail to load without it, so brotli is linked in statically.
# Node-API is ABI-stable, so the headers of node-api-headers build an addon for the pinned Node.
NATIVE := build/walg_native.node
$(NATIVE): src/native/walg_native.c src/native/walg_files.c src/native/walg_notify.c src/native/walg_codecs.c node_modules/.installed
	@mkdir -p build
	cc -O3 -fPIC -shared -fvisibility=hidden -Wall -Wextra -Werror -Inode_modules/node-api-headers/include -o $@ src/native/walg_native.c src/native/walg_files.c src/native/walg_notify.c src/native/walg_codecs.c -llz4 -lzstd -llzma -Wl,-Bstatic -lbrotlienc -lbrotlidec -lbrotlicommon -Wl,-Bdynamic

native: $(NATIVE)

# walg-daemon-client (libc only) and, when PostgreSQL's server headers are present (postgresql-server-dev-N), the
# walg_archive archive module; scripts/build.ts recreates dist/, so both are built in build/ and copied after it.
WALG_VERSION := $(shell sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' package.json | head -1)
CLIENT := build/walg-daemon-client
$(CLIENT): src/native/walg_daemon_client.c package.json
	@mkdir -p build
	cc -O2 -Wall -Wextra -Werror -DWALG_VERSION='"$(WALG_VERSION)"' -o $@ src/native/walg_daemon_client.c

PG_CONFIG ?= $(firstword $(wildcard $(shell ls -d /usr/lib/postgresql/*/bin/pg_config 2>/dev/null | sort -t/ -k4 -rn)) $(shell command -v pg_config))
PG_SERVER_INC := $(if $(PG_CONFIG),$(shell $(PG_CONFIG) --includedir-server 2>/dev/null))
ARCHIVE_MODULE := build/walg_archive.so
$(ARCHIVE_MODULE): src/native/walg_archive.c
	@mkdir -p build
	cc -O2 -fPIC -shared -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -I$(PG_SERVER_INC) -o $@ src/native/walg_archive.c

archive-module:
	@if [ -n "$(PG_SERVER_INC)" ] && [ -f "$(PG_SERVER_INC)/postgres.h" ]; then $(MAKE) --no-print-directory $(ARCHIVE_MODULE) && cp $(ARCHIVE_MODULE) dist/walg_archive.so; \
	else echo "walg_archive skipped: no PostgreSQL server headers (install postgresql-server-dev-N, or set PG_CONFIG)"; fi

build: deps native $(CLIENT)
	$(NODE) scripts/build.ts
	cp $(CLIENT) dist/walg-daemon-client
	@$(MAKE) --no-print-directory archive-module

typecheck: deps
	$(TSC) -p .

# The import direction of src/ (cli -> commands -> {pg, mysql} -> backup -> {storage, pipeline, tar} -> config -> core),
# as the rules in .dependency-cruiser.cjs state it. dependency-cruiser needs Node >= 22: run it with the pinned Node.
depcheck: deps
	$(NODE) node_modules/dependency-cruiser/bin/dependency-cruiser.mjs --config .dependency-cruiser.cjs src

# No file in src/ over 500 lines, no function over 120 (the allowlist with reasons is in the script).
check-size: deps
	$(NODE) scripts/check-size.ts

# The one command that installs everything and runs every test (README, .ci/run). The structure checks come first:
# they take seconds and fail before the long suites start.
test: deps depcheck check-size system-deps native typecheck build
	$(NODE) --test --test-concurrency=2 --test-timeout=600000 $(TEST_FILES)

# The main job on an embedded default: throwaway PostgreSQL -> WAL archive + base backup on a local file storage
# -> cluster dropped -> restored to a restore point -> same data. Exits non-zero if anything differs.
demo: deps system-deps native build
	bash scripts/demo.sh

# Unit tests need no PostgreSQL, codec CLI, gpg or built artefact: whatever starts a server or runs another program
# (wal-g itself included) is in test/integration.
test-unit: deps native
	$(NODE) --test --test-concurrency=2 test/unit/*.test.ts

# Line coverage of src/ (c8 over V8's own coverage; Node runs the .ts files as they are) for the unit suite, or for
# the unit and integration suites with COVERAGE_ALL=1. A text summary, not a gate. With COVERAGE_ALL=1 the spawned
# tool runs from the sources (WALG_TEST_FROM_SOURCE=1) so that its coverage maps to src/ and not to the bundle.
COVERAGE_FILES := test/unit/*.test.ts $(if $(COVERAGE_ALL),test/integration/*.test.ts)
coverage: deps native $(if $(COVERAGE_ALL),system-deps)
	$(if $(COVERAGE_ALL),WALG_TEST_FROM_SOURCE=1) $(NODE) node_modules/c8/bin/c8.js --all --src src --include 'src/**/*.ts' \
	  --extension .ts --reporter text --reporter text-summary --reports-dir .tmp/coverage --temp-directory .tmp/coverage/raw \
	  $(NODE) --test --test-concurrency=2 --test-timeout=600000 $(COVERAGE_FILES)

# Interop with the reference WAL-G v3.0.9 (WALG_REFERENCE_PG, WALG_REFERENCE_MYSQL: binaries built outside this
# tree, docs/compat.md). Without them it prints one line saying it was skipped, and exits 0.
test-interop: deps system-deps native build
	$(NODE) test/interop/run.ts

# The fuzz targets of test/fuzz (issue 21): FUZZ_RUNS executions (default 1,000,000) or FUZZ_SECONDS (default
# 1800) per target, then the planted-bug check. Long: not part of `make test` (test/unit/fuzz.test.ts runs a short budget).
fuzz: deps native
	$(NODE) test/fuzz/run.ts
	$(NODE) test/fuzz/run.ts --planted

# The soak run (issue 21): 10,000 archived 1 MiB segments through the daemon with faults injected, backups on the
# way, then wal-verify and a recovery to the last commit (test/soak/run.ts; SEGMENTS=n for another count).
soak: deps system-deps native build
	$(NODE) test/soak/run.ts $(or $(SEGMENTS),10000)

bench: deps system-deps native build
	$(NODE) bench/codecs.ts
	$(NODE) bench/crypt.ts
	$(NODE) bench/startup.ts
	$(NODE) bench/wal.ts --scale 20 --seconds 20
	$(NODE) bench/backup.ts 100 7
	$(NODE) bench/delta.ts 100
	$(NODE) bench/mysql.ts 300 2

clean:
	rm -rf dist build .tmp
