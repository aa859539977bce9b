"""python -m certificates COMMAND: the certificates service and what scripts/up asks of it.

    serve             the service: the mode's job at TLS_RENEW_SCHEDULE (the container's command)
    renew [--force]   the mode's job now: the first certificate (scripts/up), or a renewal if due
    install           TLS_MODE=files: the operator's certificate chain and key, PEM on standard input
    ca                TLS_MODE=rehearsal: print the rehearsal CA's certificate (PEM), made on first use
    check             the container's healthcheck

Settings come from the environment (compose.yml passes the env files' TLS_* values and the public
addresses): certificates/settings.py. Exit status: 0 done, 1 failed (the reason on stderr), 2 settings.
"""

from __future__ import annotations

import argparse
import sys

from certificates import pem, rehearsal, service
from certificates.settings import REHEARSAL


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m certificates", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["serve", "renew", "install", "ca", "check"])
    parser.add_argument("--force", action="store_true", help="renew: even when not due")
    args = parser.parse_args(argv[1:])
    settings = service.settings_or_exit()
    if args.command == "serve":
        return service.serve(settings)
    if args.command == "check":
        return service.check(settings)
    if args.command == "ca":
        if settings.mode != REHEARSAL:
            print(f"certificates: TLS_MODE={settings.mode} has no rehearsal CA", file=sys.stderr)
            return 1
        sys.stdout.buffer.write(rehearsal.ca_certificate(settings))
        return 0
    if args.command == "renew":
        return 0 if service.run(settings, force=args.force) else 1
    try:
        outcome = service.install(settings, sys.stdin.buffer.read())
    except (service.JobFailed, pem.PemError) as exc:
        print(f"certificates: {exc}", file=sys.stderr)
        return 1
    print(f"certificates: {', '.join(settings.hosts)}: {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
