"""Names refuse control characters and line breaks (``gradingsite.validators``); a category's
position is at most 1,000,000, the API's maximum: a higher one stored before is brought down to it
(such categories stay after the course's others, in order of id among themselves)."""

import django.core.validators
from django.db import migrations, models
from django.db.models import F

import gradingsite.validators

MAX_POSITION = 1_000_000


def clamp_positions(apps, schema_editor):
    GradeCategory = apps.get_model("grading", "GradeCategory")
    db = schema_editor.connection.alias
    GradeCategory.objects.using(db).filter(position__gt=MAX_POSITION).update(
        position=MAX_POSITION, version=F("version") + 1
    )


class Migration(migrations.Migration):
    dependencies = [
        ("grading", "0009_notices_recipient_canceled"),
    ]

    operations = [
        migrations.AlterField(
            model_name="gradecategory",
            name="name",
            field=models.CharField(max_length=200, validators=[gradingsite.validators.validate_name]),
        ),
        migrations.AlterField(
            model_name="gradecategory",
            name="position",
            field=models.PositiveIntegerField(
                default=0, validators=[django.core.validators.MaxValueValidator(MAX_POSITION)]
            ),
        ),
        migrations.AlterField(
            model_name="test",
            name="name",
            field=models.CharField(max_length=200, validators=[gradingsite.validators.validate_name]),
        ),
        migrations.RunPython(clamp_positions, migrations.RunPython.noop),
    ]
