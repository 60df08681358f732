"""Static memory plan: every activation buffer gets a fixed arena offset at generation time.

Buffers whose lifetimes overlap never share bytes, except where a kernel allows it: a `Link` pins one
buffer at a fixed distance from another (an ADD writing over its dying input, a 1x1 convolution whose
input sits at the tail of its output, see lowering.py). Linked buffers form a rigid group that is
placed as one piece.

Placement is greedy first-fit (TFLM's GreedyMemoryPlanner places by size, largest first); the plan is
made in several orders (largest first, longest-lived first, earliest first) and the smallest arena
kept, since no one order wins on every graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

ALIGNMENT = 16


@dataclass
class Buffer:
    key: int          # the alias-group root tensor (negative: a step's scratch buffer)
    size: int
    first: int        # index of the first step that touches it
    last: int         # index of the last step that touches it
    offset: int = -1


@dataclass(frozen=True)
class Link:
    """`member` is placed at `anchor`'s offset + `delta` (a multiple of ALIGNMENT) and may overlap it."""
    member: int
    anchor: int
    delta: int


@dataclass
class Group:
    members: list[tuple[Buffer, int]] = field(default_factory=list)  # (buffer, offset in the group)

    @property
    def extent(self) -> int:
        return max(rel + b.size for b, rel in self.members)

    @property
    def first(self) -> int:
        return min(b.first for b, _ in self.members)

    @property
    def last(self) -> int:
        return max(b.last for b, _ in self.members)


def align(value: int) -> int:
    return (value + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def _live_together(a: Buffer, b: Buffer) -> bool:
    return a.first <= b.last and b.first <= a.last


def _apart(a: Buffer, a_offset: int, b: Buffer, b_offset: int) -> bool:
    return a_offset + a.size <= b_offset or b_offset + b.size <= a_offset


def groups_of(buffers: list[Buffer], links: Iterable[Link]) -> tuple[list[Group], list[Link]]:
    """Rigid groups from the links, skipping a link that would contradict the ones already taken or put
    two unlinked live buffers of a group on the same bytes. Returns the groups and the links kept."""
    by_key = {b.key: b for b in buffers}
    position: dict[int, tuple[int, int]] = {b.key: (b.key, 0) for b in buffers}  # key -> (group id, offset)
    members: dict[int, list[int]] = {b.key: [b.key] for b in buffers}
    kept: list[Link] = []
    allowed: set[frozenset[int]] = set()
    for link in links:
        if link.member not in by_key or link.anchor not in by_key:
            continue
        (member_group, member_rel), (anchor_group, anchor_rel) = position[link.member], position[link.anchor]
        if member_group == anchor_group:
            continue
        shift = anchor_rel + link.delta - member_rel  # moves the member's group into the anchor's frame
        candidate = {key: position[key][1] for key in members[anchor_group]}
        candidate.update({key: position[key][1] + shift for key in members[member_group]})
        pairs = allowed | {frozenset((link.member, link.anchor))}
        keys = list(candidate)
        if any(frozenset((a, b)) not in pairs and _live_together(by_key[a], by_key[b])
               and not _apart(by_key[a], candidate[a], by_key[b], candidate[b])
               for i, a in enumerate(keys) for b in keys[i + 1:]):
            continue
        allowed = pairs
        kept.append(link)
        for key in members.pop(member_group):
            position[key] = (anchor_group, candidate[key])
            members[anchor_group].append(key)
    groups = []
    for keys in members.values():
        lowest = min(position[k][1] for k in keys)
        groups.append(Group([(by_key[k], position[k][1] - lowest) for k in keys]))
    return groups, kept


ORDERS: dict[str, Callable[[Group], tuple]] = {
    "largest first": lambda g: (-g.extent, g.first, g.members[0][0].key),
    "longest-lived first": lambda g: (-(g.last - g.first), -g.extent, g.members[0][0].key),
    "largest area first": lambda g: (-g.extent * (g.last - g.first + 1), g.first, g.members[0][0].key),
    "earliest first": lambda g: (g.first, -g.extent, g.members[0][0].key),
}


def _place(groups: list[Group], order: Callable[[Group], tuple]) -> dict[int, int]:
    placed: list[tuple[Buffer, int]] = []
    offsets: dict[int, int] = {}
    for group in sorted(groups, key=order):
        bases = sorted({0} | {align(offset + other.size) - rel
                              for other, offset in placed for _, rel in group.members})
        for base in bases:
            if base < 0:
                continue
            if all(_apart(member, base + rel, other, offset)
                   for member, rel in group.members for other, offset in placed
                   if _live_together(member, other)):
                break
        for member, rel in group.members:
            offsets[member.key] = base + rel
            placed.append((member, base + rel))
    return offsets


def plan(buffers: list[Buffer], links: Iterable[Link] = ()) -> int:
    """Assigns `offset` to every buffer; returns the arena size (peak end offset, aligned)."""
    groups, _ = groups_of(buffers, list(links))
    best: dict[int, int] | None = None
    best_size = 0
    for order in ORDERS.values():
        offsets = _place(groups, order)
        size = align(max((offsets[b.key] + b.size for b in buffers), default=0))
        if best is None or size < best_size:
            best, best_size = offsets, size
    for buffer in buffers:
        buffer.offset = best[buffer.key] if best else 0
    return best_size


def check(buffers: list[Buffer], links: Iterable[Link] = ()) -> None:
    """Raises AssertionError when two buffers alive at the same step share bytes without a link that
    allows it (test helper)."""
    allowed = {frozenset((link.member, link.anchor)) for link in links}
    for link in links:
        by_key = {b.key: b for b in buffers}
        assert by_key[link.member].offset == by_key[link.anchor].offset + link.delta, link
    for i, a in enumerate(buffers):
        for b in buffers[i + 1:]:
            if _live_together(a, b) and frozenset((a.key, b.key)) not in allowed:
                assert _apart(a, a.offset, b, b.offset), (a, b)
