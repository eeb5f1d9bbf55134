"""The secret links of a reader study: one per reader and one for the admin.

A link is the only credential: a reader opens ``/r/<token>`` and sees only their own images, the
admin opens ``/admin/<token>`` for progress, results and exports. Tokens are drawn with
:mod:`secrets` (not from the study's seed, so knowing the seed does not give them away) and must
match ``TOKEN_PATTERN`` before the database is asked. Image ids are random too, so an id says
nothing about the image's truth — the blinding that Klang & Carlberg's and SHI-GAN's
(Falahkheirkhah et al., Table 2) expert readings rely on.
"""

import re
import secrets

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
READER_PATH = "/r/{token}"
ADMIN_PATH = "/admin/{token}"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def new_reader_token():
    """Returns a fresh reader secret (24 random bytes, URL-safe base64: 32 characters)."""
    return secrets.token_urlsafe(24)


def new_admin_token():
    """Returns a fresh admin secret (32 random bytes, URL-safe base64: 43 characters)."""
    return secrets.token_urlsafe(32)


def new_image_id():
    """Returns a fresh opaque image id (12 random bytes, URL-safe base64: 16 characters)."""
    return secrets.token_urlsafe(12)


def is_token(value):
    """Returns whether ``value`` has the shape of a token or image id (checked before any look-up)."""
    return isinstance(value, str) and TOKEN_PATTERN.match(value) is not None


def study_links(reader_tokens, admin_token, base_url=DEFAULT_BASE_URL):
    """Returns ``{"admin": url, "readers": {name: url}}``.

    Args:
        reader_tokens: ``[(name, token), ...]``.
        admin_token: the admin secret.
        base_url: where the study is served, e.g. ``"http://127.0.0.1:8000"``.
    """
    base = base_url.rstrip("/")
    return {
        "admin": base + ADMIN_PATH.format(token=admin_token),
        "readers": {name: base + READER_PATH.format(token=token) for name, token in reader_tokens},
    }


def format_links(links):
    """Returns the links as lines of text for the terminal."""
    lines = ["Reader links (send each reader only their own):"]
    width = max((len(name) for name in links["readers"]), default=0)
    lines += [f"  {name.ljust(width)}  {url}" for name, url in links["readers"].items()]
    lines += ["Admin link (progress, results, exports; keep it to yourself):", f"  {links['admin']}"]
    return "\n".join(lines)
