from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "firstcall.intake"
    label = "intake"
