"""Every Redis key and channel name orderlog uses, and nothing else builds one.

Layout (``P`` is the configurable prefix, ``W`` a workspace id)::

    P:workspaces                 SET   ids of every workspace (CLI listing, retention sweep)
    P:key:{K}                    HASH  one API key by its public id K: sha256, workspace, scope, ...
    P:ticket:{W}:SHA             STR   a live-connection ticket for workspace W (sha256 of it),
                                       60 s, single use
    P:pair:{C}                   STR   JSON of a screen pairing by its user code C: the device
                                       code's sha256, state, and once approved the workspace and
                                       screen id; 10 min, deleted when the screen takes its token
    P:pair:{C}:rl                STR   rate-limit state (GCRA) of the pairing's polls
    P:rl:pair:{H}                STR   rate-limit state of pairings asked for by one client (H =
                                       sha256 of its address, cut to 16 hex digits)
    P:{W}:meta                   HASH  name, created_at, settings of the workspace
    P:{W}:keys                   SET   ids of the workspace's API keys
    P:{W}:screens                HASH  paired screen id -> last seen (ISO 8601, '' = never);
                                       a screen's record is a P:key:{K} hash like a key's
    P:{W}:workflow               STR   JSON of a custom workflow (absent = the default one)
    P:{W}:wfver                  STR   how many times the workflow was changed (absent = 0): a
                                       write checked against another version is refused
    P:{W}:seq                    STR   last order number given out
    P:{W}:epoch                  STR   identity of the event stream; changes if the stream is lost
    P:{W}:ids                    HASH  order id -> order number
    P:{W}:o:N                    HASH  order number N
    P:{W}:events                 STREAM the event log dashboards resume from
    P:{W}:evfirst                STR   id of the first event the stream ever had (Redis < 7
                                       cannot say whether a stream was trimmed: it was if its
                                       first entry is another)
    P:{W}:live                   channel the wake-up carrying each event (pub/sub)
    P:{W}:idem:H                 STR   a stored idempotent response (H = sha256 of key id + header)
    P:{W}:rl:K                   STR   rate-limit state (GCRA) of API key K
    P:{W}:rl:pair                STR   rate-limit state of the workspace's pairing approvals
    P:{W}:ix:...                 ZSET  search indexes; member = order number, score = order number
                                       (``ix:created`` alone scores by created time in ms)
    P:{W}:ix:v:<kind>            ZSET  every value a text index holds (score 0, by value), for
                                       prefix search: kind = cname:, sname:, item:, tok:
    P:{W}:webhooks               SET   ids of the workspace's webhooks
    P:{W}:wh:H                   HASH  webhook H: its settings (URL and secrets sealed) and its
                                       delivery state (the event being retried, failures, ...)
    P:{W}:wh:H:lease             STR   the process delivering H now (its consumer name), PX
    P:{W}:wh:H:log               LIST  H's last 100 delivery attempts (JSON), newest first
    P:{W}:wh:H:dead              HASH  H's dead letters: stream id -> the event and why it died
    P:{W}:wh:H:redrive           LIST  stream ids an admin asked to send again
    (group) wh:H on P:{W}:events       the consumer group H is delivered from (in stream order)
    P:webhook-workspaces         SET   ids of workspaces that have (or had) a webhook
    P:webhook-processes          ZSET  server processes delivering webhooks, by last heartbeat

Every workspace key carries the ``{W}`` hash tag, so a workspace lives on one Redis Cluster slot
and one Lua script may touch all of its keys. API key ids and ticket tags are drawn so that their
own hash tag falls in the same slot as their workspace (``slot_tag``): a key's record lives on its
workspace's master, so a master going down takes only its own workspaces' requests with it.
Lua scripts build index key names from ``Keys.index_prefix`` plus the suffixes listed in
``INDEX_SUFFIXES``; this module is the only place those suffixes are spelled.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from redis.crc import key_slot

# Index name -> suffix after ``P:{W}:ix:``. The write script mirrors these (see store/common.lua).
INDEX_SUFFIXES = {
    "all": "all",  # every order
    "created": "created",  # every order, scored by created time (ms)
    "status": "st:",  # + status
    "customer_id": "cid:",  # + customer user id
    "customer": "cname:",  # + lower-case customer username
    "staff_id": "sid:",  # + staff user id (any role)
    "staff": "sname:",  # + lower-case staff username (any role)
    "role_id": "rid:",  # + role + ":" + staff user id
    "role": "rname:",  # + role + ":" + lower-case staff username
    "item": "item:",  # + lower-case item name
    "token": "tok:",  # + lower-case word (usernames, display names, items, item notes)
    # + the suffix of "customer", "staff", "item" or "token": every value those indexes hold,
    # as one lexicographic zset (score 0), so a search finds the values starting with a prefix
    "vocab": "v:",
}
# The text indexes a search matches by prefix (store/orders.py expands them through "vocab").
VOCABULARIES = ("customer", "staff", "item", "token")

# What a workspace id may be. It goes inside every key of the workspace (in the ``{}`` hash tag),
# so it must never hold a brace, a ':' or a glob character: checked at the one place keys are
# built (``Keys.ws``), whatever a route checked before.
WORKSPACE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_checked: set[str] = set()  # ids that passed WORKSPACE_ID (a write builds ~8 keys of its one)
WEBHOOK_ID = re.compile(r"wh_[0-9a-f]{16}")  # store/webhooks.py draws them


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names under one prefix."""

    prefix: str = "ol"

    # -- global keys -------------------------------------------------------------------------
    @property
    def workspaces(self) -> str:
        return f"{self.prefix}:workspaces"

    def api_key(self, key_id: str) -> str:
        return f"{self.prefix}:key:{{{key_id}}}"

    def ticket(self, tag: str, digest: str) -> str:
        return f"{self.prefix}:ticket:{{{tag}}}:{digest}"

    def pairing(self, code: str) -> str:
        return f"{self.prefix}:pair:{{{code}}}"

    def pairing_polls(self, code: str) -> str:
        return self.pairing(code) + ":rl"

    def pairing_client(self, client_tag: str) -> str:
        return f"{self.prefix}:rl:pair:{{{client_tag}}}"

    def slot_tag(self, workspace_id: str) -> str:
        """12 random hex digits whose cluster slot is the workspace's, for API key ids.

        Drawn at random until the CRC16 slot matches (16384 draws expected, ~15 ms of CPU, once
        per key created, a rare admin act): the id stays random and opaque, and the record it
        names lives on the workspace's master. (Tickets, made per connection, are tagged with
        the workspace id itself instead.)"""
        target = key_slot(self.ws(workspace_id).encode())
        while True:
            tag = secrets.token_hex(6)
            if key_slot(tag.encode()) == target:
                return tag

    # -- one workspace -------------------------------------------------------------------------
    def ws(self, workspace_id: str) -> str:
        """The common head of every key of a workspace, hash tag included."""
        if workspace_id not in _checked:
            if not WORKSPACE_ID.fullmatch(workspace_id):
                raise ValueError(f"not a valid workspace id: {workspace_id[:80]!r}")
            if len(_checked) >= 10_000:
                _checked.clear()
            _checked.add(workspace_id)
        return f"{self.prefix}:{{{workspace_id}}}:"

    def meta(self, workspace_id: str) -> str:
        return self.ws(workspace_id) + "meta"

    def workspace_keys(self, workspace_id: str) -> str:
        return self.ws(workspace_id) + "keys"

    def screens(self, workspace_id: str) -> str:
        return self.ws(workspace_id) + "screens"

    def pairing_approvals(self, workspace_id: str) -> str:
        return self.ws(workspace_id) + "rl:pair"

    def workflow(self, workspace_id: str) -> str:
        return self.ws(workspace_id) + "workflow"

    def workflow_version(self, workspace_id: str) -> str:
        return self.ws(workspace_id) + "wfver"

    def seq(self, workspace_id: str) -> str:
        return self.ws(workspace_id) + "seq"

    def epoch(self, workspace_id: str) -> str:
        return self.ws(workspace_id) + "epoch"

    def ids(self, workspace_id: str) -> str:
        return self.ws(workspace_id) + "ids"

    def order_prefix(self, workspace_id: str) -> str:
        return self.ws(workspace_id) + "o:"

    def order(self, workspace_id: str, number: int) -> str:
        return f"{self.order_prefix(workspace_id)}{number}"

    def events(self, workspace_id: str) -> str:
        return self.ws(workspace_id) + "events"

    def events_first(self, workspace_id: str) -> str:
        return self.ws(workspace_id) + "evfirst"

    def channel(self, workspace_id: str) -> str:
        return self.ws(workspace_id) + "live"

    def idempotency(self, workspace_id: str, digest: str) -> str:
        return self.ws(workspace_id) + "idem:" + digest

    def rate_limit(self, workspace_id: str, key_id: str) -> str:
        return self.ws(workspace_id) + "rl:" + key_id

    # -- outbound webhooks -------------------------------------------------------------------
    @property
    def webhook_workspaces(self) -> str:
        return f"{self.prefix}:webhook-workspaces"

    @property
    def webhook_processes(self) -> str:
        return f"{self.prefix}:webhook-processes"

    def webhooks(self, workspace_id: str) -> str:
        return self.ws(workspace_id) + "webhooks"

    def webhook(self, workspace_id: str, webhook_id: str) -> str:
        if not WEBHOOK_ID.fullmatch(webhook_id):
            raise ValueError(f"not a valid webhook id: {webhook_id[:80]!r}")
        return self.ws(workspace_id) + "wh:" + webhook_id

    def webhook_lease(self, workspace_id: str, webhook_id: str) -> str:
        return self.webhook(workspace_id, webhook_id) + ":lease"

    def webhook_log(self, workspace_id: str, webhook_id: str) -> str:
        return self.webhook(workspace_id, webhook_id) + ":log"

    def webhook_dead(self, workspace_id: str, webhook_id: str) -> str:
        return self.webhook(workspace_id, webhook_id) + ":dead"

    def webhook_redrive(self, workspace_id: str, webhook_id: str) -> str:
        return self.webhook(workspace_id, webhook_id) + ":redrive"

    @staticmethod
    def webhook_group(webhook_id: str) -> str:
        """The consumer group of a webhook on its workspace's event stream."""
        return "wh:" + webhook_id

    def index_prefix(self, workspace_id: str) -> str:
        return self.ws(workspace_id) + "ix:"

    def vocabulary(self, workspace_id: str, name: str) -> str:
        """The values of the text index ``name`` (one of VOCABULARIES), by value."""
        return self.index_prefix(workspace_id) + INDEX_SUFFIXES["vocab"] + INDEX_SUFFIXES[name]

    def index(self, workspace_id: str, name: str, *parts: str) -> str:
        """An index key, e.g. ``index(w, "role_id", "cashier", "7")``."""
        return self.index_prefix(workspace_id) + INDEX_SUFFIXES[name] + ":".join(parts)
