"""Remote runs: a source snapshot and a command that a worker runs, logging to a run made for it.

`snapshots` (zipping a folder, honouring .gitignore) and `projects` (MLproject entry points) and
`mlflow_backend` (the `mlflow run --backend studio` plugin) do not import Django, so the command
line and the MLflow client can use them; `runner` is the worker's side, `api` the HTTP endpoints.
"""
