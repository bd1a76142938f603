"""The benchmark workload for pyinfra (benches/README.md).

pyinfra has no validate-before-rename for templates: the config is checked
with `haproxy -c` right after it changed, before the reload.
"""

from pyinfra import host, inventory
from pyinfra.operations import apt, files, server, systemd

backends = [
    {"name": h.name, "address": h.data.get("ssh_hostname") or h.name}
    for h in inventory.get_group("web")
]

apt.packages(
    name="haproxy package",
    packages=["haproxy"],
    update=True,
    cache_time=3600,
)

config = files.template(
    name="haproxy config",
    src="templates/haproxy.cfg.j2",
    dest="/etc/haproxy/haproxy.cfg",
    mode="644",
    haproxy_maxconn=host.data.get("haproxy_maxconn", 4096),
    haproxy_backend_port=host.data.get("haproxy_backend_port", 8080),
    backends=backends,
)

server.shell(
    name="validate haproxy config",
    commands=["haproxy -c -q -f /etc/haproxy/haproxy.cfg"],
    _if=config.did_change,
)

systemd.service(
    name="haproxy running and enabled",
    service="haproxy",
    running=True,
    enabled=True,
)

systemd.service(
    name="reload haproxy",
    service="haproxy",
    reloaded=True,
    _if=config.did_change,
)
