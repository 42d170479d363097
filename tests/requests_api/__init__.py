"""Integration tests of the request API (api.md sections 2, 4, 9-13, 16; security.md).

A package, so its test modules (``test_auth``, ``test_redirects``...) cannot clash with
same-named files elsewhere under tests/.
"""
