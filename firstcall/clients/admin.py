from django.contrib import admin

from firstcall.clients.models import Client, Contact, Contract, EmailDomain, PhoneNumber, ResponseTarget


class EmailDomainInline(admin.TabularInline):  # type: ignore[type-arg]
    model = EmailDomain
    extra = 0


class PhoneNumberInline(admin.TabularInline):  # type: ignore[type-arg]
    model = PhoneNumber
    extra = 0


class ResponseTargetInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ResponseTarget
    extra = 0


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "time_zone")
    search_fields = ("name", "email_domains__domain")
    inlines = [EmailDomainInline, PhoneNumberInline]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "email", "client", "is_vip")
    list_filter = ("is_vip", "client")
    search_fields = ("name", "email")
    list_select_related = ("client",)


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("client", "name", "support_hours", "starts_on", "ends_on")
    inlines = [ResponseTargetInline]
    list_select_related = ("client",)
