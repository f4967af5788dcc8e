from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "firstcall.accounts"
    label = "accounts"
