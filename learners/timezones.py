"""The time zones a learner picks from on the self-assessment.

Common zones first, then every zone of the tz database's ``zone.tab`` (one Area/Location
name per zone of each country, under the continents and oceans, the list the tz project
maintains for pickers such as ``tzselect``) plus UTC. Not offered: ``Factory``,
``localtime``, ``posixrules``, ``Etc/…`` and the deprecated names kept for backward
compatibility (``US/Eastern``, ``Asia/Calcutta``); they are links of ``tzdata.zi``, which
also tells which zone such an alias stands for. A learner whose stored zone is one of them
still sees it. What a stored zone may be is wider and decided elsewhere
(``learners.models.validate_timezone``: any zone the system knows).
"""

from __future__ import annotations

import functools
import importlib.resources
import zoneinfo
from pathlib import Path

# Where most learners are, west to east (kept only where the system knows the zone).
COMMON_TIMEZONES = (
    "UTC",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Toronto",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Africa/Nairobi",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
)
# The areas of zone.tab's names; used only when no zone.tab can be found.
AREAS = frozenset(
    {"Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe"}
    | {"Indian", "Pacific"}
)


def _tz_file(name: str) -> str | None:
    """The text of a tz database file from the system's zoneinfo, else the tzdata package."""
    for folder in zoneinfo.TZPATH:
        path = Path(folder) / name
        if path.is_file():
            return path.read_text(encoding="utf-8")
    try:
        return importlib.resources.files("tzdata.zoneinfo").joinpath(name).read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return None


@functools.cache
def timezone_links() -> dict[str, str]:
    """Each link name (an alias) of the tz database with the zone it stands for."""
    links: dict[str, str] = {}
    for line in (_tz_file("tzdata.zi") or "").splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0] == "L":
            links[fields[2]] = fields[1]
    return links


@functools.cache
def selectable_timezones() -> tuple[str, ...]:
    """The zones a learner picks from, sorted by name."""
    known = zoneinfo.available_timezones()
    zone_tab = _tz_file("zone.tab")
    if zone_tab:
        names = {
            line.split("\t")[2]
            for line in zone_tab.splitlines()
            if line and not line.startswith("#") and line.count("\t") >= 2
        }
    else:
        names = {zone for zone in known if zone.split("/")[0] in AREAS} - timezone_links().keys()
    return tuple(sorted((names & known) | {"UTC"}))


@functools.cache
def timezone_aliases() -> dict[str, str]:
    """Alias -> the selectable zone it stands for, for names that are not offered themselves
    (a browser may report ``Asia/Calcutta`` for ``Asia/Kolkata``)."""
    links = timezone_links()

    def canonical(zone: str) -> str:
        while zone in links:
            zone = links[zone]
        return zone

    selectable = selectable_timezones()
    # A selectable name may itself be a link ("UTC" to "Etc/UTC"): it stands for its zone.
    offered = {canonical(zone): zone for zone in selectable}
    offered.update({zone: zone for zone in selectable})
    return {
        alias: offered[canonical(alias)]
        for alias in links.keys() | offered.keys()
        if alias not in selectable and canonical(alias) in offered
    }


def timezone_label(zone: str) -> str:
    return zone.replace("_", " ")


def timezone_choices(current: str | None = None) -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped choices for a select: the learner's own zone when it is not offered (an
    alias), the common zones, then all the others."""
    selectable = selectable_timezones()
    common = [zone for zone in COMMON_TIMEZONES if zone in selectable]
    groups = [
        ("Common time zones", [(zone, timezone_label(zone)) for zone in common]),
        (
            "All time zones",
            [(zone, timezone_label(zone)) for zone in selectable if zone not in common],
        ),
    ]
    if current and current not in selectable:
        target = timezone_aliases().get(current)
        label = timezone_label(current) + (f" (now {timezone_label(target)})" if target else "")
        groups.insert(0, ("Your current setting", [(current, label)]))
    return groups
