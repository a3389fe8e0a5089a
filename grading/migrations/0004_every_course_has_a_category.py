"""Every existing course gets the category "Tests" (weight 100) and its tests are put in it."""

from django.db import migrations
from django.db.models import OuterRef, Subquery


def give_categories(apps, schema_editor):
    Course = apps.get_model("courses", "Course")
    GradeCategory = apps.get_model("grading", "GradeCategory")
    Test = apps.get_model("grading", "Test")
    db = schema_editor.connection.alias
    without = Course.objects.using(db).exclude(grade_categories__isnull=False).values_list("pk", flat=True)
    GradeCategory.objects.using(db).bulk_create(
        [GradeCategory(course_id=pk, name="Tests", weight=100, position=0) for pk in without.iterator()],
        batch_size=1000,
    )
    first = GradeCategory.objects.using(db).filter(course_id=OuterRef("course_id")).order_by("position", "id")
    Test.objects.using(db).filter(category__isnull=True).update(category=Subquery(first.values("pk")[:1]))


class Migration(migrations.Migration):
    dependencies = [("grading", "0003_grade_categories_and_excused")]

    operations = [migrations.RunPython(give_categories, migrations.RunPython.noop)]
