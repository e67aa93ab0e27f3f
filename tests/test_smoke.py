from tests.conftest import World, bearer


def test_me_answers_for_a_fresh_key(client, world: World) -> None:
    owner = world.account()
    secret = world.key(owner)
    response = client.get("/api/v1/me", headers=bearer(secret))
    assert response.status_code == 200
    assert response.json["email"] == "owner@example.com"
    assert response.json["id"] == owner.id
