import pytest

from tests.stack.bundle import Bundle


@pytest.fixture
def bundle(tmp_path):
    return Bundle(tmp_path / "bundle")
