"""JupyterLab in the language of the edition a learner opens.

JupyterLab takes its interface language from one setting, ``locale`` of
``@jupyterlab/translation-extension:plugin``. Two ways to set it:

- ``make lab``: the student copy carries the default for its edition in
  ``<copy>/.jupyter/labconfig/default_setting_overrides.json``, and ``make lab`` puts that folder on
  ``JUPYTER_CONFIG_PATH``. A language the learner picks in Settings > Language is a user setting,
  which wins over this default, and the learner's other JupyterLab projects are left alone.
- Binder, where one server holds both copies: this server extension answers
  ``/course-language/<en|ko>/<path>`` by writing the learner's own setting (as the Language menu
  does) and opening ``<path>`` in JupyterLab.
"""

from __future__ import annotations

import json
from pathlib import Path

PLUGIN = "@jupyterlab/translation-extension:plugin"
LOCALES = {"en": "en", "ko": "ko_KR"}  # edition -> JupyterLab locale (a language pack is installed for ko_KR)
CONFIG_DIR = ".jupyter"  # inside a student copy: the folder `make lab` adds to JUPYTER_CONFIG_PATH
URL_PREFIX = "course-language"


def _merge_json(path: Path, values: dict) -> None:
    """Write ``values`` into the JSON (or JSON5) object at ``path``, keeping its other keys."""
    import json5

    try:
        current = json5.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except ValueError:
        current = {}
    if not isinstance(current, dict):
        current = {}
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(current.get(key), dict):
            current[key].update(value)
        else:
            current[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_default(copy: Path, lang: str) -> Path:
    """Make ``lang`` the default interface language of a JupyterLab that reads ``copy``/.jupyter."""
    path = Path(copy) / CONFIG_DIR / "labconfig" / "default_setting_overrides.json"
    _merge_json(path, {PLUGIN: {"locale": LOCALES[lang]}})
    return path


def write_user_setting(settings_dir: Path, lang: str) -> Path:
    """Set the interface language in JupyterLab's user settings, as Settings > Language does."""
    package, plugin = PLUGIN.split(":")
    path = Path(settings_dir) / package / f"{plugin}.jupyterlab-settings"
    _merge_json(path, {"locale": LOCALES[lang]})
    return path


# -- the server extension (Binder) ------------------------------------------------------------
def _user_settings_dir(serverapp) -> Path:
    for apps in serverapp.extension_manager.extension_apps.values():
        for app in apps:
            if getattr(app, "user_settings_dir", None):
                return Path(app.user_settings_dir)
    from jupyterlab.commands import get_user_settings_dir

    return Path(get_user_settings_dir())


def _load_jupyter_server_extension(serverapp) -> None:
    from jupyter_server.base.handlers import JupyterHandler
    from jupyter_server.utils import url_escape, url_path_join
    from tornado import web

    settings_dir = _user_settings_dir(serverapp)

    class SwitchLanguage(JupyterHandler):
        """Set the interface language, then open the notebook (or JupyterLab's start page)."""

        @web.authenticated
        def get(self, lang: str, path: str) -> None:
            write_user_setting(settings_dir, lang)
            target = url_path_join(self.base_url, "lab", "tree", url_escape(path)) if path else \
                url_path_join(self.base_url, "lab")
            self.redirect(target)

    pattern = url_path_join(serverapp.base_url, URL_PREFIX, f"({'|'.join(LOCALES)})/?(.*)")
    serverapp.web_app.add_handlers(".*$", [(pattern, SwitchLanguage)])


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "autograde.lab_language"}]
