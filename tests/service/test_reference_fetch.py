"""The reference fetcher's bounds, on the local stand-in for the public repositories."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelref.domain.categories import Category
from modelref.domain.errors import ValidationFailed
from modelref.service import reference_fetch
from modelref.service.container import Services
from modelref.settings import Settings
from tests.catalog.helpers import IMPORTER
from tests.service.reference_server import ReferenceServer, repository_files


@pytest.fixture
def reference() -> Iterator[ReferenceServer]:
    server = ReferenceServer(repository_files()).start()
    yield server
    server.stop()


@pytest.fixture
def services(tmp_path: Path, reference: ReferenceServer) -> Iterator[Services]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db'}",
        reference_base_url=reference.base_url,
        reference_allow_hosts="127.0.0.1",
    )
    svc = Services.open(settings)
    yield svc
    svc.db.dispose()


def test_an_oversized_file_is_refused_and_nothing_imported(services: Services) -> None:
    fetcher = reference_fetch.ReferenceFetcher(services.settings, max_file_bytes=1000)
    with pytest.raises(ValidationFailed) as caught:
        reference_fetch.import_reference(
            services.files, services.settings, IMPORTER, fetcher=fetcher
        )
    fetcher.close()
    assert "over the 1000-byte limit" in caught.value.message
    assert reference_fetch.catalog_is_empty(services.catalog)


def test_a_ref_that_is_no_name_is_refused(services: Services, reference: ReferenceServer) -> None:
    for ref in ("../../etc", "", "a b"):
        with pytest.raises(ValidationFailed):
            reference_fetch.import_reference(services.files, services.settings, IMPORTER, ref=ref)
    assert reference.requests == []


def test_seeding_happens_only_on_an_empty_catalog(
    services: Services, reference: ReferenceServer
) -> None:
    first = reference_fetch.seed_if_empty(services.files, services.settings, IMPORTER)
    assert first is not None and len(first.files) == len(reference_fetch.MANIFEST)
    assert services.catalog.record(Category.blip, "OPS_BLIP")["name"] == "OPS_BLIP"
    seen = len(reference.requests)
    assert reference_fetch.seed_if_empty(services.files, services.settings, IMPORTER) is None
    assert len(reference.requests) == seen
