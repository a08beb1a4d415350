"""People, workspace roles and tokens: who may do what in which workspace."""
