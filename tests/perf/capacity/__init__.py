"""Issue 15's capacity figures: a generator that fills PostgreSQL to size, and their measurement.

    DATABASE_URL=postgresql://... .venv/bin/python -m tests.perf.capacity fill --scale 100000
    DATABASE_URL=postgresql://... .venv/bin/python -m tests.perf.capacity measure

Not part of the test suite; `docs/capacity.md` publishes what it measured.
"""
