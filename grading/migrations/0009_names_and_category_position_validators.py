"""Names refuse control characters and line breaks (``gradingsite.validators``)."""

from django.db import migrations, models

import gradingsite.validators


class Migration(migrations.Migration):
    dependencies = [
        ("grading", "0008_gradechange_test_latest"),
    ]

    operations = [
        migrations.AlterField(
            model_name="gradecategory",
            name="name",
            field=models.CharField(max_length=200, validators=[gradingsite.validators.validate_name]),
        ),
        migrations.AlterField(
            model_name="test",
            name="name",
            field=models.CharField(max_length=200, validators=[gradingsite.validators.validate_name]),
        ),
    ]
