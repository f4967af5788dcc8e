from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "firstcall.intake"
    label = "intake"

    def ready(self) -> None:
        from firstcall.intake import addresses  # noqa: F401  (registers the system check)
