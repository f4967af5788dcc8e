from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "firstcall.notify"
    label = "notify"
