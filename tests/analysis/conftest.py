"""Every test here runs torch on one thread (tiny models; much faster on shared CPU cores)."""

import pytest

from tests.integrations.tiny_checkpoint import one_torch_thread  # noqa: F401


@pytest.fixture(autouse=True)
def _single_thread(one_torch_thread):  # noqa: F811
    yield
