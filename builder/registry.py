"""Read image digests from registries over the Registry HTTP API (OCI distribution).

What ``oh-builder lock`` needs and nothing more: the digest a reference points at now
(an index or a single manifest) and the manifest digest of each platform in it. It
goes where the Docker daemon would: Docker Hub names through the daemon's mirrors
first, plain HTTP only for registries the daemon treats as insecure (by default
127.0.0.0/8), with the user's ``docker login`` credentials (config.json ``auths``,
``credHelpers``, ``credsStore``) and the registry's token challenge.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import os
import re
import socket
import ssl
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from builder.errors import EngineError
from builder.model import ImageDigests
from builder.refs import parse_image_ref

HUB = "docker.io"
HUB_API = "https://registry-1.docker.io"
HUB_AUTH_KEY = "https://index.docker.io/v1/"
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
ACCEPT = ", ".join((*INDEX_TYPES, *MANIFEST_TYPES))
TIMEOUT = 30.0
# Where the Docker daemon finds what it trusts of a registry: CERTS_DIR/HOST[:PORT]/
# *.crt (CA roots), *.cert + *.key (a client certificate).
CERTS_DIR = Path("/etc/docker/certs.d")


class NotFound(Exception):
    """The registry has no manifest for this reference (404)."""


class Unreachable(EngineError):
    """No HTTP answer from this address (refused, reset, a TLS handshake that failed)."""


@dataclass(frozen=True, kw_only=True)
class Location:
    """Where a reference's manifests are read: the base URLs to try, the repository."""

    host: str  # as docker names it (docker.io, 127.0.0.1:5000)
    urls: tuple[str, ...]  # scheme://host[:port], mirrors first
    repository: str
    reference: str  # tag or digest


