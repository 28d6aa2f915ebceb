# Entry points for people and CI: `make demo` and `make test` work on a fresh clone
# (they install the npm dependencies when node_modules is missing).

NPM ?= npm
NPX ?= npx

.PHONY: install build test demo clean generate bench bench-quick

# Reproducible install from package-lock.json (its `prepare` script also compiles).
install:
	$(NPM) ci

# Only when node_modules is missing: `make build/test/demo` on a fresh clone installs first.
node_modules:
	$(NPM) ci

build: | node_modules
	$(NPX) tsc -p .

# The whole suite (`npm test`: mocha over dist/provider/test); needs mariadbd or mysqld on PATH or in /usr/sbin.
test: build
	$(NPM) test

# Two sandbox servers, a daemon and a link, about half a minute; cleans up after itself.
demo: build
	node dist/provider/src/demo/demo.js

# SDK types and the README's resource reference, from schema.json, and the README's conformance
# table, from provider/test/conformance/cases.ts (tests fail when they drift).
generate: build
	node dist/provider/src/pulumi/codegen.js
	node dist/provider/test/conformance/readme-table.js

# Benchmarks against native replication, mydumper/myloader, mariadb-dump and pt-table-checksum
# (installed from Debian's packages when missing); results in bench/results/.
bench: build
	node dist/bench/run.js

bench-quick: build
	node dist/bench/run.js --quick

clean:
	rm -rf dist
