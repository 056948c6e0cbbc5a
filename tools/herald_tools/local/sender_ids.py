"""SQS's SenderId in the emulator: the IAM principal whose access key sent the message, as in AWS.

Real SQS writes the sender's IAM unique id (an IAM user's AIDA..., a role session's AROA...:session) into each
message's SenderId attribute; dispatch admits an event only when its storefront's registry entry lists that
principal. moto writes one fixed id for every message. This patch makes the emulator name the IAM user that owns
the request's access key (users and keys created in the emulator's IAM), and moto's fixed id for any other key:
the local operator's. Two publishers with two access keys are then two identities, locally as in AWS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

# moto's SenderId for every message (moto.sqs.models.DEFAULT_SENDER_ID): what the local operator publishes as.
LOCAL_OPERATOR_SENDER_ID = "AIDAIT2UOQQY3AUEKVGXU"

_sending = threading.local()  # the SenderId of the request this server thread is answering
_installed = False
_lock = threading.Lock()


def principal_id(access_key: str) -> str:
    """The unique id of the emulator's IAM user that owns `access_key`, else the local operator's."""
    from moto.iam.models import iam_backends

    for account in list(iam_backends.values()):
        for backend in list(account.values()):
            key = backend.access_keys.get(access_key)
            if key is not None and key.user_name:
                return aws_style_user_id(str(backend.get_user(key.user_name).id))
    return LOCAL_OPERATOR_SENDER_ID


def aws_style_user_id(moto_user_id: str) -> str:
    """moto's IAM user id (lowercase, 20 characters) written as AWS writes one: AIDA and 17 upper-case
    characters, which is what the registry's entries name. `herald_tools.local.storefronts` registers it."""
    return "AIDA" + moto_user_id.upper()[:17]


def name_senders_by_access_key() -> None:
    """Install the patch (once per process): the SQS send actions record the principal of their access key."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.sqs import models, responses

        original_init = models.Message.__init__

        def message_init(self: Any, *args: Any, **kwargs: Any) -> None:
            original_init(self, *args, **kwargs)
            sender = getattr(_sending, "sender_id", None)
            if sender is not None:
                self.sender_id = sender

        models.Message.__init__ = message_init  # type: ignore[method-assign]
        for action in ("send_message", "send_message_batch"):
            setattr(responses.SQSResponse, action, _naming_sender(getattr(responses.SQSResponse, action)))
        _installed = True


def _naming_sender(action: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def named(self: Any) -> Any:
        _sending.sender_id = principal_id(self.get_access_key())
        try:
            return action(self)
        finally:
            _sending.sender_id = None

    return named
