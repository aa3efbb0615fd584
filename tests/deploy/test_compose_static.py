# SPDX-License-Identifier: MIT
"""The compose stack's files, checked without running them (deploy/compose/,
docs/deploy.md#compose): the file as podman-compose reads it, as the podman
commands it would run (with a stand-in for podman that records them), and
against the files it names: nginx's and Prometheus's configuration, the
Grafana provisioning, linkd's configuration table and .env.example."""

import ipaddress
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_DIR = DEPLOY / "compose"
COMPOSE = COMPOSE_DIR / "compose.yaml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
CONFIG_H = REPO / "include" / "linkd" / "config.h"
LOCAL_CONTAINERFILE = COMPOSE_DIR / "local" / "Containerfile"
NODES = ["linkd1", "linkd2", "linkd3"]
SERVICES = {"postgres", "redis", *NODES, "nginx", "prometheus", "alertmanager", "grafana"}

VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}")


def substitute(value, env):
    """Compose's variable substitution, for the forms the file uses."""
    def one(m):
        name, op, arg = m.group("name"), m.group("op"), m.group("arg")
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg or ""
    if isinstance(value, str):
        return VAR.sub(one, value)
    if isinstance(value, list):
        return [substitute(v, env) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, env) for k, v in value.items()}
    return value


def env_example():
    out = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, val = line.partition("=")
            out[key] = val
    return out


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def stack(raw):
    """The file with the variables of .env.example (passwords filled in)."""
    env = env_example()
    env.update(POSTGRES_PASSWORD="pw0123", GRAFANA_ADMIN_PASSWORD="gf0123")
    return substitute(raw, env)


def binds(svc):
    """(host path, container path, options) of each bind mount of a service."""
    out = []
    for v in svc.get("volumes", []):
        parts = v.split(":")
        if parts[0].startswith(("/", ".")):
            out.append((parts[0], parts[1], parts[2] if len(parts) > 2 else ""))
    return out


def test_services_are_the_stack(stack):
    assert set(stack["services"]) == SERVICES


def test_every_service_restarts_and_has_a_healthcheck(stack):
    for name, svc in stack["services"].items():
        assert svc.get("restart") in ("unless-stopped", "always"), name
        test = svc.get("healthcheck", {}).get("test")
        assert isinstance(test, list) and test[0] == "CMD" and len(test) > 1, name


def test_images_are_variables_with_official_defaults(raw):
    expected = {
        "postgres": ("POSTGRES_IMAGE", "docker.io/library/postgres:15"),
        "redis": ("REDIS_IMAGE", "docker.io/library/redis:7"),
        "nginx": ("NGINX_IMAGE", "docker.io/library/nginx:"),
        "prometheus": ("PROMETHEUS_IMAGE", "docker.io/prom/prometheus:"),
        "alertmanager": ("ALERTMANAGER_IMAGE", "docker.io/prom/alertmanager:"),
        "grafana": ("GRAFANA_IMAGE", "docker.io/grafana/grafana:"),
    }
    for name, (var, default) in expected.items():
        m = VAR.fullmatch(raw["services"][name]["image"])
        assert m and m.group("name") == var and m.group("op") == ":-", name
        assert m.group("arg").startswith(default), (name, m.group("arg"))
    for node in NODES:
        m = VAR.fullmatch(raw["services"][node]["image"])
        assert m and m.group("name") == "LINKD_IMAGE", node


def test_local_containerfile_has_a_target_per_image_but_grafana():
    targets = set(re.findall(r"^FROM \S+ AS (\S+)$", LOCAL_CONTAINERFILE.read_text(), re.M))
    assert targets == {"postgres", "redis", "nginx", "prometheus", "alertmanager"}


def test_every_mounted_file_exists(stack):
    n = 0
    for name, svc in stack["services"].items():
        for host, _, opts in binds(svc):
            assert (COMPOSE_DIR / host).exists(), f"{name} mounts {host}, which does not exist"
            assert "ro" in opts.split(","), f"{name} mounts {host} writable"
            n += 1
    assert n == 5  # nginx, prometheus, alertmanager, grafana (2)


