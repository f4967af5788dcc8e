from django.apps import AppConfig


class TriageConfig(AppConfig):
    name = "firstcall.triage"
    label = "triage"
