"""The Karel world: an ``n x n`` interior surrounded by a wall border, interior walls, marker counts
and one robot with a position and a facing direction.

Worlds are immutable and small (a 4x4 interior is 16 cells), so they are plain tuples rather than
numpy arrays: the corpus builds ~10 worlds per text and numpy's per-call overhead would dominate.
The border wall is implicit (any cell outside the interior is a wall) and never tokenised.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

NORTH, EAST, SOUTH, WEST = range(4)
# (row, col) step of ``move`` for each facing; row 0 is the top row.
STEPS = ((-1, 0), (0, 1), (1, 0), (0, -1))
# Karel's usual cap (Bunel et al. 2018 allow at most 10 markers per cell); ``put`` on a full cell is a no-op.
MAX_MARKERS = 10


@dataclass(frozen=True, slots=True)
class World:
    size: int  # interior cells per side
    walls: tuple[bool, ...]  # row-major, size * size
    markers: tuple[int, ...]  # row-major marker counts, 0 on wall cells
    row: int
    col: int
    facing: int  # NORTH, EAST, SOUTH or WEST

    def __post_init__(self) -> None:
        n = self.size * self.size
        if len(self.walls) != n or len(self.markers) != n:
            raise ValueError(f"world of size {self.size} needs {n} cells, got {len(self.walls)} walls / {len(self.markers)} markers")
        if not (0 <= self.row < self.size and 0 <= self.col < self.size):
            raise ValueError(f"robot at ({self.row}, {self.col}) is outside the {self.size}x{self.size} interior")
        if self.walls[self.row * self.size + self.col]:
            raise ValueError(f"robot at ({self.row}, {self.col}) stands on a wall")
        if self.facing not in (NORTH, EAST, SOUTH, WEST):
            raise ValueError(f"facing must be 0..3, got {self.facing}")
        if any(not 0 <= m <= MAX_MARKERS for m in self.markers):
            raise ValueError(f"marker counts must lie in 0..{MAX_MARKERS}")
        if any(w and m for w, m in zip(self.walls, self.markers)):
            raise ValueError("a wall cell cannot hold markers")

    def is_wall(self, row: int, col: int) -> bool:
        """True for interior walls and for every cell of the border (outside the interior)."""
        if not (0 <= row < self.size and 0 <= col < self.size):
            return True
        return self.walls[row * self.size + col]

    @property
    def here(self) -> int:
        return self.row * self.size + self.col

    # The five primitive effects. Blocked moves, picks on an empty cell and puts on a full cell are no-ops.
    def move(self) -> World:
        dr, dc = STEPS[self.facing]
        r, c = self.row + dr, self.col + dc
        return self if self.is_wall(r, c) else replace(self, row=r, col=c)

    def turn_left(self) -> World:
        return replace(self, facing=(self.facing - 1) % 4)

    def turn_right(self) -> World:
        return replace(self, facing=(self.facing + 1) % 4)

    def put_marker(self) -> World:
        return self._add_marker(+1) if self.markers[self.here] < MAX_MARKERS else self

    def pick_marker(self) -> World:
        return self._add_marker(-1) if self.markers[self.here] > 0 else self

    def _add_marker(self, delta: int) -> World:
        markers = list(self.markers)
        markers[self.here] += delta
        return replace(self, markers=tuple(markers))


def random_world(rng: random.Random, size: int, wall_prob: float, marker_prob: float) -> World:
    """The paper's world prior: interior walls w.p. ``wall_prob``, one marker w.p. ``marker_prob`` on
    free cells, the robot on a uniformly chosen free cell facing a uniformly chosen direction."""
    n = size * size
    while True:
        walls = tuple(rng.random() < wall_prob for _ in range(n))
        free = [i for i in range(n) if not walls[i]]
        if free:  # an all-wall interior has no room for the robot: redraw
            break
    markers = tuple(0 if walls[i] else int(rng.random() < marker_prob) for i in range(n))
    cell = rng.choice(free)
    return World(size, walls, markers, cell // size, cell % size, rng.randrange(4))
