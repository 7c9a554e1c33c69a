"""The foundation's pages: the home page in Dutch through the base layout, health, OpenAPI, errors."""

from tests import factories


async def test_anonymous_visitors_land_on_the_dutch_login_page(client):
    await factories.contract()
    response = await client.get("/", headers={"accept": "text/html"})
    assert response.status_code == 303 and response.headers["location"] == "/inloggen"
    html = (await client.get("/inloggen", headers={"accept": "text/html"})).text
    assert '<html lang="nl">' in html
    assert "Naar de inhoud" in html  # skip link for keyboard users
    assert "/static/css/portal.css" in html
    assert "https://" not in html.split("<body>")[0]  # no CDN assets in the head
    assert "Hulpvragen" not in html  # no platform figures before anyone has logged in


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


async def test_liveness_answers_without_touching_the_database(client):
    response = await client.get("/health/live")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "set-cookie" not in response.headers  # probes must not create sessions


def test_templates_are_reloaded_from_disk_only_in_development():
    """Checking every template's modification time on each render is for a developer editing them."""
    from portal.app import create_app
    from portal.settings import Settings

    production = Settings(environment="production", secret_key="p" * 48, pseudonym_key="q" * 48)
    assert create_app(production).template_engine.engine.auto_reload is False
    assert create_app(Settings(environment="test")).template_engine.engine.auto_reload is False
    assert create_app(Settings(environment="development")).template_engine.engine.auto_reload is True
