"""Where raw entity rows come from: the offline snapshot, a user's own file, or the live services.

Every source returns a :class:`pandas.DataFrame` with the columns of the dataset's snapshot file
(see :data:`worldprobe.sources.snapshot.SNAPSHOT_FILES`), values kept as the source gave them; the
``build`` stage parses, validates and rejects.
"""
