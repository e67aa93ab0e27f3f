"""The `MailTemplates` port: Jinja templates in infrastructure/templates/mail/.

Each message has `<name>.txt` (plain text, not escaped) and `<name>.html` (escaped);
the postbox sends both as one multipart/alternative message.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

FOLDER = Path(__file__).parent / "templates" / "mail"


class JinjaMailTemplates:
    def __init__(self, folder: Path = FOLDER) -> None:
        loader = FileSystemLoader(folder)
        self.text = Environment(
            loader=loader, autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True
        )
        self.html = Environment(loader=loader, autoescape=True, undefined=StrictUndefined)

    def render(self, name: str, context: Mapping[str, Any]) -> tuple[str, str]:
        text = self.text.get_template(f"{name}.txt").render(**context)
        html = self.html.get_template(f"{name}.html").render(**context)
        return text, html
