"""The store's async twins: each blocking method run in a worker thread, so an asyncio host never waits on it."""
from __future__ import annotations

import asyncio


class AsyncTwins:
    async def aput(self, *args, **kwargs):
        return await asyncio.to_thread(self.put, *args, **kwargs)

    async def aput_many(self, puts):
        return await asyncio.to_thread(self.put_many, puts)

    async def aget(self, *args, **kwargs):
        return await asyncio.to_thread(self.get, *args, **kwargs)

    async def aget_many(self, *args, **kwargs):
        return await asyncio.to_thread(self.get_many, *args, **kwargs)

    async def adelete(self, *args):
        return await asyncio.to_thread(self.delete, *args)

    async def alist(self, *args, **kwargs):
        return await asyncio.to_thread(self.list, *args, **kwargs)

    async def alist_namespaces(self, **kwargs):
        return await asyncio.to_thread(self.list_namespaces, **kwargs)

    async def asearch(self, *args, **kwargs):
        return await asyncio.to_thread(self.search, *args, **kwargs)
