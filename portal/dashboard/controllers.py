from typing import Any

from litestar import Request, get
from litestar.response import Template

from portal.accounts.rules import Actor
from portal.dashboard import service


@get("/", include_in_schema=False)
async def home(request: Request[Actor, Any, Any]) -> Template:
    """Mijn werk: the landing page of everyone who is logged in (anonymous visitors go to /inloggen)."""
    return Template("home/index.html", context={"work": await service.my_work(request.user)})
