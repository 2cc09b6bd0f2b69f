"""The analytics' input tables: what they must hold."""

from __future__ import annotations

import pytest

from planner import Organisation
from planner.analytics import as_organisation
from planner.errors import PlannerInputError
from tests.planner.analytics.helpers import ORG


def test_as_organisation_names_a_missing_column():
    broken = Organisation(ORG.resources.drop(columns=["zone"]), ORG.hours, ORG.overrides, ORG.busy, ORG.pools)
    with pytest.raises(PlannerInputError, match="zone"):
        as_organisation(broken)
