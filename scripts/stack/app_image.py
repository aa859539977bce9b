"""The app image of the release that env/ENV.release.env names (scripts/up, step 3).

Usage: python3 -m scripts.stack.app_image ENV

An image named after a clean commit holds that commit's code: it is built once. A "-dirty" (or
"unknown") tag is built each time, since the tree differs from any commit.
Exit status: 0 the image is there, 1 the build failed or did not finish in time, 2 usage.
"""
from __future__ import annotations

import sys

from scripts.settings import envfiles
from scripts.stack import engine

# Installing the locked packages from scratch on a slow host.
BUILD_TIMEOUT = 1800


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv[1:] and argv[1] in ("-h", "--help") else 2
    try:
        env = envfiles.environment(argv[1])
        tag = envfiles.read(envfiles.release_file(env)).get("APP_IMAGE_TAG", "unknown")
        image = f"migraine-forecast-app:{tag}"
        if not tag.endswith("-dirty") and tag != "unknown" and engine.image_ids(image):
            print(f"{image} exists")
            return 0
        built = engine.compose(env, "build", "app", timeout=BUILD_TIMEOUT, capture=False,
                               fix=f"run scripts/compose {env} build app to see where it stops")
    except engine.EngineError as exc:
        print(f"app_image: {exc}", file=sys.stderr)
        return 1
    except envfiles.EnvError as exc:
        print(f"app_image: {exc}", file=sys.stderr)
        return 2
    return 1 if built.returncode else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
