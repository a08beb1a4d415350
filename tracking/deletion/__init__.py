"""Deleting for good: a resource group, a workspace, an experiment or a run, rows and files.

`scope` says what a target covers, `plan` counts it (the dry run shown before confirming), and
`purge` removes it in chunks that survive a worker being killed.
"""
