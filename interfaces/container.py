"""How request handlers reach the wired container."""

from flask import Flask, current_app

from infrastructure.bootstrap import Container

KEY = "tinylytics"


def install(app: Flask, container: Container) -> None:
    app.extensions[KEY] = container


def container() -> Container:
    found = current_app.extensions[KEY]
    assert isinstance(found, Container)
    return found
