"""A real three-master Redis Cluster on loopback ports, for the cluster tests.

Each node is an ``EmbeddedRedis`` (the same process code as the embedded default) with cluster
mode on; slots are split in three with CLUSTER ADDSLOTSRANGE and the nodes meet each other.
``cluster-require-full-coverage no`` keeps the other masters serving when one is stopped: the
behaviour tests check (and the one docs/deploy.md recommends for clusters without replicas).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis as sync_redis

from orderlog.store.embedded import EmbeddedRedis, free_port

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


class Cluster:
    """Three masters, no replicas. ``url`` is the orderlog cluster URL of the first node."""

    def __init__(self, root: Path, binary: str, masters: int = 3) -> None:
        self.bus_ports = [free_port() for _ in range(masters)]
        self.nodes = [
            EmbeddedRedis(
                root / f"node{i}",
                port=free_port(),
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
                    # The bus port is the data port + 10000 unless given: give a free one.
                    "--cluster-port",
                    str(self.bus_ports[i]),
                ),
            )
            for i in range(masters)
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
        per = SLOTS // len(self.nodes)
        for i, client in enumerate(clients):
            last = SLOTS - 1 if i == len(clients) - 1 else (i + 1) * per - 1
            client.execute_command("CLUSTER ADDSLOTSRANGE", i * per, last)
        for node, bus in zip(self.nodes[1:], self.bus_ports[1:], strict=True):
            clients[0].execute_command("CLUSTER MEET", "127.0.0.1", node.port, bus)
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
        except sync_redis.RedisError:
            return False
        return (
            str(info.get("cluster_state")) == "ok"
            and int(info.get("cluster_known_nodes", 0)) == len(self.nodes)
            and int(info.get("cluster_slots_ok", 0)) == SLOTS
        )

    def node_for_slot(self, slot: int) -> EmbeddedRedis:
        per = SLOTS // len(self.nodes)
        return self.nodes[min(slot // per, len(self.nodes) - 1)]

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
