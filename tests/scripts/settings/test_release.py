"""One image, one release: env/ENV.release.env, written by scripts/up, is a layer every command passes,
so `scripts/compose ENV up -d` runs the image and release scripts/up built and bootstrap recorded."""

import subprocess
import sys

from scripts.settings import envfiles


def release(bundle, env: str = "development") -> subprocess.CompletedProcess:
    """What scripts/up's step 3 runs (python3 -m scripts.settings.release ENV) in the bundle's copy."""
    return subprocess.run(
        [sys.executable, "-P", "-m", "scripts.settings.release", env],
        cwd=bundle.root,
        capture_output=True,
        text=True,
        timeout=60,
        env={**bundle.environ(), "PYTHONPATH": str(bundle.root)},
    )


def git(bundle, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(bundle.root), *args],
        capture_output=True,
        text=True,
        check=True,
        env={
            **bundle.environ(),
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
        },
    ).stdout.strip()


def test_the_release_layer_sits_between_the_settings_and_the_secrets():
    names = [layer.relative() for layer in envfiles.layers("staging")]
    assert names == [
        "env/defaults.env",
        "env/staging.env",
        "env/staging.local.env",
        "env/staging.release.env",
        "env/staging.secrets.env",
    ]
    assert envfiles.layers("staging")[3].created_by == "scripts/up staging"
    assert envfiles.layers("staging")[2].created_by == "scripts/secrets staging"  # the operator's own values


def test_production_s_values_through_the_local_layer_leave_the_tree_clean_and_the_release_the_commit(bundle):
    """An operator fills in production in the git-ignored env/production.local.env: no tracked file changes, so
    the image and the release GlitchTip records are named after the commit, never "-dirty"."""
    git(bundle, "init", "--quiet")
    git(bundle, "add", ".")
    git(bundle, "commit", "--quiet", "-m", "bundle")
    commit = git(bundle, "rev-parse", "--short", "HEAD")
    bundle.prepare("production")  # scripts/secrets, then every placeholder filled in the local layer
    assert "!!!SET" not in bundle.local_file("production").read_text()
    checked = bundle.run("check-env", "production")
    assert checked.returncode == 0, checked.stderr
    assert release(bundle, "production").returncode == 0
    assert git(bundle, "status", "--porcelain", "--untracked-files=all") == ""
    assert (
        bundle.values(bundle.root / "env" / "production.release.env")["SENTRY_RELEASE"] == f"migraine-forecast@{commit}"
    )
    # The app's containers get the layer too (env_file), not only compose's interpolation.
    app = bundle.config("production")["services"]["app"]["environment"]
    assert app["APP_PUBLIC_URL"] == "https://forecast.example.org"
    assert app["DJANGO_ALLOWED_HOSTS"] == "forecast.example.org"


def test_the_release_is_named_after_the_commit_and_a_dirty_tree_says_so(bundle):
    git(bundle, "init", "--quiet")
    git(bundle, "add", ".")
    git(bundle, "commit", "--quiet", "-m", "bundle")
    commit = git(bundle, "rev-parse", "--short", "HEAD")
    result = release(bundle)
    assert result.returncode == 0, result.stderr
    assert f"migraine-forecast@{commit}" in result.stdout
    layer = bundle.root / "env" / "development.release.env"
    assert bundle.values(layer) == {"APP_IMAGE_TAG": commit, "SENTRY_RELEASE": f"migraine-forecast@{commit}"}
    (bundle.root / "compose.yml").write_text((bundle.root / "compose.yml").read_text() + "# changed\n")
    assert release(bundle).returncode == 0
    assert bundle.values(layer)["APP_IMAGE_TAG"] == f"{commit}-dirty"


def test_every_command_runs_the_image_and_release_of_the_layer(bundle):
    bundle.prepare("development").write_release("development", "abc1234")
    services = bundle.config("development")["services"]
    for name in ("app", "scheduler", "app-migrate"):
        assert services[name]["image"] == "migraine-forecast-app:abc1234", name
        assert services[name]["build"]["args"]["SENTRY_RELEASE"] == "migraine-forecast@abc1234", name
    # The scripts read the same merged layers: bootstrap records, and the smoke test expects, this release.
    assert envfiles.read_environment("development", bundle.root)["SENTRY_RELEASE"] == "migraine-forecast@abc1234"
