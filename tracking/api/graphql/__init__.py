"""GraphQL at /graphql, for MLflow's web UI: its named queries over the REST API's handlers."""