def test_nginx_runs_deploy_nginx_linkd_conf(stack):
    nginx = stack["services"]["nginx"]
    mounts = binds(nginx)
    assert len(mounts) == 1
    host, target, _ = mounts[0]
    assert (COMPOSE_DIR / host).resolve() == DEPLOY / "nginx" / "linkd.conf"
    # the file that replaces the default server in both the official and the local image
    assert target == "/etc/nginx/conf.d/default.conf"
    conf = (DEPLOY / "nginx" / "linkd.conf").read_text()
    upstream = re.search(r"upstream linkd_nodes \{(.*?)\n\}", conf, re.S).group(1)
    servers = re.findall(r"^\s*server (\S+)", upstream, re.M)
    assert servers == [f"{n}:8080" for n in NODES]
    assert re.search(r"^\s*listen 80;", conf, re.M)
    assert nginx["ports"][0].endswith(":80")
    assert set(nginx["depends_on"]) == set(NODES)


def test_prometheus_scrapes_the_nodes_with_the_rules(stack):
    prom = stack["services"]["prometheus"]
    mounts = {(COMPOSE_DIR / h).resolve(): t for h, t, _ in binds(prom)}
    assert mounts[DEPLOY / "prometheus"] == "/etc/prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prom["command"]
    cfg = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in cfg["scrape_configs"] if j["job_name"] == "linkd")
    assert job["static_configs"][0]["targets"] == [f"{n}:8080" for n in NODES]
    assert cfg["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    for rule_file in cfg["rule_files"]:
        assert (DEPLOY / "prometheus" / rule_file).is_file()
    am = stack["services"]["alertmanager"]
    am_mounts = {(COMPOSE_DIR / h).resolve(): t for h, t, _ in binds(am)}
    assert am_mounts[DEPLOY / "prometheus" / "alertmanager.yml"] == "/etc/alertmanager/alertmanager.yml"
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in am["command"]


def test_grafana_provisioning_points_at_the_dashboard(stack):
    graf = stack["services"]["grafana"]
    mounts = {(COMPOSE_DIR / h).resolve(): t for h, t, _ in binds(graf)}
    prov = DEPLOY / "grafana" / "provisioning"
    assert mounts[prov] == "/etc/grafana/provisioning"
    providers = yaml.safe_load((prov / "dashboards" / "linkd.yml").read_text())["providers"]
    path = providers[0]["options"]["path"]
    assert mounts[DEPLOY / "grafana" / "dashboards"] == path
    assert (DEPLOY / "grafana" / "dashboards" / "linkd.json").is_file()
    assert graf["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == path + "/linkd.json"
    # the data source is the prometheus service, under the uid the dashboard uses
    ds = yaml.safe_load((prov / "datasources" / "prometheus.yml").read_text())["datasources"][0]
    assert ds["url"] == "http://prometheus:9090"
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "linkd.json").read_text())
    uids = set(re.findall(r'"uid":\s*"([^"]+)"', json.dumps(dashboard["panels"])))
    assert uids == {ds["uid"]}


def config_table_names():
    return set(re.findall(r'X\(\w+, \w+, "([A-Z_]+)"', CONFIG_H.read_text()))


def test_node_environment_is_linkd_configuration(stack):
    known = config_table_names()
    assert {"DATABASE_URL", "REDIS_URL", "LINKD_TRUSTED_PROXIES"} <= known
    for node in NODES:
        env = stack["services"][node]["environment"]
        assert set(env) <= known, set(env) - known
        assert env["DATABASE_URL"] == "postgres://linkd:pw0123@postgres:5432/linkd"
        assert env["REDIS_URL"] == "redis://redis:6379/0"


def subnet_but_gateway(subnet):
    """Every address of the subnet but its network address and its gateway
    (the first host address, as podman and docker give it), as a set."""
    net = ipaddress.ip_network(subnet)
    return {a for a in net if a not in (net.network_address, next(net.hosts()))}


def covered(cidrs):
    return {a for c in cidrs.split(",") for a in ipaddress.ip_network(c)}


