# Shellfolio: `make start` serves the site, `make test` runs every suite. Both bootstrap Bun.
SHELL := /bin/bash
BUN_VERSION := 1.4.5
TOOLS := $(CURDIR)/.tools
BUN := $(TOOLS)/node_modules/.bin/bun
export PATH := $(TOOLS)/node_modules/.bin:$(PATH)

WEB_SOURCES := $(shell find web/src web/public web/scripts -type f 2>/dev/null) web/index.html web/vite.config.ts

.PHONY: start test bench lint typecheck install build wasm sandbox-image clean

start: install build sandbox-image
	@bun run start

test: install
	@bun run test

bench: install
	@bun run bench

lint: install
	@bun run lint

typecheck: install
	@bun run typecheck

install: node_modules/.installed

build: web/dist/index.html

# The Docker runner's image: built (no registry needed) when an engine answers and it is missing.
sandbox-image: install
	@if docker info >/dev/null 2>&1; then \
		bun run runner/image/build.ts || echo "• the sandbox image could not be built: Docker terminals stay off, WASI works"; \
	else \
		echo "• no Docker engine answers: terminals use the WASI runner (make test installs and starts dockerd)"; \
	fi

wasm: install
	@bun run wasm:build

# Bun comes from the npm package `bun` (its binary ships inside the package), pinned.
$(BUN):
	@command -v npm >/dev/null || { echo "make: npm is needed once to install Bun $(BUN_VERSION) (apt-get install npm)"; exit 1; }
	@echo "• installing Bun $(BUN_VERSION) into .tools/ from the npm registry…"
	@npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix $(TOOLS) bun@$(BUN_VERSION)
	@$(BUN) --version >/dev/null

node_modules/.installed: $(BUN) package.json bun.lock api/package.json runner/package.json web/package.json
	@echo "• installing dependencies (bun install --frozen-lockfile)…"
	@bun install --frozen-lockfile
	@touch $@

# The client bundle, the server-render bundle (web/dist/server) and the .br/.gz twins of every
# text asset (web/scripts/compress.ts), which the API serves by Accept-Encoding.
web/dist/index.html: node_modules/.installed $(WEB_SOURCES)
	@echo "• building the web app (client, server render, precompressed assets)…"
	@bun run build

clean:
	rm -rf web/dist node_modules api/node_modules runner/node_modules web/node_modules
