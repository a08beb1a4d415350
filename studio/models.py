"""The studio app has no tables of its own: workers' heartbeats moved to tracking.models.compute
(the table keeps its name, studio_workerheartbeat)."""
