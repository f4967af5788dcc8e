from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "firstcall.tickets"
    label = "tickets"