def test_nodes_trust_the_subnet_but_the_gateway(raw, stack):
    # clients of a published port on the host itself arrive from the gateway:
    # trusting it would believe their X-Forwarded-For
    subnet = stack["networks"]["default"]["ipam"]["config"][0]["subnet"]
    for node in NODES:
        trusted = stack["services"][node]["environment"]["LINKD_TRUSTED_PROXIES"]
        assert covered(trusted) == subnet_but_gateway(subnet)
    # the compose file's own defaults agree too
    defaults = {m.group("name"): m.group("arg") for m in VAR.finditer(COMPOSE.read_text())
                if m.group("op") == ":-"}
    assert covered(defaults["LINKD_TRUSTED_PROXIES"]) == subnet_but_gateway(defaults["LINKD_SUBNET"])


def test_nodes_wait_for_their_stores_and_report_readiness(stack):
    for node in NODES:
        svc = stack["services"][node]
        assert svc["healthcheck"]["test"] == ["CMD", "/usr/local/bin/linkd-healthcheck", "/health/ready"]
        assert svc["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                     "redis": {"condition": "service_healthy"}}
    for name in ("nginx", "prometheus", "grafana"):
        for dep in stack["services"][name]["depends_on"].values():
            assert dep == {"condition": "service_healthy"}, name


def test_the_password_is_written_in_one_place(raw):
    text = COMPOSE.read_text()
    # the compose file names the variable only; .env.example leaves it empty
    assert "pw0123" not in text
    assert env_example()["POSTGRES_PASSWORD"] == ""
    uses = re.findall(r"\$\{POSTGRES_PASSWORD[^}]*\}", text)
    assert len(uses) == 2  # the database's, the nodes' DATABASE_URL
    required = {m.group("name") for m in VAR.finditer(text) if m.group("op") == ":?"}
    assert required <= set(env_example()), required - set(env_example())


def test_every_variable_is_in_env_example(raw):
    names = {m.group("name") for m in VAR.finditer(COMPOSE.read_text())}
    documented = set(env_example()) | set(
        re.findall(r"^# ([A-Z_]+)=", ENV_EXAMPLE.read_text(), re.M))
    # the linkd image's base only matters to `docker compose build`
    assert names - documented <= {"LINKD_BASE_IMAGE"}, names - documented


def test_podman_compose_translates_it(tmp_path):
    """podman-compose 1.0 reads the file and prints the podman commands it
    would run (a stand-in podman answers its queries); each container gets
    its restart policy, health check and the mounts and ports above."""
    pc = shutil.which("podman-compose")
    if not pc:
        pytest.fail("podman-compose not found: scripts/install-deps.sh test installs it")
    # a copy: podman-compose creates a missing bind source as a directory
    for d in ("compose", "nginx", "prometheus", "grafana"):
        shutil.copytree(DEPLOY / d, tmp_path / d)
    env = env_example()
    env.update(POSTGRES_PASSWORD="pw0123", GRAFANA_ADMIN_PASSWORD="gf0123")
    (tmp_path / "compose" / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    stub = tmp_path / "podman"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    r = subprocess.run([pc, "--dry-run", "--podman-path", str(stub), "-p", "lnkstatic",
                        "-f", str(tmp_path / "compose" / "compose.yaml"), "up", "-d", "--no-build"],
                       capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PATH": os.environ.get("PATH", "")})
    assert r.returncode == 0, r.stdout + r.stderr
    runs = [l for l in r.stdout.splitlines() if l.startswith(f"{stub} run ")]
    by_name = {re.search(r"--name=(\S+)", l).group(1): l for l in runs}
    assert set(by_name) == {f"lnkstatic_{s}_1" for s in SERVICES}
    for name, line in by_name.items():
        assert "--restart unless-stopped" in line, name
        assert "--healthcheck-command" in line, name
        assert "--net lnkstatic_default --network-alias" in line, name
    node = by_name["lnkstatic_linkd1_1"]
    assert "-e DATABASE_URL=postgres://linkd:pw0123@postgres:5432/linkd" in node
    assert "linkd-healthcheck' '/health/ready" in node
    assert f"{tmp_path}/nginx/linkd.conf:/etc/nginx/conf.d/default.conf:ro" in by_name["lnkstatic_nginx_1"]
    assert "-p 0.0.0.0:8080:80" in by_name["lnkstatic_nginx_1"]
    assert "-p 127.0.0.1:9090:9090" in by_name["lnkstatic_prometheus_1"]
    # nothing was created next to the copied files
    assert sorted(p.name for p in (tmp_path / "compose").iterdir()) == [".env", ".env.example", "compose.yaml", "local"]
