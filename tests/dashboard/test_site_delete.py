"""The Edit tab's "Delete this site": the one erasure use case, confirmed by the domain."""

from infrastructure.bootstrap import Container
from infrastructure.settings import Settings
from tests.conftest import World
from tests.dashboard.conftest import PASSWORD, Browser
from tests.test_erasure import dump_stores, traces


def test_the_edit_tab_deletes_the_site_once_its_domain_is_typed(
    settings: Settings, container: Container, world: World, person: Browser, other: Browser
) -> None:
    owner = world.account("owner@example.com")
    kept = world.site(owner, "https://kept-blog.example")
    site = world.site(owner, "https://blog.example.com/notes", label="My notes")
    stranger = world.account("stranger@example.com")
    assert person.sign_in("owner@example.com").status_code == 302
    assert other.sign_in("stranger@example.com", PASSWORD).status_code == 302
    page = person.get(f"/sites/{site.uid}/edit")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "Delete this site" in body
    assert f'action="/sites/{site.uid}/delete"' in body and 'name="delete-domain"' in body

    before = dump_stores(settings)
    url = f"/sites/{site.uid}/delete"
    edit = f"/sites/{site.uid}/edit"
    wrong = person.submit(url, {"delete-domain": "kept-blog.example"}, page=edit)
    assert wrong.status_code == 422
    said = "Type the site&#39;s domain, blog.example.com/notes, to delete it"
    assert said in wrong.get_data(as_text=True)
    empty = person.submit(url, {"delete-domain": ""})
    assert empty.status_code == 422 and "Type the site&#39;s domain" in empty.get_data(as_text=True)
    # Someone else's site is not found, whatever they type; and a post without the
    # page's token is refused.
    theirs = other.submit(url, {"delete-domain": "blog.example.com/notes"}, page="/sites")
    assert theirs.status_code == 404
    forged = person.client.post(url, data={"delete-domain": "blog.example.com/notes"})
    assert forged.status_code in (400, 403)
    container.projections.catch_up()
    assert dump_stores(settings) == before

    done = person.submit(url, {"delete-domain": "Blog.Example.com/notes"}, page=edit)
    assert done.status_code == 302 and done.location.endswith("/sites")
    listing = person.get(done.location).get_data(as_text=True)
    assert "blog.example.com/notes and all its data are deleted." in listing
    assert "kept-blog.example" in listing
    assert person.get(f"/sites/{site.uid}/edit").status_code == 404
    container.projections.catch_up()
    assert traces(settings, ["blog.example.com", "my notes", site.uid]) == []
    assert traces(settings, ["kept-blog.example"]) != []
    assert container.configuration.get_account(owner.uuid).site_ids == [kept.uuid]
    assert container.configuration.get_account(stranger.uuid)
