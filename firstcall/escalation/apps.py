from django.apps import AppConfig


class EscalationConfig(AppConfig):
    name = "firstcall.escalation"
    label = "escalation"
