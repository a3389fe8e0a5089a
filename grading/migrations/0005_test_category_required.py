import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("grading", "0004_every_course_has_a_category")]

    operations = [
        migrations.AlterField(
            model_name="test",
            name="category",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.RESTRICT, related_name="tests", to="grading.gradecategory"
            ),
        ),
    ]
