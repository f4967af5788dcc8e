"""The console forms' widgets, written in Python.

Django renders a widget through its template: a select of 50 clients is some 100 nested
template renders (an {% include %} per option, another for each option's attributes), and
the queue and the ticket page each show a handful of selects and text boxes on every request.
``ConsoleFormRenderer`` writes the same HTML as Django's templates for the widgets those forms
use (select, textarea, and the <input> kinds), in a fraction of the time, and hands any other
template to Django. tests/console/test_form_rendering.py holds the two to the same output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

WidgetContext = Mapping[str, Any]


def _attrs(attrs: Mapping[str, Any]) -> str:
    """django/forms/widgets/attrs.html: ' name="value"' each, a bare name for True, nothing for
    False."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            parts.append(f" {conditional_escape(name)}")
        else:
            parts.append(f' {conditional_escape(name)}="{conditional_escape(str(value))}"')
    return "".join(parts)


def _select(widget: WidgetContext) -> SafeString:
    """django/forms/widgets/select.html with select_option.html for each option."""
    parts = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, options, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
        for option in options:
            parts.append(
                f'\n  <option value="{conditional_escape(str(option["value"]))}"{_attrs(option["attrs"])}>'
                # The newline that ends select_option.html comes along with each option.
                f"{conditional_escape(option['label'])}</option>\n"
            )
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return mark_safe("".join(parts))  # every value in it is escaped above


def _textarea(widget: WidgetContext) -> SafeString:
    """django/forms/widgets/textarea.html."""
    return format_html(
        '<textarea name="{}"{}>\n{}</textarea>',
        widget["name"],
        mark_safe(_attrs(widget["attrs"])),  # escaped by _attrs
        widget["value"] or "",
    )


def _input(widget: WidgetContext) -> SafeString:
    """django/forms/widgets/input.html (which text.html, email.html, hidden.html… include)."""
    value = widget["value"]
    return format_html(
        '<input type="{}" name="{}"{}{}>',
        widget["type"],
        widget["name"],
        format_html(' value="{}"', str(value)) if value is not None else "",
        mark_safe(_attrs(widget["attrs"])),  # escaped by _attrs
    )


_INPUT_KINDS = ("text", "email", "number", "password", "hidden", "search", "tel", "url", "date", "time")

WRITERS: dict[str, Callable[[WidgetContext], SafeString]] = {
    "django/forms/widgets/select.html": _select,
    "django/forms/widgets/textarea.html": _textarea,
    **{f"django/forms/widgets/{kind}.html": _input for kind in _INPUT_KINDS},
}


class ConsoleFormRenderer(DjangoTemplates):
    """Django's template renderer, with the widgets in ``WRITERS`` written in Python."""

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        write = WRITERS.get(template_name)
        if write is None:
            return super().render(template_name, context, request)
        return write(context["widget"])


CONSOLE_FORM_RENDERER = ConsoleFormRenderer()
