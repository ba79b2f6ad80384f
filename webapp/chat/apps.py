import logging

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

log = logging.getLogger(__name__)


class ChatConfig(AppConfig):
    name = "webapp.chat"
    label = "chat"
    verbose_name = "Chat transcripts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        configure_python_tool()
        checks.register(python_tool_check)


def configure_python_tool() -> None:
    """GPTOSS_PYTHON_TOOL=1 enables gpt-oss's python tool in this process (the site validates
    turn settings with it, the worker runs it) once a probe sandbox has run; where none can,
    the tool stays off and the reason is logged and answered to whoever asks for it."""
    from inference.tools import python
    from inference.tools.sandbox import SandboxUnavailable

    if not settings.GPTOSS_PYTHON_TOOL:
        python.disable()
        return
    try:
        python.enable()
    except SandboxUnavailable as exc:
        log.error("GPTOSS_PYTHON_TOOL=1 but the python tool stays off: %s", exc)


def python_tool_check(app_configs=None, **kwargs) -> list:
    from inference.tools import UnknownTool, registry

    if not settings.GPTOSS_PYTHON_TOOL:
        return []
    try:
        registry.get("python")
    except UnknownTool as exc:
        return [checks.Warning(f"GPTOSS_PYTHON_TOOL=1 but {exc.args[0]}",
                               hint="Install bubblewrap (apt-get install bubblewrap) where user "
                                    "namespaces are allowed, or unset GPTOSS_PYTHON_TOOL.",
                               id="chat.W001")]
    return []
