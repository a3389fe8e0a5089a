"""A stored answer keeps every header that describes it, not only its Content-Type; a caller's live
keys are counted by an index."""

from django.conf import settings
from django.db import migrations, models


def content_type_to_headers(apps, schema_editor):
    IdempotencyKey = apps.get_model("accounts", "IdempotencyKey")
    keys = IdempotencyKey.objects.using(schema_editor.connection.alias)
    for row in keys.only("pk", "content_type"):
        keys.filter(pk=row.pk).update(headers={"Content-Type": row.content_type})


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0007_names_without_control_characters"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="idempotencykey",
            name="headers",
            field=models.JSONField(default=dict),
        ),
        migrations.RunPython(content_type_to_headers, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name="idempotencykey",
            name="content_type",
        ),
        migrations.AddIndex(
            model_name="idempotencykey",
            index=models.Index(fields=["user", "created_at"], name="idempotency_key_user_time"),
        ),
    ]
