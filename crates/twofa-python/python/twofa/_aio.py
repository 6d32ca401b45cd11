"""Small asyncio helpers for the extension."""

from __future__ import annotations

from typing import Any, Awaitable, Dict


async def headers_of(session: Awaitable[Any]) -> Dict[str, str]:
    """The headers of the session ``session`` resolves to."""
    return dict((await session).headers)


async def awaited(awaitable: Awaitable[Any]) -> Any:
    """``awaitable``'s result, as a coroutine (for ``asyncio.run_coroutine_threadsafe``)."""
    return await awaitable
