"""The foundation's pages: the home page in Dutch through the base layout, health, OpenAPI, errors."""

from tests import factories


async def test_home_page_is_dutch_and_shows_platform_counts(client):
    await factories.contract()
    response = await client.get("/", headers={"accept": "text/html"})
    assert response.status_code == 200
    html = response.text
    assert '<html lang="nl">' in html
    assert "Naar de inhoud" in html  # skip link for keyboard users
    assert "/static/css/portal.css" in html
    assert "https://" not in html.split("<body>")[0]  # no CDN assets in the head
    # one contract and its municipality exist
    assert "<dt>Contracten</dt><dd>1</dd>" in html
    assert "<dt>Organisaties</dt><dd>1</dd>" in html


async def test_stylesheet_is_served_locally(client):
    response = await client.get("/static/css/portal.css")
    assert response.status_code == 200
    assert ":focus-visible" in response.text


async def test_health_reports_the_database(client):
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert [check["name"] for check in body["checks"]] == ["database"]
    assert body["checks"][0]["ok"] is True


async def test_openapi_schema_lists_the_health_route(client):
    response = await client.get("/api/schema/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Inzicht API"
    assert "/health" in schema["paths"]


async def test_unknown_page_gives_a_dutch_404(client):
    html = await client.get("/bestaat-niet", headers={"accept": "text/html"})
    assert html.status_code == 404
    assert "Deze pagina bestaat niet" in html.text
    api = await client.get("/api/v1/bestaat-niet")
    assert api.status_code == 404
    assert api.json()["detail"].startswith("Deze pagina bestaat niet")
