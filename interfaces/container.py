"""How request handlers reach the wired container."""

from flask import Flask, current_app, request

from infrastructure.bootstrap import Container

KEY = "tinylytics"


def install(app: Flask, container: Container) -> None:
    app.extensions[KEY] = container


def container() -> Container:
    found = current_app.extensions[KEY]
    assert isinstance(found, Container)
    return found


def base_url() -> str:
    """This server's public base URL: the setting, or else the host the request came to."""
    configured = container().settings.base_url
    return configured or request.host_url.rstrip("/")
