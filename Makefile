.PHONY: check lint test quick bench

check: lint test

lint:
	ruff check .
	ruff format --check .
	mypy

test:
	pytest -n 2

quick:
	pytest -m "not slow"

bench:
	for script in benchmarks/bench_*.py; do python "$$script" || exit 1; done
