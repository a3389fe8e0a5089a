from django.core.management import call_command

from gradingsite.storage import StaticFilesStorage


def test_before_collectstatic_pages_link_plain_static_names(tmp_path):
    storage = StaticFilesStorage(location=tmp_path, base_url="/static/")
    assert storage.url("admin/css/base.css") == "/static/admin/css/base.css"


def test_after_collectstatic_pages_link_hashed_compressed_files(tmp_path, settings):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "gradingsite.storage.StaticFilesStorage"}}
    call_command("collectstatic", "--noinput", verbosity=0)
    storage = StaticFilesStorage(location=tmp_path, base_url="/static/")
    url = storage.url("admin/css/base.css")
    assert url.startswith("/static/admin/css/base.") and url != "/static/admin/css/base.css"
    assert (tmp_path / url.removeprefix("/static/")).with_suffix(".css.gz").exists()


def test_the_suite_never_reads_the_working_trees_collected_files(settings):
    # A collectstatic or deploy rehearsal running beside the suite rewrites staticfiles/; servers the
    # suite starts inherit its environment, so they serve from the apps, not from a half-written manifest.
    assert settings.STATIC_ROOT != settings.BASE_DIR / "staticfiles"
    assert not (settings.STATIC_ROOT / "staticfiles.json").exists()
