"""The settings `manage.py serve` runs with in the tests (tests/deployed.py): the shipped ones,
with one change for speed: the personas' users are made in the test process with MD5 password
hashes (hashing slowly on purpose would cost seconds per test), so the server checks passwords
with that hasher.
"""

from studio.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
