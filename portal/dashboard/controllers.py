from litestar import get
from litestar.response import Template

from portal.dashboard import service


@get("/", include_in_schema=False)
async def home() -> Template:
    return Template("home/index.html", context={"overview": await service.platform_overview()})
