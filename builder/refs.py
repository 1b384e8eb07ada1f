"""Docker image references: parsing and validation (distribution's grammar)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_REFERENCE = re.compile(
    rf"^(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$"
)


@dataclass(frozen=True, kw_only=True)
class ImageRef:
    """A parsed reference; ``raw`` is kept exactly as written."""

    raw: str
    domain: str | None
    path: str
    tag: str | None
    digest: str | None

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}" if self.domain else self.path


def parse_image_ref(text: str) -> ImageRef:
    """Parse ``text`` or raise ValueError with the reason."""
    if not text or len(text) > 512:
        raise ValueError("empty or longer than 512 characters")
    m = _REFERENCE.match(text)
    if m is None:
        raise ValueError("not of the form [registry[:port]/]name[:tag][@digest] (lower-case name)")
    domain, path = m.group("domain"), m.group("path")
    # "host/name": the first part is a registry only if it looks like one.
    if domain and not ("." in domain or ":" in domain or domain == "localhost" or "[" in domain):
        if domain != domain.lower() or not re.fullmatch(_COMPONENT, domain):
            raise ValueError(f"{domain!r} is neither a registry host nor a lower-case name")
        path, domain = f"{domain}/{path}", None
    if len(path) > 255:
        raise ValueError("repository name longer than 255 characters")
    return ImageRef(
        raw=text, domain=domain, path=path, tag=m.group("tag"), digest=m.group("digest")
    )


def is_valid_repository(text: str) -> bool:
    """A registry repository without tag or digest (e.g. ``127.0.0.1:5000/openhands/runtime``)."""
    try:
        ref = parse_image_ref(text)
    except ValueError:
        return False
    return ref.tag is None and ref.digest is None
