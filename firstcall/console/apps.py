from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "firstcall.console"
    label = "console"
