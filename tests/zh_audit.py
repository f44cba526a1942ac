"""A pytest plugin for tests/test_i18n.py: every diagnosis the checks give during a test
run is written to the file INITLAB_ZH_AUDIT names (one JSON object a line: its
message id and its message), so that a run of the mistake tests in Chinese can be
read afterwards. Loaded with ``-p tests.zh_audit`` before the check modules import
``say`` and ``checked_on``."""

import json
import os

from initlab import messages

_say, _checked_on = messages.say, messages.checked_on


def _record(diagnosis):
    with open(os.environ["INITLAB_ZH_AUDIT"], "a", encoding="utf-8") as file:
        file.write(json.dumps({"id": diagnosis.key, "message": diagnosis.message}) + "\n")
    return diagnosis


def say(message_id, /, **params):
    return _record(_say(message_id, **params))


def checked_on(diagnosis, where):
    return _record(_checked_on(diagnosis, where))


messages.say, messages.checked_on = say, checked_on
