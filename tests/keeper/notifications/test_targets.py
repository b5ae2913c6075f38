"""SSRF guard of client webhook URLs: https to public addresses only (loopback when allowed)."""

from __future__ import annotations

import pytest

from keeper.notifications import TargetRefused, check_url

PUBLIC = "93.184.216.34"


@pytest.mark.parametrize("url", [
    "http://93.184.216.34/hook",                      # plain http to a public host
    "https://10.0.0.8/hook", "https://192.168.1.1/", "https://172.16.0.1/",  # private
    "https://169.254.169.254/latest/meta-data/",       # cloud metadata (link-local)
    "https://[fe80::1]/", "https://[fc00::1]/",        # IPv6 link-local, unique local
    "https://127.0.0.1/", "https://[::1]/", "https://localhost/",  # loopback, not allowed
    "https://[::ffff:10.0.0.1]/",                      # private IPv4 wrapped in IPv6
    "https://0.0.0.0/", "https://224.0.0.1/", "https://100.64.0.1/",  # unspecified, multicast, CGNAT
    "https://user:pass@93.184.216.34/",                # credentials in the URL
    "ftp://93.184.216.34/", "file:///etc/passwd", "gopher://93.184.216.34/",
    "https:///nohost", "https://93.184.216.34/a b", "https://93.184.216.34/\r\nX: y",
    "https://93.184.216.34:99999/", "https://93.184.216.34:0/", "https://93.184.216.34/#frag", "",
    "https://" + "a" * 3000,
])
def test_refused(url: str) -> None:
    with pytest.raises(TargetRefused):
        check_url(url)


def test_public_https_is_accepted_and_pins_the_checked_address() -> None:
    target = check_url(f"https://{PUBLIC}:8443/hooks?x=1")
    assert (target.scheme, target.host, target.port, target.address) == \
        ("https", PUBLIC, 8443, PUBLIC)


def test_loopback_only_when_allowed_and_then_http_too() -> None:
    assert check_url("http://127.0.0.1:8080/h", allow_loopback=True).address == "127.0.0.1"
    assert check_url("http://localhost:8080/h", allow_loopback=True).address in ("127.0.0.1", "::1")
    with pytest.raises(TargetRefused):  # allowing loopback does not open private ranges
        check_url("http://10.0.0.1/h", allow_loopback=True)
    with pytest.raises(TargetRefused):
        check_url("http://93.184.216.34/h", allow_loopback=True)


def test_a_name_with_any_internal_address_is_refused() -> None:
    def resolve(host: str, port: int) -> list[str]:
        return [PUBLIC, "10.1.2.3"]  # one public, one internal answer: refused

    with pytest.raises(TargetRefused):
        check_url("https://hooks.example.com/", resolve=resolve)
    assert check_url("https://hooks.example.com/", resolve=lambda h, p: [PUBLIC]).address == PUBLIC
