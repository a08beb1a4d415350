"""Importing MLflow file stores (`mlruns/` folders, or archives of one) into a workspace.

`reader` reads the file store (and `files` guards every file it opens), `archives` unpacks
uploads safely, `importer` carries an import through in chunks that commit with a checkpoint,
writing through `experiments`, `runs` (+ `metrics`, `copying`), `logged_models` and
`registered_models`. The row (`tracking.models.Import`) is the truth the CLI and the API read.
"""
