from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "firstcall.security"
    label = "security"
