"""Remote runs: a source snapshot and a command that a worker runs, logging to a run made for it.

`snapshots` (zipping a folder, honouring .gitignore) and `projects` (MLproject entry points) and
`mlflow_backend` (the `mlflow run --backend studio` plugin) do not import Django, so the command
line and the MLflow client can use them; `runner` is the worker's side, `api` the HTTP endpoints.
`sandbox` is how the worker starts a job's command (bubblewrap, or unsandboxed where none can be
made); `specs` and `pythons` read environment specifications and choose their interpreter;
`environments` and `environment_folders` build, cache and lock the environments jobs run in.
"""
