"""scripts/backups/on_stack.py, the host's side of a restore: what it stops. The Docker engine is the boundary:
the stand-in `docker` (tests/scripts/conftest.py) answers `compose ps --format json` with lines as Compose 2.29
prints them, and records the `compose stop`."""

import json

import pytest

from scripts.backups import on_stack
from scripts.settings import envfiles, release
from scripts.stack import engine


def ps_line(service: str, state: str) -> str:
    """One line of `docker compose ps --format json` (Compose 2.29), the fields it always has."""
    running = state == "running"
    return (
        json.dumps(
            {
                "ID": f"{abs(hash(service)) % 16**12:012x}",
                "Service": service,
                "Image": f"img-{service}",
                "Name": f"migraine-forecast-development-{service}-1",
                "State": state,
                "Health": "",
                "ExitCode": 0,
                "Project": "migraine-forecast-development",
                "Status": "Up 1 minute" if running else "Exited (0) 1 minute ago",
            }
        )
        + "\n"
    )


def stop_writers(docker, *lines: str) -> tuple[str, list[list[str]]]:
    docker.answer({"compose version": [0, ""]})  # the plugin: `docker compose`
    compose = " ".join(engine.command("development")[1:])  # its options, as Stack's calls start
    docker.answer(
        {"compose version": [0, ""], f"{compose} ps --format json": [0, "".join(lines)], f"{compose} stop": [0, ""]}
    )
    said = on_stack.Stack("development").stop_writers()
    return said, [call[call.index("stop") :] for call in docker.calls() if "stop" in call]


def test_a_restore_stops_only_the_writers_that_run_and_says_which(docker):
    said, stops = stop_writers(
        docker,
        ps_line("postgres", "running"),
        ps_line("app", "running"),
        ps_line("scheduler", "exited"),
        ps_line("glitchtip-web", "running"),
    )
    assert said == "stopped app, glitchtip-web"
    assert stops == [["stop", "app", "glitchtip-web"]]


def test_on_an_empty_target_it_says_nothing_was_running(docker):
    said, stops = stop_writers(docker, ps_line("postgres", "running"))
    assert said == "nothing was running" and stops == []


# The images a restore's migrations run in (Stack.images) and the backup service's image (Stack.prepare).
# The release layer is redirected into tmp_path: the test must not write the checkout's env/ folder.
APP_TAG = release.commit_name()
APP_IMAGE = f"migraine-forecast-app:{APP_TAG}"
GLITCHTIP_IMAGE = "glitchtip/glitchtip:6.2.6"
PROGRESS = "Step 3/9 : RUN pip install"  # what Compose prints while it builds or pulls


@pytest.fixture
def release_layer(tmp_path, monkeypatch):
    path = tmp_path / "development.release.env"
    monkeypatch.setattr(envfiles, "release_file", lambda env, root=envfiles.REPO: path)
    return path


def image_answers(
    docker, release_layer, *, here: list[str], migration_images: list[str], also: dict[str, str] | None = None
) -> None:
    """Answers for Stack's calls with or without the release layer (the command line names it once it exists);
    `here`: the images `docker image inspect` finds; `also`: more Compose subcommands and their output."""
    docker.answer({"compose version": [0, ""]})
    prefixes = []
    for exists in (False, True):
        if exists:
            release_layer.write_text("APP_IMAGE_TAG=x\n")
        prefixes.append(" ".join(engine.command("development")[1:]))
    release_layer.unlink()
    found = json.dumps([{"Id": f"sha256:{image}", "RepoTags": [image]} for image in here])
    answers = {"compose version": [0, ""]}
    for compose in prefixes:
        answers |= {
            f"{compose} config --images": [0, "".join(f"{image}\n" for image in migration_images)],
            f"{compose} build": [0, f"{PROGRESS}\n"],
            f"{compose} pull": [0, f"{PROGRESS}\n"],
        }
        answers |= {f"{compose} {command}": [0, output] for command, output in (also or {}).items()}
    answers |= {f"image inspect {image}": [0, found] for image in [APP_IMAGE, *migration_images]}
    docker.answer(answers)


def compose_calls(docker) -> list[list[str]]:
    """The Compose subcommands Stack ran, without the options that name the environment."""
    calls = []
    for call in docker.calls():
        if call[:1] == ["compose"] and call != ["compose", "version"]:
            options = engine.command("development")[2:]  # as far as they match: the layers may differ
            rest = [word for word in call[1:] if word not in options]
            calls.append(rest)
    return calls


def test_a_restore_on_a_new_machine_builds_and_pulls_with_compose_progress_shown(docker, release_layer, capfd):
    """A new machine: no release layer, neither the app's image nor GlitchTip's. The release is named after
    the checkout, the images are made before the migrations, and the operator sees Compose's progress
    (minutes of it), not a silent `compose run`."""
    wanted = [GLITCHTIP_IMAGE, "postgres:17.6", APP_IMAGE, "valkey/valkey:8.1.10"]
    image_answers(docker, release_layer, here=["postgres:17.6"], migration_images=wanted)
    stack = on_stack.Stack("development")
    stack.name_release()
    stack.images()
    assert envfiles.read(release_layer)["APP_IMAGE_TAG"] == APP_TAG
    calls = compose_calls(docker)
    assert ["build", "app"] in calls
    assert ["pull", "--ignore-buildable", "--include-deps", "app-migrate", "glitchtip-migrate"] in calls
    shown = capfd.readouterr().out
    assert shown.count(PROGRESS) == 2  # the build's and the pull's progress reached the operator
    assert GLITCHTIP_IMAGE in shown and "valkey/valkey:8.1.10" in shown  # named as missing


def test_a_rollback_restore_migrates_in_the_checkouts_image_not_the_one_the_layer_named(docker, release_layer):
    """After `git checkout` of an older release the layer still names the newer one: its migrations must
    not run on the restored data. The layer is named after the checkout, whose image is used; nothing
    is pulled when every image is here."""
    here = [GLITCHTIP_IMAGE, "postgres:17.6", APP_IMAGE, "valkey/valkey:8.1.10"]
    image_answers(docker, release_layer, here=here, migration_images=here)
    release.write("development", "0000000-newer")
    stack = on_stack.Stack("development")
    stack.name_release()
    stack.images()
    assert envfiles.read(release_layer)["SENTRY_RELEASE"] == f"migraine-forecast@{APP_TAG}"
    calls = compose_calls(docker)
    assert not [call for call in calls if call[0] == "pull"]
    if not APP_TAG.endswith("-dirty"):  # a clean commit's image that is here is not built again
        assert not [call for call in calls if call[0] == "build"]


@pytest.mark.parametrize("built_before", [False, True])
def test_the_backup_image_is_built_with_progress_shown_only_the_first_time(docker, release_layer, capfd, built_before):
    """A new machine or a new release: Compose's progress of the first build (minutes); afterwards a quiet
    check of the build cache."""
    backup_image = f"migraine-forecast-backup:{APP_TAG}"
    here = ["postgres:17.6", *([backup_image] if built_before else [])]
    postgres_runs = {"ps --format json": ps_line("postgres", "running")}
    image_answers(
        docker, release_layer, here=here, migration_images=["postgres:17.6", backup_image], also=postgres_runs
    )
    on_stack.Stack("development").prepare(4)
    builds = [call for call in compose_calls(docker) if call[0] == "build"]
    shown = capfd.readouterr().out
    if built_before:
        assert builds == [["build", "--quiet", "backup"]] and PROGRESS not in shown
    else:
        assert builds == [["build", "backup"]] and PROGRESS in shown
