from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "firstcall.sla"
    label = "sla"
