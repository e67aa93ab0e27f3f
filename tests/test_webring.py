"""The webring: operator CLI, random member in the widget data, resized avatars."""

import io
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from flask.testing import FlaskClient
from PIL import Image

from infrastructure.bootstrap import Container
from interfaces.cli import main
from tests.conftest import World


def run(env: dict[str, str], *args: str) -> Any:
    result = CliRunner().invoke(main, [*args, "--json"], env=env)
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])


def test_members_avatars_and_the_widget(
    env: dict[str, str], tmp_path: Path, world: World, client: FlaskClient, container: Container
) -> None:
    site = world.site(world.account(), "https://example.com")
    image = tmp_path / "avatar.jpg"
    Image.new("RGB", (640, 480), (200, 30, 30)).save(image)

    code, added = run(env, "webring", "add", "--url", "friend.example", "--label", "Friend",
                      "--avatar", str(image))  # fmt: skip
    assert code == 0 and added["url"] == "https://friend.example" and added["avatar"]
    assert run(env, "webring", "add", "--url", "https://example.com")[0] == 0  # the site itself
    code, listed = run(env, "webring", "list")
    assert [m["url"] for m in listed["members"]] == [
        "https://friend.example",
        "https://example.com",
    ]

    for _ in range(10):  # random, but never the asking site
        member = client.get(f"/widgets/{site.uid}.json?webring=avatars").json["webring"]
        assert member["url"] == "https://friend.example" and member["label"] == "Friend"
    assert member["avatar"]["src"].endswith(f"/webring/avatars/{added['avatar']}-100.png")
    assert member["avatar"]["srcset"].endswith("-200.png 2x")
    plain = client.get(f"/widgets/{site.uid}.json?webring").json["webring"]
    assert "avatar" not in plain

    for size in (100, 200):
        response = client.get(f"/webring/avatars/{added['avatar']}-{size}.png")
        assert response.status_code == 200 and response.mimetype == "image/png"
        assert Image.open(io.BytesIO(response.data)).size == (size, size)
    assert client.get(f"/webring/avatars/{added['avatar']}-300.png").status_code == 404

    code, removed = run(env, "webring", "remove", "--url", "https://friend.example")
    assert code == 0 and removed == {"removed": True, "url": "https://friend.example"}
    assert client.get(f"/widgets/{site.uid}.json?webring").json["webring"] is None


def test_bad_webring_commands(env: dict[str, str], tmp_path: Path) -> None:
    not_image = tmp_path / "notes.txt"
    not_image.write_text("hello")
    code, failed = run(env, "webring", "add", "--url", "a.example", "--avatar", str(not_image))
    assert code == 1 and "not an image" in failed["error"]
    code, failed = run(env, "webring", "add", "--url", "ftp://nope")
    assert code == 1 and "http" in failed["error"]
    code, failed = run(env, "webring", "remove", "--url", "https://never.example")
    assert code == 1 and "not in the webring" in failed["error"]
