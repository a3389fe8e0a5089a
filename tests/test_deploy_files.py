"""The deployment files agree with each other and with what Heroku and CI expect.

No database: these read files only.
"""

import importlib
import json
import re
import runpy
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def procfile() -> dict[str, str]:
    processes = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            processes[name.strip()] = command.strip()
    return processes


def workflow_steps():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    for job in workflow["jobs"].values():
        yield from job["steps"]


def test_runtime_txt_and_python_version_name_the_same_minor():
    runtime = (ROOT / "runtime.txt").read_text().strip()
    python_version = (ROOT / ".python-version").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+\.\d+", runtime), runtime
    assert re.fullmatch(r"3\.\d+(\.\d+)?", python_version), python_version
    assert minor(runtime.removeprefix("python-")) == minor(python_version)


def test_ci_takes_its_python_from_python_version():
    setups = [step for step in workflow_steps() if step.get("uses", "").startswith("actions/setup-python@")]
    assert setups, "the workflow sets up no Python"
    for step in setups:
        assert step["with"]["python-version-file"] == ".python-version"
        assert "python-version" not in step["with"]


def test_every_action_is_pinned_to_a_commit():
    for step in workflow_steps():
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]


def test_procfile_releases_with_migrate_on_the_direct_database_and_serves_with_gunicorn():
    processes = procfile()
    # Migrations never go through the pooler (DATABASE_CONNECTION_POOL_URL): the "direct" alias is DATABASE_URL.
    assert processes["release"] == "python manage.py migrate --noinput --database direct"
    assert processes["web"].split()[0] == "gunicorn"
    assert "gradingsite.wsgi" in processes["web"]
    assert processes["worker"] == "python manage.py worker"


@pytest.mark.parametrize("web_concurrency", [None, "3"])
def test_gunicorn_config_follows_heroku_env(monkeypatch, web_concurrency):
    monkeypatch.setenv("PORT", "5123")
    if web_concurrency is None:
        monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    else:
        monkeypatch.setenv("WEB_CONCURRENCY", web_concurrency)
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert config["bind"] in (["[::]:5123"], ["0.0.0.0:5123"])
    assert config["workers"] == int(web_concurrency or 2)
    assert config["timeout"] < 30  # Heroku's router gives up at 30 s
    assert config["accesslog"] == "-"
    assert config["forwarded_allow_ips"] == "*"
    assert config["control_socket_disable"] is True


def test_gunicorn_keeps_connections_alive_past_the_routers_idle_timeout():
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    # The sync worker closes the connection after every response; gthread's threads keep it, and so
    # does the worker built on them (its behaviour: tests/test_web_server.py).
    from gunicorn.workers.gthread import ThreadWorker

    module, _, name = config["worker_class"].rpartition(".")
    assert issubclass(getattr(importlib.import_module(module), name), ThreadWorker)
    assert config["threads"] >= 2
    # Heroku's router closes idle keep-alive connections after 90 s: it must close first.
    assert config["keepalive"] > 90


def test_app_json_generates_the_secrets_and_asks_for_email_settings():
    app = json.loads((ROOT / "app.json").read_text())
    env = app["env"]
    assert env["SECRET_KEY"]["generator"] == "secret"
    assert env["JWT_SECRET"]["generator"] == "secret"
    assert env["SENDGRID_API_KEY"]["required"] is True
    assert env["DEFAULT_FROM_EMAIL"]["required"] is True
    assert {"plan": "heroku-postgresql"} in app["addons"]


FILE_STORE = ("AWS_STORAGE_BUCKET_NAME", "AWS_S3_ENDPOINT_URL", "AWS_S3_REGION_NAME", "AWS_ACCESS_KEY_ID")


def test_app_json_offers_the_file_stores_settings_without_requiring_a_bucket():
    env = json.loads((ROOT / "app.json").read_text())["env"]

    assert all(env[name]["required"] is False for name in (*FILE_STORE, "AWS_SECRET_ACCESS_KEY"))
    assert env["FILE_MAX_BYTES"]["value"] == "52428800"


def test_every_setting_app_json_offers_is_in_the_readmes_configuration():
    env = json.loads((ROOT / "app.json").read_text())["env"]
    readme = (ROOT / "README.md").read_text()
    configuration = readme[readme.index("## Configuration") : readme.index("### Client addresses")]

    assert [name for name in env if f"`{name}`" not in configuration] == []
