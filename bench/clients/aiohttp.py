"""aiohttp: ClientSession (async only)."""

import aiohttp

from . import CHUNK, dist_version

NOTES = "async-only: its sequential cells run one request at a time on asyncio"


def version() -> str:
    return dist_version("aiohttp")


async def amake_session(pool: int = 100):
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=max(pool, 100)))


async def aclose_session(s) -> None:
    await s.close()


async def aget(s, url) -> bytes:
    async with s.get(url) as r:
        return await r.read()


async def apost(s, url, body) -> bytes:
    async with s.post(url, data=body) as r:
        return await r.read()


async def astream(s, url) -> int:
    n = 0
    async with s.get(url) as r:
        async for chunk in r.content.iter_chunked(CHUNK):
            n += len(chunk)
    return n
