"""A result carries its test's date and publication (``TestResult.test_date``, ``test_published``),
kept equal to the test's by two triggers, so that a student's results are listed by walking an index
of their own rows in date order. The foreign keys' own indexes go: the index of the student's
results and the unique one of (test, student) lead with them.

- ``grading_result_reads_its_test`` (before a result is inserted, or its ``test_id`` is written, as
  a save of every field writes it): copies the test's ``date`` and ``results_published`` into the
  row, whatever the statement gave. It share-locks the test's row, as the grade service does before
  any grade write, so a change of the test waits for the result's transaction and then finds the
  result (and a result written after the change reads the new values).
- ``grading_test_writes_its_results`` (after a test's ``date`` or ``results_published`` changed):
  writes the new values into the test's results.

Whoever writes (the grade service, the admin, a bulk insert, the CSV import, a test's own code), the
copies stay equal to the test's. The triggers write nothing else: a result's ``version`` and
``updated_at`` stay (its representation doesn't show the copies).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TRIGGERS = """
CREATE FUNCTION grading_result_reads_its_test() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT t.date, t.results_published INTO NEW.test_date, NEW.test_published
    FROM grading_test t WHERE t.id = NEW.test_id FOR SHARE;
    RETURN NEW;
END
$$;
CREATE TRIGGER grading_result_reads_its_test
    BEFORE INSERT OR UPDATE OF test_id ON grading_testresult
    FOR EACH ROW EXECUTE FUNCTION grading_result_reads_its_test();

CREATE FUNCTION grading_test_writes_its_results() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Sets only the copies, not test_id: the trigger above doesn't run again for these rows.
    UPDATE grading_testresult SET test_date = NEW.date, test_published = NEW.results_published
    WHERE test_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER grading_test_writes_its_results
    AFTER UPDATE OF date, results_published ON grading_test
    FOR EACH ROW
    WHEN (OLD.date IS DISTINCT FROM NEW.date OR OLD.results_published IS DISTINCT FROM NEW.results_published)
    EXECUTE FUNCTION grading_test_writes_its_results();
"""

DROP_TRIGGERS = """
DROP TRIGGER grading_test_writes_its_results ON grading_test;
DROP FUNCTION grading_test_writes_its_results();
DROP TRIGGER grading_result_reads_its_test ON grading_testresult;
DROP FUNCTION grading_result_reads_its_test();
"""

COPY = """
UPDATE grading_testresult r SET test_date = t.date, test_published = t.results_published
FROM grading_test t WHERE t.id = r.test_id
"""


class Migration(migrations.Migration):

    dependencies = [
        ('grading', '0013_files_in_submissions'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='testresult',
            name='test_date',
            field=models.DateField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name='testresult',
            name='test_published',
            field=models.BooleanField(editable=False, null=True),
        ),
        migrations.RunSQL(COPY, migrations.RunSQL.noop),
        migrations.AlterField(
            model_name='testresult',
            name='test_date',
            field=models.DateField(editable=False),
        ),
        migrations.AlterField(
            model_name='testresult',
            name='test_published',
            field=models.BooleanField(editable=False),
        ),
        migrations.RunSQL(TRIGGERS, DROP_TRIGGERS),
        migrations.RemoveIndex(
            model_name='testresult',
            name='result_student_test',
        ),
        migrations.AddIndex(
            model_name='testresult',
            index=models.Index(fields=['student', 'test_date', 'id'], name='result_student_date'),
        ),
        migrations.AddIndex(
            model_name='testresult',
            index=models.Index(condition=models.Q(('test_published', True)), fields=['student', 'test_date', 'id'], name='result_student_published'),
        ),
        # The foreign keys' own indexes: the indexes that lead with them serve every lookup.
        migrations.AlterField(
            model_name='testresult',
            name='student',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='test_results', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='testresult',
            name='test',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='results', to='grading.test'),
        ),
    ]
