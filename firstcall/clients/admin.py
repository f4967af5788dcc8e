from django.contrib import admin

from firstcall.clients.models import (
    BusinessProcess,
    Client,
    Contact,
    Contract,
    EmailDomain,
    PhoneNumber,
)
from firstcall.sla.models import SlaTarget


class EmailDomainInline(admin.TabularInline):  # type: ignore[type-arg]
    model = EmailDomain
    extra = 0


class PhoneNumberInline(admin.TabularInline):  # type: ignore[type-arg]
    model = PhoneNumber
    extra = 0


class SlaTargetInline(admin.TabularInline):  # type: ignore[type-arg]
    model = SlaTarget
    extra = 0


class BusinessProcessInline(admin.TabularInline):  # type: ignore[type-arg]
    model = BusinessProcess
    extra = 0


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "time_zone")
    search_fields = ("name", "email_domains__domain")
    inlines = [EmailDomainInline, PhoneNumberInline, BusinessProcessInline]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "email", "client", "is_vip")
    list_filter = ("is_vip", "client")
    search_fields = ("name", "email")
    list_select_related = ("client",)


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("client", "name", "support_hours", "starts_on", "ends_on")
    inlines = [SlaTargetInline]
    list_select_related = ("client",)


@admin.register(BusinessProcess)
class BusinessProcessAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "client", "weekday", "time", "every_weeks", "warn_hours", "critical_hours")
    list_filter = ("client",)
    search_fields = ("name", "keywords", "client__name")
    list_select_related = ("client",)
