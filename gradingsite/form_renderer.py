"""The forms' renderer (``FORM_RENDERER``): Django's, with its plainest templates written in Python.

Django renders a template for every widget and every error list of a form, empty ones too: a
course's page in the admin, with its categories and tests inline, renders some 370. The input
widgets (text, number, hidden, checkbox, email, URL, password, date, and the admin's date field)
and the empty error lists are written here as Django's templates write them, character for
character (``tests/test_form_renderer.py`` renders each both ways), in a fraction of the time.
Any other template is Django's, and so is any of these that an installed app overrides.
"""

from pathlib import Path

import django
from django.forms.renderers import DjangoTemplates
from django.utils.functional import cached_property
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData, mark_safe

_DJANGO = Path(django.__file__).resolve().parent


def _formatted(value) -> str:
    """``{{ value|stringformat:'s' }}`` in a template: the value as ``%s`` formats it, escaped
    unless it was safe (``stringformat`` keeps a safe value safe)."""
    if isinstance(value, tuple):
        value = str(value)
    try:
        text = "%s" % value  # noqa: UP031 (what stringformat does)
    except (ValueError, TypeError):
        text = ""
    return conditional_escape(mark_safe(text) if isinstance(value, SafeData) else text)  # noqa: S308


def _attrs(attrs: dict) -> str:
    """django/forms/widgets/attrs.html."""
    return "".join(
        f" {conditional_escape(name)}" if value is True else f' {conditional_escape(name)}="{_formatted(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


def _input(context) -> str | None:
    """django/forms/widgets/input.html (and the widgets that only include it); None: not a context
    this writes (the template renders it)."""
    widget = context.get("widget")
    if not isinstance(widget, dict) or not {"type", "name", "value", "attrs"} <= widget.keys():
        return None
    kind, name, value, attrs = widget["type"], widget["name"], widget["value"], widget["attrs"]
    if not (isinstance(kind, str) and isinstance(name, str) and all(isinstance(key, str) for key in attrs)):
        return None
    shown = "" if value is None else f' value="{_formatted(value)}"'
    return f'<input type="{conditional_escape(kind)}" name="{conditional_escape(name)}"{shown}{_attrs(attrs)}>'


def _admin_date(context) -> str | None:
    """django/contrib/admin/templates/admin/widgets/date.html."""
    html = _input(context)
    return None if html is None else f'<p class="date">\n  {html}\n\n\n</p>'


def _no_errors(context) -> str | None:
    """django/forms/errors/list/default.html and ul.html, when the list is empty."""
    return "" if not context.get("errors") else None


# Each template written here: its name, the file it must be (Django's own), and its writer.
_WRITERS = {
    **{
        f"django/forms/widgets/{name}.html": (_DJANGO / "forms/templates", _input)
        for name in ("input", "text", "number", "hidden", "checkbox", "email", "url", "password", "date")
    },
    "admin/widgets/date.html": (_DJANGO / "contrib/admin/templates", _admin_date),
    "django/forms/errors/list/default.html": (_DJANGO / "forms/templates", _no_errors),
    "django/forms/errors/list/ul.html": (_DJANGO / "forms/templates", _no_errors),
}


class Renderer(DjangoTemplates):
    @cached_property
    def writers(self) -> dict:
        """The writers of the templates this renderer would load from Django itself."""
        found = {}
        for name, (directory, write) in _WRITERS.items():
            origin = Path(self.get_template(name).origin.name).resolve()
            if origin == directory / name:
                found[name] = write
        return found

    def render(self, template_name, context, request=None):
        write = self.writers.get(template_name)
        html = None if write is None else write(context)
        return super().render(template_name, context, request) if html is None else html
