"""One typed settings model per process, read from the environment once at start.

`WorkerSettings.load(env)` (worker.py) and `ClientSettings.load(env)` (cli/main.py) validate
every variable their process reads and raise SettingsError, one line naming the variable, on the
first bad one. docs/operate/environment.md's tables are generated from these models
(`python -m common.settings.doc`); tests/common/test_settings.py fails when they disagree.
"""

from common.settings.base import EnvSettings, SettingsError
from common.settings.client import ClientSettings
from common.settings.shared import SharedSettings
from common.settings.worker import WorkerSettings

MODELS: tuple[type[EnvSettings], ...] = (WorkerSettings, ClientSettings)

__all__ = [
    "MODELS",
    "ClientSettings",
    "EnvSettings",
    "SettingsError",
    "SharedSettings",
    "WorkerSettings",
]
