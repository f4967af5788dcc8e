from django.contrib import admin

from firstcall.notify.models import Delivery


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("created_at", "purpose", "to_address", "status", "attempts", "last_error")
    list_filter = ("purpose", "status")
    search_fields = ("to_address", "rfc_message_id")
