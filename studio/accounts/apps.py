from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "studio.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Cache invalidation hooks for memberships and tokens.
        from . import access, tokens  # noqa: F401
