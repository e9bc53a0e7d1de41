import asyncio

from dojangkok_local.bases import main

asyncio.run(main())
