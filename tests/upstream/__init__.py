"""MLflow's own live-server test modules, run against our server and against `mlflow server` side
by side: `python -m tests.upstream <mlflow checkout>` (see __main__.py). Not part of `make test`
(tests/conftest.py leaves this folder out of collection): it needs MLflow's test sources, and a
full run takes about twenty minutes."""
