"""HTTPS from the scripts' side: which CA they verify the public addresses against, and which TLS
settings cannot work together (scripts/check-env reports them, each with its cause and fix).

TLS_MODE says where nginx's certificate comes from (env/defaults.env, "HTTPS"): acme, files and
rehearsal make nginx terminate TLS itself; off means a terminator in front of it.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

from certificates import pem
from certificates.settings import ACME, FILES, MODES, OFF, REHEARSAL
from scripts.settings import envfiles

# What a check finds: (variable, problem, fix), as scripts/stack/check_env.py's Problem takes them.
Finding = tuple[str, str, str]
SECURE_APP_SETTINGS = ("DJANGO_SECURE_SSL_REDIRECT", "DJANGO_SESSION_COOKIE_SECURE", "DJANGO_CSRF_COOKIE_SECURE")
PROFILE = "certificates"
# Below this, check-env notes that the operator's certificate (TLS_MODE=files) is due.
SOON_DAYS = 14


def truthy(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def path_setting(value: str, root: Path = envfiles.REPO) -> Path:
    """A path of the env files: absolute, or relative to the bundle's folder."""
    return Path(value) if Path(value).is_absolute() else root / value


def trust(env: str, values: dict[str, str], root: Path = envfiles.REPO) -> str | bool:
    """What the scripts verify the https addresses against (requests' `verify`): TLS_CA_FILE when set,
    the rehearsal CA that scripts/up saved with TLS_MODE=rehearsal, else the public CAs (True)."""
    if values.get("TLS_CA_FILE"):
        return str(path_setting(values["TLS_CA_FILE"], root))
    if values.get("TLS_MODE") == REHEARSAL:
        return str(envfiles.rehearsal_ca_file(env, root))
    return True


def host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def public_name(name: str) -> bool:
    """Whether an ACME CA could validate `name` over the internet: a DNS name, not an address or localhost."""
    try:
        ipaddress.ip_address(name)
        return False
    except ValueError:
        return name != "localhost" and not name.endswith(".localhost") and "." in name


def allowed(name: str, patterns: list[str]) -> bool:
    """Django's ALLOWED_HOSTS matching: the name, ".domain" for it and its subdomains, or "*"."""
    return any(
        pattern == "*"
        or name == pattern
        or (pattern.startswith(".") and (name.endswith(pattern) or name == pattern[1:]))
        for pattern in (p.strip().lower() for p in patterns if p.strip())
    )


def trusted_origin(url: str, patterns: list[str]) -> bool:
    """Django's CSRF_TRUSTED_ORIGINS matching: the origin, or scheme://*.domain for subdomains."""
    wanted, scheme = origin(url), urlsplit(url).scheme
    for pattern in (p.strip().lower() for p in patterns if p.strip()):
        if pattern == wanted:
            return True
        if pattern.startswith(f"{scheme}://*.") and urlsplit(wanted).netloc.endswith(pattern[len(scheme) + 4 :]):
            return True
    return False


