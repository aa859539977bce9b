"""The app image of the release that env/ENV.release.env names (scripts/up, step 3).

Usage: python3 -m scripts.stack.app_image ENV

An image named after a clean commit holds that commit's code: it is built once. A "-dirty" (or
"unknown") tag is built each time, since the tree differs from any commit.
Exit status: 0 the image is there, 1 the build failed or did not finish in time, 2 usage.
"""

from __future__ import annotations

import argparse
import sys

from scripts.settings import envfiles
from scripts.stack import engine

# Installing the locked packages from scratch on a slow host.
BUILD_TIMEOUT = 1800


def build_unless_there(env: str) -> int:
    """0 when the image of the release is there (built now or before), else the build's exit status."""
    tag = envfiles.read(envfiles.release_file(env)).get("APP_IMAGE_TAG", "unknown")
    image = f"migraine-forecast-app:{tag}"
    if not tag.endswith("-dirty") and tag != "unknown" and engine.image_ids(image):
        print(f"{image} exists")
        return 0
    return engine.compose(
        env,
        "build",
        "app",
        timeout=BUILD_TIMEOUT,
        capture=False,
        fix=f"run scripts/compose {env} build app to see where it stops",
    ).returncode


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="app_image", description=__doc__.split("\n")[0])
    parser.add_argument("env", help="development, staging or production")
    args = parser.parse_args(argv[1:])
    try:
        return 1 if build_unless_there(envfiles.environment(args.env)) else 0
    except envfiles.EnvError as exc:  # engine.EngineError too: a timeout
        print(f"app_image: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, engine.EngineError) else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
