from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and health profiles"

    def ready(self):
        from accounts import limits  # noqa: F401  (connects its counter of wrong passwords per address)
