"""The mistakes an administrator can make, each saying what to do about it.

A front end (the portal, the operator's command) may word a remedy in its own
terms; the fields on each error let it do so without parsing the message.
"""

from __future__ import annotations


class AdministrationError(Exception):
    """A request a person can fix; the message says how."""


class UnknownSite(AdministrationError):
    def __init__(self, site_id: str) -> None:
        super().__init__(f"there is no site {site_id}; create it first")
        self.site_id = site_id


class UnknownMode(AdministrationError):
    def __init__(self, mode_id: str) -> None:
        super().__init__(f"mode {mode_id} is not in the mode catalog; publish it first")
        self.mode_id = mode_id


class RetiredMode(AdministrationError):
    def __init__(self, mode_id: str) -> None:
        super().__init__(
            f"mode {mode_id} is retired in the mode catalog; publish it again to enable it"
        )
        self.mode_id = mode_id


class OutOfRange(AdministrationError):
    """A number below its least allowed value (or above its greatest)."""

    def __init__(self, field: str, value: int, least: int, most: int | None = None) -> None:
        bound = f"at least {least}" if most is None else f"between {least} and {most}"
        super().__init__(f"{field} must be {bound}, not {value}")
        self.field, self.value, self.least, self.most = field, value, least, most


class UserExists(AdministrationError):
    """The name is taken; ``site_id`` says where, for a front end that may say so.

    The message itself never names the site: a site administrator must not learn
    another site's users from it.
    """

    def __init__(self, user_name: str, site_id: str) -> None:
        super().__init__(f"the user name {user_name} is taken; choose another")
        self.user_name, self.site_id = user_name, site_id


class TooManyKeys(AdministrationError):
    def __init__(self, user_name: str, access_key_ids: list[str]) -> None:
        super().__init__(
            f"user {user_name} has two access keys ({', '.join(access_key_ids)}), the most IAM"
            " allows; revoke the one not in use, then rotate"
        )
        self.user_name, self.access_key_ids = user_name, access_key_ids


class UnknownKey(AdministrationError):
    def __init__(self, access_key_id: str) -> None:
        super().__init__(f"there is no access key {access_key_id}")
        self.access_key_id = access_key_id


class UnknownDestination(AdministrationError):
    def __init__(self, site_id: str, name: str, known: list[str]) -> None:
        super().__init__(
            f"site {site_id} has no destination {name} (it has: {', '.join(known) or 'none'})"
        )
        self.site_id, self.name, self.known = site_id, name, known
