"""The forms' renderer (gradingsite/form_renderer.py) writes what Django's templates write, character
for character, for every widget and error list it writes itself; the rest is Django's."""

from datetime import date
from decimal import Decimal

import pytest
from django import forms
from django.conf import settings
from django.contrib.admin import widgets as admin_widgets
from django.forms.renderers import DjangoTemplates, get_default_renderer
from django.forms.utils import ErrorList
from django.utils.safestring import mark_safe

from gradingsite.form_renderer import Renderer

WIDGETS = [
    forms.TextInput,
    forms.NumberInput,
    forms.HiddenInput,
    forms.CheckboxInput,
    forms.EmailInput,
    forms.URLInput,
    forms.PasswordInput,
    forms.DateInput,
    admin_widgets.AdminDateWidget,
    admin_widgets.AdminTextInputWidget,
    admin_widgets.AdminIntegerFieldWidget,
    admin_widgets.AdminEmailInputWidget,
]

VALUES = [
    None,
    "",
    "plain",
    "quotes \" and ' <tags> & ampersands",
    mark_safe("<b>safe</b>"),
    0,
    42,
    Decimal("12.50"),
    date(2026, 12, 5),
    True,
    False,
    ("a", "tuple"),
]

ATTRS = [
    {},
    {"id": "id_x", "class": "vTextField", "maxlength": 10},
    {"disabled": True, "hidden": False, "required": True},
    {"data-x": '<">&', "title": mark_safe("<i>safe</i>"), "step": Decimal("0.01")},
]


@pytest.mark.parametrize("widget_class", WIDGETS, ids=lambda w: w.__name__)
def test_each_input_widget_is_written_as_djangos_template_writes_it(widget_class):
    ours, django = Renderer(), DjangoTemplates()
    for value in VALUES:
        for attrs in ATTRS:
            widget = widget_class(attrs={"class": "from-widget"})
            args = ("form-0-field", value, attrs)
            assert widget.render(*args, renderer=ours) == widget.render(*args, renderer=django), (value, attrs)
    assert any(name.startswith("django/forms/widgets/") for name in ours.writers)


def test_error_lists_empty_or_not_are_written_as_djangos_templates_write_them():
    ours, django = Renderer(), DjangoTemplates()
    lists = [
        ErrorList(),
        ErrorList(["Enter a number."]),
        ErrorList(["<b>escaped</b>", mark_safe("<i>kept</i>")], error_class="nonform"),
        ErrorList(["One."], field_id="id_score"),
    ]
    for errors in lists:
        for template in (errors.template_name, errors.template_name_ul):
            assert errors.render(template, renderer=ours) == errors.render(template, renderer=django)


def test_a_widget_of_another_kind_on_an_input_template_renders_from_djangos_template():
    class Plain(forms.Widget):
        template_name = "django/forms/widgets/text.html"  # no input type in its context

    widget = Plain(attrs={"id": "x"})

    assert widget.render("p", "v", renderer=Renderer()) == widget.render("p", "v", renderer=DjangoTemplates())


def test_other_widgets_render_from_djangos_templates():
    ours, django = Renderer(), DjangoTemplates()
    select = forms.Select(choices=[("a", "A <1>"), ("b", "B")])
    textarea = forms.Textarea()

    assert select.render("s", "b", renderer=ours) == select.render("s", "b", renderer=django)
    assert textarea.render("t", "x < y", renderer=ours) == textarea.render("t", "x < y", renderer=django)
    assert "django/forms/widgets/select.html" not in ours.writers


def test_it_is_the_projects_form_renderer():
    assert settings.FORM_RENDERER == "gradingsite.form_renderer.Renderer"
    assert isinstance(get_default_renderer(), Renderer)
