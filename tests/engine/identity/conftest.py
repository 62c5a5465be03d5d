"""Fixtures for the identity tests: provider stand-ins on 127.0.0.1 and settings pointing at them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from engine.identity import oidc
from tests.engine.identity.standins import (
    DingTalkStandIn,
    FeishuStandIn,
    LdapDirectory,
    OidcStandIn,
    Org,
    WeComStandIn,
    ldap_directory,
)


@pytest.fixture
def oidc_provider(httpserver: HTTPServer) -> Iterator[OidcStandIn]:
    oidc._DISCOVERY.clear()  # each test's provider is new (a new key)
    yield OidcStandIn(httpserver)
    oidc._DISCOVERY.clear()


@pytest.fixture
def org() -> Org:
    return Org.sample()


@pytest.fixture
def dingtalk(httpserver: HTTPServer, org: Org) -> DingTalkStandIn:
    return DingTalkStandIn(httpserver, org)


@pytest.fixture
def wecom(httpserver: HTTPServer, org: Org) -> WeComStandIn:
    return WeComStandIn(httpserver, org)


@pytest.fixture
def feishu(httpserver: HTTPServer, org: Org) -> FeishuStandIn:
    return FeishuStandIn(httpserver, org)


@pytest.fixture(scope="session")
def ldap_server() -> LdapDirectory:
    return ldap_directory()
