"""Behaviour pinned for the caches that took time out of ``plan`` (not their speed)."""

from __future__ import annotations

from ftc_office.config import RoutingSettings
from ftc_office.fields import normalise_header
from ftc_office.playbook import route


def test_route_answers_for_each_routing_table_in_one_process() -> None:
    a = RoutingSettings(queues={"Europe": "Q-EU", "Asia": "Q-AS"},
                        regions={"E.M.E.A.": "Europe", "APJ": "Asia"})
    b = RoutingSettings(queues={"Europe": "Q-EU2", "Asia": "Q-AS"},
                        regions={"emea": "Asia"})
    first = route("emea", a)
    assert first is not None and (first.region, first.queue) == ("Europe", "Q-EU")
    second = route(" EMEA ", b)
    assert second is not None and (second.region, second.queue) == ("Asia", "Q-AS")
    again = route("Emea", a)
    assert again == first
    europe = route("europe", b)
    assert europe is not None and europe.queue == "Q-EU2"
    assert route("nowhere", a) is None and route("", a) is None


def test_route_sees_a_table_changed_in_place() -> None:
    table = RoutingSettings(queues={"Europe": "Q-EU", "Asia": "Q-AS"}, regions={})
    assert route("EMEA", table) is None
    table.regions["EMEA"] = "Europe"
    found = route("emea", table)
    assert found is not None and found.queue == "Q-EU"


def test_normalise_header_is_unchanged_by_its_cache() -> None:
    for text in ("Tenant ID", "tenant_id", " Tenant-ID ", "TENANT\tID", "Straße"):
        assert normalise_header(text) == normalise_header(text)
    assert normalise_header("Tenant-ID ") == "tenantid"
    assert normalise_header("Straße") == "strasse"
