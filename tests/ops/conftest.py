"""Each ops test starts with an empty counter buffer (counts an earlier test left unwritten)."""

import pytest

from ops import counters


@pytest.fixture(autouse=True)
def _empty_counter_buffer():
    with counters._buffer_lock:
        counters._buffer.clear()
    yield
