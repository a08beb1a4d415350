from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "tracking.access"
    # The label these tables and migrations were made under (as studio.accounts): kept, so an
    # existing database needs no migration for the move.
    label = "accounts"
    verbose_name = "People and access"

    def ready(self) -> None:
        # Cache invalidation hooks for memberships and tokens.
        from . import gate, tokens  # noqa: F401
