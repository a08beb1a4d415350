"""Remote runs: a source snapshot and a command that a worker runs, logging to a run made for it.

`projects` reads MLproject entry points; `runner` is the worker's side; `sandbox` is how the worker
starts a job's command (bubblewrap, or unsandboxed where none can be made); `specs` and `pythons`
read environment specifications and choose their interpreter; `environments` and
`environment_folders` build, cache and lock the environments jobs run in. Zipping a folder into a
snapshot (honouring .gitignore) and the `mlflow run --backend studio` plugin are the client's side:
they live in the SDK (`studio_sdk.snapshots`, `studio_sdk.mlflow_backend`), which the server uses
too (`manage.py submit_job`).
"""
