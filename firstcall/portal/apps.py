from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "firstcall.portal"
    label = "portal"
