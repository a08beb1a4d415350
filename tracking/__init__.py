"""Experiment tracking: workspaces, experiments, runs and their data, served over MLflow's protocol."""
