# Build, test and demo entry points. Every target uses the Node pinned in package.json (node_modules/.bin/node).
NODE := node_modules/.bin/node
TSC := node_modules/.bin/tsc
TEST_FILES ?= test/unit/*.test.ts test/integration/*.test.ts

.PHONY: all deps system-deps native build typecheck test test-unit bench demo clean

all: build

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.installed

# Debian packages the tests need (codec CLIs, gpg, Swift, PostgreSQL ...). Idempotent.
system-deps:
	bash scripts/install-system-deps.sh

# The project's own Node-API addon (lz4 blocks on the thread pool, xxHash32): needs gcc and liblz4-dev (system-deps).
# Node-API is ABI-stable, so the headers of node-api-headers build an addon for the pinned Node.
NATIVE := build/walg_native.node
$(NATIVE): src/native/walg_native.c node_modules/.installed
	@mkdir -p build
	cc -O3 -fPIC -shared -fvisibility=hidden -Wall -Wextra -Werror -Inode_modules/node-api-headers/include -o $@ $< -llz4

native: $(NATIVE)

build: deps native
	$(NODE) scripts/build.ts

typecheck: deps
	$(TSC) -p .

# The one command that installs everything and runs every test (README, .ci/run).
test: deps system-deps native typecheck build
	$(NODE) --test --test-concurrency=2 --test-timeout=600000 $(TEST_FILES)

# The main job on an embedded default: throwaway PostgreSQL -> WAL archive + base backup on a local file storage
# -> cluster dropped -> restored to a restore point -> same data. Exits non-zero if anything differs.
demo: deps system-deps native build
	bash scripts/demo.sh

test-unit: deps native
	$(NODE) --test test/unit/*.test.ts

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
