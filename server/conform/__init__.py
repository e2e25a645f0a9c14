"""Conforming music onto a motion's tempo map (a user's song, or a generated take): song -> its
beats -> time map -> Rubber Band stretch; :mod:`.conform` ties them together."""
