"""``bilat dashboard``: a web page for operations, live from Redis.

* :mod:`.views`  what the page shows, from what Redis holds (pure);
* :mod:`.charts` its two charts as inline SVG (pure);
* :mod:`.app`    the aiohttp app: the page, its JSON, server-sent events, ``/metrics``;
* ``static/``    the page, its script and styles (package data; no CDN, no framework).
"""
