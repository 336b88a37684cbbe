"""The cloud side: an async client of the ENS 2017-11-10 image API. Knows nothing of Kubernetes.

``client.EnsClient`` (one typed method per operation, retries, throttling), ``auth`` (ACS3-HMAC-SHA256),
``credentials`` (Secret, environment, RRSA), ``errors`` (what to do about a failure), ``models`` (wire
names), ``ratelimit`` (a token bucket per action per credentials scope), ``transport`` (aiohttp under httpx).
"""
