# Strongroom: two commands. `make run` brings the local stack up; `make test` runs the suite.
.PHONY: setup run test lint bench localnet-start localnet-stop clean-data

ARGS ?=
# DB=postgres: `make run` serves a local PostgreSQL cluster under .data/ and puts every domain in it;
# `make test` runs every database-backed test on PostgreSQL only (default: SQLite, plus the
# PostgreSQL variants of the tests that take the `database` fixture).
DB ?= sqlite

setup:
	@bash scripts/setup.sh

run: setup
	@.venv/bin/python -m scripts.run_stack $(if $(filter postgres,$(DB)),--db postgres,)

test: setup
	@bash scripts/test.sh $(if $(filter postgres,$(DB)),--db=postgresql,) $(ARGS)

lint: setup
	@.venv/bin/ruff check .

bench: setup
	@for b in bench/*.py; do echo "== $$b"; PATH=$$PWD/node_modules/.bin:$$PATH .venv/bin/python $$b || exit 1; done

localnet-start: setup
	@.venv/bin/python scripts/localnet.py start

localnet-stop:
	@.venv/bin/python scripts/localnet.py stop

clean-data:
	rm -rf .data .build
