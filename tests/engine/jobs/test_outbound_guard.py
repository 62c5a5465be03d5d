"""The outbound guard against real local servers: private and metadata addresses refused, the allow-list,
redirects followed by hand and checked, answers cut off at a size, timeouts."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import update

from engine.jobs.channels import send_webhook
from engine.jobs.outbound import (
    DeliveryError,
    OutboundPolicy,
    _client,
    check_outbound_url,
    safe_http_request,
)
from engine.jobs.outbox import deliver_one
from engine.store.models import Outbox
from tests.engine.jobs.conftest import T0, outbox_row
from tests.engine.jobs.peers import EndlessServer

METADATA = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"


@pytest.fixture
def no_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GONGDAN_OUTBOUND_ALLOW", raising=False)


def refused(url: str) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        check_outbound_url(url)
    return caught.value


def test_the_cloud_metadata_address_is_refused_for_good_with_what_to_do(no_allow_list):
    error = refused(METADATA)
    assert error.permanent
    assert "169.254.169.254" in error.reason and "GONGDAN_OUTBOUND_ALLOW" in error.reason


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://127.8.9.10/",
        "http://10.1.2.3/",
        "http://172.16.0.9/",
        "http://192.168.1.1/",
        "http://0.0.0.0/",
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://224.0.0.251/",  # multicast
        "http://240.0.0.1/",  # reserved
        "http://[::1]:8080/",  # IPv6 loopback
        "http://[::]/",
        "http://[fe80::1]/",
        "http://[fd12:3456::1]/",  # unique local
        "http://[ff02::1]/",
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
        "http://[::ffff:169.254.169.254]/",
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of the metadata address
        "http://[2002:a9fe:a9fe::1]/",  # 6to4 of the metadata address
        "http://localhost:8000/",  # a name resolving to loopback
    ],
)
def test_private_loopback_and_reserved_addresses_are_refused(no_allow_list, url):
    assert refused(url).permanent


def test_the_refusal_names_the_kind_of_address_in_the_servers_language(no_allow_list, monkeypatch):
    monkeypatch.setenv("GONGDAN_LANG", "en")
    assert "a loopback address" in refused("http://[::ffff:127.0.0.1]/").reason
    assert "cloud metadata" in refused(METADATA).reason
    monkeypatch.setenv("GONGDAN_LANG", "zh")
    assert "内网地址" in refused("http://10.0.0.1/").reason


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "http:///nohost", "gopher://x/"]
)
def test_only_http_and_https_urls_with_a_host_are_accepted(url):
    assert refused(url).permanent


def test_a_public_address_passes():
    check_outbound_url("https://93.184.216.34/hook")
    check_outbound_url("http://[2606:2800:220:1:248:1893:25c8:1946]/")


def test_the_allow_list_admits_exactly_what_it_names(monkeypatch):
    monkeypatch.setenv("GONGDAN_OUTBOUND_ALLOW", "127.0.0.1, 10.20.0.0/16, intranet.corp, *.svc.local")
    check_outbound_url("http://127.0.0.1:9/")
    check_outbound_url("http://10.20.30.40/")
    assert refused("http://10.21.0.1/").permanent  # outside the allowed network
    assert refused("http://127.0.0.2/").permanent  # one loopback address is not all of them
    assert refused(METADATA).permanent
    assert refused("http://[::1]/").permanent


def test_allow_list_entries_are_hosts_wildcards_or_networks():
    policy = OutboundPolicy.parse(["Intranet.Corp", "*.svc.local", "fd00::/8", "[::1]", ""])
    assert policy.allows_host("intranet.corp") and policy.allows_host("INTRANET.corp.")
    assert policy.allows_host("crm.svc.local") and not policy.allows_host("svc.local.evil.cn")
    assert not policy.allows_host("evil-intranet.corp")
    import ipaddress

    assert policy.allows_address(ipaddress.ip_address("fd00::5"))
    assert policy.allows_address(ipaddress.ip_address("::1"))
    assert not policy.allows_address(ipaddress.ip_address("127.0.0.1"))


def test_a_request_that_skips_the_check_is_still_refused_when_its_socket_connects(
    httpserver: HTTPServer, no_allow_list
):
    httpserver.expect_request("/secret").respond_with_data("internal")
    with pytest.raises(DeliveryError) as caught:
        _client().get(httpserver.url_for("/secret"))  # no check_outbound_url: the transport checks
    assert caught.value.permanent
    assert httpserver.log == []


def test_the_answer_is_returned_as_status_and_body(httpserver: HTTPServer):
    httpserver.expect_request("/crm", query_string="phone=138").respond_with_json({"vip": True})
    status, body = safe_http_request("GET", httpserver.url_for("/crm"), params={"phone": "138"})
    assert status == 200 and json.loads(body) == {"vip": True}


def test_a_redirect_to_the_metadata_address_is_refused_and_not_followed(httpserver: HTTPServer):
    httpserver.expect_request("/crm").respond_with_data("", status=302, headers={"Location": METADATA})
    with pytest.raises(DeliveryError) as caught:
        safe_http_request("GET", httpserver.url_for("/crm"))
    assert caught.value.permanent and "169.254.169.254" in caught.value.reason
    assert len(httpserver.log) == 1


def test_a_webhook_redirected_to_the_metadata_address_is_not_followed(httpserver: HTTPServer):
    httpserver.expect_request("/hook", method="POST").respond_with_data(
        "", status=307, headers={"Location": METADATA}
    )
    with pytest.raises(DeliveryError) as caught:
        send_webhook({"url": httpserver.url_for("/hook"), "body": {}}, "k", 5)
    assert caught.value.reason.startswith("HTTP 307")
    assert len(httpserver.log) == 1


def test_redirects_are_followed_up_to_three_times_each_one_checked(httpserver: HTTPServer):
    for here, there in (("/a", "/b"), ("/b", "/c"), ("/c", "/d")):
        httpserver.expect_request(here).respond_with_data("", status=301, headers={"Location": there})
    httpserver.expect_request("/d").respond_with_data("arrived")
    assert safe_http_request("GET", httpserver.url_for("/a")) == (200, b"arrived")
    with pytest.raises(DeliveryError) as caught:
        safe_http_request("GET", httpserver.url_for("/a"), max_redirects=2)
    assert caught.value.permanent and "2" in caught.value.reason


def test_a_post_redirected_with_303_becomes_a_get_without_its_body(httpserver: HTTPServer):
    httpserver.expect_request("/form", method="POST").respond_with_data(
        "", status=303, headers={"Location": "/done"}
    )
    httpserver.expect_request("/done", method="GET").respond_with_data("thanks")
    assert safe_http_request("POST", httpserver.url_for("/form"), json={"x": 1}) == (200, b"thanks")
    assert httpserver.log[1][0].get_data() == b""


@pytest.fixture
def endless() -> Iterator[EndlessServer]:
    server = EndlessServer(announce=False)
    yield server
    server.stop()


@pytest.fixture
def two_gigabytes() -> Iterator[EndlessServer]:
    server = EndlessServer(announce=True)
    yield server
    server.stop()


def test_an_answer_announcing_two_gigabytes_is_refused_without_reading_it(two_gigabytes):
    with pytest.raises(DeliveryError) as caught:
        safe_http_request("GET", two_gigabytes.url)
    assert caught.value.permanent
    assert two_gigabytes.done.wait(10)
    assert two_gigabytes.sent < 64 * 1024**2  # it stopped long before 2 GB: we hung up


def test_an_endless_answer_is_cut_off_at_the_size_limit(endless):
    with pytest.raises(DeliveryError) as caught:
        safe_http_request("GET", endless.url, max_bytes=1_000_000)
    assert caught.value.permanent and "1000000" in caught.value.reason
    assert endless.done.wait(10)
    assert endless.sent < 64 * 1024**2


def test_reading_an_answer_stops_at_the_overall_deadline(endless):
    with pytest.raises(DeliveryError) as caught:
        safe_http_request("GET", endless.url, max_bytes=10**12, timeout=0.3)
    assert not caught.value.permanent


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock.getsockname()[1]
    sock.close()


def test_a_server_that_never_answers_times_out_and_is_retried_later(silent_port):
    with pytest.raises(DeliveryError) as caught:
        safe_http_request("GET", f"http://127.0.0.1:{silent_port}/", timeout=0.2)
    assert not caught.value.permanent
    assert "Timeout" in caught.value.reason


def test_a_webhook_to_the_metadata_address_goes_dead_at_once(db, queued, no_allow_list):
    with db.write() as conn:
        payload = dict(outbox_row(db, queued).payload, url=METADATA)
        conn.execute(update(Outbox).where(Outbox.id == queued).values(payload=payload))
    assert deliver_one(db, queued, now=T0) == "dead"
    row = outbox_row(db, queued)
    assert row.attempts == 1 and "169.254.169.254" in row.last_error
