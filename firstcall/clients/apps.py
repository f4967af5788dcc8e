from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "firstcall.clients"
    label = "clients"