@dataclass(kw_only=True)
class Client:
    """A registry client with the daemon's mirror and insecure-registry settings."""

    mirrors: Sequence[str] = ()
    insecure_cidrs: Sequence[str] = ("127.0.0.0/8",)
    insecure_hosts: Sequence[str] = ()
    docker_config: Path | None = None
    certs_dir: Path = CERTS_DIR
    _tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    _contexts: dict[str, ssl.SSLContext] = field(default_factory=dict)
    _answered: dict[str, str] = field(default_factory=dict)  # host -> the URL that answered
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- where -----------------------------------------------------------------------

    def locate(self, image: str) -> Location:
        ref = parse_image_ref(image)
        host = ref.domain or HUB
        path = ref.path
        if host in (HUB, "index.docker.io", "registry-1.docker.io"):
            host = HUB
            if "/" not in path:
                path = f"library/{path}"
            urls = (*(m.rstrip("/") for m in self.mirrors), HUB_API)
        else:
            # As dockerd: HTTPS, and for an insecure registry (127.0.0.0/8 by default) then
            # plain HTTP; the scheme that answered first is tried first from then on.
            urls = (f"https://{host}",)
            if self._insecure(host):
                urls = (*urls, f"http://{host}")
                known = self._answered.get(host)
                if known in urls:
                    urls = (known, *(u for u in urls if u != known))
        return Location(
            host=host, urls=urls, repository=path, reference=ref.digest or ref.tag or "latest"
        )

    def _insecure(self, host: str) -> bool:
        if host in self.insecure_hosts:
            return True
        name = _hostname(host)
        try:
            addrs = {ipaddress.ip_address(name)}
        except ValueError:
            try:
                addrs = {ipaddress.ip_address(str(a[4][0])) for a in socket.getaddrinfo(name, None)}
            except OSError:
                return False
        nets = [ipaddress.ip_network(c, strict=False) for c in self.insecure_cidrs]
        return any(a in n for a in addrs for n in nets)

    # -- what ------------------------------------------------------------------------

    def resolve(self, image: str) -> ImageDigests:
        """The digest ``image`` points at now; raises NotFound or EngineError."""
        loc = self.locate(image)
        errors: list[str] = []
        for url in loc.urls:
            try:
                body, media_type, digest = self._manifest(loc, url, loc.reference)
            except NotFound:
                self._answered.setdefault(loc.host, url)
                errors.append(f"{url}: not found")
                continue
            except EngineError as exc:
                if url != loc.urls[-1] and (loc.host == HUB or isinstance(exc, Unreachable)):
                    errors.append(str(exc))  # a mirror, or a scheme, that fails: the next
                    continue
                raise
            self._answered.setdefault(loc.host, url)
            return ImageDigests(
                digest=digest, platforms=self._platforms(loc, url, body, media_type, digest)
            )
        raise NotFound("; ".join(errors))

    def _platforms(
        self, loc: Location, url: str, body: Mapping[str, Any], media_type: str, digest: str
    ) -> dict[str, str]:
        if media_type in INDEX_TYPES or "manifests" in body:
            out: dict[str, str] = {}
            for m in body.get("manifests") or []:
                p = m.get("platform") or {}
                if not p.get("os") or p.get("os") == "unknown":
                    continue  # attestations and other non-image entries
                out.setdefault(platform_name(p), str(m.get("digest")))
            return dict(sorted(out.items()))
        # A single manifest: its config names the platform.
        cfg_digest = str((body.get("config") or {}).get("digest", ""))
        try:
            cfg = json.loads(self._get(loc, url, f"blobs/{cfg_digest}", accept="*/*")[0])
        except (NotFound, ValueError):
            raise EngineError(
                f"{loc.host}/{loc.repository}: the manifest's config blob {cfg_digest} "
                "is missing or not JSON"
            ) from None
        return {platform_name(cfg): digest}

    def _manifest(self, loc: Location, url: str, reference: str) -> tuple[dict[str, Any], str, str]:
        data, headers = self._get(loc, url, f"manifests/{reference}", accept=ACCEPT)
        digest = headers.get("Docker-Content-Digest") or (
            "sha256:" + hashlib.sha256(data).hexdigest()
        )
        media_type = (headers.get("Content-Type") or "").split(";")[0].strip()
        try:
            body = json.loads(data)
        except ValueError:
            raise EngineError(
                f"{loc.host}/{loc.repository}:{reference}: the registry's manifest is not JSON"
            ) from None
        return body, media_type, digest

    # -- HTTP ------------------------------------------------------------------------

    def _context(self, url: str) -> ssl.SSLContext | None:
        """The system's trust plus what the daemon trusts for this host (certs.d)."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "https":
            return None
        host = parts.netloc
        with self._lock:
            ctx = self._contexts.get(host)
            if ctx is None:
                ctx = ssl.create_default_context()
                if self._insecure(host):  # as dockerd: an insecure registry's certificate
                    ctx.check_hostname = False  # is not checked
                    ctx.verify_mode = ssl.CERT_NONE
                where = self.certs_dir / host
                if where.is_dir():
                    for ca in sorted(where.glob("*.crt")):
                        ctx.load_verify_locations(cafile=str(ca))
                    for cert in sorted(where.glob("*.cert")):
                        if cert.with_suffix(".key").is_file():
                            ctx.load_cert_chain(str(cert), str(cert.with_suffix(".key")))
                self._contexts[host] = ctx
        return ctx

    def _open(self, req: urllib.request.Request) -> Any:
        return urllib.request.urlopen(req, timeout=TIMEOUT, context=self._context(req.full_url))

    def _get(self, loc: Location, url: str, path: str, *, accept: str) -> tuple[bytes, Any]:
        full = f"{url}/v2/{loc.repository}/{path}"
        scope = f"repository:{loc.repository}:pull"
        auth = self._tokens.get((url, scope))
        for attempt in range(3):
            req = urllib.request.Request(full, headers={"Accept": accept})
            if auth:
                req.add_header("Authorization", auth)
            try:
                with self._open(req) as resp:
                    return resp.read(), resp.headers
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    raise NotFound(full) from None
                if exc.code == 401 and attempt == 0:
                    auth = self._authorize(loc, url, exc.headers.get("WWW-Authenticate", ""))
                    with self._lock:
                        self._tokens[(url, scope)] = auth
                    continue
                if exc.code == 401 or exc.code == 403:
                    raise EngineError(
                        f"{loc.host}: unauthorized to read {loc.repository} ({exc.code}); "
                        f"run `docker login {loc.host}` with an account that can pull it"
                    ) from None
                if exc.code in (429, 500, 502, 503, 504) and attempt < 2:
                    continue
                raise EngineError(
                    f"{loc.host}: {exc.code} {exc.reason} for {full}; try again later"
                ) from None
            except (urllib.error.URLError, OSError, ssl.SSLError) as exc:
                reason = getattr(exc, "reason", exc)
                if isinstance(reason, ssl.SSLCertVerificationError):
                    raise EngineError(
                        f"{loc.host}: the registry's TLS certificate is not trusted "
                        f"({reason.verify_message}); put its CA in "
                        f"{self.certs_dir / loc.host / 'ca.crt'} and rerun"
                    ) from None
                raise Unreachable(
                    f"{loc.host}: cannot reach the registry at {url} ({reason}); "
                    "is it running and is the name right?"
                ) from None
        raise EngineError(f"{loc.host}: no answer for {full}")

    def _authorize(self, loc: Location, url: str, challenge: str) -> str:
        scheme, _, params = challenge.partition(" ")
        creds = credentials(loc.host, self.docker_config)
        basic = (
            "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode() if creds else ""
        )
        if scheme.lower() == "basic":
            if not basic:
                raise EngineError(
                    f"{loc.host}: the registry wants a login; run `docker login {loc.host}`"
                )
            return basic
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        realm = fields.pop("realm", "")
        if not realm:
            raise EngineError(f"{loc.host}: unexpected authentication challenge {challenge!r}")
        fields.setdefault("scope", f"repository:{loc.repository}:pull")
        req = urllib.request.Request(f"{realm}?{urllib.parse.urlencode(fields)}")
        if basic:
            req.add_header("Authorization", basic)
        try:
            with self._open(req) as resp:
                token = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise EngineError(
                f"{loc.host}: login refused by {realm} ({exc.code}); "
                f"run `docker login {loc.host}` again"
            ) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise EngineError(f"{loc.host}: cannot get a token from {realm} ({exc})") from None
        value = token.get("token") or token.get("access_token")
        if not value:
            raise EngineError(f"{loc.host}: {realm} gave no token")
        return f"Bearer {value}"


def _hostname(host: str) -> str:
    """``host[:port]`` or ``[v6]:port`` without the port and brackets."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0]


