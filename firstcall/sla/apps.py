from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "firstcall.sla"
    label = "sla"

    def ready(self) -> None:
        from firstcall.config_memo import connect_signals

        connect_signals()