def findings(env: str, values: dict[str, str], strict: bool, root: Path = envfiles.REPO) -> list[Finding]:
    """Every combination of the TLS settings, addresses and cookies that cannot work, with its fix."""
    local = envfiles.local_file(env, root).relative_to(root)
    mode = values.get("TLS_MODE", "")
    if mode not in MODES:
        return [("TLS_MODE", f"is {mode!r}", f"set TLS_MODE to one of {', '.join(MODES)} in {local}")]
    urls = {name: values.get(name, "") for name in ("APP_PUBLIC_URL", "GLITCHTIP_PUBLIC_URL")}
    if any(envfiles.PLACEHOLDER in url or not host(url) for url in urls.values()):
        return []  # reported as placeholders (or by the app's own settings check)
    found = secure_over_http(values, urls, local) + consistent_addresses(values, urls, local)
    profiles = [p.strip() for p in values.get("COMPOSE_PROFILES", "").split(",") if p.strip()]
    if mode == OFF:
        if PROFILE in profiles:
            found.append(
                (
                    "COMPOSE_PROFILES",
                    "has certificates while TLS_MODE=off: that service would have nothing to do",
                    f"remove certificates from COMPOSE_PROFILES in {local}",
                )
            )
        if strict and not values.get("NGINX_TRUSTED_PROXY_CIDR", "").strip():
            found.append(
                (
                    "NGINX_TRUSTED_PROXY_CIDR",
                    "is empty while TLS_MODE=off (TLS ends in a terminator in front "
                    "of nginx): nginx would replace that terminator's X-Forwarded-Proto https with http, so the "
                    "app would redirect every request to https again, for ever",
                    "set it to the terminator's address as nginx sees it (one on this host: the Docker "
                    f"network's gateway, e.g. 172.18.0.1/32) in {local}, or let nginx serve https: "
                    "TLS_MODE=acme",
                )
            )
        return found
    for name, url in urls.items():
        if urlsplit(url).scheme != "https":
            found.append(
                (
                    name,
                    f"is {urlsplit(url).scheme}://, but TLS_MODE={mode} serves it over https (port 80 "
                    "only redirects there)",
                    f"use https:// in {name} in {local}",
                )
            )
    if host(urls["APP_PUBLIC_URL"]) == host(urls["GLITCHTIP_PUBLIC_URL"]):
        found.append(
            (
                "GLITCHTIP_PUBLIC_URL",
                "has the app's host name: with TLS nginx tells the two sites apart by name on port 443",
                f"give GlitchTip a host name of its own that points at this host (e.g. glitchtip.your-domain) "
                f"in {local}",
            )
        )
    if PROFILE not in profiles:
        found.append(
            (
                "COMPOSE_PROFILES",
                f"lacks certificates: nothing would get or renew the certificate of TLS_MODE={mode}",
                f"set COMPOSE_PROFILES={','.join(profiles + [PROFILE])} in {local}",
            )
        )
    if mode == ACME:
        for name, url in urls.items():
            if not public_name(host(url)):
                found.append(
                    (
                        name,
                        f"names {host(url)}, for which no ACME CA issues a certificate (the CA must fetch "
                        f"http://{host(url)}/.well-known/acme-challenge/... over the internet)",
                        f"use a DNS name that points at this host in {local}; before the domain exists, "
                        "rehearse with TLS_MODE=rehearsal",
                    )
                )
    if mode == FILES:
        found += certificate_files(values, [host(url) for url in urls.values()], local, root)
    return found


def secure_over_http(values: dict[str, str], urls: dict[str, str], local: Path) -> list[Finding]:
    """Secure cookies and the https redirect need https: over http:// nobody could log in."""
    found = []
    if urlsplit(urls["APP_PUBLIC_URL"]).scheme == "http":
        on = [name for name in SECURE_APP_SETTINGS if truthy(values.get(name, ""))]
        if on:
            found.append(
                (
                    "APP_PUBLIC_URL",
                    f"is http:// while {', '.join(on)} {'is' if len(on) == 1 else 'are'} "
                    "on: browsers never send Secure cookies back over http, so nobody could "
                    "log in or post a form, and the redirect sends everyone to an https "
                    "address",
                    f"serve https: APP_PUBLIC_URL=https://... in {local} (TLS_MODE "
                    "acme, files or rehearsal; or off behind your terminator); or, "
                    f"for plain http on purpose, {'=false, '.join(on)}=false there",
                )
            )
    if urlsplit(urls["GLITCHTIP_PUBLIC_URL"]).scheme == "http" and truthy(values.get("GLITCHTIP_SECURE_COOKIES", "")):
        found.append(
            (
                "GLITCHTIP_PUBLIC_URL",
                "is http:// while GLITCHTIP_SECURE_COOKIES is on: GlitchTip's session "
                "cookie would never come back over http, so no login holds (the "
                "bootstrap would stop at its API token with a 401)",
                f"serve https: GLITCHTIP_PUBLIC_URL=https://... in {local}; or, for plain http on purpose, "
                "GLITCHTIP_SECURE_COOKIES=false there",
            )
        )
    return found