def platform_name(p: Mapping[str, Any]) -> str:
    """``os/architecture[/variant]`` as buildx spells it (arm64's v8 left out)."""
    name = f"{p.get('os')}/{p.get('architecture')}"
    variant = p.get("variant")
    if variant and not (p.get("architecture") == "arm64" and variant == "v8"):
        name += f"/{variant}"
    return name


def credentials(host: str, docker_config: Path | None = None) -> tuple[str, str] | None:
    """``docker login``'s credentials for ``host``: config.json auths or a helper."""
    path = (
        docker_config
        or Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker")) / "config.json"
    )
    try:
        cfg = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    key = HUB_AUTH_KEY if host == HUB else host
    helper = (cfg.get("credHelpers") or {}).get(key) or cfg.get("credsStore")
    if helper:
        try:
            out = subprocess.run(
                [f"docker-credential-{helper}", "get"],
                input=key,
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout
            data = json.loads(out)
            return str(data["Username"]), str(data["Secret"])
        except (OSError, subprocess.SubprocessError, ValueError, KeyError):
            pass  # not stored there: fall back to auths
    for name in (key, f"https://{key}", f"http://{key}"):
        entry = (cfg.get("auths") or {}).get(name) or {}
        if entry.get("auth"):
            user, _, secret = base64.b64decode(entry["auth"]).decode().partition(":")
            return user, secret
    return None
