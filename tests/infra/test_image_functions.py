"""Every image function builds from the one functions/Dockerfile, its handler chosen by a build argument."""

import json
from pathlib import Path

import pytest
from exhaust.resources import IMAGE_FUNCTIONS


@pytest.mark.parametrize("function", IMAGE_FUNCTIONS)
def test_each_image_is_the_one_dockerfile_with_its_handler_dir(function):
    from aws_cdk import App, Duration, Stack

    from infra.image_function import ImageServiceFunction

    app = App()
    ImageServiceFunction(Stack(app, "Images"), "Function", function=function, timeout=Duration.seconds(30))
    assembly = Path(app.synth().directory)
    (manifest,) = assembly.glob("*.assets.json")
    (image,) = json.loads(manifest.read_text())["dockerImages"].values()
    source = image["source"]
    assert source["dockerFile"] == "functions/Dockerfile"
    assert source["dockerBuildArgs"] == {"HANDLER_DIR": f"functions/{function}"}
    context = assembly / source["directory"]
    assert sorted(path.name for path in (context / "functions").iterdir()) == sorted(["Dockerfile", function])
    assert (context / "functions" / function / "handler.py").is_file()


def test_no_function_folder_keeps_a_dockerfile_of_its_own():
    functions = Path(__file__).resolve().parents[2] / "functions"
    assert list(functions.glob("*/Dockerfile")) == []
