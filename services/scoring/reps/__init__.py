"""Where a rep's own history places them: the team of their latest day of activity.

Until a roster exists, this is how the other services learn a rep's team (goals asks it before a
manager sets a rep's goal or reads one): known from the events, never taken from the asker.
"""