def consistent_addresses(values: dict[str, str], urls: dict[str, str], local: Path) -> list[Finding]:
    """The app answers only the hosts it allows and takes forms only from trusted origins."""
    app, found = urls["APP_PUBLIC_URL"], []
    hosts = values.get("DJANGO_ALLOWED_HOSTS", "")
    if envfiles.PLACEHOLDER not in hosts and not allowed(host(app), hosts.split(",")):
        found.append(
            (
                "DJANGO_ALLOWED_HOSTS",
                f"does not allow {host(app)}, the host of APP_PUBLIC_URL: every page would answer 400 Bad Request",
                f"add {host(app)} to it in {local}",
            )
        )
    origins = values.get("DJANGO_CSRF_TRUSTED_ORIGINS", "")
    if envfiles.PLACEHOLDER not in origins and not trusted_origin(app, origins.split(",")):
        found.append(
            (
                "DJANGO_CSRF_TRUSTED_ORIGINS",
                f"does not trust {origin(app)}, APP_PUBLIC_URL's origin: every form would fail its CSRF check (403)",
                f"add {origin(app)} to it in {local}",
            )
        )
    return found


def certificate_files(values: dict[str, str], hosts: list[str], local: Path, root: Path) -> list[Finding]:
    """TLS_MODE=files: the operator's certificate and key must be readable, match, name every host, be valid
    now and come with their chain (to the public roots, or TLS_CA_FILE's)."""
    contents: dict[str, bytes] = {}
    found = []
    for name, what in (
        ("TLS_CERTIFICATE_FILE", "your certificate chain"),
        ("TLS_KEY_FILE", "its private key"),
        ("TLS_CA_FILE", ""),
    ):
        if not values.get(name):
            if what:
                found.append((name, "is empty while TLS_MODE=files", f"set the path of {what} (PEM) in {local}"))
            continue
        path = path_setting(values[name], root)
        try:
            contents[name] = path.read_bytes()
        except OSError as exc:
            found.append(
                (
                    name,
                    f"cannot be read: {path}: {exc.strerror}",
                    f"check the path in {local} and that this user may read the file",
                )
            )
    if found:
        return found
    try:
        chain = pem.read_chain(contents["TLS_CERTIFICATE_FILE"], values["TLS_CERTIFICATE_FILE"])
        key = pem.read_key(contents["TLS_KEY_FILE"], values["TLS_KEY_FILE"])
        roots = (
            pem.read_chain(contents["TLS_CA_FILE"], values["TLS_CA_FILE"])
            if "TLS_CA_FILE" in contents
            else pem.trusted_roots()
        )
    except pem.PemError as exc:
        return [("TLS_CERTIFICATE_FILE, TLS_KEY_FILE", str(exc), f"point at the PEM files your CA gave you in {local}")]
    variables = {"certificate": "TLS_CERTIFICATE_FILE", "key": "TLS_KEY_FILE"}
    return [
        (variables[finding.part], finding.problem, finding.fix) for finding in pem.findings(chain, key, hosts, roots)
    ]


def notes(env: str, values: dict[str, str], root: Path = envfiles.REPO) -> list[str]:
    """What an operator should know about a configuration that works."""
    mode = values.get("TLS_MODE")
    said = []
    if mode == REHEARSAL and env != "development":
        said.append(
            f"TLS_MODE=rehearsal: only what trusts {envfiles.rehearsal_ca_file(env, root).relative_to(root)} "
            "(scripts/up saves it) trusts this https: a rehearsal, not for real users"
        )
    if mode == FILES and values.get("TLS_CERTIFICATE_FILE"):
        try:
            leaf = pem.read_chain(path_setting(values["TLS_CERTIFICATE_FILE"], root).read_bytes(), "")[0]
        except (OSError, pem.PemError):
            return said
        if pem.days_left(leaf) < SOON_DAYS:
            said.append(
                f"TLS_CERTIFICATE_FILE expires in {pem.days_left(leaf):.0f} days: renew it, then run scripts/up {env}"
            )
    return said
